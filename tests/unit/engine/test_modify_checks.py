"""A modification goes through the pre-trade checks of a new order, as the order would be after
the change (its old self not counted twice): the order size and position limits, a move that
must rest, the price band. Bid 4999.75, ask 5000.00 (``make_run``)."""

from __future__ import annotations

from tests.support.instruments import PX_5000
from tests.unit.engine.test_kill import MakeRun, make_run
from tests.unit.engine.test_orders import Run, report, settle
from tradeterm.config import RiskConfig
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.commands import ModifyOrder, PlaceOrder

__all__ = ["make_run"]  # the fixture


async def working(run: Run, cmd: PlaceOrder) -> str:
    placed = await run.engine.submit(cmd)
    assert placed.ok, placed.reason
    (oid,) = placed.order_ids
    order = run.om().get(oid)
    assert order is not None
    run.broker.push(report(order, OrderStatus.SUBMITTED, perm_id=5200 + len(run.broker.placed)))
    await settle()
    return oid


async def test_a_larger_order_is_checked_at_its_whole_size(make_run: MakeRun) -> None:
    """max_order_qty 2: growing an order of 2 to 3 is refused (checking only the 1 added
    let it through), and nothing is sent."""
    run = await make_run(RiskConfig(max_position=5, max_order_qty=2))
    oid = await working(run, PlaceOrder(Side.BUY, 2, OrderType.LIMIT, "4990.00"))
    grown = await run.engine.submit(ModifyOrder(oid, quantity=3))
    assert not grown.ok and "above the maximum of 2" in grown.reason
    assert run.broker.modified == []


async def test_an_order_at_the_position_limit_can_still_be_moved(make_run: MakeRun) -> None:
    """max_position 2 with a buy limit of 2 working: moving it counts it once, at its new
    price, not once as working and once more as the change."""
    run = await make_run(RiskConfig(max_position=2, max_order_qty=2))
    oid = await working(run, PlaceOrder(Side.BUY, 2, OrderType.LIMIT, "4990.00"))
    moved = await run.engine.submit(ModifyOrder(oid, limit="4990.25", resting=True))
    assert moved.ok, moved.reason
    assert run.broker.modified[-1].change.limit == PX_5000 - 39
    other = await working(run, PlaceOrder(Side.SELL, 1, OrderType.LIMIT, "5010.00"))
    grown = await run.engine.submit(ModifyOrder(other, quantity=3))
    assert not grown.ok and "above the maximum of 2" in grown.reason


async def test_a_move_that_must_rest_is_refused_across_the_market(make_run: MakeRun) -> None:
    """A limit moved onto the ask, a stop moved to the bid: one line each, nothing sent; the
    same move without ``resting`` (the console's) is the band's alone."""
    run = await make_run(RiskConfig(max_position=5, max_order_qty=2))
    limit = await working(run, PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990.00"))
    stop = await working(run, PlaceOrder(Side.SELL, 1, OrderType.STOP, stop="4990.00"))
    across = await run.engine.submit(ModifyOrder(limit, limit="5000.00", resting=True))
    assert not across.ok
    assert across.reason == "buy limit 5000.00 is at or above the ask 5000.00: it would trade at once, not rest"  # fmt: skip
    through = await run.engine.submit(ModifyOrder(stop, stop="4999.75", resting=True))
    assert not through.ok and "it would trigger at once, not rest" in through.reason
    assert run.broker.modified == []
    console = await run.engine.submit(ModifyOrder(limit, limit="5000.00"))
    assert console.ok, console.reason
    assert run.broker.modified[-1].change.limit == PX_5000
