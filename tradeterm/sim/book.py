"""The public level-2 book of one instrument, driven by market events.

``L2Book`` keeps the displayed size per price per side (prices are integer ticks, sizes whole
contracts) plus the last trade. It is on the hot path of every market message, so it is a plain
slotted class: one dict of ``price -> size`` per side and one ascending sorted list of the prices
present, maintained with ``bisect``. A size change at an existing level is a single dict store;
only adding or removing a level touches the sorted list (a small memmove for a 10-level book).

The book is faithful to its source: it never uncrosses itself. A replayed feed may be crossed for
a message or two; ``best_bid``/``best_ask`` then report what the feed says.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from tradeterm.sim.market_events import (
    BarPrint,
    BookClear,
    BookDelta,
    BookSide,
    MarketEvent,
    TradePrint,
)

__all__ = ["L2Book"]


class L2Book:
    """Displayed size per price per side, best bid/ask, top-N levels and the last trade."""

    __slots__ = (
        "_ask_px",
        "_asks",
        "_bid_px",
        "_bids",
        "last_price",
        "last_size",
        "last_ts_ns",
        "ts_ns",
        "volume",
    )

    def __init__(self) -> None:
        self._bids: dict[int, int] = {}
        self._asks: dict[int, int] = {}
        self._bid_px: list[int] = []  # ascending; best bid is the last element
        self._ask_px: list[int] = []  # ascending; best ask is the first element
        self.last_price: int | None = None
        self.last_size: int = 0
        self.last_ts_ns: int = 0
        self.ts_ns: int = 0  # timestamp of the last event applied
        self.volume: int = 0  # total traded contracts seen since creation / last clear

    # ------------------------------------------------------------------ updates

    def apply(self, event: MarketEvent) -> None:
        """Apply one market event. Trades only update the last price and volume: the size they
        consume leaves the book through the BookDeltas that follow them."""
        if type(event) is BookDelta:
            self.set_level(event.side, event.price, event.size)
            self.ts_ns = event.ts_ns
        elif type(event) is TradePrint:
            self.last_price = event.price
            self.last_size = event.size
            self.last_ts_ns = self.ts_ns = event.ts_ns
            self.volume += event.size
        elif type(event) is BookClear:
            self.clear()
            self.ts_ns = event.ts_ns
        elif type(event) is BarPrint:
            self.last_price = event.close
            self.last_ts_ns = self.ts_ns = event.ts_ns
            self.volume += event.volume
        else:
            raise TypeError(f"not a market event: {event!r}")

    def set_level(self, side: BookSide | int, price: int, size: int) -> int:
        """Set the displayed size at ``price`` (``size <= 0`` removes the level). Returns the
        previous size (0 if the level was absent)."""
        if side:
            sizes, prices = self._bids, self._bid_px
        else:
            sizes, prices = self._asks, self._ask_px
        old = sizes.get(price, 0)
        if size > 0:
            sizes[price] = size
            if not old:
                insort(prices, price)
        elif old:
            del sizes[price]
            del prices[bisect_left(prices, price)]
        return old

    def clear(self) -> None:
        """Empty both sides (the last trade is kept: it is still the last trade)."""
        self._bids.clear()
        self._asks.clear()
        self._bid_px.clear()
        self._ask_px.clear()

    # ------------------------------------------------------------------ queries

    @property
    def best_bid(self) -> int | None:
        px = self._bid_px
        return px[-1] if px else None

    @property
    def best_ask(self) -> int | None:
        px = self._ask_px
        return px[0] if px else None

    @property
    def spread(self) -> int | None:
        """Best ask minus best bid in ticks, or None when a side is empty."""
        if self._bid_px and self._ask_px:
            return self._ask_px[0] - self._bid_px[-1]
        return None

    def size(self, side: BookSide | int, price: int) -> int:
        """Displayed size at ``price`` on ``side`` (0 if no level)."""
        return (self._bids if side else self._asks).get(price, 0)

    def best(self, side: BookSide | int) -> int | None:
        """Best price on ``side``."""
        if side:
            return self._bid_px[-1] if self._bid_px else None
        return self._ask_px[0] if self._ask_px else None

    def levels(self, side: BookSide | int, n: int = 10) -> list[tuple[int, int]]:
        """Top ``n`` levels of ``side`` as ``(price, size)``, best first."""
        if side:
            sizes = self._bids
            px = self._bid_px[-n:] if n > 0 else []
            px.reverse()
        else:
            sizes = self._asks
            px = self._ask_px[:n] if n > 0 else []
        return [(p, sizes[p]) for p in px]

    def prices(self, side: BookSide | int) -> list[int]:
        """All prices on ``side``, best first (a copy)."""
        if side:
            return self._bid_px[::-1]
        return list(self._ask_px)

    def rank(self, side: BookSide | int, price: int) -> int | None:
        """Position of ``price`` on ``side`` counted from the touch (0 = best), or None when there
        is no level at that price. TWS depth messages address levels by this position."""
        if side:
            if price not in self._bids:
                return None
            return len(self._bid_px) - 1 - bisect_left(self._bid_px, price)
        if price not in self._asks:
            return None
        return bisect_left(self._ask_px, price)

    def depth(self, side: BookSide | int) -> int:
        """Number of price levels on ``side``."""
        return len(self._bid_px) if side else len(self._ask_px)

    def total_size(self, side: BookSide | int) -> int:
        return sum((self._bids if side else self._asks).values())

    def is_crossed(self) -> bool:
        return bool(self._bid_px and self._ask_px and self._bid_px[-1] >= self._ask_px[0])

    def snapshot(self, ts_ns: int | None = None) -> list[BookDelta]:
        """The whole book as BookDeltas (bids best first, then asks best first)."""
        ts = self.ts_ns if ts_ns is None else ts_ns
        out = [
            BookDelta(ts, BookSide.BID, p, s)
            for p, s in self.levels(BookSide.BID, len(self._bid_px))
        ]
        out += [
            BookDelta(ts, BookSide.ASK, p, s)
            for p, s in self.levels(BookSide.ASK, len(self._ask_px))
        ]
        return out

    def __repr__(self) -> str:
        return (
            f"L2Book(bid={self.best_bid}x{self.size(BookSide.BID, self.best_bid or 0)}, "
            f"ask={self.best_ask}x{self.size(BookSide.ASK, self.best_ask or 0)}, "
            f"levels={len(self._bid_px)}/{len(self._ask_px)}, last={self.last_price})"
        )
