"""The risk manager wired into the engine, against the fake gateway: pre-trade refusals never
reach IB and say why; a loss limit hit by unrealized loss alone turns trading REDUCING at
once, where only exits pass."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.desk_helpers import Market, until
from tests.integration.engine_helpers import MakeEngine, working_at_gateway
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import Flatten, PlaceOrder
from tradeterm.engine.events import RiskUpdate
from tradeterm.sim.gateway.app import FakeGateway

pytestmark = pytest.mark.integration


async def test_pre_trade_refusals_never_reach_ib(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    engine = run.engine
    await until(lambda: engine.market and engine.market.quote, "a quote")  # type: ignore[union-attr]
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


async def test_daily_loss_from_unrealized_alone_turns_trading_reducing(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    limits = RiskConfig(daily_loss_limit=Decimal(100), max_drawdown=Decimal(10_000))
    run = await make_engine(still, market=MarketConfig(risk=limits))
    market = Market(still)
    engine = run.engine
    await engine.submit(PlaceOrder(Side.BUY, 1))
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    entry = market.ask
    market.trade(entry - 8)  # -8 ticks = -100.00, minus 2.25 commission: beyond the limit
    await run.wait(lambda: any(u.kind == "kill" for u in run.of(RiskUpdate)), "the daily-loss kill")
    kill = next(u for u in run.of(RiskUpdate) if u.kind == "kill")
    assert kill.rule == "daily_loss" and kill.state == "REDUCING"
    snap = engine.snapshot()
    assert snap.trading_state == "REDUCING" and snap.pnl is not None
    assert snap.pnl.realized == 0  # the loss is all unrealized
    more = await engine.submit(PlaceOrder(Side.BUY, 1))
    assert not more.ok and "REDUCING" in more.reason
    assert engine.rearm("I know what I am doing") is not None  # refused: a limit hit today
    out = await engine.submit(Flatten())
    assert out.ok, out.reason
    await run.wait(lambda: run.pnl().quantity == 0, "flat")
