"""The strategy panel fits its lines to the width the layout gives it: unfolded by a snapshot
painted while it had no width yet, and again after the terminal is resized, with no new
snapshot (a still market paints nothing new)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from textual.app import App, ComposeResult
from textual.containers import Vertical

from tests.ui.test_layout import on_screen
from tradeterm.engine.events import EngineSnapshot, StrategyView
from tradeterm.engine.types import StrategyState
from tradeterm.ui.widgets.strategy_panel import StrategyPanel

NAME = "tests.support.strategies:BidsBelow"
VIEW = StrategyView(NAME, "", (("ticks", "4"),), StrategyState.RUNNING, "", 0, ())


class PanelApp(App[None]):
    CSS = "#side { width: 50%; }"

    def compose(self) -> ComposeResult:
        with Vertical(id="side"):
            yield StrategyPanel("g start  p pause  e stop", id="strategy")


def first_line(panel: StrategyPanel) -> str:
    return panel.shown.split("\n", 1)[0]


async def test_the_panel_fits_its_name_to_its_width_once_unfolded_and_after_a_resize() -> None:
    app = PanelApp()
    async with app.run_test(size=(80, 40)) as pilot:
        panel = app.query_one(StrategyPanel)
        assert not panel.display and panel.content_size.width == 0
        panel.show_snapshot(
            cast(EngineSnapshot, SimpleNamespace(strategy=VIEW))
        )  # folded: no width
        await pilot.pause()
        for width in (40, 28):
            assert panel.content_size.width == width
            line = first_line(panel)
            assert len(line) <= width and line.startswith("STRATEGY …"), line
            assert line.endswith(":BidsBelow RUNNING") and line in on_screen(panel)
            await pilot.resize_terminal(56, 40)
            await pilot.pause()
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert first_line(panel) == f"STRATEGY {NAME} RUNNING"
