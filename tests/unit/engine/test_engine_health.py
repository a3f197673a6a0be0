"""The health the engine reports is what the trader can do: SYNCING while IB is connected but
the engine has not reconciled (at start, after a reconnect, after IB's 1101/1102), OK only
once orders can go, DEGRADED with a short cause. In-memory broker, test clock."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.unit.engine.fake_broker import FakeBroker
from tests.unit.engine.test_orders import ES, PX_5000, Clock, Desk, Run, report, settle
from tradeterm.broker.port import (
    LINK_RESTORED,
    BrokerNotice,
    ConnectionState,
    MarketDataFarm,
    QuoteEvent,
)
from tradeterm.domain import OrderStatus, OrderType, Quote, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import HealthChanged, OrderUpdated, Reconciled
from tradeterm.engine.session import CME


class HeldBroker(FakeBroker):
    """Its open-order list (read by every reconciliation) waits until ``release``."""

    def __init__(self) -> None:
        super().__init__(ES)
        self.gate = asyncio.Event()
        self.gate.set()

    async def open_orders(self) -> Any:
        await self.gate.wait()
        return await super().open_orders()


def states(run: Run) -> list[ConnectionState]:
    """The health states published, each once in a row (a new reason repeats the state)."""
    seen = [h.state for h in run.of(HealthChanged)]
    return [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] is not s]


async def entry_allowed(engine: Engine) -> bool:
    limit = ES.format_price(PX_5000 - 8)
    return (await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=limit))).ok


async def test_syncing_until_the_start_reconciliation_then_ok() -> None:
    broker = HeldBroker()
    broker.gate.clear()
    engine = Engine(broker, "ES", clock=Clock(), calendar=CME, session=2, timer_s=3600)
    run = Run(engine, broker, Clock())
    start = asyncio.create_task(engine.start())
    try:
        for _ in range(20):
            await settle()
        assert broker.state is ConnectionState.OK  # IB is connected...
        assert not start.done() and run.of(Reconciled) == []
        health = engine.snapshot().health  # ...but the engine has not reconciled
        assert health.state is ConnectionState.SYNCING and health.cause == "reconciling"
        assert ConnectionState.OK not in states(run)
        broker.gate.set()
        await start
        assert engine.health.state is ConnectionState.OK
        assert engine.snapshot().entries_blocked is None
    finally:
        await engine.stop()


async def test_syncing_after_a_reconnect_and_after_1102_until_reconciled() -> None:
    broker = HeldBroker()
    clock = Clock()
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    run = Run(engine, broker, clock)
    await engine.start()
    try:
        broker.push(QuoteEvent(Quote(clock(), PX_5000 - 1, 10, PX_5000, 10)))
        await settle()
        assert engine.health.state is ConnectionState.OK
        run.of(HealthChanged)
        run.events.clear()
        broker.set_state(ConnectionState.RECONNECTING, "socket closed")
        broker.set_state(ConnectionState.OK, "reconnected")
        await settle()
        assert engine.health.state is ConnectionState.SYNCING
        assert not await entry_allowed(engine)
        broker.gate.clear()
        tick = asyncio.create_task(engine.tick())  # the reconnect's reconciliation, held
        await settle()
        assert engine.health.state is ConnectionState.SYNCING and not tick.done()
        broker.gate.set()
        await tick
        assert states(run) == [
            ConnectionState.RECONNECTING, ConnectionState.SYNCING, ConnectionState.OK,
        ]  # fmt: skip
        assert await entry_allowed(engine)

        broker.push(BrokerNotice(LINK_RESTORED, "connectivity restored, data maintained", 0))
        await settle()
        assert engine.health.state is ConnectionState.SYNCING
        await engine.tick()
        assert engine.health.state is ConnectionState.OK
    finally:
        await engine.stop()


async def test_degraded_names_its_cause_in_a_word() -> None:
    broker = FakeBroker(ES)
    clock = Clock()
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    await engine.start()
    try:
        broker.push(MarketDataFarm(False, "IB's market data farm is down (usfarm)", clock()))
        await settle()
        health = engine.health
        assert health.state is ConnectionState.DEGRADED and health.cause == "data farm down"
        assert health.reason == "IB's market data farm is down (usfarm)"
    finally:
        await engine.stop()


async def test_an_order_view_says_what_ib_has_not_confirmed() -> None:
    """Issue 13: the screen shows unconfirmed orders as such, from the engine's views."""
    desk = Desk()
    order = await desk.place(Side.BUY, 1, "4990")

    def view() -> str:
        (shown,) = [v for v in desk.om.views() if v.order_id == order.client_id]
        return shown.unconfirmed

    assert order.status is OrderStatus.PENDING_SUBMIT and view() == "not acknowledged"
    desk.om.on_report(report(order, OrderStatus.SUBMITTED, perm_id=77))
    assert view() == ""
    await desk.om.cancel(order.client_id)
    assert view() == "cancel not confirmed"
    (event,) = [e for e in desk.events if isinstance(e, OrderUpdated)][-1:]
    assert event.order.unconfirmed == "cancel not confirmed"  # the update says it too
    desk.om.on_report(report(order, OrderStatus.CANCELLED))
    assert desk.om.views() == ()
