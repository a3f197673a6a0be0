"""Every fault the fake gateway injects, through the whole engine (IbBroker + ib_async over a
real socket). After each: the position, the working orders and the P&L equal a hand
computation, and nothing is duplicated or lost (at the gateway nor in the engine)."""

from __future__ import annotations

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import (
    COMMISSION,
    TICK_VALUE,
    MakeEngine,
    Run,
    exec_ids,
    gateway_position,
    public_sell_into,
    working_at_gateway,
    working_limit,
)
from tests.support.waiting import until
from tradeterm.broker.port import ConnectError, ConnectionState
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.commands import CancelOrder, Flatten, PlaceOrder
from tradeterm.engine.events import (
    EngineNotice,
    FillBooked,
    HealthChanged,
    MarketChanged,
    OrderUpdated,
    Reconciled,
)
from tradeterm.engine.staleness import Feed
from tradeterm.engine.types import TradingState
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

# ---- helpers --------------------------------------------------------------------------------


async def reconciled(run: Run, count: int) -> Reconciled:
    await run.wait(lambda: len(run.of(Reconciled)) >= count, f"reconciliation #{count}")
    return run.of(Reconciled)[count - 1]


# ---- socket faults --------------------------------------------------------------------------


async def test_socket_drop_with_an_order_working_keeps_it_once(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    price = market.bid - 3
    oid = await working_limit(run, Side.BUY, 1, price, market)
    still.faults.drop()
    rec = await reconciled(run, 2)
    assert rec.reason == "reconnect" and rec.entries_allowed and rec.own_orders == 1
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None and order.status is OrderStatus.SUBMITTED
    (at_gw,) = working_at_gateway(still)  # exactly one: nothing was re-sent
    assert at_gw.req.order_ref == oid and at_gw.lmt_ticks == price
    assert [v.order_id for v in run.engine.snapshot().orders] == [oid]
    public_sell_into(market, order.perm_id or 0, 1)
    await run.wait(lambda: run.pnl().quantity == 1, "the fill")
    assert gateway_position(still, market) == 1 and len(exec_ids(run)) == 1
    assert run.pnl().avg_price == price


async def test_socket_drop_before_the_order_arrives_closes_it_on_ibs_proof_and_says_so(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """IB never read the placeOrder: after the reconnect its nextValidId is above the order's
    id, which proves it; the order is closed on that, not on its absence from a list."""
    run = await make_engine(still)
    market = Market(still)
    result = await run.engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 3))
    )
    still.faults.drop()  # the placeOrder is still in the socket buffers: IB never reads it
    (oid,) = result.order_ids
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None
    await run.wait(lambda: order.status is OrderStatus.CANCELLED, "the order closed")
    assert "never reached IB" in (order.reject_reason or "")
    assert working_at_gateway(still) == [] and run.engine.snapshot().orders == ()
    again = await run.engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 3))
    )
    assert again.ok
    await until(lambda: len(working_at_gateway(still)) == 1, "the new order working")


async def test_flatten_whose_close_never_reached_ib_still_ends_flat(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """The flatten's cancels and its close go, the socket dies before IB reads the close (the
    matrix cell offline-fill x flatten caught it): the reconciliation closes the close as
    never received, and the flatten still finishes, flat at IB, stop gone, no halt. Before,
    the position stayed open with its stop cancelled, and nothing said so."""
    run = await make_engine(still)
    market = Market(still)
    await run.engine.submit(PlaceOrder(Side.BUY, 1))
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    stop = await run.engine.submit(
        PlaceOrder(Side.SELL, 1, OrderType.STOP, stop=market.px(market.bid - 10))
    )
    await until(lambda: len(working_at_gateway(still)) == 1, "the stop working")
    result = await run.engine.submit(Flatten())
    still.faults.drop()  # the close is still in the socket buffers: IB never reads it
    assert result.ok
    close = run.engine.orders.get(result.order_ids[-1])  # type: ignore[union-attr]
    assert close is not None and close.client_id not in stop.order_ids
    await run.wait(lambda: close.status is OrderStatus.CANCELLED, "the close closed")
    assert "never reached IB" in (close.reject_reason or "")
    await run.wait(lambda: run.pnl().quantity == 0, "flat")
    await until(lambda: gateway_position(still, market) == 0, "flat at IB")
    assert working_at_gateway(still) == []
    assert run.engine.snapshot().trading_state is not TradingState.HALTED


async def test_order_ib_accepts_after_the_drop_is_found_and_tracked(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    still.desk.ack_delay_s = 0.6  # IB holds the request; the socket drops meanwhile
    result = await run.engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 3))
    )
    await until(lambda: still.desk.pending_acks == 1, "the request at the gateway")
    still.faults.drop()
    (oid,) = result.order_ids
    await run.wait(
        lambda: (
            run.engine.orders.get(oid).status is OrderStatus.SUBMITTED  # type: ignore[union-attr]
            and len(run.of(Reconciled)) >= 2
        ),
        "the order found working after the reconnect",
    )
    still.desk.ack_delay_s = 0.0
    (at_gw,) = working_at_gateway(still)
    assert at_gw.req.order_ref == oid
    assert [v.order_id for v in run.engine.snapshot().orders] == [oid]
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None and order.perm_id == at_gw.perm_id
    cancel = await run.engine.submit(CancelOrder(oid))
    assert cancel.ok
    await until(lambda: working_at_gateway(still) == [], "cancelled at the gateway")


async def test_fill_while_disconnected_is_recovered_once(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    price = market.bid - 4
    oid = await working_limit(run, Side.BUY, 2, price, market)
    assert still.faults.fill_while_disconnected() == 1
    rec = await reconciled(run, 2)
    assert rec.fills_recovered == 1 and rec.position == 2 and rec.own_orders == 0
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None and order.status is OrderStatus.FILLED and order.filled == 2
    (booked,) = run.of(FillBooked)
    assert booked.historical and booked.own and booked.fill.quantity == 2
    await run.wait(lambda: run.pnl().commissions == 2 * COMMISSION, "the commission")
    p = run.pnl()
    assert (p.quantity, p.avg_price, p.realized) == (2, price, 0)
    assert p.daily == -2 * COMMISSION  # marked at the fill price: nothing unrealized yet
    assert gateway_position(still, market) == 2
    # a later reconnect finds the same execution again and books nothing
    still.faults.drop()
    await reconciled(run, 3)
    assert len(run.of(FillBooked)) == 1 and run.pnl().quantity == 2


async def test_gateway_restart_keeps_orders_and_position_without_duplicates(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    await run.engine.submit(PlaceOrder(Side.BUY, 1))
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    entry = run.pnl().avg_price
    stop_price = market.bid - 10
    result = await run.engine.submit(
        PlaceOrder(Side.SELL, 1, OrderType.STOP, stop=market.px(stop_price))
    )
    assert result.ok
    (stop_id,) = result.order_ids
    stop = run.engine.orders.get(stop_id)  # type: ignore[union-attr]
    assert stop is not None
    await until(lambda: stop.status is OrderStatus.SUBMITTED, "the stop working")
    assert run.engine.orders.protected() == 1  # type: ignore[union-attr]
    await still.restart(0.3)
    rec = await reconciled(run, 2)
    assert (rec.own_orders, rec.position, rec.protected, rec.fills_recovered) == (1, 1, 1, 0)
    assert len(working_at_gateway(still)) == 1 and gateway_position(still, market) == 1
    assert run.pnl().avg_price == entry and len(exec_ids(run)) == 1
    assert run.engine.snapshot().health.state is ConnectionState.OK


async def test_duplicate_client_id(make_engine: MakeEngine, still: FakeGateway) -> None:
    await make_engine(still, client_id=7)
    with pytest.raises(ConnectError, match="326"):
        await make_engine(still, client_id=7)
    other = await make_engine(still, client_id=7, conn={"auto_client_id": True})
    assert other.engine.snapshot().client_id == 8
    assert (await other.engine.submit(PlaceOrder(Side.BUY, 1))).ok


# ---- IB-side connectivity -------------------------------------------------------------------


@pytest.mark.parametrize("data_lost", [False, True], ids=["1102", "1101"])
async def test_ib_connectivity_lost_blocks_entries_then_reconciles(
    make_engine: MakeEngine, moving: FakeGateway, data_lost: bool
) -> None:
    run = await make_engine(moving)
    market = Market(moving)
    await run.wait(lambda: run.of(MarketChanged), "market data")
    task = moving.faults.connectivity_lost(1.0, data_lost=data_lost)
    import asyncio

    fault = asyncio.ensure_future(task)
    await run.wait(lambda: run.engine.health.state is ConnectionState.DEGRADED, "1100 seen")
    assert "1100" in run.engine.health.reason
    refused = await run.engine.submit(PlaceOrder(Side.BUY, 1))
    assert not refused.ok and "1100" in refused.reason
    await fault
    await reconciled(run, 2)
    await run.wait(lambda: run.engine.health.state is ConnectionState.OK, "OK again")
    mark = len(run.collect())
    await run.wait(
        lambda: any(isinstance(e, MarketChanged) for e in run.events[mark:]),
        "market data after the restore",
    )
    assert run.engine.broker.reconnect_tasks_started == 0  # type: ignore[attr-defined]
    ok = await run.engine.submit(PlaceOrder(Side.BUY, 1))
    assert ok.ok
    await run.wait(lambda: run.pnl().quantity == 1, "filled")
    assert gateway_position(moving, market) == 1


async def test_farm_flap_degrades_without_touching_the_socket(
    make_engine: MakeEngine, moving: FakeGateway
) -> None:
    run = await make_engine(moving)
    await moving.faults.farm_outage(0.5)
    await run.wait(lambda: run.engine.health.state is ConnectionState.OK, "OK after 2104")
    states = [e.state for e in run.of(HealthChanged)]
    assert ConnectionState.DEGRADED in states
    assert ConnectionState.RECONNECTING not in states
    assert run.engine.broker.reconnect_tasks_started == 0  # type: ignore[attr-defined]
    assert len(run.of(Reconciled)) == 1  # a farm flap is not a reconnect


async def test_data_stall_while_connected_is_stale_then_recovers(
    make_engine: MakeEngine, moving: FakeGateway
) -> None:
    run = await make_engine(moving, staleness={Feed.QUOTES: 0.4, Feed.DEPTH: 0.4})
    await run.wait(lambda: run.of(MarketChanged), "market data")
    moving.faults.stall(1.5)
    await run.wait(lambda: run.engine.health.stale, "stale feeds")
    health = run.engine.health
    assert health.state is ConnectionState.DEGRADED and "stale" in health.reason
    assert Feed.QUOTES in health.stale
    assert any("resubscribing" in n.text for n in run.of(EngineNotice))
    await run.wait(
        lambda: run.engine.health.state is ConnectionState.OK and not run.engine.health.stale,
        "fresh data again",
    )


# ---- order faults ---------------------------------------------------------------------------


async def test_order_reject_is_shown_with_its_reason(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    still.faults.reject_next("margin: not enough equity (simulated)")
    result = await run.engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 2))
    )
    assert result.ok  # it was sent; the broker refused it
    (oid,) = result.order_ids
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None
    await until(lambda: order.status is OrderStatus.REJECTED, "the rejection")
    assert "not enough equity" in (order.reject_reason or "")
    updates = [e.order for e in run.of(OrderUpdated) if e.order.order_id == oid]
    assert updates[-1].status is OrderStatus.REJECTED and "equity" in updates[-1].reason
    assert run.engine.snapshot().orders == () and working_at_gateway(still) == []
    assert run.pnl().quantity == 0


async def test_partial_fills_during_cancel_are_booked(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    limits = RiskConfig(max_position=5, max_order_qty=5)
    run = await make_engine(still, market=MarketConfig(risk=limits))
    market = Market(still)
    price = market.bid - 2
    oid = await working_limit(run, Side.BUY, 3, price, market)
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None and order.perm_id
    public_sell_into(market, order.perm_id, 1)
    await run.wait(lambda: run.pnl().quantity == 1, "a partial fill")
    still.desk.ack_delay_s = 5.0  # the cancel waits at the gateway...
    cancel = await run.engine.submit(CancelOrder(oid))
    assert cancel.ok and order.status is OrderStatus.PENDING_CANCEL
    public_sell_into(market, order.perm_id, 1)  # ...while another contract fills
    await run.wait(lambda: run.pnl().quantity == 2, "the fill during PendingCancel")
    assert order.status is OrderStatus.PENDING_CANCEL and order.filled == 2
    still.desk.ack_delay_s = 0.0
    await until(lambda: order.status is OrderStatus.CANCELLED, "the cancel")
    assert order.filled == 2 and len(exec_ids(run)) == 2
    await run.wait(lambda: run.pnl().commissions == 2 * COMMISSION, "commissions")
    p = run.pnl()
    assert (p.quantity, p.avg_price) == (2, price)
    assert gateway_position(still, market) == 2 and working_at_gateway(still) == []
    market.trade(price + 4)
    await run.wait(lambda: run.pnl().mark == price + 4, "the mark")
    assert run.pnl().unrealized == 2 * 4 * TICK_VALUE
    assert run.pnl().daily == 2 * 4 * TICK_VALUE - 2 * COMMISSION
