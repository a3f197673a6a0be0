"""Market events inside the simulated exchange.

The fake gateway is a world of its own: it shares no price, P&L or order code with the engine.
Inside it, prices are integer ticks of the instrument (``price_ticks * tick_size`` is the
price), sizes are whole contracts and times are nanoseconds since the Unix epoch (UTC).

Every market source (the synthetic generator, the replay of recorded CME data) produces these
three event types; the matching engine consumes them and the gateway turns them into TWS
messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
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
    """The public resting size at one price level changed to ``size`` (0 removes the level).
    ``last`` False: more changes of the same exchange event follow (a replay reader knows
    where an event ends; see :func:`exchange_events`)."""

    ts_ns: int
    side: BookSide
    price: int
    size: int
    last: bool = field(default=True, compare=False)


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
    those with a lower ``priority``. It comes with the :class:`BookDelta` of its level, in the
    same exchange event (``last`` as for :class:`BookDelta`), and only the matching engine uses
    it (the true FIFO place of our orders); clients see depth."""

    ts_ns: int
    side: BookSide
    price: int
    priority: int
    size: int
    last: bool = field(default=True, compare=False)


MarketEvent = BookDelta | TradePrint | BookClear | BarPrint | OrderDelta
BookChange = BookDelta | BookClear | OrderDelta  # what one exchange event does to the book


@dataclass(slots=True, frozen=True)
class BookUpdate:
    """One exchange event's book changes, applied together (the single orders' changes with
    their levels', so the matching engine's FIFO sees them with the book they belong to) and
    published to clients once (so a client never sees the old best removed before the new one
    is added)."""

    ts_ns: int
    changes: tuple[BookChange, ...]


def exchange_events(events: Iterable[MarketEvent]) -> Iterator[MarketEvent | BookUpdate]:
    """``events`` with the book changes of each exchange event folded into one
    :class:`BookUpdate`: a run of them ends at a :class:`BookDelta` or :class:`OrderDelta`
    marked ``last`` (a :class:`BookClear` goes with the changes after it). Other events pass as
    they are, and end a run that has no end marked."""
    run: list[BookChange] = []
    for event in events:
        if isinstance(event, BookDelta | BookClear | OrderDelta):
            run.append(event)
            if not isinstance(event, BookClear) and event.last:
                yield BookUpdate(run[0].ts_ns, tuple(run))
                run = []
            continue
        if run:
            yield BookUpdate(run[0].ts_ns, tuple(run))
            run = []
        yield event
    if run:
        yield BookUpdate(run[0].ts_ns, tuple(run))
