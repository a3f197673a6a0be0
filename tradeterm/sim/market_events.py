"""Market events inside the simulated exchange.

The fake gateway is a world of its own: it shares no price, P&L or order code with the engine.
Inside it, prices are integer ticks of the instrument (``price_ticks * tick_size`` is the
price), sizes are whole contracts and times are nanoseconds since the Unix epoch (UTC).

Every market source (the synthetic generator, the replay of recorded CME data) produces these
three event types; the matching engine consumes them and the gateway turns them into TWS
messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class BookSide(IntEnum):
    """Book side. The values match the TWS depth ``side`` field: 0 ask, 1 bid."""

    ASK = 0
    BID = 1

    @property
    def opposite(self) -> BookSide:
        return BookSide.BID if self is BookSide.ASK else BookSide.ASK


@dataclass(slots=True, frozen=True)
class BookDelta:
    """The public resting size at one price level changed to ``size`` (0 removes the level)."""

    ts_ns: int
    side: BookSide
    price: int
    size: int


@dataclass(slots=True, frozen=True)
class TradePrint:
    """A trade in the public market. ``aggressor`` is the side of the order that took liquidity
    (BID = a buyer lifted the offer), or None when the source does not say."""

    ts_ns: int
    price: int
    size: int
    aggressor: BookSide | None


@dataclass(slots=True, frozen=True)
class BookClear:
    """The public book was reset (a replay snapshot begins, or a session opens)."""

    ts_ns: int


@dataclass(slots=True, frozen=True)
class BarPrint:
    """A completed 1-minute bar from a bar-only source (OHLCV replay). ``ts_ns`` is the bar's
    start; prices are ticks."""

    ts_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(slots=True, frozen=True)
class OrderDelta:
    """An order-by-order source (MBO): the public order holding time priority ``priority`` at
    ``price`` on ``side`` now rests ``size`` contracts (0: gone). ``priority`` grows with every
    place taken in a queue (an order that loses its priority, by a new price or a larger size,
    is gone from its old place and takes a new one), so the orders ahead of a newcomer are
    those with a lower ``priority``. It comes with the :class:`BookDelta` of its level, and
    only the matching engine uses it (the true FIFO place of our orders); clients see depth."""

    ts_ns: int
    side: BookSide
    price: int
    priority: int
    size: int


MarketEvent = BookDelta | TradePrint | BookClear | BarPrint | OrderDelta
