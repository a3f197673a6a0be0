"""A replayed 1-minute bar as a book and trades (tradeterm/sim/bar_market.py)."""

from __future__ import annotations

from tradeterm.sim.bar_market import BOOK_SIZE, bar_market, bar_prints
from tradeterm.sim.book import L2Book
from tradeterm.sim.market_events import BarPrint, BookDelta, BookSide, TradePrint

NS = 1_000_000_000
T = 1_578_268_800 * NS  # 2020-01-06 00:00 UTC


def test_a_bar_trades_open_nearer_extreme_other_extreme_close_adding_up_to_it() -> None:
    bar = BarPrint(T, open=100, high=102, low=95, close=97, volume=1526)
    prints = bar_prints(bar)
    assert [(ts - T) // NS for ts, _, _ in prints] == [0, 15, 30, 45]
    assert [p for _, p, _ in prints] == [100, 102, 95, 97]  # the high is nearer the open
    assert [s for _, _, s in prints] == [382, 382, 381, 381]
    assert sum(s for _, _, s in prints) == bar.volume
    down_first = bar_prints(BarPrint(T, 100, 105, 99, 104, 8))
    assert [p for _, p, _ in down_first] == [100, 99, 105, 104]


def test_a_tie_goes_first_to_the_extreme_farther_from_the_close() -> None:
    assert [p for _, p, _ in bar_prints(BarPrint(T, 100, 102, 98, 101, 4))] == [100, 98, 102, 101]
    assert [p for _, p, _ in bar_prints(BarPrint(T, 100, 102, 98, 99, 4))] == [100, 102, 98, 99]


def test_repeated_prices_print_once_and_the_volume_still_adds_up() -> None:
    flat = bar_prints(BarPrint(T, 100, 100, 100, 100, 3))
    assert flat == [(T, 100, 3)]
    open_is_high = bar_prints(BarPrint(T, 100, 100, 97, 98, 7))
    assert [(p, s) for _, p, s in open_is_high] == [(100, 3), (97, 2), (98, 2)]


def test_the_book_stands_at_each_print_bid_there_ask_a_tick_above() -> None:
    bars = [BarPrint(T, 100, 102, 99, 101, 40), BarPrint(T + 60 * NS, 101, 101, 101, 101, 5)]
    book = L2Book()
    tops: list[tuple[int | None, int | None, int]] = []
    trades: list[TradePrint] = []
    for event in bar_market(bars):
        book.apply(event)
        if isinstance(event, TradePrint):
            trades.append(event)
            ask = book.best_ask
            assert ask is not None
            tops.append((book.best_bid, ask, book.size(BookSide.ASK, ask)))
    assert [t.price for t in trades] == [100, 99, 102, 101, 101]
    assert tops == [(p, p + 1, BOOK_SIZE) for p in (100, 99, 102, 101, 101)]
    assert all(t.aggressor is BookSide.ASK for t in trades)  # a seller hits the bid
    assert sum(t.size for t in trades) == 45


def test_bars_beside_trades_pass_through_as_history() -> None:
    trade = TradePrint(T - NS, 100, 2, BookSide.BID)
    level = BookDelta(T - NS, BookSide.BID, 99, 5)
    bar = BarPrint(T, 100, 101, 99, 100, 9)
    assert list(bar_market([trade, level, bar])) == [trade, level, bar]
