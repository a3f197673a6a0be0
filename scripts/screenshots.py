"""Regenerate the README screenshots: ``python scripts/screenshots.py [--out screenshots]``.

The real app on the embedded fake gateway (SIM, seed 7, a session open whatever the day), in a private temporary config and
data directory (your config, themes and journal are not touched). It trades a little (a
market buy, a resting bid) so the ladder shows a position and an order, then saves SVGs: the
main screen in each built-in theme, the main screen at the sizes traders use (80x24, 120x40,
200x50: ``main-WxH.svg``), the kill switch, and the help screen; and, in a run of its own,
the 120x40 screen running ``sma_cross`` (fast 2, slow 3) once it has signalled
(``strategy-120x40.svg``, up to a minute and a half: its first bar must close;
``--only strategy`` makes just that one); the ladder's traded volume by side, recent trades
and a price alert with the tape's aggressor letters (``tape-160x48.svg``, ``--only tape``);
and the account panel with 5-minute candles at 160x45 and the compact chart at 120x40
(``panels-WxH.svg``, ``--only panels``); the replay trainer at 120x40 (``trainer-120x40.svg``,
``--only trainer``): the recorded ESH4 MBO file of ../shared/data a few minutes after the
17:00 CT open when it is there (else the trainer's small CSV book), paused, with a bid
joined and its exact place in the queue beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SIZE = (160, 48)
SIZES = ((80, 24), (120, 40), (200, 50))  # the same screen, resized: what each width shows
SEED = 7


async def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def shoot(theme: str, out: Path, extra: bool) -> list[Path]:
    from tradeterm.config import load_settings
    from tradeterm.engine.calendar import NS, SessionCalendar
    from tradeterm.runtime import open_runtime
    from tradeterm.ui.app import TradingApp
    from tradeterm.ui.dialogs import KillScreen
    from tradeterm.ui.themes import select_theme

    settings = load_settings(None, {"ui.theme": theme}).settings
    chosen, themes = select_theme(theme)
    now = time.time_ns()
    # a session open now, whatever the day: the screenshots show a trading market, not the
    # CLOSED banner a weekend or the daily break would put on the ladder
    hours = SessionCalendar([(now - 10 * 3600 * NS, now + 4 * 3600 * NS)])
    app = TradingApp(settings, theme=chosen, themes=themes, seed=SEED,
                     opener=lambda: open_runtime(settings, seed=SEED, calendar=hours))  # fmt: skip
    saved: list[Path] = []
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine")
        if app.startup_error:
            raise RuntimeError(app.startup_error)
        await pilot.pause(3.0)  # some market: prints, volume, the tape
        await pilot.press("a", "b")
        await until(lambda: app.engine is not None and app.engine.snapshot(tape=0).pnl.quantity == 1, "a fill")  # type: ignore[union-attr]  # fmt: skip
        await pilot.press("down", "down", "down", "left_square_bracket")  # a buy limit
        await until(lambda: app.engine is not None and len(app.engine.snapshot(tape=0).orders) == 1, "a resting bid")  # fmt: skip
        await pilot.pause(2.0)
        saved.append(Path(app.save_screenshot(f"main-{theme}.svg", str(out))))
        if extra:
            for width, height in SIZES:
                await pilot.resize_terminal(width, height)
                await pilot.pause(1.5)  # the panels refit, the chart redraws (at most 2 Hz)
                name = f"main-{width}x{height}.svg"
                saved.append(Path(app.save_screenshot(name, str(out))))
            await pilot.resize_terminal(*SIZE)
            await pilot.pause(1.0)
            await pilot.press("question_mark")
            await pilot.pause(0.5)
            saved.append(Path(app.save_screenshot("help.svg", str(out))))
            await pilot.press("escape")
            await pilot.press("ctrl+k")
            kill = app.screen
            assert isinstance(kill, KillScreen)
            await until(lambda: kill.done is not None, "the kill switch to end")
            await pilot.pause(1.0)
            saved.append(Path(app.save_screenshot("kill-switch.svg", str(out))))
        await app.shutdown()
    return saved


async def shoot_strategy(out: Path) -> Path:
    """The 120x40 screen with sma_cross running, once its first signal is on the panel."""
    from tradeterm.config import load_settings
    from tradeterm.engine.calendar import NS, SessionCalendar
    from tradeterm.runtime import open_runtime
    from tradeterm.strategies import load
    from tradeterm.ui.app import TradingApp
    from tradeterm.ui.themes import select_theme

    settings = load_settings(None, {}).settings
    chosen, themes = select_theme(settings.ui.theme)
    now = time.time_ns()
    hours = SessionCalendar([(now - 10 * 3600 * NS, now + 4 * 3600 * NS)])
    app = TradingApp(settings, theme=chosen, themes=themes, seed=SEED,
                     opener=lambda: open_runtime(settings, seed=SEED, calendar=hours),
                     strategy=load("sma_cross", ["fast=2", "slow=3"]))  # fmt: skip
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine")
        if app.startup_error:
            raise RuntimeError(app.startup_error)

        def signalled() -> bool:
            view = app.engine.snapshot(tape=0).strategy if app.engine is not None else None
            return view is not None and bool(view.signals) and view.position != 0

        await until(signalled, "a signal and its fill", timeout=150.0)
        await pilot.pause(2.0)
        path = Path(app.save_screenshot("strategy-120x40.svg", str(out)))
        await app.shutdown()
    return path


def demo_app() -> Any:
    """The screen on the embedded gateway, its session open for hours around now."""
    from tradeterm.config import load_settings
    from tradeterm.engine.calendar import NS, SessionCalendar
    from tradeterm.runtime import open_runtime
    from tradeterm.ui.app import TradingApp
    from tradeterm.ui.themes import select_theme

    settings = load_settings(None, {}).settings
    chosen, themes = select_theme(settings.ui.theme)
    now = time.time_ns()
    hours = SessionCalendar([(now - 10 * 3600 * NS, now + 4 * 3600 * NS)])
    return TradingApp(settings, theme=chosen, themes=themes, seed=SEED,
                      opener=lambda: open_runtime(settings, seed=SEED, calendar=hours))  # fmt: skip


async def shoot_tape(out: Path) -> Path:
    """The 160x48 screen after some trading: RCNT, BVOL and AVOL on the ladder, a price alert
    (n) three ticks over the cursor, the tape's B/S letters."""
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine")
        if app.startup_error:
            raise RuntimeError(app.startup_error)
        await pilot.pause(8.0)  # prints on both sides, volume at price
        await pilot.press("up", "up", "up", "n", "down", "down", "down")
        await pilot.pause(2.0)
        path = Path(app.save_screenshot("tape-160x48.svg", str(out)))
        await app.shutdown()
    return path


async def shoot_panels(out: Path) -> list[Path]:
    """The account panel and the chart on 5-minute candles at 160x45, the compact chart at
    120x40, once the account's figures and some minutes of history are in."""
    app = demo_app()
    saved: list[Path] = []
    async with app.run_test(size=(160, 45)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine")
        if app.startup_error:
            raise RuntimeError(app.startup_error)
        account = app.screen.query_one("#account")

        def known() -> bool:
            return "unknown" not in getattr(account, "shown", "unknown")

        await until(known, "the account's figures and the margin per contract")
        await pilot.press("a", "b")
        await pilot.press("C")  # 5-minute candles
        await pilot.pause(3.0)
        saved.append(Path(app.save_screenshot("panels-160x45.svg", str(out))))
        await pilot.resize_terminal(120, 40)
        await pilot.pause(1.5)
        saved.append(Path(app.save_screenshot("panels-120x40.svg", str(out))))
        await app.shutdown()
    return saved


ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT.parent / "shared" / "data" / "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"
RECORDED_AT = 1_703_545_410  # 2023-12-25T23:03:30Z, 17:03:30 CT: the session just open
BOOK = ROOT / "tests" / "unit" / "trainer" / "book.csv"


async def shoot_trainer(out: Path) -> Path:
    """``tradeterm ES --replay FILE --speed 10`` at 120x40: the recorded book, paused, armed,
    a bid joined (B) with the contracts ahead of it (``q<n>``)."""
    from tradeterm.config import load_settings
    from tradeterm.embedded import ReplaySource, TrainerClock
    from tradeterm.ui.app import TradingApp
    from tradeterm.ui.themes import select_theme
    from tradeterm.ui.widgets.ladder import Ladder

    settings = load_settings(None, {"mode": "replay"}).settings
    chosen, themes = select_theme(settings.ui.theme)
    path = RECORDED if RECORDED.is_file() else BOOK
    app = TradingApp(settings, theme=chosen, themes=themes, replay=ReplaySource(path, 10.0))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine")
        if app.startup_error or app.engine is None or app.runtime is None:
            raise RuntimeError(app.startup_error or "no engine")
        engine, clock = app.engine, app.runtime.replay
        assert isinstance(clock, TrainerClock)

        def book() -> bool:
            data = app.screen.query_one(Ladder).data
            return data is not None and None not in (data.best_bid, data.best_ask)

        await until(book, "the recorded book")
        if path == RECORDED:
            clock.jump(max(RECORDED_AT - clock.now(), 0))
            await until(lambda: not clock.jumping, "the jump to the open")
            await pilot.pause(8.0)  # prints on the tape, the first candles
        await pilot.press("space", "a", "B")
        await until(lambda: engine.snapshot(tape=0).queue, "the bid joined, its queue known")
        await pilot.pause(2.0)
        shot = Path(app.save_screenshot("trainer-120x40.svg", str(out)))
        await app.shutdown()
    return shot


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "screenshots"
    )
    parser.add_argument(
        "--only", choices=("all", "strategy", "tape", "panels", "trainer"), default="all"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    logging.getLogger().addHandler(logging.NullHandler())  # the engine's notices are on screen
    for name in [n for n in os.environ if n.startswith("TRADETERM_")]:
        del os.environ[name]
    from tradeterm.ui.themes import theme_files

    themes = sorted(theme_files(), key=lambda n: (n != "dark", n))
    for i, theme in enumerate(themes if args.only == "all" else []):
        with private_home():
            for path in asyncio.run(shoot(theme, args.out, extra=i == 0)):
                print(path)
    if args.only in ("all", "tape"):
        with private_home():
            print(asyncio.run(shoot_tape(args.out)))
    if args.only in ("all", "panels"):
        with private_home():
            for path in asyncio.run(shoot_panels(args.out)):
                print(path)
    if args.only in ("all", "trainer"):
        with private_home():
            print(asyncio.run(shoot_trainer(args.out)))
    if args.only in ("all", "strategy"):
        with private_home():
            print(asyncio.run(shoot_strategy(args.out)))
    return 0


@contextlib.contextmanager
def private_home() -> Iterator[None]:
    """A fresh home per run: the kill switch's HALTED is journaled and would carry over."""
    with tempfile.TemporaryDirectory() as home:
        for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                         ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):  # fmt: skip
            os.environ[var] = str(Path(home) / sub)
        yield


if __name__ == "__main__":
    sys.exit(main())
