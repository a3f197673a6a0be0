"""The engine's snapshot carries what the risk panel shows (the drawdown, the order rate, the
limits), so the screen reads them there and not from the engine's risk manager or its own
configuration."""

from __future__ import annotations

from decimal import Decimal

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tests.unit.engine.test_orders import Run, execution, report, settle
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine


async def test_the_snapshot_has_the_drawdown_and_the_order_rate() -> None:
    clock = Clock()
    broker = FakeBroker(ES)
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    run = Run(engine, broker, clock)
    before = engine.snapshot(tape=0)
    assert (before.drawdown, before.order_rate) == (None, None)  # no risk manager yet
    await engine.start()
    try:
        started = engine.snapshot(tape=0)
        assert (started.drawdown, started.order_rate) == (Decimal(0), 0)
        # a buy filled at 5000.00 and a sell filled a tick lower: a loss from a peak of 0
        for side, price, exec_id in ((Side.BUY, PX_5000, "x1"), (Side.SELL, PX_5000 - 1, "x2")):
            placed = await engine.submit(PlaceOrder(side, 1, OrderType.MARKET))
            assert placed.ok, placed.reason
            order = run.om().get(placed.order_ids[0])
            assert order is not None
            broker.push(report(order, OrderStatus.SUBMITTED), execution(order, 1, price, exec_id))
            await settle()
        await engine.tick()  # the risk manager reads the P&L on the timer
        snap = engine.snapshot(tape=0)
        assert snap.order_rate == 2  # two orders sent within the second
        assert snap.pnl is not None and snap.pnl.daily < 0
        assert snap.drawdown == -snap.pnl.daily
        clock.advance(1.5)
        assert engine.snapshot(tape=0).order_rate == 0  # the window has passed
    finally:
        await engine.stop()


def test_the_snapshot_has_the_limits_the_engine_applies() -> None:
    """The risk panel shows the limits from the snapshot: the ones this engine's risk manager
    was given (a market's own limits override the defaults), never the screen's own copy."""
    config = MarketConfig(risk=RiskConfig(max_position=3, daily_loss_limit=Decimal(750)))
    engine = Engine(FakeBroker(ES), "ES", config, clock=Clock(), calendar=CME)
    limits = engine.snapshot(tape=0).risk_limits
    assert limits is not None
    assert (limits.max_position, limits.daily_loss_limit) == (3, Decimal(750))
