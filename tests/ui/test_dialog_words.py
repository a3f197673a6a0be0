"""trial21: two dialogs said what was not so. The re-arm dialog after a HALT said `Enter to
re-arm`, yet after Enter the keys were DISARMED and `a` was still needed (arming stays that
explicit key: the dialog now says so); the quit question said `You have a position of 1.
Quit anyway? They stay at IB` (one position, one order, several: each worded for itself)."""

from __future__ import annotations

from textual.widgets import Static

from tests.ui.helpers import make_app, own_working, ready, rearm_dialog, settings, settle
from tests.ui.test_quit_truth import on_its_own_gateway
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import ConfirmScreen


def said(screen: object) -> str:
    """Everything a dialog says, its lines run together."""
    texts = (str(w.render()) for w in screen.query(Static))  # type: ignore[attr-defined]
    return " ".join(" ".join(texts).split())


async def test_the_rearm_dialog_says_enter_lifts_the_halt_and_a_arms() -> None:
    cfg = settings(**{"markets": {"ES": {"risk": {"rearm_cooldown_s": 0}}}})
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        dialog = await rearm_dialog(pilot, app)
        words = said(dialog)
        assert "Enter lifts the halt; then a arms the keys" in words, words
        assert "Enter to re-arm" not in words
        for ch in "checked":
            await pilot.press(ch)
        await pilot.press("enter")
        engine = app.engine
        assert engine is not None
        await settle(
            pilot, app, lambda: engine.snapshot(tape=0).trading_state == "ACTIVE", "ACTIVE"
        )
        status = app.screen.query_one("#status", Static)
        await settle(pilot, app, lambda: "DISARMED" in str(status.render()), "DISARMED")
        assert not app.armed  # as the dialog said: the halt is lifted, the keys not armed
        await pilot.press("a")
        assert app.armed


def question(app: TradingApp) -> str:
    assert isinstance(app.screen, ConfirmScreen)
    return " ".join(str(app.screen.query_one("#question", Static).render()).split())


async def asked(pilot: object, app: TradingApp) -> str:
    await pilot.press("q")  # type: ignore[attr-defined]
    text = question(app)
    await pilot.press("n")  # type: ignore[attr-defined]
    return text


def flat_or(app: TradingApp, quantity: int) -> bool:
    snap = app.engine.snapshot(tape=0) if app.engine is not None else None
    return snap is not None and (snap.pnl.quantity if snap.pnl else 0) == quantity


async def test_the_quit_question_is_worded_for_a_position_orders_or_both() -> None:
    app = on_its_own_gateway()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app, lambda: app.started.is_set(), "started")
        await pilot.press("a", "down", "left_square_bracket")  # one buy limit, flat
        await settle(pilot, app, lambda: len(app.engine.snapshot(tape=0).orders) == 1, "1 order")  # type: ignore[union-attr]
        text = await asked(pilot, app)
        assert "You have 1 working order. Quit anyway? It stays at IB" in text, text
        await pilot.press("b")  # long 1 and the order
        await settle(pilot, app, lambda: flat_or(app, 1), "long 1")
        text = await asked(pilot, app)
        assert "a position of 1 and 1 working order. Quit anyway? They stay at IB" in text, text
        await pilot.press("c")  # the position alone
        await settle(pilot, app, lambda: not app.engine.snapshot(tape=0).orders, "no orders")  # type: ignore[union-attr]
        text = await asked(pilot, app)
        assert "a position of 1. Quit anyway? It stays at IB" in text, text


async def test_an_embedded_market_says_the_order_alone_is_gone() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "down", "left_square_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy limit")
        await settle(pilot, app, lambda: len(app.engine.snapshot(tape=0).orders) == 1, "1 order")  # type: ignore[union-attr]
        text = await asked(pilot, app)
        assert "its order is gone" in text, text
