"""The screen at the sizes traders use: the log wraps again when the terminal narrows."""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import RichLog

from tests.ui.helpers import make_app, ready


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
