"""Event mode (``run_book``) on small hand-made event streams, in tradeterm's replay CSV
(``sim/replay_csv.py``): ES, tick 0.25, so 5000.00 is 20000 ticks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from threading import Event
from typing import Any

import pytest

from tests.real_data import DERIVED
from tradeterm.backtest.book_run import run_book
from tradeterm.backtest.run import run_backtest
from tradeterm.backtest.spec import BacktestError, BacktestSpec, FillAt
from tradeterm.backtest.stats import statistics
from tradeterm.backtest.summary import format_table
from tradeterm.domain import OrderType, Side

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
MS = 1_000_000
PX_5000 = 20000
FLIPS = "tests.support.book_strategies:FlipsEvery"  # +1, -1... every `trades` trades
BIDS = "tests.support.strategies:BidsBelow"  # a limit bracket `ticks` under the first trade
MBP1 = "ESU4_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.csv"

Fills = list[tuple[Side, int, int]]


def data(tmp_path: Path, *rows: tuple[int, str]) -> Path:
    """A replay CSV of ``(ms after T0, "type,fields...")`` rows."""
    path = tmp_path / "events.csv"
    path.write_text("".join(f"{T0 + ms * MS},{row}\n" for ms, row in rows))
    return path


def fills(path: Path, strategy: str, param: tuple[str, str], latency_ms: int = 0) -> Fills:
    result = run_book(BacktestSpec(path, strategy, (param,), latency_ms=latency_ms))
    assert result.kind == "events" and result.complete
    return [(f.side, f.quantity, f.price) for f in result.fills]


def test_a_market_order_takes_the_book_it_reaches(tmp_path: Path) -> None:
    path = data(
        tmp_path,
        (0, "quote,5000.00,10,5000.50,3"),
        (1, "trade,5000.00,1,S"),  # first trade: target +1, a buy at the ask
        (2, "quote,5000.00,10,5000.50,2"),
        (3, "trade,5000.00,1,S"),  # second: target -1, a sell of 2 at the bid (at the end)
    )
    assert fills(path, FLIPS, ("trades", "1")) == [
        (Side.BUY, 1, PX_5000 + 2),
        (Side.SELL, 2, PX_5000),
    ]


def test_a_resting_limit_waits_for_the_queue_ahead_of_it(tmp_path: Path) -> None:
    path = data(
        tmp_path,
        (0, "quote,5000.00,10,5000.25,5"),
        (1, "trade,5000.25,1,B"),  # a bracket buying 2 at 5000.00, behind the 10 shown
        (2, "trade,5000.00,6,S"),  # 6 of the 10 ahead
        (3, "quote,5000.00,4,5000.25,5"),
        (4, "trade,5000.00,5,S"),  # the last 4 ahead, then 1 of ours
        (5, "trade,5000.00,3,S"),  # our last one
    )
    assert fills(path, BIDS, ("ticks", "1")) == [(Side.BUY, 1, PX_5000), (Side.BUY, 1, PX_5000)]


LATE = (
    (0, "quote,5000.00,10,5000.25,3"),
    (1, "trade,5000.25,1,B"),  # target +1
    (2, "quote,5000.00,10,5000.50,3"),
    (10, "quote,5000.25,10,5000.75,3"),
)


def test_latency_delays_the_order_to_the_first_event_at_or_after_it(tmp_path: Path) -> None:
    path = data(tmp_path, *LATE)
    assert fills(path, FLIPS, ("trades", "1"), latency_ms=0) == [(Side.BUY, 1, PX_5000 + 1)]
    assert fills(path, FLIPS, ("trades", "1"), latency_ms=5) == [(Side.BUY, 1, PX_5000 + 2)]
    assert fills(path, FLIPS, ("trades", "1"), latency_ms=9) == [(Side.BUY, 1, PX_5000 + 2)]
    # on its way when the data ends: it arrives then, at the last book
    assert fills(path, FLIPS, ("trades", "1"), latency_ms=20) == [(Side.BUY, 1, PX_5000 + 3)]


def test_the_events_of_the_trades_own_timestamp_come_before_its_order(tmp_path: Path) -> None:
    path = data(
        tmp_path,
        (0, "quote,5000.00,10,5000.25,1"),
        (1, "trade,5000.25,1,B"),  # target +1...
        (1, "quote,5000.00,10,5000.50,3"),  # ...the same packet: the ask it took is gone
        (2, "quote,5000.00,10,5000.75,3"),
    )
    assert fills(path, FLIPS, ("trades", "1")) == [(Side.BUY, 1, PX_5000 + 2)]


def test_a_stop_ends_the_run_with_a_partial_result_and_progress_is_told(tmp_path: Path) -> None:
    quotes = [(i, f"quote,5000.00,{1 + i % 7},5000.25,3") for i in range(10_000)]
    path = data(tmp_path, *quotes)
    told: list[tuple[int, int]] = []
    stop = Event()

    def progress(done: int, total: int) -> None:
        told.append((done, total))
        stop.set()  # Ctrl-C during the run

    result = run_book(BacktestSpec(path, FLIPS), progress=progress, stop=stop)
    assert told == [(4096, 0)]  # how many events a file holds is not known before its end
    assert not result.complete and result.count == 8192


def test_run_backtest_runs_an_event_file_in_event_mode(tmp_path: Path) -> None:
    path = data(tmp_path, *LATE)
    result = run_backtest(BacktestSpec(path, FLIPS, (("trades", "1"),)))
    assert result.kind == "events" and result.count == 9  # level changes and trades
    assert [(f.side, f.quantity, f.price) for f in result.fills] == [(Side.BUY, 1, PX_5000 + 1)]


def at(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp((T0 + ms * MS) / 1e9, dt.UTC)


# Two trades in the first minute, then a trade and a quote two minutes later.
SPLIT = (
    (0, "quote,5000.00,10,5000.25,3"),
    (1, "trade,5000.25,1,B"),
    (2, "trade,5000.25,1,B"),
    (120_000, "trade,5000.25,1,B"),
    (120_001, "quote,5000.00,10,5000.50,3"),
)


def test_events_before_from_build_the_book_but_are_not_run(tmp_path: Path) -> None:
    """From the third trade on: the strategy's first trade is that one (a buy at the ask the
    quote before the start showed), the events before are not counted, nor their bar."""
    path = data(tmp_path, *SPLIT)
    spec = BacktestSpec(path, FLIPS, (("trades", "1"),), start=at(100_000))
    result = run_book(spec)
    assert [(f.side, f.quantity, f.price) for f in result.fills] == [(Side.BUY, 1, PX_5000 + 1)]
    assert result.count == 3  # the trade and the quote's two level changes (the ask moved)
    assert [b.start_ns for b in result.bars] == [T0 - T0 % 60_000_000_000 + 120_000_000_000]


def test_from_and_to_split_the_events_in_two(tmp_path: Path) -> None:
    """--to is the end, not included, and --from the start, included: split at any event's
    time, the two runs count every event once."""
    path = data(tmp_path, *SPLIT)
    whole = run_book(BacktestSpec(path, FLIPS)).count
    for ms, _ in SPLIT:
        before = run_book(BacktestSpec(path, FLIPS, end=at(ms))).count
        after = run_book(BacktestSpec(path, FLIPS, start=at(ms))).count
        assert (before, after) != (0, 0) and before + after == whole


def test_from_after_the_data_runs_no_event(tmp_path: Path) -> None:
    path = data(tmp_path, *SPLIT)
    result = run_book(BacktestSpec(path, FLIPS, (("trades", "1"),), start=at(10**9)))
    assert (result.count, result.fills, result.bars) == (0, [], [])


def test_from_on_the_recorded_mbp1_file_counts_only_its_events() -> None:
    path = DERIVED / MBP1
    if not path.is_file():
        pytest.skip(f"{path} not available")
    whole = run_backtest(BacktestSpec(path, FLIPS)).count
    late = run_backtest(BacktestSpec(path, FLIPS, start=dt.datetime(2025, 1, 1, tzinfo=dt.UTC)))
    assert whole > 0 and late.count == 0 and late.fills == []
    middle = dt.datetime(2024, 7, 2, 0, 0, tzinfo=dt.UTC)
    before = run_backtest(BacktestSpec(path, FLIPS, end=middle)).count
    after = run_backtest(BacktestSpec(path, FLIPS, start=middle)).count
    assert 0 < before < whole and before + after == whole


@pytest.mark.parametrize(
    ("option", "words"),
    [
        ({"fill": FillAt.CLOSE}, "--fill close is for bar data"),
        ({"slippage_ticks": 3}, "--slippage-ticks is for bar data"),
    ],
    ids=["fill-close", "slippage"],
)
def test_a_bar_only_option_is_refused_on_events(
    tmp_path: Path, option: dict[str, Any], words: str
) -> None:
    path = data(tmp_path, *LATE)
    with pytest.raises(BacktestError, match=words):
        run_backtest(BacktestSpec(path, FLIPS, **option))


def test_the_report_of_an_event_run_does_not_say_next_open(tmp_path: Path) -> None:
    result = run_book(BacktestSpec(data(tmp_path, *LATE), FLIPS))
    header = format_table(result, statistics(result)).splitlines()[1]
    assert header.startswith("fill on the book,") and "next-open" not in header


def test_a_brackets_orders_are_its_own_and_its_fills_name_them(tmp_path: Path) -> None:
    """The entry, stop and target are three orders (``result.orders``); each fill carries the
    id of the order it filled, the target's exit its own, not the entry's."""
    path = data(
        tmp_path,
        (0, "quote,5000.00,1,5000.25,5"),
        (1, "trade,5000.25,1,B"),  # a bracket buying at 5000.00, one ahead of it
        (2, "trade,5000.00,100,S"),  # the one ahead, then ours
        (3, "quote,5004.00,5,5004.25,5"),
        (4, "trade,5004.50,100,B"),  # through the target at 5004.00 (16 ticks up)
    )
    result = run_book(BacktestSpec(path, BIDS, (("ticks", "1"),)))
    entry, stop, target = result.orders
    assert (entry.order_type, entry.side, entry.limit) == (OrderType.LIMIT, Side.BUY, PX_5000)
    assert (stop.order_type, stop.side, stop.stop, stop.parent) == (
        OrderType.STOP, Side.SELL, PX_5000 - 8, entry.order_id)  # fmt: skip
    assert (target.order_type, target.side, target.limit) == (OrderType.LIMIT, Side.SELL,
                                                              PX_5000 + 16)  # fmt: skip
    assert len({entry.order_id, stop.order_id, target.order_id}) == 3
    assert [(f.order_id, f.side, f.price) for f in result.fills] == [
        (entry.order_id, Side.BUY, PX_5000),
        (target.order_id, Side.SELL, PX_5000 + 16),
    ]
