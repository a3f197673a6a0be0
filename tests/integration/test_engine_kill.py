"""The kill switch against the fake gateway, through the real ib_async client: it must work in
every state and must not lie (HALTED means flat at IB and nothing working)."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import (
    MakeEngine,
    Run,
    gateway_position,
    public_sell_into,
    working_at_gateway,
    working_limit,
)
from tests.support.waiting import until
from tradeterm.broker.port import ConnectionState
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.commands import PlaceBracket, PlaceOrder
from tradeterm.engine.events import KillProgress, OrderUpdated
from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import TradingState
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.probe import WireProbe
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.request_types import ReqExecutions

pytestmark = pytest.mark.integration


def steps(run: Run) -> list[str]:
    return [k.step for k in run.of(KillProgress)]


async def long_with_bracket(run: Run, market: Market) -> None:
    """Long 1 from a market bracket: its stop and target rest at the gateway."""
    result = await run.engine.submit(PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16))
    assert result.ok, result.reason
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    await until(lambda: len(working_at_gateway(run.gateway)) == 2, "stop and target working")
    assert gateway_position(run.gateway, market) == 1


async def kill_while_down(
    make_engine: MakeEngine, still: FakeGateway
) -> tuple[Run, asyncio.Task[None], asyncio.Task[KillProgress]]:
    """Long 1 with a bracket; the gateway goes down for a second and the kill switch is
    pressed meanwhile. Returns the run, the outage and the kill."""
    run = await make_engine(still)
    await long_with_bracket(run, Market(still))
    down = asyncio.create_task(still.restart(1.0))
    await until(lambda: run.engine.health.state is not ConnectionState.OK, "the drop")
    return run, down, asyncio.create_task(run.engine.kill("pressed while down"))


async def test_kill_with_a_working_bracket_and_an_open_position(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    engine = run.engine
    await long_with_bracket(run, market)
    await working_limit(run, Side.BUY, 1, market.bid - 4, market)  # one more, resting
    assert len(working_at_gateway(still)) == 3
    sent_before = len(still.oms.orders)

    first, again = engine.kill("test: bracket"), engine.kill("pressed twice")
    done, joined = await asyncio.gather(first, again)
    assert done is joined and engine.kill_switch.runs == 1  # one run, however often pressed
    assert done.ok and done.done and done.step == "halted"
    assert steps(run) == ["requested", "cancelling", "flattening", "verifying", "halted"]
    assert working_at_gateway(still) == [] and gateway_position(still, market) == 0
    assert len(still.oms.orders) == sent_before + 1  # the one flatten order
    flatten = still.oms.orders[max(still.oms.orders)]
    assert flatten.req.action == "SELL" and flatten.req.total_qty == 1
    snap = engine.snapshot()
    assert snap.trading_state == "HALTED" and snap.trading_reason == "kill switch: test: bracket"
    assert snap.orders == () and snap.pnl is not None and snap.pnl.quantity == 0
    refused = await engine.submit(PlaceOrder(Side.BUY, 1))
    assert not refused.ok and "HALTED" in refused.reason
    assert "cooling down" in (engine.rearm("back to work") or "")

    # pressing it again later is safe: it checks IB again and sends nothing
    second = await engine.kill("once more")
    assert second.ok and engine.kill_switch.runs == 2
    assert steps(run)[5:] == ["requested", "verifying", "halted"]
    assert len(still.oms.orders) == sent_before + 1
    assert engine.snapshot().trading_reason == "kill switch: test: bracket"  # first halt stands


async def test_kill_while_partial_fills_arrive_during_the_cancel(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    limits = RiskConfig(max_position=5, max_order_qty=5)
    run = await make_engine(still, market=MarketConfig(risk=limits))
    market = Market(still)
    engine = run.engine
    oid = await working_limit(run, Side.BUY, 3, market.bid - 2, market)
    order = engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None and order.perm_id
    public_sell_into(market, order.perm_id, 1)
    await run.wait(lambda: run.pnl().quantity == 1, "a partial fill")

    still.desk.ack_delay_s = 0.5  # the cancel is held at the gateway...
    kill = asyncio.create_task(engine.kill("partial fills"))
    await until(lambda: order.status is OrderStatus.PENDING_CANCEL, "the cancel sent")
    public_sell_into(market, order.perm_id, 1)  # ...while another contract fills
    await run.wait(lambda: run.pnl().quantity == 2, "the fill during PendingCancel")
    assert "flattening" not in steps(run)  # nothing sent while the cancel is unconfirmed
    still.desk.ack_delay_s = 0.0
    done = await kill

    assert done.ok and done.step == "halted"
    assert order.status is OrderStatus.CANCELLED and order.filled == 2
    sells = [o for o in still.oms.orders.values() if o.req.action == "SELL"]
    assert [s.req.total_qty for s in sells] == [2]  # one flatten, of both fills
    assert gateway_position(still, market) == 0 and working_at_gateway(still) == []
    assert engine.snapshot().trading_state == "HALTED"


async def test_kill_during_a_disconnect_runs_first_on_reconnection(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run, down, kill = await kill_while_down(make_engine, still)
    engine, market = run.engine, Market(still)
    sent_before = len(still.oms.orders)
    await until(lambda: "waiting" in steps(run), "the kill waiting")
    refused = await engine.submit(PlaceOrder(Side.SELL, 1))
    assert not refused.ok and "kill switch is running" in refused.reason
    assert engine.snapshot().trading_state == "REDUCING"
    await down
    done = await kill

    assert done.ok and done.step == "halted"
    assert steps(run)[:2] == ["requested", "waiting"]
    assert steps(run)[2:] == ["cancelling", "flattening", "verifying", "halted"]
    new = [o for o in still.oms.orders.values()][sent_before:]
    assert [(o.req.action, o.req.order_type) for o in new] == [("SELL", "MKT")]
    assert working_at_gateway(still) == [] and gateway_position(still, market) == 0


async def test_kill_after_a_stop_filled_while_disconnected_does_not_sell_again(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """The stop filled while we were away: the kill reads IB first and so sends nothing,
    where flattening from the position as last known would have gone short."""
    run, down, kill = await kill_while_down(make_engine, still)
    engine, market = run.engine, Market(still)
    sent_before = len(still.oms.orders)
    assert still.desk.force_fill_working({1}) == 1  # one exit fills; OCA cancels the other
    await down
    done = await kill

    assert done.ok and len(still.oms.orders) == sent_before  # nothing sent
    assert gateway_position(still, market) == 0 and run.pnl().quantity == 0
    assert engine.snapshot().trading_state == "HALTED"


async def test_restart_while_halted_stays_halted(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    first = await make_engine(still)
    market = Market(still)
    await long_with_bracket(first, market)
    assert (await first.engine.kill("end of the day")).ok
    assert first.engine.risk is not None
    latched = first.engine.risk.transitions[-1]
    assert latched.to_state is TradingState.HALTED
    await first.engine.stop()

    again = await make_engine(still, client_id=2, risk_state=latched)
    assert again.engine.snapshot().trading_state == "HALTED"
    assert again.engine.kill_switch.runs == 0  # flat and nothing working: nothing to redo
    refused = await again.engine.submit(PlaceOrder(Side.BUY, 1))
    assert not refused.ok and "HALTED" in refused.reason
    assert "cooling down" in (again.engine.rearm("new day") or "")


async def test_restart_during_an_unfinished_kill_finishes_it(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """The process died between the kill's start (REDUCING, journaled) and its end: the next
    start runs it again, and IB ends flat."""
    first = await make_engine(still)
    market = Market(still)
    await long_with_bracket(first, market)
    await first.engine.stop()  # as if killed: the position and its bracket stay at IB
    ts = first.engine.clock()
    pending = RiskTransition(TradingState.ACTIVE, TradingState.REDUCING, "kill switch: x", ts)

    again = await make_engine(still, client_id=1, risk_state=pending)
    await again.wait(lambda: any(k.done for k in again.of(KillProgress)), "the kill's end")
    assert again.of(KillProgress)[-1].ok
    assert gateway_position(still, market) == 0 and working_at_gateway(still) == []
    assert again.engine.snapshot().trading_state == "HALTED"


async def test_account_wide_guard_halts_every_instance_on_the_account(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """Two instances on one account, each far from its own limit: the account's daily P&L
    hits the account limit and both kill and halt."""
    limits = RiskConfig(account_daily_loss_limit=Decimal(150))
    config = MarketConfig(risk=limits)
    a = await make_engine(still, client_id=1, market=config, instance="es-a")
    b = await make_engine(still, client_id=2, market=config, instance="es-b")
    market = Market(still)
    for run in (a, b):
        assert (await run.engine.submit(PlaceOrder(Side.BUY, 1))).ok
        await run.wait(lambda r=run: r.pnl().quantity == 1, "long 1")  # type: ignore[misc]
    market.trade(market.ask - 7)  # each -87.50 - 2.25: -179.50 on the account, limit 150
    for run in (a, b):
        await run.wait(lambda r=run: any(k.done for k in r.of(KillProgress)), "the kill")  # type: ignore[misc]
        last = run.of(KillProgress)[-1]
        assert last.ok and "account daily loss limit" in last.reason
        assert run.engine.snapshot().trading_state == "HALTED"
        assert run.pnl().daily > -Decimal(1000)  # the instance's own limit was never hit
    assert gateway_position(still, market) == 0 and working_at_gateway(still) == []


def arrivals_at(gateway: FakeGateway) -> list[tuple[str, int]]:
    """What reaches the gateway from now on, in order: ("order", id) for each placeOrder,
    ("cancel", id) for each cancelOrder, ("executions", 0) for each reqExecutions."""
    seen: list[tuple[str, int]] = []
    probe = WireProbe(clock=itertools.count().__next__)
    probe.on_order = lambda oid, _: seen.append(("order", oid))
    probe.on_cancel = lambda oid, _: seen.append(("cancel", oid))
    probe.install(gateway.server)
    executions = gateway.server.handlers[ReqExecutions]

    async def stamped(session: ClientSession, request: ReqExecutions) -> None:
        seen.append(("executions", 0))
        await executions(session, request)

    gateway.server.register(ReqExecutions, stamped)
    return seen


async def test_a_kill_right_after_a_burst_drops_the_queued_entries_and_goes_first(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """ib_async paces messages to IB (45 a second): a burst of entries leaves many queued in
    this process. A kill pressed at once drops them (never sent, reported so), and its own
    cancels go ahead of every ordinary message queued before it, then it flattens."""
    limits = RiskConfig(max_position=60, max_order_qty=5, max_orders_per_s=45)
    run = await make_engine(still, market=MarketConfig(risk=limits))
    engine, market = run.engine, Market(still)
    assert (await engine.submit(PlaceOrder(Side.BUY, 1))).ok
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    arrived = arrivals_at(still)

    burst = []
    for i in range(44):  # with the buy above, the risk manager's 45 orders a second
        price = market.px(market.bid - 8 - i % 4)
        result = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=price))
        assert result.ok, result.reason
        order = engine.orders.get(result.order_ids[0])  # type: ignore[union-attr]
        assert order is not None
        burst.append(order)
    marker = asyncio.create_task(engine.broker.executions())  # ordinary, queued behind them
    done = await engine.kill("right after a burst")
    await marker  # sent in its turn: whatever was still queued before it has gone too

    never_sent = [o for o in burst if o.status is OrderStatus.REJECTED]
    reached = [o for o in burst if o not in never_sent]
    assert never_sent and reached
    why = "never sent: dropped by the kill switch"
    assert {o.reject_reason for o in never_sent} == {why}
    reported = {
        e.order.order_id for e in run.of(OrderUpdated)
        if e.order.status is OrderStatus.REJECTED and e.order.reason == why
    }  # fmt: skip
    assert reported == {o.client_id for o in never_sent}
    assert all(o.status is OrderStatus.CANCELLED for o in reached)
    # the queued entries never reached the gateway, even after the marker
    dropped = {o.broker_id for o in never_sent}
    assert not dropped & {oid for kind, oid in arrived if kind == "order"}
    at_gateway = {o.req.order_ref for o in still.oms.orders.values()}
    assert not {o.client_id for o in never_sent} & at_gateway
    # right after the entries that went out come the kill's cancels, ahead of the ordinary
    # request queued before the kill started
    cancels = [i for i, (kind, _) in enumerate(arrived) if kind == "cancel"]
    assert {arrived[i][1] for i in cancels} == {o.broker_id for o in reached}
    assert cancels == list(range(len(reached), len(reached) + len(cancels)))
    assert max(cancels) < arrived.index(("executions", 0))
    assert done.ok and done.step == "halted"
    flatten = [
        oid for kind, oid in arrived if kind == "order" and oid not in {o.broker_id for o in burst}
    ]
    assert len(flatten) == 1
    assert working_at_gateway(still) == [] and gateway_position(still, market) == 0
    assert engine.orders.working() == []  # type: ignore[union-attr]
