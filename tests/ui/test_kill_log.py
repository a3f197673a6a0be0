"""The on-screen log goes on under the kill switch's dialog (its steps, the flatten's fill, a
refused re-arm), and the dialog shows the position and working orders as they are now."""

from __future__ import annotations

from textual.widgets import Input, RichLog, Static

from tests.ui.helpers import (
    gateway,
    gateway_position,
    long_one,
    make_app,
    ready,
    settings,
    settle,
)
from tradeterm.engine.kill import KillTimings
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import KillScreen, TypedScreen


def log_text(app: TradingApp) -> str:
    """The log panel's lines run together without spaces (wrapping breaks at spaces)."""
    log = app.screen_stack[1].query_one("#log", RichLog)
    return "".join(strip.text for strip in log.lines).replace(" ", "")


def logged(app: TradingApp, text: str) -> bool:
    return text.replace(" ", "") in log_text(app)


def shown(screen: object, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())  # type: ignore[attr-defined]


def dialog(screen: KillScreen) -> str:
    """Everything the kill dialog says."""
    return "\n".join(str(w.render()) for w in screen.query(Static))


async def test_the_log_shows_the_kill_the_flatten_fill_and_a_refused_rearm() -> None:
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await long_one(pilot, app)
        await settle(pilot, app, lambda: logged(app, "FILL BUY 1"), "the entry's fill logged")
        await pilot.press("ctrl+k")
        kill = app.screen
        assert isinstance(kill, KillScreen)
        await settle(pilot, app, lambda: kill.done is not None, "the kill switch to finish")
        # the dialog is still on top: the log under it has every step and the close's fill
        assert app.screen is kill
        for line in ("KILL requested", "KILL flattening", "FILL SELL 1", "KILL halted"):
            await settle(pilot, app, lambda line=line: logged(app, line), line)  # type: ignore[misc]
        await pilot.press("escape", "a")
        dialog = app.screen
        assert isinstance(dialog, TypedScreen)
        for ch in "checked":
            await pilot.press(ch)
        assert dialog.query_one(Input).value == "checked"
        await pilot.press("enter")  # the cooldown (300 s by default) refuses it
        await settle(pilot, app, lambda: logged(app, "re-arm refused: cooling down"),
                     "the refusal logged")  # fmt: skip
        assert app.screen is dialog


async def test_the_kill_dialog_shows_the_position_and_orders_as_they_are_now() -> None:
    """IB holds back the close's acknowledgement past the kill's deadline (UNVERIFIED); when
    it answers, the dialog says flat at once, before the switch's next check."""
    cfg = settings(**{"markets": {"ES": {"risk": {"kill_timeout_s": 1}}}})
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        gw = gateway(app)
        assert app.engine is not None
        # the switch checks IB again only 20 s after saying UNVERIFIED: the window to look in
        app.engine.kill_switch.timings = KillTimings(timeout_s=1, retry_pause_s=5)
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: gateway_position(gw, market) == 1, "long 1")
        gw.faults.set_ack_delay(3.0, hide=True)  # IB says nothing of the close for 3 s
        await pilot.press("ctrl+k")
        kill = app.screen
        assert isinstance(kill, KillScreen)
        await settle(pilot, app, lambda: "UNVERIFIED" in shown(kill, "#kill-end"), "UNVERIFIED")
        assert "now: position 1, working 1 (1 unconfirmed by IB)" in dialog(kill)
        await settle(pilot, app, lambda: gateway_position(gw, market) == 0, "IB's fill")
        await settle(pilot, app, lambda: "position 0" in dialog(kill), "flat shown")
        assert kill.done is None and kill.steps[-1].step == "unverified"  # no new step yet
        assert "now: position 0, working 0" in dialog(kill)
        assert "pos 1" not in dialog(kill)  # no step's old figures on show
