"""The kill switch with an order of the market's console left working at IB (trial 17b
finding 2). The console (its own API client id) and the screen trade one market under one
orderRef prefix and share its journal; IB lets only the client that placed an order cancel
it (10147 for any other). The screen must not take the console's order for its own: its kill
switch cancels what it can, flattens and ends, saying which order it could not cancel. The
console, started again on its own client id, still adopts its order and cancels it."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import TODAY, gateway_position, working_at_gateway
from tests.integration.journal_helpers import settings_for
from tests.integration.test_instance_control import Console, tradeterm
from tests.support.waiting import until
from tradeterm.config import Settings, default_client_id
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.types import KillStep
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

CONSOLE, SCREEN = 125, 120  # two API client ids of one market (its console's, its screen's)
GUARD_S = 60.0  # only reached when something hangs


async def test_tradeterm_kill_flattens_the_screen_and_names_the_consoles_order(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
) -> None:
    """The trial's steps: ``tradeterm console ES`` buys and rests a limit, then quits; the
    ES screen's engine (its own client id, the same journal) starts; ``tradeterm kill ES``
    leaves IB flat within its timeout and its line names the order it could not cancel."""
    gw = await start_gateway(rate=0.0, today=TODAY, symbols=("ES",))
    market = Market(gw)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeterm.cli", "console", "ES", "--sim",
        "--port", str(gw.config.port),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    console = Console(proc)
    try:
        await console.wait_for("RECONCILED (start)")
        await console.type("buy 1")
        await console.wait_for("FILL BUY 1")
        await console.type("buy 1 limit 4000")
        await until(lambda: len(working_at_gateway(gw)) == 1, "the console's limit working")
        await console.type("quit")
        await asyncio.wait_for(proc.wait(), GUARD_S)
    finally:
        await console.stop()
    (placed,) = working_at_gateway(gw)
    assert placed.client_id == default_client_id("ES", "console") and gateway_position(
        gw, market
    ) == 1  # fmt: skip

    settings = Settings(mode="sim", symbol="ES", connection={"port": gw.config.port})
    async with open_runtime(settings) as screen:  # the screen's engine, the console's journal
        await screen.engine.start()
        assert screen.engine.broker.client_id == default_client_id("ES", "screen")
        code, out, err = await tradeterm("kill", "ES", "--reason", "test", "--timeout", "30")
        assert gateway_position(gw, market) == 0  # flat at IB
        assert working_at_gateway(gw) == [placed]  # only its client can cancel it
    (line, summary) = out.splitlines()
    assert (code, err) == (1, ""), out  # not all clear: that order can still open a position
    assert line.startswith("ES SIM: flat and HALTED, but another client's order still works")
    assert f"1 order of client {placed.client_id} still works at IB: BUY 1 LMT @ 4000.00" in line
    assert "cannot cancel it" in line and "no working orders" not in line
    assert summary == "1 of 1 flat and HALTED; another client's order still works in: ES SIM"


async def test_the_kill_switch_flattens_past_the_consoles_order_and_names_it(
    still: FakeGateway, tmp_path: Path
) -> None:
    market = Market(still)
    resting = market.bid - 20
    async with open_runtime(settings_for(still.config.port, tmp_path, CONSOLE),
                            process="console") as console:  # fmt: skip
        await console.engine.start()
        assert (await console.engine.submit(PlaceOrder(Side.BUY, 1))).ok
        limit = PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(resting))
        assert (await console.engine.submit(limit)).ok
        await until(lambda: len(working_at_gateway(still)) == 1, "the console's limit working")
        await until(lambda: gateway_position(still, market) == 1, "long 1")
    # the console quit: its limit still works at IB, placed by client 125

    async with open_runtime(settings_for(still.config.port, tmp_path, SCREEN)) as screen:
        engine = screen.engine
        await engine.start()
        snap = engine.snapshot()
        assert snap.orders == ()  # not this client's order: nothing to cancel, nor wait for
        (shown,) = snap.foreign_orders  # read-only, with its price and its client
        assert (shown.own, shown.placed_by, shown.limit) == (False, CONSOLE, resting)
        done = await asyncio.wait_for(engine.kill("end of day"), 30)
        assert done.ok and done.step is KillStep.HALTED and done.others == 1
        assert f"1 order of client {CONSOLE} still works" in done.detail
        assert "cannot cancel it" in done.detail and "no working orders" not in done.detail
        assert "opens a position again" in done.detail  # a working BUY limit, once flat
        assert gateway_position(still, market) == 0  # flat at IB
        (left,) = working_at_gateway(still)  # the console's limit, untouched
        assert left.client_id == CONSOLE and left.lmt_ticks == resting
        assert engine.snapshot().trading_state == "HALTED"

    # the console again, on its own client id: the order is its own, adopted and cancelled
    async with open_runtime(settings_for(still.config.port, tmp_path, CONSOLE),
                            process="console") as console:  # fmt: skip
        engine = console.engine
        await engine.start()
        (own,) = engine.snapshot().orders
        assert own.own and own.limit == resting and engine.snapshot().foreign_orders == ()
        done = await asyncio.wait_for(engine.kill("end of day"), 30)
        assert done.ok and done.others == 0 and "no working orders" in done.detail
        assert working_at_gateway(still) == [] and gateway_position(still, market) == 0
