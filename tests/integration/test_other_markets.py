"""Several markets on one account, one instance per market (issue 17): each instance sees
every order of the account at IB, and another market's orders must never pass for its own.
A GC instance's stop and limit are working while the ES instance starts (its reconciliation
lists them) and another client rests a stop in ES itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import TODAY, MakeEngine, Run, working_at_gateway
from tests.support.waiting import until
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.events import Reconciled
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


async def rest(run: Run, side: Side, order_type: OrderType, price: float) -> None:
    """A working order of ``run``'s (limit or stop at ``price``)."""
    limit, stop = (price, None) if order_type is OrderType.LIMIT else (None, price)
    result = await run.engine.submit(PlaceOrder(side, 1, order_type, limit=limit, stop=stop))
    assert result.ok, result.reason


async def test_another_markets_orders_are_not_this_markets(
    make_engine: MakeEngine, start_gateway: Callable[..., Awaitable[FakeGateway]]
) -> None:
    gw = await start_gateway(rate=0.0, today=TODAY, master_client_id=99, symbols=("ES", "GC"))
    gc_feed = gw.market.feed_for_symbol("GC")
    gc_bid = gc_feed.engine.best_bid
    assert gc_bid is not None
    gold = await make_engine(gw, client_id=180, symbol="GC", instance="GC")
    await rest(gold, Side.BUY, OrderType.LIMIT, float((gc_bid - 50) * gc_feed.tick))
    await rest(gold, Side.SELL, OrderType.STOP, float((gc_bid - 100) * gc_feed.tick))
    es = Market(gw)
    other_es = await make_engine(gw, client_id=2, instance="ES2")
    await rest(other_es, Side.SELL, OrderType.STOP, es.px(es.bid - 20))
    await until(lambda: len(working_at_gateway(gw)) == 3, "three orders working at IB")

    run = await make_engine(gw)  # the ES instance: its reconciliation lists all three
    await run.engine.submit(PlaceOrder(Side.BUY, 1))  # long 1 ES, no stop of its own
    await until(lambda: run.pnl().quantity == 1, "long 1 ES")
    snap = run.engine.snapshot()
    (shown,) = snap.foreign_orders  # only the ES stop, with its price
    assert (shown.own, shown.side, shown.order_type, shown.stop) == (
        False, Side.SELL, "STP", es.bid - 20
    )  # fmt: skip
    gc_symbol = gold.engine.snapshot().instrument.local_symbol  # type: ignore[union-attr]
    assert snap.other_markets == ((gc_symbol, 2),)  # the GC orders: counted, not listed
    assert snap.orders == () and snap.protected == 0  # no GC (or other) stop protects ES
    (reconciled,) = run.of(Reconciled)
    assert reconciled.foreign_orders == 1 and reconciled.protected == 0
    assert "2 in other markets" in reconciled.detail
