"""``--watch-only``: the screen's gate (no trading key runs, on an ordinary broker: the gate
alone stands) and the watch-only runtime (its own client id, no journal, every order message
refused by its broker, even the engine's own kill switch)."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.engine_helpers import always_open
from tests.integration.kill_helpers import Truth
from tests.support.waiting import until
from tests.ui.helpers import gateway, make_app, ready, settings
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.runtime import ModeError, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel

TRADING_KEYS = ("a", "b", "s", "B", "S", "left_square_bracket", "right_curly_bracket", "x", "c",
                "f", "r", "g", "ctrl+k")  # fmt: skip


def status(app: TradingApp) -> str:
    return app.screen.query_one("#status", Panel).shown


async def test_no_trading_key_runs_on_a_watch_only_screen() -> None:
    app = make_app(watch_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press(*TRADING_KEYS)
        await pilot.pause(0.5)
        assert app.results == [] and not app.armed
        assert len(gateway(app).oms.orders) == 0  # nothing reached the gateway
        assert app.engine is not None and app.engine.snapshot(tape=0).kill is None
        assert "WATCH-ONLY" in status(app) and "ARMED" not in status(app)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Kill switch", "Flatten", "Cancel all", "Re-arm trading"}.isdisjoint(titles)
        assert "Keys" in titles


async def test_the_same_keys_trade_on_the_trading_screen() -> None:
    """The control: without --watch-only the same presses reach the gateway."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "b")
        deadline = asyncio.get_running_loop().time() + 10
        while not gateway(app).oms.orders and asyncio.get_running_loop().time() < deadline:
            await pilot.pause(0.05)
        assert len(gateway(app).oms.orders) == 1


async def test_the_watch_only_runtime_sends_nothing_and_writes_nothing() -> None:
    gw = FakeGateway(GatewayConfig(port=0, seed=7, rate=0.0))
    await gw.start()
    try:
        cfg = settings(mode="sim", **{"connection.port": gw.config.port})
        async with open_runtime(cfg, process="watch", calendar=always_open()) as rt:
            await rt.engine.start()
            assert rt.engine.broker.client_id == 200_110  # ES's watch slot, never 110
            assert rt.journal is None
            result = await rt.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.MARKET))
            assert not result.ok and "watch-only" in result.reason
            await asyncio.wait_for(rt.engine.kill("test"), 30)
            assert len(gw.oms.orders) == 0
        assert not cfg.journal_path().exists()  # neither journal nor halt latch written
        assert not cfg.journal_path().parent.exists() or not any(
            cfg.journal_path().parent.iterdir()
        )
    finally:
        await gw.stop()


async def test_a_watcher_takes_none_of_the_trading_instances_orders_as_its_own() -> None:
    """The trading instance's resting order is, to a watcher, another client's (read-only): a
    watcher is not the market's instance, so the orderRefs that instance issues are not its."""
    gw = FakeGateway(GatewayConfig(port=0, seed=7, rate=0.0))
    await gw.start()
    try:
        cfg = settings(mode="sim", **{"connection.port": gw.config.port})
        async with open_runtime(cfg, calendar=always_open()) as trading:
            await trading.engine.start()
            px = f"{Truth(gw).bid() - 20 * 0.25:.2f}"
            placed = await trading.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=px))
            assert placed.ok, placed.reason
            await until(lambda: trading.engine.snapshot(tape=0).orders, "the order working")
            async with open_runtime(cfg, process="watch", calendar=always_open()) as watching:
                await watching.engine.start()

                def listed() -> int:
                    shown = watching.engine.snapshot(tape=0)
                    return len(shown.orders) + len(shown.foreign_orders)

                await until(listed, "the watcher to list the order")
                shown = watching.engine.snapshot(tape=0)
                assert shown.orders == ()  # nothing of its own
                assert [(o.own, o.side, o.limit) for o in shown.foreign_orders] == [
                    (False, Side.BUY, trading.engine.snapshot(tape=0).orders[0].limit)
                ]
    finally:
        await gw.stop()


@pytest.mark.parametrize(
    ("cli", "says"),
    [({"mode": "sim"}, "give its port"), ({"mode": "shadow"}, "SHADOW")],
)
async def test_what_cannot_be_watched_is_refused(cli: dict[str, object], says: str) -> None:
    with pytest.raises(ModeError, match=says):
        async with open_runtime(settings(**cli), process="watch"):
            pass
