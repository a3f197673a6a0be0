"""The risk manager wired into the engine, against the fake gateway: pre-trade refusals never
reach IB and say why; a loss limit hit by unrealized loss alone runs the kill switch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import MakeEngine, gateway_position, working_at_gateway
from tests.support.waiting import until
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.events import RiskUpdate
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


async def test_pre_trade_refusals_never_reach_ib(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    engine = run.engine
    await until(lambda: engine.market and engine.market.quote, "a quote")
    too_big = await engine.submit(PlaceOrder(Side.BUY, 3))
    assert not too_big.ok and "above the maximum of 2" in too_big.reason
    fat = await engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.ask + 21))
    )
    assert not fat.ok and "fat-finger" in fat.reason
    assert engine.snapshot().last_refusal == fat.reason
    edge = await engine.submit(
        PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(market.bid - 20))
    )
    assert edge.ok  # exactly at the band: allowed (and it fills at the bid)
    await run.wait(lambda: run.pnl().quantity == -1, "short 1")
    assert working_at_gateway(still) == []
    assert len(still.oms.orders) == 1  # the refused ones never left the engine


async def test_daily_loss_from_unrealized_alone_kills(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """No trade was closed: the open position's loss alone hits the daily limit, and the kill
    switch flattens at IB and halts."""
    limits = RiskConfig(daily_loss_limit=Decimal(100), max_drawdown=Decimal(10_000))
    run = await make_engine(still, market=MarketConfig(risk=limits))
    market = Market(still)
    engine = run.engine
    await engine.submit(PlaceOrder(Side.BUY, 1))
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    entry = market.ask
    market.trade(entry - 7)  # -87.50 - 2.25 = -89.75: a warning (80%), no kill
    await run.wait(lambda: any(u.kind == "warning" for u in run.of(RiskUpdate)), "the warning")
    assert run.pnl().realized == 0 and engine.snapshot().trading_state == "ACTIVE"
    market.trade(entry - 8)  # -8 ticks = -100.00, minus 2.25 commission: beyond the limit
    await run.wait(lambda: any(u.kind == "kill" for u in run.of(RiskUpdate)), "the daily-loss kill")
    kill = next(u for u in run.of(RiskUpdate) if u.kind == "kill")
    assert kill.rule == "daily_loss" and kill.state == "REDUCING"
    last = await engine.kill_switch.join()  # the kill event started the kill switch
    assert last is not None and last.ok and last.step == "halted"
    assert engine.snapshot().kill == last
    assert "daily loss limit" in last.reason
    assert gateway_position(still, market) == 0 and working_at_gateway(still) == []
    snap = engine.snapshot()
    assert snap.trading_state == "HALTED" and snap.pnl is not None and snap.pnl.quantity == 0
    more = await engine.submit(PlaceOrder(Side.BUY, 1))
    assert not more.ok and "HALTED" in more.reason
    assert "limit" in (engine.rearm("I know what I am doing") or "")  # refused all session
