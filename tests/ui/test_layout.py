"""The screen at the sizes traders use: the ladder keeps its column names in every market and
its P&L at price with a position open, and the log wraps again when the terminal narrows."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.widgets import RichLog

from tests.ui.helpers import ladder, make_app, ready, settings, settle
from tradeterm.ui.ladder import Ladder, LadderColumn

ESSENTIAL = ("BUY", "BID", "PRICE", "ASK", "SELL")


def painted(lad: Ladder, y: int) -> str:
    """Ladder row ``y`` as painted: the strips its columns give the screen."""
    return "".join(column.render_line(y).text for column in lad.query(LadderColumn))


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
