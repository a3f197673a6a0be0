"""A replayed 1-minute bar as a market a client can trade against.

A bar-only file (OHLCV) says nothing of the book or of single trades, yet a client needs both:
a book to fill a market order against, trades to build its own bars from. :func:`bar_market`
turns each :class:`BarPrint` of such a stream into that market, by one fixed convention:

* **Prints.** The bar trades along the path open, the nearer extreme, the other extreme, close,
  at the bar's start + 0, 15, 30 and 45 seconds. The nearer extreme is the one closer to the
  open (on a tie, the one farther from the close comes first, so the path never turns back
  more than it must). A point at the price of the point before it is not printed (its volume
  goes to the prints left). The bar's volume is split evenly over its prints, the first ones
  taking the remainder, so the prints add up to the bar exactly: open, high, low, close and
  volume. (A bar with fewer contracts than prints, impossible for real trades, prints one
  contract each.)
* **The book follows each print.** Just before a print at price ``p`` the book is one level
  each side: bid ``p`` and ask ``p + 1`` tick, :data:`BOOK_SIZE` contracts each. So at the
  bar's start the book stands around the open: a market buy there pays ``open + 1`` tick, a
  market sell gets ``open``. Each print is a seller hitting that bid. The book stays where the
  last print left it until the next bar.

Any other event passes through unchanged. Once the stream has carried a trade or a book change
of its own it is not a bar-only source: its bars pass through as BarPrints (history only), so
that no period is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tradeterm.sim.market_events import BarPrint, BookClear, BookSide, MarketEvent, TradePrint
from tradeterm.sim.replay_common import TopOfBook

__all__ = ["BOOK_SIZE", "PRINT_OFFSETS_S", "bar_market", "bar_prints"]

BOOK_SIZE = 50
"""Contracts shown at the bid and at the ask of a replayed bar's book."""
PRINT_OFFSETS_S = (0, 15, 30, 45)
"""When the bar's open, nearer extreme, other extreme and close print, after its start."""
_NS = 1_000_000_000


def bar_prints(bar: BarPrint) -> list[tuple[int, int, int]]:
    """The prints of ``bar`` as ``(ts_ns, price, size)``, in order (see the module notes)."""
    up_first = bar.high - bar.open < bar.open - bar.low or (
        bar.high - bar.open == bar.open - bar.low and bar.high - bar.close >= bar.close - bar.low
    )
    near, far = (bar.high, bar.low) if up_first else (bar.low, bar.high)
    points: list[tuple[int, int]] = []
    for offset, price in zip(PRINT_OFFSETS_S, (bar.open, near, far, bar.close), strict=True):
        if not points or points[-1][1] != price:
            points.append((bar.ts_ns + offset * _NS, price))
    share, rest = divmod(bar.volume, len(points))
    return [
        (ts, price, max(1, share + (1 if i < rest else 0))) for i, (ts, price) in enumerate(points)
    ]


def bar_market(events: Iterable[MarketEvent]) -> Iterator[MarketEvent]:
    """``events`` with each BarPrint of a bar-only stream turned into book changes and trades,
    in time order (see the module notes)."""
    top = TopOfBook()
    bar_only = True
    for event in events:
        if not isinstance(event, BarPrint) or not bar_only:
            if not isinstance(event, (BarPrint, BookClear)):
                bar_only = False
            if isinstance(event, BookClear):
                top.reset()
            yield event
            continue
        for ts, price, size in bar_prints(event):
            yield from top.update(ts, (price, BOOK_SIZE), (price + 1, BOOK_SIZE))
            yield TradePrint(ts, price, size, BookSide.ASK)
