"""The screen at the sizes traders use: every panel shown is at least as wide as it is useful,
no line is cut, the ladder keeps its column names in every market and its P&L at price with
a position open, and the log wraps again when the terminal narrows."""

from __future__ import annotations

from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.visual import Visual, visualize
from textual.widget import Widget
from textual.widgets import DataTable, RichLog, Static

from tests.ui.helpers import ladder, make_app, ready, settings, settle
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.ladder import Ladder, LadderColumn
from tradeterm.ui.widgets.panel import Panel

# the narrowest each panel is useful at (a panel narrower than this must fold away)
MINIMUM = {"#side": 34, "#log": 30, "#chart": 30, "#side-chart": 30}  # a chart: compact
ESSENTIAL = ("BUY", "BID", "PRICE", "ASK", "SELL")


def shown(widget: Widget) -> bool:
    return all(w.display for w in widget.ancestors_with_self if isinstance(w, Widget))


def on_screen(widget: Static) -> str:
    """The words ``widget`` shows, rendered now at its size as the screen renders it (its
    render cache may still hold the text before the last update)."""
    visual = visualize(widget, widget.render())
    size = widget.content_size
    strips = Visual.to_strips(widget, visual, size.width, size.height, widget.visual_style)
    return " ".join(" ".join(strip.text.split()) for strip in strips)


def painted(lad: Ladder, y: int) -> str:
    """Ladder row ``y`` as painted: the strips its columns give the screen."""
    return "".join(column.render_line(y).text for column in lad.query(LadderColumn))


def cut_lines(app: TradingApp) -> list[str]:
    """What the screen cannot show whole: panels narrower than useful, ladder columns or
    column names that do not fit, lines longer than their panel."""
    screen = app.screen
    found: list[str] = []
    for name, least in MINIMUM.items():
        widget = screen.query_one(name)
        width = widget.scrollable_content_region.width  # beside a scroll bar
        if shown(widget) and width < least:
            found.append(f"{name} is {width} wide (< {least})")
    lad = ladder(app)
    columns = lad._layout
    if sum(w + 1 for _, w in columns) > lad.size.width:
        found.append(f"ladder columns {columns} cut at {lad.size.width}")
    header = painted(lad, 0)
    found += [f"ladder header lacks {n}: {header!r}" for n, _ in columns if n not in header]
    for y in range(1, lad.size.height):
        if cell_len(painted(lad, y).rstrip()) > lad.size.width:
            found.append(f"ladder row {y} cut: {painted(lad, y)!r}")
    for name in ("#status", "#position", "#risk", "#strategy", "#tape", "#chart", "#keys-hint"):
        panel = screen.query_one(name, Static)
        text = panel.shown if isinstance(panel, Panel) else str(panel.render())
        if shown(panel) and " ".join(text.split()) not in on_screen(panel):
            found.append(f"{name} cut: {text!r} shows as {on_screen(panel)!r}")
    orders = screen.query_one("#orders", DataTable)
    if orders.virtual_size.width > orders.scrollable_content_region.width:
        found.append(f"#orders {orders.virtual_size.width} wide in {orders.size.width}")
    log = screen.query_one("#log", RichLog)
    if shown(log):
        width = log.scrollable_content_region.width
        found += [f"#log: {strip.text!r} in {width}" for strip in log.lines
                  if cell_len(strip.text.rstrip()) > width]  # fmt: skip
    return found


async def long_with_a_bid(pilot: Pilot[Any], app: TradingApp) -> None:
    """A position of 1 and a buy limit working three ticks under the market."""
    await ready(pilot, app)
    await pilot.press("a", "b")
    position = app.screen.query_one("#position", Panel)
    await settle(pilot, app, lambda: "LONG 1" in position.shown, "long 1")
    await pilot.press("down", "down", "down", "left_square_bracket")  # a buy limit
    orders = app.screen.query_one("#orders", DataTable)
    await settle(pilot, app, lambda: orders.row_count == 1, "the bid listed")
    lad = ladder(app)
    await settle(
        pilot, app, lambda: lad.data is not None and lad.data.buys, "the bid on the ladder"
    )
    await pilot.pause(0.6)  # the side panels and the chart repaint at their own rates


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (140, 40), (160, 45), (200, 50)])
async def test_every_panel_fits_at_the_sizes_traders_use(size: tuple[int, int]) -> None:
    app = make_app(fixed_clock=True)
    async with app.run_test(size=size) as pilot:
        await long_with_a_bid(pilot, app)
        assert cut_lines(app) == []
        names = [n for n, _ in ladder(app)._layout]
        assert all(n in names for n in ESSENTIAL) and "P&L" in names  # P&L at price: long 1
        width = size[0]
        chart = app.screen.query_one("#chart")
        log = app.screen.query_one("#log")
        assert shown(log) == (width >= 120)  # the log from 120 columns, readable
        assert shown(chart) == (width >= 120)  # the chart from 140, compact over the log from 112
        side_chart = app.screen.query_one("#side-chart")
        assert shown(side_chart) == (100 <= width < 112 and size[1] >= 30)  # compact, beside


async def test_at_80_columns_a_position_brings_the_pnl_column_in() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        await pilot.pause(0.2)  # the panels refit once the instrument's prices are known
        lad = ladder(app)
        flat = [n for n, _ in lad._layout]
        assert "P&L" not in flat and "LAST" in flat  # flat, the empty P&L gives way
        width = lad.size.width
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: "P&L" in [n for n, _ in lad._layout], "a P&L column")
        await settle(pilot, app, lambda: lad.data is not None and lad.data.avg is not None, "avg")
        assert lad.data is not None and lad.data.avg is not None
        y = lad.y_of(int(lad.data.avg))
        assert y is not None and "+0t" in painted(lad, y) and "P&L t" in painted(lad, 0)
        assert lad.size.width == width  # a fill never resizes the ladder
        assert cut_lines(app) == []


@pytest.mark.parametrize("symbol", ["CL", "GC"])
async def test_every_market_has_its_column_names(symbol: str) -> None:
    app = make_app(settings(symbol=symbol))
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        assert app.instrument is not None and app.instrument.root == symbol
        lad = ladder(app)
        header = painted(lad, 0)
        assert all(name in header for name in ESSENTIAL), header
        assert lad.data is not None and lad.data.reference is not None
        price = app.instrument.format_price(lad.data.reference)
        assert any(price in painted(lad, y) for y in range(1, lad.size.height))
        assert cut_lines(app) == []


async def test_the_log_wraps_again_when_the_terminal_narrows() -> None:
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        long = "a long line " + " ".join(f"word{i}" for i in range(40))
        app.log_line("INFO", long)
        await pilot.pause()
        await pilot.resize_terminal(160, 45)
        await pilot.pause(0.3)
        log = app.screen.query_one("#log", RichLog)
        width = log.scrollable_content_region.width
        assert 30 <= width < 60
        lines = [strip.text.rstrip() for strip in log.lines]
        assert all(cell_len(line) <= width for line in lines)
        assert "word39" in " ".join(lines)  # nothing lost in the wrapping


def test_the_plan_gives_each_panel_a_useful_width_from_80_to_220_columns() -> None:
    from tradeterm.ui import layout  # here: the other tests also run on a screen without it

    fits = (46, 52, 59)  # ES: book and P&L; and the last trade's size; and volume at price

    def es_ladder(budget: int) -> int:
        return max([fits[0], *(w for w in fits if w <= budget)])

    before = layout.plan(80, es_ladder)
    for width in range(80, 221):
        plan = layout.plan(width, es_ladder)
        assert plan.ladder + plan.middle + plan.side == width
        assert plan.side >= layout.SIDE_MIN and plan.ladder >= fits[0]
        assert plan.middle == 0 or plan.middle >= layout.LOG_MIN
        assert not plan.chart or plan.middle >= layout.CHART_MIN
        # a wider terminal never takes a panel away (the ladder gives the log its last
        # trade and volume columns at 112)
        assert plan.chart >= before.chart and bool(plan.middle) >= bool(before.middle)
        before = plan
    assert layout.plan(80, es_ladder) == layout.Plan(46, 0, False, 34)
    assert layout.plan(120, es_ladder) == layout.Plan(52, 32, False, 36)
    assert layout.plan(200, es_ladder) == layout.Plan(59, 95, True, 46)
