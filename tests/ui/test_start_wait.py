"""The screen started with ``--wait-for-gateway`` (``connection.wait_at_start``) before the
gateway listens: it shows that it waits, refuses the trading keys, connects once the gateway
is up and trades; ``q`` or a stop signal while it waits ends it with exit status 0 and the
journal's session closed; a client id in use still ends the start at once. Without the flag
an unreachable gateway still ends it with status 1."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from ib_async import IB

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import TODAY, always_open, gateway_position
from tests.integration.journal_helpers import query
from tests.support.waiting import until
from tests.ui.helpers import settings, settle
from tests.ui.test_kill_log import logged
from tests.ui.test_safety import status
from tradeterm.config import Settings
from tradeterm.engine.types import KillStep, TradingState
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import ConfirmScreen
from tradeterm.ui.widgets.ladder import Ladder

StartGateway = Callable[[int], Awaitable[FakeGateway]]


def free_port() -> int:
    """A port nothing listens on (the gateway is started there later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def start_gateway() -> AsyncIterator[StartGateway]:
    started: list[FakeGateway] = []

    async def start(port: int) -> FakeGateway:
        gw = FakeGateway(GatewayConfig(port=port, rate=0.0, seed=7, today=TODAY))
        await gw.start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        await gw.stop()


def paper(port: int, tmp_path: Path, *, wait: bool) -> Settings:
    return settings(mode="paper", **{
        "connection.port": port, "connection.wait_at_start": wait, "journal.dir": str(tmp_path),
        "connection.reconnect_min_s": 0.2, "connection.reconnect_max_s": 0.5,
    })  # fmt: skip


def app_for(cfg: Settings) -> TradingApp:
    return TradingApp(cfg, opener=lambda: open_runtime(cfg, calendar=always_open()))


def waiting(app: TradingApp, attempt: int) -> bool:
    return logged(app, f"attempt {attempt} failed (nothing is listening there)")


async def test_the_screen_waits_for_a_gateway_started_late_then_trades(
    tmp_path: Path, start_gateway: StartGateway
) -> None:
    port = free_port()
    app = app_for(paper(port, tmp_path, wait=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: waiting(app, 2), "two attempts, said on the screen")
        assert app.startup_error is None and app.is_running
        assert "IB RECONNECTING" in status(app)
        assert logged(app, f"waiting for the gateway at 127.0.0.1:{port}")
        assert app.screen_stack[1].query_one(Ladder).data is None  # no prices
        await pilot.press("a", "b")  # arm, buy: refused, nothing sent
        await pilot.pause()
        assert not app.armed and app.results == []
        gw = await start_gateway(port)
        await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
        assert app.startup_error is None, app.startup_error
        await settle(pilot, app, lambda: "IB OK" in status(app), "connected")
        await pilot.press("a", "b")
        market = Market(gw)
        await settle(pilot, app, lambda: gateway_position(gw, market) == 1, "long 1")
        await pilot.press("q")
        await until(lambda: isinstance(app.screen, ConfirmScreen), "the quit question")
        await pilot.press("y")
        await until(lambda: not app.is_running, "the app to quit")
    assert app.return_code == 0
    assert query(tmp_path, "SELECT count(*) FROM fills", mode="paper") == [(1,)]


@pytest.mark.parametrize("how", ["q", "SIGTERM"])
async def test_quitting_while_waiting_ends_cleanly(tmp_path: Path, how: str) -> None:
    app = app_for(paper(free_port(), tmp_path, wait=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: waiting(app, 1), "the first attempt, said on the screen")
        if how == "q":
            await pilot.press("q")
        else:
            app.stop_on_signal(how)  # what the loop's SIGTERM handler calls
        await until(lambda: not app.is_running, "the app to end")
    assert app.return_code == 0 and app.startup_error is None and not app.started.is_set()
    reason = "stopped" if how == "q" else f"stopped by {how}"
    sessions = query(tmp_path, "SELECT stopped_ns IS NOT NULL, stop_reason FROM sessions",
                     mode="paper")  # fmt: skip
    assert sessions == [(1, reason)]


async def test_a_client_id_in_use_ends_a_waiting_start_at_once(
    tmp_path: Path, start_gateway: StartGateway
) -> None:
    gw = await start_gateway(0)
    cfg = paper(gw.config.port, tmp_path, wait=True)
    other = IB()  # another API connection on the screen's client id
    await other.connectAsync("127.0.0.1", gw.config.port, clientId=cfg.client_id("screen"))
    try:
        app = app_for(cfg)
        async with app.run_test(size=(120, 40)):
            await until(lambda: not app.is_running, "the app to end")
    finally:
        other.disconnect()
    assert app.return_code == 1
    assert app.startup_error is not None and "(error 326)" in app.startup_error
    assert "waiting for the gateway" not in app.startup_error


async def test_without_the_flag_an_unreachable_gateway_still_ends_the_start(
    tmp_path: Path,
) -> None:
    port = free_port()
    app = app_for(paper(port, tmp_path, wait=False))
    async with app.run_test(size=(120, 40)):
        await until(lambda: not app.is_running, "the app to end")
    assert app.return_code == 1
    assert app.startup_error is not None and app.startup_error.startswith(
        f"cannot start ES in PAPER mode via 127.0.0.1:{port}: cannot connect to IB at "
        f"127.0.0.1:{port}: nothing is listening there."
    )


async def test_the_kill_switch_pressed_while_waiting_halts_at_once_and_runs_once_connected(
    tmp_path: Path, start_gateway: StartGateway
) -> None:
    """ctrl+k while the screen waits for the gateway: HALTED at once (the status bar and the
    halt latch say so), and the run cancels, flattens and verifies first thing once the
    gateway answers. It used to answer "not connected; nothing was sent" and stay ACTIVE."""
    port = free_port()
    app = app_for(paper(port, tmp_path, wait=True))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: waiting(app, 1), "the first attempt, said on the screen")
        await pilot.press("ctrl+k")
        await settle(pilot, app, lambda: "HALTED" in status(app), "HALTED on the status bar")
        engine = app.engine
        assert engine is not None and engine.trading_state[0] is TradingState.HALTED
        run = engine.kill_switch.last
        assert run is not None and run.step is KillStep.WAITING and not run.done
        await start_gateway(port)
        await until(lambda: (last := engine.kill_switch.last) is not None and last.done,
                    "the kill switch's end, once connected")  # fmt: skip
        last = engine.kill_switch.last
        assert last is not None and last.ok and last.step is KillStep.HALTED, last
        assert engine.trading_state[0] is TradingState.HALTED
        app.stop_on_signal("SIGTERM")
        await until(lambda: not app.is_running, "the app to end")
