"""Market data as the engine sees it: integer ticks, whole contracts, UTC nanoseconds.

These are the hot-path types (thousands per second): frozen slotted dataclasses without
validation. The broker adapter builds them from ib_async objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tradeterm.domain.side import Side


class BookSide(StrEnum):
    """A side of the order book."""

    BID = "BID"
    ASK = "ASK"

    @property
    def opposite(self) -> BookSide:
        return BookSide.ASK if self is BookSide.BID else BookSide.BID


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book. A price of None (size 0) means no quote on that side. ``last`` and
    ``last_size`` are the latest trade known when the quote was taken (a snapshot field: the
    trade prints themselves are ``Trade`` events)."""

    ts_ns: int
    bid: int | None
    bid_size: int
    ask: int | None
    ask_size: int
    last: int | None = None
    last_size: int | None = None

    @property
    def spread(self) -> int | None:
        """Ask minus bid in ticks, None unless both sides are quoted."""
        if self.bid is None or self.ask is None:
            return None
        return self.ask - self.bid

    @property
    def is_crossed(self) -> bool:
        """Bid at or above ask (normal in the CME pre-open, a data problem otherwise)."""
        spread = self.spread
        return spread is not None and spread <= 0

    @property
    def mid_x2(self) -> int | None:
        """Twice the mid price in ticks (an integer even when the spread is odd)."""
        if self.bid is None or self.ask is None:
            return None
        return self.bid + self.ask


@dataclass(frozen=True, slots=True)
class Trade:
    """A trade print. ``aggressor`` is the side that took liquidity (BUY = a buyer lifted the
    offer), None when the source does not say."""

    ts_ns: int
    price: int
    size: int
    aggressor: Side | None = None


@dataclass(frozen=True, slots=True)
class DepthLevel:
    """One price level of a book side: ``size`` contracts resting at ``price``."""

    price: int
    size: int


@dataclass(frozen=True, slots=True)
class DepthDelta:
    """The resting size at one price level is now ``size``; 0 removes the level."""

    ts_ns: int
    side: BookSide
    price: int
    size: int


@dataclass(frozen=True, slots=True)
class DepthReset:
    """The book must be cleared and rebuilt (IB error 317, a resubscription, a new session)."""

    ts_ns: int


MarketData = Quote | Trade | DepthDelta | DepthReset
