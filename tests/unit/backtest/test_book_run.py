"""Event mode (``run_book``) on small hand-made event streams, in tradeterm's replay CSV
(``sim/replay_csv.py``): ES, tick 0.25, so 5000.00 is 20000 ticks."""

from __future__ import annotations

from pathlib import Path
from threading import Event

from tradeterm.backtest.book_run import run_book
from tradeterm.backtest.run import run_backtest
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.domain import OrderType, Side

T0 = 1_700_000_000_000_000_000  # 2023-11-14 22:13:20 UTC
MS = 1_000_000
PX_5000 = 20000
FLIPS = "tests.support.book_strategies:FlipsEvery"  # +1, -1... every `trades` trades
BIDS = "tests.support.strategies:BidsBelow"  # a limit bracket `ticks` under the first trade

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
