"""The trainer's end and its clock on the screen: a replay played to the end of its file says
REPLAY ENDED (status bar and log) and its orders keep resting; one whose file cannot be read
on says REPLAY FAILED and why; the log pane stamps its lines
with the replayed market's time; the tape's times never run ahead of the status bar's clock;
a history asked for before the file's first trade is no warning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import RichLog

from tests.support.waiting import until
from tests.ui.helpers import settings
from tradeterm.embedded import ReplaySource
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.status import StatusPanel
from tradeterm.ui.widgets.tape import TapePanel

BOOK = Path(__file__).parents[1] / "unit" / "trainer" / "book.csv"
NS = 1_000_000_000
WALL = 1_893_506_400 * NS  # 2030-01-01 08:00 CT: the wall clock, never the market's time


def trainer(speed: float, book: Path = BOOK) -> TradingApp:
    cfg = settings(mode="replay")
    theme, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=theme, themes=themes, replay=ReplaySource(book, speed),
                      clock=lambda: WALL)  # fmt: skip


def status(app: TradingApp) -> str:
    return str(app.screen.query_one(StatusPanel).render())


def log_lines(app: TradingApp) -> list[str]:
    return [strip.text for strip in app.screen.query_one("#log", RichLog).lines]


async def test_the_end_of_the_file_is_shown_and_nothing_is_left_to_jump_to() -> None:
    app = trainer(0.0)  # max: the book's 30 s are played at once
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        await until(lambda: "REPLAY ENDED" in status(app), "the end on the status bar", 10)
        shown = status(app)
        assert "age " not in shown and "18:58:30 CT" in shown  # stands at the file's last event
        await until(lambda: any("REPLAY ENDED" in line for line in log_lines(app)), "the log")
        assert app.runtime is not None and app.runtime.replay is not None
        await pilot.press("slash")  # nothing ahead to jump to: one line, the replay stays
        await pilot.pause(0.2)
        assert not getattr(app.runtime.replay, "jumping", False)
        assert "REPLAY ENDED" in status(app)
        await pilot.press("q")
        await pilot.pause()


async def test_a_file_that_cannot_be_read_on_is_said_on_the_screen_not_left_stale(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "cut.csv"  # the book, then a row the reader refuses (a price off the tick)
    bad.write_text(BOOK.read_text() + "2024-07-01T23:58:40Z,trade,5528.30,1,S\n")
    app = trainer(0.0, bad)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        await until(lambda: "REPLAY FAILED" in status(app), "the failure on the status bar", 10)
        assert "STALE" not in status(app) and "age " not in status(app)
        await until(lambda: "REPLAY FAILED" in " ".join(log_lines(app)), "the log's line")
        text = " ".join(" ".join(log_lines(app)).split())  # its wrapped lines as one
        assert "cut.csv could not be read on after 11 events" in text
        assert "price 5528.30 is not on the tick 0.25" in text
        assert not any("Traceback" in line for line in log_lines(app))
        await pilot.press("q")
        await pilot.pause()


@pytest.mark.parametrize("speed", [0.0, 100.0])
async def test_the_whole_file_reaches_the_screen_at_any_speed(speed: float) -> None:
    app = trainer(speed)  # the clock ran while the instance started: its start went to nobody
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        assert app.runtime is not None and app.runtime.replay is not None
        engine, clock = app.engine, app.runtime.replay
        assert engine is not None
        await until(lambda: clock.ended, "the file played", 10)
        await pilot.pause(0.2)
        market = engine.snapshot(tape=10).market
        assert market is not None
        assert [p.size for p in market.tape] == [3, 2, 1] and market.volume == 6  # all of it
        await pilot.press("q")
        await pilot.pause()


async def test_the_log_stamps_the_markets_time_and_no_history_yet_is_no_warning() -> None:
    app = trainer(1.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        await pilot.press("space")  # logs "replay PAUSED"
        await until(lambda: any("PAUSED" in line for line in log_lines(app)), "the log line")
        lines = [line for line in log_lines(app) if re.match(r"\d\d:\d\d:\d\d ", line)]
        assert lines and all(line.startswith("18:5") for line in lines), lines  # CT, market
        text = " ".join(log_lines(app))
        assert "162" not in text and "no data" not in text  # no history yet is no warning
        await pilot.press("q")
        await pilot.pause()


async def test_the_tape_is_painted_with_the_clock_beside_it() -> None:
    app = trainer(5.0)  # a trade every 2 s (its gaps shortened to 2 s of market time)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        engine = app.engine
        assert engine is not None

        def traded() -> bool:
            market = engine.snapshot(tape=0).market
            return market is not None and market.volume > 0

        await until(traded, "the file's trades")
        main = app.screen
        main.query_one(StatusPanel).set("before")
        app.painter.dirty.clear()
        app.painter.mark("tape")  # trades came; the status bar's second has not
        app.painter._last_side = app.painter._last_tape = 0.0
        app.paint()
        assert str(main.query_one(StatusPanel).render()) != "before"
        tape = str(main.query_one(TapePanel).render()).splitlines()
        clock = re.search(r"(\d\d:\d\d:\d\d) CT", status(app))
        assert clock is not None and len(tape) > 1
        assert tape[1][:8] <= clock.group(1)  # the newest print is not later than the clock
        await pilot.press("q")
        await pilot.pause()
