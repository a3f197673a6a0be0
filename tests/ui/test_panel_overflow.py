"""No panel's text runs out of its region, and the chart keeps off the side column: with the
chart showing candles and the position's line, at 120x40 (the compact chart over the log)
and 200x50 (the full chart); the status bar keeps its essentials in a narrow terminal."""

from __future__ import annotations

import time

import pytest
from rich.cells import cell_len

from tests.ui.helpers import long_one, make_app, own_working, ready, settle
from tests.ui.test_layout import shown
from tradeterm.engine.calendar import NS
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.chart import ChartPanel
from tradeterm.ui.widgets.panel import Panel


def overflows(app: TradingApp) -> list[str]:
    """Every shown panel whose text is wider than its content, or taller where its height
    does not follow its text."""
    found = []
    for panel in app.screen.query(Panel):
        if not shown(panel):
            continue
        lines = panel.shown.split("\n")
        size = panel.content_size
        wide = max(cell_len(line) for line in lines)
        if wide > size.width:
            found.append(f"#{panel.id}: a line of {wide} in {size.width} columns")
        height = panel.styles.height
        if height is not None and not height.is_auto and len(lines) > size.height:
            found.append(f"#{panel.id}: {len(lines)} lines in {size.height} rows")
    return found


@pytest.mark.parametrize("size", [(120, 40), (200, 50)])
async def test_no_panel_runs_out_of_its_region(size: tuple[int, int]) -> None:
    app = make_app(fixed_clock=True)
    async with app.run_test(size=size) as pilot:
        await long_one(pilot, app)
        chart = app.screen.query_one("#chart", ChartPanel)

        def candles() -> bool:
            app.painter.chart_due = True  # the chart redraws on a bar's close: now
            return "█" in chart.shown and "─" in chart.shown  # candles, the position's line

        await settle(pilot, app, candles, "candles and the position's line")
        await pilot.pause(0.3)
        assert overflows(app) == []
        side = app.screen.query_one("#side")
        # a blank column between the chart's last and the side column's first
        assert chart.content_region.right < side.region.x, (chart.content_region, side.region)


@pytest.mark.parametrize("width", [80, 120])
async def test_the_status_bar_keeps_its_essentials_when_degraded_and_moving(width: int) -> None:
    """Every feed stale (the engine's clock a minute on) and an order picked up to be moved:
    the line is longer than the terminal; the clock, armed and MOVING stay on it."""
    ahead = [0]
    app = make_app(fixed_clock=True, engine_clock=lambda: time.time_ns() + ahead[0])
    async with app.run_test(size=(width, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "down", "left_square_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy limit")
        await pilot.press("v")
        status = app.screen.query_one("#status", Panel)
        ahead[0] = 60 * NS
        await settle(pilot, app, lambda: "DEGRADED" in status.shown, "DEGRADED")
        await pilot.pause(1.2)
        text = status.shown
        assert cell_len(text) <= width, text
        for item in ("IB DEGRADED", "ARMED", "MOVING", "10:00:00 CT"):
            assert item in text, (item, text)
