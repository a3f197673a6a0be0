"""Brackets with a stop entry (issue 15): the entry is a native STP parent that rests until a
trade reaches its stop, its exits priced from the stop price. Against the fake gateway through
the real IbBroker, and in SHADOW on the paper broker (nothing reaches the gateway)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import MakeEngine, gateway_position
from tests.integration.test_shadow import nothing_reached_ib, paper, position, running, shadow
from tests.support.waiting import until
from tradeterm.domain import Order, OrderStatus, OrderType, Side
from tradeterm.engine.commands import PlaceBracket
from tradeterm.engine.engine import Engine
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.probe import WireProbe

pytestmark = pytest.mark.integration


def legs(engine: Engine, ids: tuple[str, ...]) -> tuple[Order, Order, Order]:
    orders = engine.orders
    assert orders is not None
    entry, target, stop = (orders.get(i) for i in ids)
    assert entry is not None and target is not None and stop is not None
    return entry, target, stop


def last(engine: Engine) -> int | None:
    market = engine.market
    return market.last.price if market is not None and market.last is not None else None


async def test_a_stop_entry_rests_at_ib_until_a_trade_reaches_it_then_its_exits_work(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    engine, market = run.engine, Market(still)
    ask = market.ask
    at = ask + 4
    result = await engine.submit(
        PlaceBracket(Side.BUY, 1, stop_ticks=6, target_ticks=10, entry_stop=market.px(at))
    )
    assert result.ok, result.reason
    entry, target, stop = legs(engine, result.order_ids)
    await until(lambda: entry.status is OrderStatus.SUBMITTED, "the entry resting")
    at_gw = {o.req.order_ref: o for o in still.oms.orders.values()}
    g_entry, g_target, g_stop = (at_gw[i] for i in result.order_ids)
    assert (g_entry.req.order_type, g_entry.aux_ticks) == ("STP", at)
    assert (g_stop.aux_ticks, g_target.lmt_ticks) == (at - 6, at + 10)  # from the stop price
    assert g_target.req.parent_id == g_stop.req.parent_id == g_entry.order_id

    market.trade(at - 1)  # below the stop: nothing triggers
    await until(lambda: last(engine) == at - 1, "the trade below the stop seen")
    assert g_entry.status == "Submitted" and not g_target.at_venue and not g_stop.at_venue
    assert entry.status is OrderStatus.SUBMITTED and engine.orders.protected() == 0  # type: ignore[union-attr]

    market.trade(at)  # a trade at the stop: it triggers and fills
    await until(lambda: entry.status is OrderStatus.FILLED, "the entry filled")
    await until(lambda: engine.orders.protected() == 1, "the stop protects the long")  # type: ignore[union-attr]
    assert g_target.at_venue and g_stop.at_venue  # the children activated with the fill
    assert target.status is stop.status is OrderStatus.SUBMITTED
    assert gateway_position(still, market) == 1


async def test_a_stop_entry_on_the_wrong_side_of_the_market_is_refused(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    engine, market = run.engine, Market(still)
    result = await engine.submit(
        PlaceBracket(Side.SELL, 1, stop_ticks=6, entry_stop=market.px(market.bid + 1))
    )
    assert not result.ok and "it would trigger at once, not rest" in result.reason
    assert result.reason.startswith("sell stop")
    assert not still.oms.orders  # nothing reached the gateway


async def test_a_stop_entry_in_shadow_rests_triggers_on_a_trade_and_its_exits_work(
    still: FakeGateway, tmp_path: Path
) -> None:
    probe = WireProbe()
    probe.install(still.server)
    market = Market(still)
    async with running(shadow(still, tmp_path), still) as rt:
        bid = market.bid
        at = bid - 3
        result = await rt.engine.submit(
            PlaceBracket(Side.SELL, 1, stop_ticks=5, target_ticks=7, entry_stop=market.px(at))
        )
        assert result.ok, result.reason
        entry, target, stop = legs(rt.engine, result.order_ids)
        await until(lambda: entry.status is OrderStatus.SUBMITTED, "the entry resting on paper")
        assert (entry.order_type, entry.stop, stop.stop, target.limit) == (
            OrderType.STOP, at, at + 5, at - 7,
        )  # fmt: skip
        market.trade(at + 1, 5)  # above a sell stop: nothing triggers
        await until(lambda: last(rt.engine) == at + 1, "the trade above the stop seen")
        assert entry.broker_id is not None
        parked = paper(rt).model.working(entry.broker_id)
        assert parked is not None and parked.price is None  # not triggered: no price yet
        assert entry.status is OrderStatus.SUBMITTED
        market.trade(at, 5)  # a trade at the stop: it walks the book
        await until(lambda: entry.status is OrderStatus.FILLED, "the entry filled on paper")
        await until(
            lambda: target.status is stop.status is OrderStatus.SUBMITTED, "the exits working"
        )
        assert position(rt) == -1
        orders = rt.engine.orders
        assert orders is not None and orders.protected() == 1
        nothing_reached_ib(probe, still)
