"""The headless Engine against the fake gateway through the real ib_async client: start,
market data and bars, every order command, positions and P&L against a hand computation."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import MakeEngine, gateway_position, working_at_gateway
from tests.support.waiting import until
from tradeterm.broker.port import ConnectionState
from tradeterm.config import BracketConfig, MarketConfig, RiskConfig
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.calendar import CHICAGO, CME
from tradeterm.engine.commands import (
    CancelAll,
    CancelOrder,
    Flatten,
    GlobalCancel,
    ModifyOrder,
    PlaceBracket,
    PlaceOrder,
    Reverse,
    ToggleAlert,
)
from tradeterm.engine.events import (
    BarsChanged,
    CommandDone,
    FillBooked,
    MarketChanged,
    Reconciled,
)
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

ES_TICK_VALUE = Decimal("12.50")
COMMISSION = Decimal("2.25")


async def test_start_resolves_subscribes_backfills_and_reconciles(
    make_engine: MakeEngine, moving: FakeGateway
) -> None:
    run = await make_engine(moving)
    engine = run.engine
    snap = engine.snapshot()
    assert snap.instrument is not None and snap.instrument.local_symbol == "ESZ6"
    assert snap.health.state is ConnectionState.OK
    assert snap.entries_blocked is None
    assert len(snap.bars) > 100  # the 1-minute backfill
    (rec,) = run.of(Reconciled)
    assert (rec.reason, rec.own_orders, rec.position, rec.entries_allowed) == ("start", 0, 0, True)
    await run.wait(
        lambda: run.of(MarketChanged) and run.of(BarsChanged) and engine.market.last,  # type: ignore[union-attr]
        "market data and a trade",
    )
    snap = engine.snapshot()
    starts = [b.start_ns for b in snap.bars]
    assert all(b - a == 60 * 10**9 for a, b in itertools.pairwise(starts))  # no gap, no dup
    assert snap.bars[-1] == engine.bars.forming  # type: ignore[union-attr]  # live joins history
    assert snap.market is not None and snap.market.quote is not None
    assert snap.market.bids and snap.market.asks and snap.market.last is not None
    assert snap.market.bids[0].price < snap.market.asks[0].price


async def test_limit_price_is_rounded_to_tick_on_the_safe_side(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    bid = market.bid
    price = market.px(bid - 4) + 0.13  # between ticks
    result = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=price))
    assert result.ok, result.reason
    (oid,) = result.order_ids
    await run.wait(
        lambda: run.engine.orders and run.engine.orders.get(oid).status is OrderStatus.SUBMITTED,  # type: ignore[union-attr]
        "the order working",
    )
    (working,) = working_at_gateway(still)
    assert working.lmt_ticks == bid - 4  # rounded down for a buy, never up
    sell = await run.engine.submit(
        PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(market.ask + 4) - 0.13)
    )
    assert sell.ok
    await until(lambda: len(working_at_gateway(still)) == 2, "the sell working")
    assert {o.lmt_ticks for o in working_at_gateway(still)} == {bid - 4, market.ask + 4}


async def test_market_order_fill_books_position_and_pnl(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    market = Market(still)
    ask = market.ask
    result = await run.engine.submit(PlaceOrder(Side.BUY, 2))
    assert result.ok
    await run.wait(lambda: run.of(FillBooked), "the fill")
    engine = run.engine
    await run.wait(lambda: run.pnl().commissions == 2 * COMMISSION, "commissions")
    market.trade(ask + 3)
    await run.wait(lambda: run.pnl().mark == ask + 3, "the mark")
    pnl = engine.snapshot().pnl
    assert pnl is not None
    assert pnl.quantity == 2 and pnl.avg_price == ask
    assert pnl.unrealized == 2 * 3 * ES_TICK_VALUE and pnl.unrealized_ticks == 6
    assert pnl.open_ticks == 3
    assert pnl.daily == 2 * 3 * ES_TICK_VALUE - 2 * COMMISSION
    (order,) = [o for o in engine.orders._orders.values()]  # type: ignore[union-attr]
    assert order.status is OrderStatus.FILLED and order.filled == 2
    assert order.client_id.startswith("tt.ES.")


async def test_modify_then_cancel(make_engine: MakeEngine, still: FakeGateway) -> None:
    run = await make_engine(still)
    market = Market(still)
    engine = run.engine
    bid = market.bid
    placed = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(bid - 8)))
    (oid,) = placed.order_ids
    order = engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None
    await until(lambda: order.status is OrderStatus.SUBMITTED, "working")
    moved = await engine.submit(ModifyOrder(oid, quantity=2, limit=market.px(bid - 6)))
    assert moved.ok, moved.reason
    await until(
        lambda: order.status is OrderStatus.SUBMITTED and order.limit == bid - 6, "modified"
    )
    assert order.quantity == 2
    (working,) = working_at_gateway(still)
    assert (working.lmt_ticks, working.req.total_qty) == (bid - 6, 2)
    cancelled = await engine.submit(CancelOrder(oid))
    assert cancelled.ok
    await until(lambda: order.status is OrderStatus.CANCELLED, "cancelled")
    assert working_at_gateway(still) == []
    again = await engine.submit(CancelOrder(oid))
    assert not again.ok and "cancelled" in again.reason


async def test_bracket_is_native_and_oca_and_cancel_all_spares_foreign_orders(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    market = Market(still)
    other = await make_engine(still, client_id=2, instance="NQ")  # another client, same account
    foreign = await other.engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 20))
    )
    assert foreign.ok
    await until(lambda: working_at_gateway(still), "the other client's order working")
    run = await make_engine(still)  # reconciliation at start finds it
    engine = run.engine
    bid = market.bid
    result = await engine.submit(
        PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16, entry_limit=market.px(bid - 2))
    )
    assert result.ok, result.reason
    entry, target, stop = (engine.orders.get(i) for i in result.order_ids)  # type: ignore[union-attr]
    assert entry and target and stop
    await until(lambda: entry.status is OrderStatus.SUBMITTED, "entry working")
    at_gw = {o.req.order_ref: o for o in still.oms.orders.values()}
    g_entry, g_target, g_stop = (at_gw[i] for i in result.order_ids)
    assert g_target.req.parent_id == g_stop.req.parent_id == g_entry.order_id
    assert g_target.req.oca_group == g_stop.req.oca_group != ""
    assert (g_stop.aux_ticks, g_target.lmt_ticks) == (bid - 10, bid + 14)
    (shown,) = engine.snapshot().foreign_orders
    assert not shown.own and shown.limit == market.bid - 20

    done = await engine.submit(CancelAll())
    assert done.ok and set(done.order_ids) == set(result.order_ids)
    await until(
        lambda: all(o.status is OrderStatus.CANCELLED for o in (entry, target, stop)), "all"
    )
    left = working_at_gateway(still)
    assert [o.client_id for o in left] == [2]  # the other client's order is untouched


async def test_bracket_from_config_quantities_after_fill_stop_protects(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    config = MarketConfig(bracket=BracketConfig(enabled=True, stop_ticks=4, target_ticks=8))
    run = await make_engine(still, market=config)
    engine = run.engine
    market = Market(still)
    ask = market.ask
    result = await engine.submit(PlaceBracket(Side.BUY, 1, stop_ticks=4, target_ticks=8))
    assert result.ok, result.reason
    await run.wait(lambda: run.of(FillBooked), "the entry fill")
    await until(lambda: engine.orders.protected() == 1, "the stop protects the position")  # type: ignore[union-attr]
    stop = engine.orders.get(result.order_ids[2])  # type: ignore[union-attr]
    assert stop is not None and stop.stop == ask - 4


async def test_flatten_and_reverse(make_engine: MakeEngine, still: FakeGateway) -> None:
    run = await make_engine(still)
    engine = run.engine
    market = Market(still)
    assert not (await engine.submit(Reverse())).ok  # nothing to reverse
    await engine.submit(PlaceOrder(Side.BUY, 1))
    resting = await engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 10))
    )
    await until(lambda: run.pnl().quantity == 1, "long 1")
    rev = await engine.submit(Reverse())
    assert rev.ok and resting.order_ids[0] in rev.order_ids
    await until(lambda: run.pnl().quantity == -1, "short 1")
    assert working_at_gateway(still) == []
    flat = await engine.submit(Flatten())
    assert flat.ok
    await until(lambda: run.pnl().quantity == 0, "flat")
    done = [c.result for c in run.of(CommandDone)]
    assert [r.command_id for r in done] == ["cmd-1", "cmd-2", "cmd-3", "cmd-4", "cmd-5"]
    assert gateway_position(still, market) == 0


async def test_reverse_is_checked_without_the_orders_it_cancels(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """Long 1 with a sell limit and a sell stop working, max position 2: the reverse cancels
    both before it sells 2, so they do not count against it (trial: refused as "2 working
    SELL and this 2 would make 3 short"); its own size still does."""
    limits = RiskConfig(max_position=2, max_order_qty=2)
    run = await make_engine(still, market=MarketConfig(risk=limits))
    engine, market = run.engine, Market(still)
    assert (await engine.submit(PlaceOrder(Side.BUY, 1))).ok
    await until(lambda: run.pnl().quantity == 1, "long 1")
    for cmd in (
        PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(market.ask + 10)),
        PlaceOrder(Side.SELL, 1, OrderType.STOP, stop=market.px(market.bid - 10)),
    ):
        assert (await engine.submit(cmd)).ok
    await until(lambda: len(working_at_gateway(still)) == 2, "the sell limit and stop")
    rev = await engine.submit(Reverse())
    assert rev.ok, rev.reason
    await until(lambda: run.pnl().quantity == -1, "short 1")
    assert working_at_gateway(still) == [] and gateway_position(still, market) == -1
    too_big = await engine.submit(Reverse())  # short 1 -> long 1 is fine; its size is not
    assert too_big.ok, too_big.reason
    await until(lambda: run.pnl().quantity == 1, "long 1 again")
    assert (await engine.submit(PlaceOrder(Side.BUY, 1))).ok
    await until(lambda: run.pnl().quantity == 2, "long 2")
    refused = await engine.submit(Reverse())  # sells 4: above the order size of 2
    assert not refused.ok and "maximum of 2" in refused.reason


async def test_global_cancel_only_when_asked(make_engine: MakeEngine, still: FakeGateway) -> None:
    run = await make_engine(still)
    other = await make_engine(still, client_id=2)
    market = Market(still)
    await other.engine.submit(
        PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(market.ask + 9))
    )
    await run.engine.submit(
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 9))
    )
    await until(lambda: len(working_at_gateway(still)) == 2, "two orders")
    await run.engine.submit(CancelAll())
    await until(lambda: len(working_at_gateway(still)) == 1, "own cancelled")
    assert (await run.engine.submit(GlobalCancel())).ok
    await until(lambda: working_at_gateway(still) == [], "everything cancelled")


async def test_refusals_say_why(make_engine: MakeEngine, still: FakeGateway) -> None:
    run = await make_engine(still)
    engine = run.engine
    bad = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit="abc"))
    assert not bad.ok and "not a price" in bad.reason
    none = await engine.submit(PlaceOrder(Side.BUY, 0))
    assert not none.ok and "quantity" in none.reason
    missing = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT))
    assert not missing.ok and "limit" in missing.reason
    assert not (await engine.submit(CancelOrder("tt.ES.0.1"))).ok
    for price in ("abc", float("nan")):  # an alert's price too: one line, no exception
        alert = await engine.submit(ToggleAlert(price))
        assert not alert.ok and alert.reason == f"not a price: {price!r}"
    assert engine.alerts.prices == ()
    assert working_at_gateway(still) == []


async def test_the_session_calendar_comes_from_the_contract_details(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still, calendar=None)
    calendar = run.engine.calendar
    assert calendar is not CME  # built from IB's tradingHours / timeZoneId

    def at(day: int, hour: int, minute: int = 0) -> int:
        moment = dt.datetime(2026, 11, day, hour, minute, tzinfo=CHICAGO)
        return int(moment.timestamp()) * 10**9

    assert calendar.is_open(at(20, 10))  # Friday morning
    assert not calendar.is_open(at(19, 16, 30))  # Thursday's maintenance break
    assert not calendar.is_open(at(21, 12))  # Saturday
    assert calendar.is_open(at(22, 17, 30))  # Sunday evening: the week's first session
