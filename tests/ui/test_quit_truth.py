"""The quit question says what becomes of a position and orders: an embedded gateway (SIM
without a port) ends with the screen, its market with it; a gateway of its own (``tradeterm
gateway``, IB) keeps them."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest
from textual.widgets import Static

from tests.ui.helpers import make_app, ready, settings, settle, still_opener
from tradeterm.runtime import Runtime
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import ConfirmScreen
from tradeterm.ui.themes import select_theme

EMBEDDED = "The embedded market ends with this screen: its position is gone"
STAYS = "It stays at IB (quitting does not flatten or cancel)"


def on_its_own_gateway() -> TradingApp:
    """The app on a gateway it does not embed (``--port``: a ``tradeterm gateway``)."""
    cfg = settings()
    embedded = still_opener(cfg)

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        async with embedded() as rt:
            yield dataclasses.replace(rt, gateway=None)

    chosen, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=chosen, themes=themes, opener=opener)


@pytest.mark.parametrize(("embedded", "said", "never"), [(True, EMBEDDED, "stay at IB"),
                                                         (False, STAYS, "embedded")])  # fmt: skip
async def test_the_quit_question_says_where_the_position_goes(
    embedded: bool, said: str, never: str
) -> None:
    app = make_app() if embedded else on_its_own_gateway()
    async with app.run_test(size=(120, 40)) as pilot:
        if embedded:
            await ready(pilot, app)
        else:
            await settle(pilot, app, lambda: app.started.is_set(), "started")
        await pilot.press("a", "2", "b")
        await settle(pilot, app, lambda: app.engine is not None and app.engine.snapshot(tape=0).pnl.quantity == 2, "long 2")  # type: ignore[union-attr]  # fmt: skip
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#question", Static).render())
        assert "position of 2" in question
        assert said in question.replace("\n", " ")
        assert never not in question
        await pilot.press("n")
