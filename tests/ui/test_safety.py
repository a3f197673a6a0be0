"""The kill switch, re-arming, quitting with a position, LIVE confirmation, start-up errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.integration.engine_helpers import TODAY, always_open
from tests.ui.helpers import (
    FIXED_NS,
    gateway,
    gateway_position,
    long_one,
    make_app,
    own_working,
    ready,
    rearm_dialog,
    settings,
    settle,
    until,
)
from tradeterm.runtime import ModeError, Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import ConfirmScreen, KillScreen, TypedScreen
from tradeterm.ui.widgets.status import SHADOW_BADGE


def status(app: TradingApp) -> str:
    return app.screen_stack[1].query_one("#status").shown  # type: ignore[attr-defined]


def static_text(screen: object, selector: str) -> str:
    widget = screen.query_one(selector, Static)  # type: ignore[attr-defined]
    return str(widget.render())


async def test_kill_switch_shows_each_step_and_ends_halted_even_disarmed() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        gw = gateway(app)
        await pilot.press("a", "b", "B")
        await settle(pilot, app, lambda: gateway_position(gw, market) == 1 and len(own_working(app)) == 1, "long 1 and a bid working")  # fmt: skip
        await pilot.press("a")  # disarmed: the kill switch works all the same
        assert not app.armed
        await pilot.press("ctrl+k")
        kill = app.screen
        assert isinstance(kill, KillScreen)
        await settle(pilot, app, lambda: kill.done is not None, "the kill switch to finish")
        assert kill.done is not None and kill.done.ok and kill.done.step == "halted"
        steps = [p.step for p in kill.steps]
        assert steps[0] == "requested" and "cancelling" in steps and "flattening" in steps
        assert gateway_position(gw, market) == 0 and own_working(app) == []
        shown = static_text(kill, "#kill-steps")
        assert "cancelling" in shown and "flattening" in shown
        assert "HALTED" in static_text(kill, "#kill-end")
        await pilot.press("enter")
        await settle(pilot, app, lambda: "HALTED" in status(app), "HALTED in the status bar")
        # halted: trading keys send nothing; 'a' asks for a typed reason instead of arming
        await pilot.press("a")
        assert isinstance(app.screen, TypedScreen)
        await pilot.press("escape")
        await pilot.press("b")
        await pilot.pause(0.2)
        assert gateway_position(gw, market) == 0


async def test_a_kill_ib_does_not_answer_shows_unverified_until_it_does() -> None:
    """Issue 12: past the kill's deadline with IB silent about the close, the screen says
    UNVERIFIED (HALTED, what is unknown), never "flat"; once IB answers, HALTED flat."""
    cfg = settings(**{"markets": {"ES": {"risk": {"kill_timeout_s": 1}}}})
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await long_one(pilot, app)
        gw = gateway(app)
        gw.faults.set_ack_delay(4.0, hide=True)  # IB says nothing of the close for 4 s
        await pilot.press("ctrl+k")
        kill = app.screen
        assert isinstance(kill, KillScreen)
        await settle(pilot, app, lambda: "UNVERIFIED" in static_text(kill, "#kill-end"),
                     "UNVERIFIED")  # fmt: skip
        end = static_text(kill, "#kill-end")
        assert "SELL 1 MKT sent" in end and "flat" not in end and kill.done is None
        assert gateway_position(gw, market) == 1  # the close is still held at IB
        await settle(pilot, app, lambda: kill.done is not None, "IB's answer")
        assert kill.done is not None and kill.done.ok and kill.done.step == "halted"
        assert gateway_position(gw, market) == 0
        assert "flat at the broker" in static_text(kill, "#kill-end")


@pytest.mark.parametrize("cooldown_s", [300, 0])
async def test_rearm_dialog_shows_the_cooldown_refusal_or_rearms(cooldown_s: int) -> None:
    expect_refusal = cooldown_s > 0
    cfg = settings(**{"markets": {"ES": {"risk": {"rearm_cooldown_s": cooldown_s}}}})
    if True:
        app = make_app(cfg)
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot, app)
            dialog = await rearm_dialog(pilot, app)
            await pilot.press("enter")  # no reason: refused
            await pilot.pause()
            assert static_text(dialog, "#error")
            for ch in "checked the book":
                await pilot.press("space" if ch == " " else ch)
            assert dialog.query_one(Input).value == "checked the book"
            await pilot.press("enter")
            await pilot.pause()
            if expect_refusal:
                assert app.screen is dialog and "cool" in static_text(dialog, "#error").lower()
            else:
                await settle(pilot, app, lambda: app.engine is not None and app.engine.snapshot(tape=0).trading_state == "ACTIVE", "ACTIVE again")  # fmt: skip
                assert not isinstance(app.screen, TypedScreen)


async def test_quit_asks_first_when_a_position_is_open() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await long_one(pilot, app)
        await settle(pilot, app, lambda: app.engine is not None and app.engine.snapshot(tape=0).pnl.quantity == 1, "booked")  # type: ignore[union-attr]  # fmt: skip
        await pilot.press("q")
        assert isinstance(app.screen, ConfirmScreen)
        assert "position of 1" in static_text(app.screen, "#question")
        await pilot.press("n")
        assert not isinstance(app.screen, ConfirmScreen) and app.is_running
        await pilot.press("q", "y")
        await until(lambda: not app.is_running, "the app to quit")
    assert app.return_code == 0


async def test_quit_without_position_or_orders_does_not_ask() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("q")
        await until(lambda: not app.is_running, "the app to quit")


async def test_live_mode_needs_the_typed_account_before_anything_is_sent() -> None:
    app = make_app(settings(mode="live"))
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        await until(lambda: isinstance(app.screen, TypedScreen), "the account dialog")
        assert "LIVE" in status(app) and "UNCONFIRMED" in status(app)
        await pilot.press("escape", "b", "a", "b")
        await pilot.pause(0.2)
        assert gateway_position(gateway(app), market) == 0 and app.results == []
        dialog = app.screen  # 'a' asked again
        assert isinstance(dialog, TypedScreen)
        for ch in "DU999":
            await pilot.press(ch)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog and "not the account" in static_text(dialog, "#error")
        dialog.query_one(Input).value = ""
        for ch in "DU0000001":
            await pilot.press(ch)
        await pilot.press("enter")
        await settle(pilot, app, lambda: app.confirmed, "confirmed")
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 1, "long 1")
        assert "LIVE" in status(app)


async def test_a_startup_error_ends_the_app_with_one_line_and_status_1() -> None:
    @contextlib.asynccontextmanager
    async def failing() -> AsyncIterator[Runtime]:
        raise ModeError("cannot connect to 127.0.0.1:1: connection refused")
        yield  # pragma: no cover

    app = TradingApp(settings(), opener=failing)
    async with app.run_test(size=(80, 24)):
        await until(lambda: not app.is_running, "the app to end")
    assert app.return_code == 1
    assert app.startup_error == "cannot connect to 127.0.0.1:1: connection refused"


async def test_shadow_says_its_fills_are_simulated_and_fits_80x24(tmp_path: Path) -> None:
    """SHADOW through the real runtime: IB's market, the paper broker's fills; the status bar
    says so in full at the smallest screen, clock included, and a buy reaches no gateway."""
    cfg = settings(mode="shadow", **{"journal.dir": str(tmp_path)})
    started: list[FakeGateway] = []

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        gw = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=TODAY, master_client_id=99))
        await gw.start()
        started.append(gw)
        try:
            conn = cfg.connection.model_copy(update={"port": gw.config.port})
            shadow = cfg.model_copy(update={"connection": conn})
            async with open_runtime(shadow, calendar=always_open()) as rt:
                yield rt
        finally:
            await gw.stop()

    app = TradingApp(cfg, opener=opener, clock=lambda: FIXED_NS)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        await settle(pilot, app, lambda: "IB" in status(app), "connected")
        shown = status(app)
        assert shown.startswith(SHADOW_BADGE) and shown.rstrip().endswith("CT"), shown
        assert len(shown.rstrip()) <= 80 and app.screen_stack[1].has_class("shadow")

        def long_on_paper() -> bool:
            pnl = app.runtime.engine.snapshot().pnl if app.runtime is not None else None
            return pnl is not None and pnl.quantity == 1

        await pilot.press("a", "b")
        await settle(pilot, app, long_on_paper, "long 1 on paper")
        assert started[0].oms.orders == {}  # nothing reached the gateway
