"""The failures users of other IB projects suffered (ib-facts.md, "do not repeat"), each
reproduced against the fake gateway through the whole engine. Failures 3, 7 and 8 are in
test_engine_faults.py (fill during a disconnect, partial fills during a cancel, an order lost
in a drop); 6 and 7 (the kill switch) belong to the risk manager."""

from __future__ import annotations

import pytest
from ib_async import MarketOrder

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import (
    MakeEngine,
    working_at_gateway,
)
from tests.support.waiting import until
from tradeterm.broker.port import ConnectionState
from tradeterm.domain import OrderStatus, Side
from tradeterm.engine.commands import CancelAll, CancelOrder, ModifyOrder, PlaceBracket
from tradeterm.engine.events import MarketChanged, PositionDivergence, Reconciled
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


async def test_1_market_data_resumes_after_a_socket_reconnect(
    make_engine: MakeEngine, moving: FakeGateway
) -> None:
    run = await make_engine(moving)
    await run.wait(lambda: run.of(MarketChanged), "market data")
    await moving.restart(0.3)
    await run.wait(lambda: len(run.of(Reconciled)) >= 2, "the reconnect")
    mark = len(run.collect())
    await run.wait(
        lambda: sum(isinstance(e, MarketChanged) for e in run.events[mark:]) > 5,
        "market data after the reconnect (the broker resubscribed)",
    )
    assert run.engine.health.state is ConnectionState.OK
    # 2: exactly one reconnect task for one drop
    assert run.engine.broker.reconnect_tasks_started == 1  # type: ignore[attr-defined]


async def test_4_a_restarted_tradeterm_finds_its_bracket_and_relinks_it(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    first = await make_engine(still)
    market = Market(still)
    placed = await first.engine.submit(PlaceBracket(Side.BUY, 1, stop_ticks=6, target_ticks=12))
    assert placed.ok, placed.reason
    await until(lambda: len(working_at_gateway(still)) == 2, "stop and target working")
    await first.engine.stop()  # tradeterm exits (or crashes); the bracket rests at IB

    second = await make_engine(still)  # same instance name, new session
    rec = second.of(Reconciled)[0]
    assert (rec.own_orders, rec.position, rec.protected) == (2, 1, 1)
    views = {v.order_id: v for v in second.engine.snapshot().orders}
    entry_id, target_id, stop_id = placed.order_ids
    assert set(views) == {target_id, stop_id}
    assert views[stop_id].role == "stop" and views[target_id].role == "target"
    assert views[stop_id].oca_group == views[target_id].oca_group
    # they are ours again: moving the stop and cancelling work from the new process
    stop_price = views[stop_id].stop
    assert stop_price is not None
    moved = await second.engine.submit(ModifyOrder(stop_id, stop=market.px(stop_price + 2)))
    assert moved.ok, moved.reason
    await until(
        lambda: any(o.aux_ticks == stop_price + 2 for o in working_at_gateway(still)),
        "the stop moved at IB",
    )
    assert (await second.engine.submit(CancelAll())).ok
    await until(lambda: working_at_gateway(still) == [], "both cancelled")
    assert entry_id not in views  # the filled entry is history, not a working order


async def test_5_a_manual_close_elsewhere_is_noticed(
    make_engine: MakeEngine, still: FakeGateway, connect_to: object
) -> None:
    run = await make_engine(still)
    market = Market(still)
    await run.engine.submit(PlaceBracket(Side.BUY, 2, stop_ticks=8))
    await run.wait(lambda: run.pnl().quantity == 2, "long 2")
    # the trader closes one contract by hand in TWS (another API client here)
    tws = await connect_to(still, client_id=42)  # type: ignore[operator]
    tws.placeOrder(market.contract, MarketOrder("SELL", 1))
    await run.wait(lambda: run.of(PositionDivergence), "the divergence")
    (div,) = run.of(PositionDivergence)
    assert (div.ours, div.broker, div.at_start) == (2, 1, False)
    assert run.pnl().quantity == 1  # the broker's word


async def test_9_bracket_stop_moves_and_cancelling_the_entry_cancels_the_children(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    bid = market.bid
    placed = await run.engine.submit(
        PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=8, entry_limit=market.px(bid - 4))
    )
    assert placed.ok
    entry_id, _target_id, stop_id = placed.order_ids
    orders = run.engine.orders
    assert orders is not None
    stop = orders.get(stop_id)
    assert stop is not None
    await until(lambda: stop.status is OrderStatus.SUBMITTED, "the stop held at IB")
    moved = await run.engine.submit(ModifyOrder(stop_id, stop=market.px(bid - 10)))
    assert moved.ok, moved.reason
    await until(lambda: stop.stop == bid - 10 and stop.pending_change is None, "stop moved")
    assert (await run.engine.submit(CancelOrder(entry_id))).ok
    await until(
        lambda: all(
            orders.get(i).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
            for i in placed.order_ids
        ),
        "the whole bracket cancelled",
    )
    assert working_at_gateway(still) == []
