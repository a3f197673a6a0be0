"""The health the engine reports is what the trader can do: SYNCING while IB is connected but
the engine has not reconciled (at start, after a reconnect, after IB's 1101/1102), OK only
once orders can go, DEGRADED with a short cause. In-memory broker, test clock."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tests.unit.engine.test_orders import Desk, Run, report, settle
from tradeterm.broker.port import (
    CancelRefusal,
    CancelRejected,
    ConnectionState,
    FarmChanged,
    LinkLost,
    LinkRestored,
    NoticeLevel,
    OrderRejected,
    QuoteEvent,
)
from tradeterm.domain import OrderStatus, OrderType, Quote, Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice, HealthChanged, OrderUpdated, Reconciled


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

        broker.push(LinkRestored(NoticeLevel.WARNING, "link restored", 0, data_kept=True))
        await settle()
        assert engine.health.state is ConnectionState.SYNCING
        await engine.tick()
        assert engine.health.state is ConnectionState.OK
    finally:
        await engine.stop()


async def test_a_broker_that_speaks_only_the_port_is_understood() -> None:
    """A paper or backtest broker's words, with no IB code (0): its link lost blocks entries,
    its link restored reconciles before entries go again, a refused cancel is looked up, a
    rejection is the pending order's reason; each is shown as worded."""
    broker = FakeBroker(ES)
    clock = Clock()
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    run = Run(engine, broker, clock)
    await engine.start()
    broker.push(QuoteEvent(Quote(clock(), PX_5000 - 1, 10, PX_5000, 10)))  # prices to check
    try:
        await speak_only_the_port(run)
    finally:
        await engine.stop()


async def speak_only_the_port(run: Run) -> None:
    engine, broker, warning = run.engine, run.broker, NoticeLevel.WARNING
    await settle()
    assert await entry_allowed(engine)
    broker.push(LinkLost(warning, "paper: exchange link lost", run.clock()))
    await settle()
    assert engine.health.state is ConnectionState.DEGRADED
    assert engine.health.market_data_down == "exchange link down"
    assert not await entry_allowed(engine)
    broker.push(LinkRestored(NoticeLevel.INFO, "paper: link back", run.clock(), data_kept=True))
    await settle()
    assert engine.health.state is ConnectionState.SYNCING
    await engine.tick()
    assert engine.health.state is ConnectionState.OK

    limit = ES.format_price(PX_5000 - 8)
    placed = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=limit))
    order = run.om().get(placed.order_ids[0])
    assert order is not None and order.broker_id is not None
    about = {"broker_id": order.broker_id}
    broker.push(OrderRejected(warning, "paper: no", run.clock(), **about, reason="no margin"))
    broker.push(
        CancelRejected(warning, "paper: ?", run.clock(), **about, reason="?",
                       kind=CancelRefusal.NOT_FOUND)
    )  # fmt: skip
    await settle()
    assert order.reject_reason == "no margin" and run.om().lookups == {order.client_id}
    shown = [(n.level, n.text, n.code) for n in run.of(EngineNotice)]
    assert ("WARNING", "paper: exchange link lost", 0) in shown
    assert ("INFO", "paper: link back", 0) in shown and ("WARNING", "paper: ?", 0) in shown


async def test_degraded_names_its_cause_in_a_word() -> None:
    broker = FakeBroker(ES)
    clock = Clock()
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    await engine.start()
    try:
        broker.push(FarmChanged(False, "IB's market data farm is down (usfarm)", clock()))
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
