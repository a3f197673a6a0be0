"""The trainer on the real runtime (``open_runtime``, ``tradeterm ES --replay FILE``): the
replay's one clock drives the market at the client (pause, speed, jump) and the whole instance
reads it (the engine's clock, the status bar's time, the file's contract). The always-run tests
replay the small CSV book (tests/unit/trainer/book.csv: its snapshot at 18:58:00 CT on
2024-07-01, then one trade every 10 s); the recorded MBO file runs when ../shared/data is there:
the ladder's queue figure is the gateway's FIFO truth."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.real_data import data_file
from tests.support.waiting import until
from tests.ui.helpers import book_shown, gateway, ladder, resting_at_gateway, settings
from tradeterm.embedded import ReplaySource, TrainerClock
from tradeterm.engine.engine import Engine
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.status import StatusPanel

BOOK = Path(__file__).parents[1] / "unit" / "trainer" / "book.csv"
NS = 1_000_000_000
T0 = 1_719_878_280  # 2024-07-01T23:58:00Z, the book's first event


def trainer(path: Path, speed: float) -> TradingApp:
    cfg = settings(mode="replay")
    theme, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=theme, themes=themes, replay=ReplaySource(path, speed))


def status(app: TradingApp) -> str:
    return str(app.screen.query_one(StatusPanel).render())


async def started(app: TradingApp) -> tuple[Engine, TrainerClock]:
    """The engine and the replay's clock, once the recorded book shows on the ladder."""
    await book_shown(app)
    assert app.engine is not None and app.runtime is not None
    clock = app.runtime.replay
    assert isinstance(clock, TrainerClock) and clock is gateway(app).replay_clock
    return app.engine, clock


async def paused(app: TradingApp, pilot: Pilot[Any]) -> Engine:
    """Started, then paused (``space``) on the recorded book; the engine."""
    engine, _ = await started(app)
    await pilot.press("space")
    await until(lambda: engine.source_paused, "paused")
    return engine


def volume(engine: Engine) -> int:
    market = engine.snapshot(tape=0).market
    return market.volume if market is not None else 0


async def test_the_instance_runs_on_the_replayed_markets_clock_and_trades_the_files_day() -> None:
    app = trainer(BOOK, 1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        engine, _ = await started(app)
        # the engine's clock, its calendar, the broker's date: the recording's time, not today's
        assert T0 * NS <= engine.clock() < (T0 + 3600) * NS
        snap = engine.snapshot(tape=0)
        assert snap.calendar.is_open(engine.clock())
        assert snap.instrument is not None and snap.instrument.local_symbol == "ESU4"  # July 2024
        await pilot.pause(0.3)
        shown = status(app)
        assert "ESU4" in shown and " REPLAY " in shown and "18:5" in shown  # CT, market time
        assert "stale" not in shown
        await pilot.press("a", "b")  # a market buy: its execution is the recorded market's too
        journal, inst = app.runtime.journal, snap.instrument  # type: ignore[union-attr]
        assert journal is not None

        async def journaled() -> list[int]:
            await journal.flush()
            return [f.ts_ns for f, _ in await journal.fills(inst)]

        stamps: list[int] = []
        for _ in range(100):
            stamps = await journaled()
            if stamps:
                break
            await pilot.pause(0.1)
        assert stamps and all(T0 * NS <= ts < (T0 + 3600) * NS for ts in stamps), stamps
        await pilot.press("q")
        await pilot.pause()


async def test_pause_stops_the_market_at_the_client_speed_paces_it_the_end_stands_still() -> None:
    app = trainer(BOOK, 0.25)  # a trade every 8 s of wall time (gaps over 2 s are shortened)
    async with app.run_test(size=(120, 40)) as pilot:
        engine, clock = await started(app)
        await pilot.press("space")
        assert clock.paused
        paused_at, traded = clock.now(), volume(engine)
        wall = time.monotonic()
        while time.monotonic() - wall < 2.0:  # paused: the market stands still at the client
            await pilot.pause(0.1)
            assert clock.now() == paused_at and volume(engine) == traded
        await until(lambda: engine.source_paused, "the engine to learn of the pause")
        shown = status(app)
        assert "PAUSED" in shown and "stale" not in shown

        await pilot.press("full_stop", "full_stop", "full_stop", "full_stop", "full_stop")
        assert clock.speed == 10.0 and clock.paused  # x0.25 -> 0.5 -> 1 -> 2 -> 5 -> 10
        await pilot.press("space")  # resumed at x10: the book's three trades come
        assert not clock.paused
        await until(lambda: not engine.source_paused, "the engine to learn of the resume")
        await until(lambda: volume(engine) == 6, "the trades, at the new pace")
        await until(lambda: clock.ended, "the end of the book's file")
        await pilot.press("slash")  # nothing left ahead: the market stands at the file's end
        await pilot.pause(0.3)
        assert T0 + 30 <= clock.now() < T0 + 31 and not clock.jumping
        await until(lambda: "REPLAY ENDED" in status(app), "the end on the status bar")
        assert "18:58:30 CT" in status(app)  # the status bar's second: at most one a second
        await pilot.press("q")
        await pilot.pause()


async def test_on_the_mbo_file_the_ladders_queue_figure_is_the_gateways_truth() -> None:
    path = data_file("ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst")
    app = trainer(path, 1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        engine = await paused(app, pilot)
        snap = engine.snapshot(tape=0)
        assert snap.instrument is not None and snap.instrument.local_symbol == "ESH4"
        await pilot.press("a", "B")  # armed, join the bid
        await until(lambda: engine.snapshot(tape=0).orders, "our limit working")
        (order,) = engine.snapshot(tape=0).orders
        gw = gateway(app)

        def truth() -> int | None:
            found = [gw.queue_position(k) for k in resting_at_gateway(gw)]
            return next((q for q in found if q is not None), None)

        await until(lambda: truth() is not None, "the limit resting at the gateway")
        await until(lambda: order.order_id in engine.snapshot(tape=0).queue, "the estimate")
        ahead = engine.snapshot(tape=0).queue[order.order_id]
        assert (
            ahead is not None and ahead == truth() and ahead > 0
        )  # the figure the ladder shows beside the order
        await pilot.press("q")
        await pilot.pause()


def quiet_then_open(path: Path) -> Path:
    """A book that changes every 2 s for 3 minutes without a trade (a market before its open,
    as the MBO file's hour before 17:00 CT), then a trade every second for 2 minutes."""
    lines = ["ts,type"]
    at = lambda s: f"2024-07-01T23:{58 + s // 60:02d}:{s % 60:02d}Z"  # noqa: E731
    lines += [f"{at(0)},level,B,5528.50,5", f"{at(0)},level,A,5528.75,4"]
    lines += [f"{at(s)},level,B,5528.50,{5 + s % 3}" for s in range(2, 180, 2)]
    lines += [f"{at(s)},trade,5528.75,1,B" for s in range(180, 300)]
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_a_quiet_recording_is_never_stale_at_speed_a_stalled_replay_is(
    tmp_path: Path,
) -> None:
    app = trainer(quiet_then_open(tmp_path / "quiet.csv"), 60.0)  # 3 quiet minutes in 3 s
    async with app.run_test(size=(120, 40)) as pilot:
        engine, clock = await started(app)
        assert engine.core is not None
        core = engine.core
        seen: set[str] = set()
        while clock.now() < T0 + 185:  # the quiet minutes, then the open's first trades
            await pilot.pause(0.05)
            seen.update(str(f) for f in core.stale())
            assert "stale" not in status(app)
        assert seen == set()  # no feed stale, so none resubscribed
        await until(lambda: volume(engine) > 0, "the first trades")
        gateway(app).faults.stall(3600)  # the replay stops delivering what the file holds
        await until(lambda: "quotes" in {str(f) for f in core.stale()}, "the stall seen as stale")
        await pilot.pause(0.3)
        assert "stale" in status(app)
        await pilot.press("q")
        await pilot.pause()


def bid_leaves(path: Path) -> Path:
    """The book, then its bid side empties 10 s in; a trade at 100 s (after a jump lands)."""
    path.write_text(
        "ts,type\n"
        "2024-07-01T23:58:00Z,level,B,5528.50,5\n"
        "2024-07-01T23:58:00Z,level,A,5528.75,4\n"
        "2024-07-01T23:58:10Z,level,B,5528.50,0\n"
        "2024-07-01T23:59:40Z,trade,5528.75,1,B\n"
    )
    return path


async def test_when_a_jump_lands_the_quote_is_the_books_and_b_joins_what_is_there(
    tmp_path: Path,
) -> None:
    app = trainer(bid_leaves(tmp_path / "bid.csv"), 1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        engine, clock = await started(app)
        await pilot.press("space", "slash")  # paused, a minute ahead: the bid left meanwhile
        await until(lambda: not clock.jumping, "the jump to land")
        feed = next(iter(gateway(app).market.feeds.values()))
        assert feed.engine.book.best_bid is None

        def market_bid() -> int | None:
            market = engine.snapshot(tape=0).market
            assert market is not None and market.quote is not None
            return market.quote.bid

        await until(lambda: market_bid() is None, "the engine's quote without a bid")
        await pilot.press("a", "B")  # armed, join the bid: there is none
        await pilot.pause(0.3)
        assert not engine.snapshot(tape=0).orders
        data = ladder(app).data  # painted as B read it (the byte budget holds nothing back)
        assert data is not None and data.best_bid is None and data.best_ask == 22115
        await pilot.press("q")
        await pilot.pause()


async def test_on_a_top_of_book_file_a_limit_beyond_the_book_has_an_unknown_queue() -> None:
    """On MBP-1 (top of book only) the gateway's queue figure is its own model, which says 0
    ahead at a price the feed never showed: the screen must say unknown (``q?``), not take it
    as the truth (only an order-by-order replay gives the exact FIFO place)."""
    path = data_file("ESU4_glbx-mdp3_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.dbn.zst")
    app = trainer(path, 1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        engine = await paused(app, pilot)
        await pilot.press("a", "z", *["k"] * 8, "right_square_bracket")  # a sell 8 ticks up
        await until(lambda: engine.snapshot(tape=0).orders, "our limit working")
        (order,) = engine.snapshot(tape=0).orders
        gw = gateway(app)
        await until(lambda: resting_at_gateway(gw), "resting at the gateway")
        (perm,) = resting_at_gateway(gw)
        await until(lambda: order.order_id in engine.snapshot(tape=0).queue, "the estimate")
        assert gw.queue_position(perm) == 0  # the gateway's model: nobody ahead
        assert gw.exact_queue_position(perm) is None  # ... which is not the exchange's truth
        assert engine.snapshot(tape=0).queue[order.order_id] is None  # so: q?, unknown
        await pilot.press("q")
        await pilot.pause()


def trades_across_a_jump(path: Path) -> Path:
    """The book; a trade at 10 s (before the jump); two the jump skips (at 40 s and 65 s); one
    at 100 s and one past the next minute (after it lands)."""
    path.write_text(
        "ts,type\n"
        "2024-07-01T23:58:00Z,level,B,5528.50,5\n"
        "2024-07-01T23:58:00Z,level,A,5528.75,4\n"
        "2024-07-01T23:58:10Z,trade,5528.50,2,S\n"
        "2024-07-01T23:58:40Z,trade,5528.75,3,B\n"
        "2024-07-01T23:59:05Z,trade,5528.25,4,S\n"
        "2024-07-01T23:59:40Z,trade,5528.50,1,S\n"
        "2024-07-02T00:00:05Z,trade,5528.50,1,S\n"
    )
    return path


async def test_after_a_jump_the_charts_bars_are_what_the_file_traded(tmp_path: Path) -> None:
    """The trades a jump skips never reach the client: the engine asks the bar history again
    when it lands (the minute in progress at the jump is closed with them, the minute skipped
    is there), and once more when the minute it landed in has closed."""
    app = trainer(trades_across_a_jump(tmp_path / "jump.csv"), 1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        engine, clock = await started(app)
        await until(lambda: volume(engine) == 2, "the trade before the jump")
        await pilot.press("space", "slash")  # paused at 23:58:1x, a minute ahead: 23:59:1x
        await until(lambda: not clock.jumping, "the jump to land")

        def bars() -> dict[int, tuple[int, int, int, int, int]]:
            return {(b.start_ns // NS - T0) // 60: (b.open, b.high, b.low, b.close, b.volume)
                    for b in engine.snapshot(tape=0).bars}  # fmt: skip

        # 23:58: the trade before the jump and the one it skipped (22114 = 5528.50)
        await until(lambda: bars().get(0) == (22114, 22115, 22114, 22115, 5), "23:58's bar")
        await pilot.press("space")  # resumed: 23:59 closes when 00:00:05 trades
        await until(lambda: bars().get(1) == (22113, 22114, 22113, 22114, 5), "23:59's bar")
        assert bars()[0] == (22114, 22115, 22114, 22115, 5)
        await pilot.press("q")
        await pilot.pause()
