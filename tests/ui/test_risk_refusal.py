"""The risk panel's refusal line is news, not history: it stays until a newer trading state
replaces it (the kill switch's HALTED) or for ``REFUSAL_SHOWN_S`` seconds of the engine's
clock, then goes (``CommandDispatcher.refusal_now``)."""

from __future__ import annotations

import time
from typing import Any

from tests.ui.helpers import ladder, make_app, ready, settle
from tradeterm.engine.dispatch import REFUSAL_SHOWN_S
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel

NS = 1_000_000_000


def risk(app: TradingApp) -> str:
    return ladder(app).screen.query_one("#risk", Panel).shown


async def refused_limit(pilot: Any, app: TradingApp) -> str:
    """Armed, a buy limit at the ask (it would trade: refused by the engine); the reason."""
    market = await ready(pilot, app)
    lad = ladder(app)
    assert lad.cursor is not None
    up = market.ask - lad.cursor
    await pilot.press("a", *(["up"] * up if up > 0 else ["down"] * -up), "left_square_bracket")
    await settle(pilot, app, lambda: app.results and not app.results[-1].ok, "the refusal")
    reason = app.results[-1].reason
    await settle(pilot, app, lambda: f"refused: {reason}" in risk(app), "shown")
    return reason


async def test_the_refusal_line_goes_when_the_kill_switch_halts() -> None:
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await refused_limit(pilot, app)
        await pilot.press("ctrl+k")
        await settle(pilot, app, lambda: "HALTED" in risk(app), "HALTED on the risk panel")
        await pilot.pause(0.3)
        assert "refused:" not in risk(app), risk(app)


async def test_the_refusal_line_ages_out() -> None:
    ahead = [0]
    app = make_app(engine_clock=lambda: time.time_ns() + ahead[0])
    async with app.run_test(size=(160, 50)) as pilot:
        reason = await refused_limit(pilot, app)
        ahead[0] = (REFUSAL_SHOWN_S - 5) * NS  # still news
        await pilot.pause(1.2)  # the panel's once-a-second repaint
        assert f"refused: {reason}" in risk(app)
        ahead[0] = (REFUSAL_SHOWN_S + 1) * NS
        await settle(pilot, app, lambda: "refused:" not in risk(app), "aged out")
        engine = app.engine
        assert engine is not None and engine.dispatcher.last_refusal == reason  # not forgotten
