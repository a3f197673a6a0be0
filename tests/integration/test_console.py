"""The console's typed commands carried out at the fake gateway, through the real engine and
ib_async: an order id typed back (``tt.ES.…``, mixed case) finds its order."""

from __future__ import annotations

import io

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import MakeEngine, working_at_gateway
from tests.support.waiting import until
from tradeterm.console import Console
from tradeterm.domain import OrderStatus
from tradeterm.engine.events import CommandDone
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


async def test_typed_modify_and_cancel_of_an_order_id_reach_the_gateway(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    engine, market, out = run.engine, Market(still), io.StringIO()
    console = Console(engine, out)
    bid = market.bid
    await console.handle(f"buy 1 limit {market.px(bid - 8)}\n")
    (order,) = engine.snapshot().orders
    assert order.order_id.startswith("tt.ES.")
    await until(lambda: [o.req.order_ref for o in working_at_gateway(still)] == [order.order_id],
                "the order working at the gateway")  # fmt: skip
    own = engine.orders.get(order.order_id)  # type: ignore[union-attr]
    assert own is not None
    await until(lambda: own.status is OrderStatus.SUBMITTED, "acknowledged")

    await console.handle(f"modify {order.order_id} qty 2 limit {market.px(bid - 6)}\n")
    await until(lambda: own.status is OrderStatus.SUBMITTED and own.limit == bid - 6, "modified")
    (working,) = working_at_gateway(still)
    assert (working.lmt_ticks, working.req.total_qty) == (bid - 6, 2)

    await console.handle(f"cancel {order.order_id}\n")
    await until(lambda: own.status is OrderStatus.CANCELLED, "cancelled")
    assert working_at_gateway(still) == []
    results = [e.result for e in run.of(CommandDone)]
    assert [r.ok for r in results] == [True, True, True], [r.reason for r in results]
    assert out.getvalue() == ""  # no "? ..." complaint about a typed line
