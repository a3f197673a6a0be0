"""SVG snapshots of the real screen on a still fake gateway (seed 7) with a fixed clock.
Widths stay under 100 columns, where the status bar leaves out the time to the break (the
test calendar follows the real clock).

Update after an intended change with ``pytest tests/ui/test_snapshots.py --snapshot-update``
and look at the report before committing."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.support.waiting import until
from tests.ui.helpers import ladder, make_app, ready
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel


def before(app: TradingApp, *keys: str) -> Any:
    async def run(pilot: Pilot[Any]) -> None:
        await ready(pilot, app)
        status = app.screen.query_one("#status", Panel)
        await until(
            lambda: (
                "qty" in status.shown
                and "FLAT" in app.screen.query_one("#position", Panel).shown
                and "unknown" not in app.screen.query_one("#account", Panel).shown
            ),
            "panels",
        )
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.3)

    return run


@pytest.mark.parametrize("theme", ["dark", "light", "high-contrast", "colorblind"])
def test_main_screen_80x24(snap_compare: Any, theme: str) -> None:
    app = make_app(theme=theme, fixed_clock=True)
    assert snap_compare(app, terminal_size=(80, 24), run_before=before(app))


def test_help_screen(snap_compare: Any) -> None:
    app = make_app(fixed_clock=True)
    assert snap_compare(app, terminal_size=(99, 40), run_before=before(app, "question_mark"))


def test_own_orders_on_the_ladder(snap_compare: Any) -> None:
    app = make_app(fixed_clock=True)

    async def run(pilot: Pilot[Any]) -> None:
        await before(app)(pilot)
        await pilot.press("a", "down", "down", "left_square_bracket", "B")
        await until(
            lambda: (lad := ladder(app)).data is not None and len(lad.data.buys) == 2,
            "two buys shown",
        )
        await until(lambda: app.screen.query_one("#orders").row_count == 2, "two orders listed")  # type: ignore[attr-defined]
        # the order rate back to 0 at the engine first: the panel may still show the rate
        # painted before the orders went out, and paint "rate 2" a moment later
        engine = app.engine
        assert engine is not None
        await until(lambda: engine.snapshot(tape=0).order_rate == 0, "the order rate back to 0")
        panel = app.screen.query_one("#risk")
        await until(lambda: "rate 0/" in panel.shown, "the rate shown")  # type: ignore[attr-defined]
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(99, 30), run_before=run)
