"""A panel's new text lays the screen out again only when the panel's size may change with it:
the status bar's clock ticking every second (``height: 1``) or a P&L moving in the position
panel (``height: auto``, same lines) repaints that panel and places no widget anew; a line
more, or a line too wide for the panel (it wraps), does, and the panel below moves."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Static

from tests.ui.test_layout import on_screen
from tradeterm.ui.widgets.panel import Panel


class PanelApp(App[None]):
    CSS = "#side { width: 30; } #bar { height: 1; } #auto { padding: 0 1; }"

    def compose(self) -> ComposeResult:
        with Vertical(id="side"):
            yield Panel(id="bar")
            yield Panel(id="auto")
            yield Static("below", id="below")


@pytest.fixture
def layouts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per layout of a screen (Textual places every widget anew)."""
    seen: list[int] = []
    real = Screen._refresh_layout

    def counted(self: Screen[object], *args: object, **kwargs: object) -> None:
        seen.append(1)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    return seen


async def test_a_text_of_the_same_size_repaints_the_panel_without_a_layout(
    layouts: list[int],
) -> None:
    app = PanelApp()
    async with app.run_test(size=(40, 12)) as pilot:
        bar, auto = app.query_one("#bar", Panel), app.query_one("#auto", Panel)
        bar.set(Text("SIM ES  OK  age 0.1s  08:30:00"))
        auto.set(Text("POS +1 @ 6000.25\nopen +12.50"))
        await pilot.pause()
        below = app.query_one("#below").region.y
        layouts.clear()
        for second in range(1, 4):
            bar.set(Text(f"SIM ES  OK  age 0.{second}s  08:30:0{second}"))
            auto.set(Text(f"POS +1 @ 6000.25\nopen +{12 + second}.50"))
            await pilot.pause()
            assert f"08:30:0{second}" in on_screen(bar)
            assert f"open +{12 + second}.50" in on_screen(auto)  # painted, fresh
        assert layouts == []
        assert app.query_one("#below").region.y == below


async def test_a_text_that_changes_the_panels_height_lays_the_screen_out(
    layouts: list[int],
) -> None:
    app = PanelApp()
    async with app.run_test(size=(40, 12)) as pilot:
        auto = app.query_one("#auto", Panel)
        auto.set(Text("POS flat"))
        await pilot.pause()
        below = app.query_one("#below").region.y
        layouts.clear()
        auto.set(Text("POS +1 @ 6000.25\nopen +12.50"))  # a line more
        await pilot.pause()
        assert layouts
        assert app.query_one("#below").region.y == below + 1
        auto.set(Text("POS +1 @ 6000.25 " + "x" * 20 + "\nopen +12.50"))  # wraps at 28
        layouts.clear()
        await pilot.pause()
        assert layouts and app.query_one("#below").region.y == below + 2
        auto.set(Text("POS +1 @ 6000.25\nopen +13.50"))  # the same lines, none wraps now
        await pilot.pause()
        assert app.query_one("#below").region.y == below + 1
