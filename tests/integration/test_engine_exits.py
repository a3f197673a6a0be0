"""Exit strategies (ATM) against the fake gateway, through the real ib_async client: what an
entry's fill attaches at the gateway, breakeven and trailing stops moving there, a target's
fill shrinking its stop, and the kill switch still ending everything."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import (
    MakeEngine,
    Run,
    gateway_position,
    public_sell_into,
    public_trade_into,
    working_at_gateway,
)
from tests.support.waiting import until
from tradeterm.config import ExitStrategyConfig, MarketConfig
from tradeterm.domain import Order, OrderStatus, OrderType, Side
from tradeterm.engine.commands import Flatten, ModifyOrder, PlaceOrder, Reverse, StopsToBreakeven
from tradeterm.engine.events import Reconciled
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.oms import SimOrder
from tradeterm.sim.market_events import BookSide

pytestmark = pytest.mark.integration

STRATEGIES = {
    "scalp": ExitStrategyConfig.model_validate({
        "stop_ticks": 8,
        "targets": [{"ticks": 4, "fraction": 0.5}, {"ticks": 12, "fraction": 0.5}],
    }),
    "be": ExitStrategyConfig.model_validate({
        "stop_ticks": 8, "targets": [{"ticks": 30, "qty": 1}],
        "breakeven_after_ticks": 4, "breakeven_offset_ticks": 1,
    }),
    "trail": ExitStrategyConfig.model_validate({"stop_ticks": 8, "trail_ticks": 4}),
    "one": ExitStrategyConfig.model_validate({"stop_ticks": 8, "targets": [{"ticks": 4, "qty": 2}]}),
}  # fmt: skip


def exits_at(gateway: FakeGateway) -> tuple[list[SimOrder], list[SimOrder]]:
    """The stops (STP or TRAIL) and targets (LMT sells) working at the gateway."""
    working = working_at_gateway(gateway)
    stops = [o for o in working if o.req.order_type in ("STP", "TRAIL")]
    targets = [o for o in working if o.req.order_type == "LMT" and o.req.action == "SELL"]
    return stops, targets


async def long_with(run: Run, name: str, qty: int) -> int:
    """Long ``qty`` at market with exit strategy ``name``: the fill price (ticks)."""
    result = await run.engine.submit(PlaceOrder(Side.BUY, qty, exits=name))
    assert result.ok, result.reason
    await run.wait(lambda: run.pnl().quantity == qty, f"long {qty}")
    entry = run.engine.orders.get(result.order_ids[0])  # type: ignore[union-attr]
    assert entry is not None and entry.avg_fill_price is not None
    assert entry.avg_fill_price.denominator == 1
    return int(entry.avg_fill_price)


async def resting_entry(run: Run, market: Market, qty: int, name: str) -> Order:
    """A limit buy of ``qty`` at the bid with exit strategy ``name``, resting at the gateway."""
    result = await run.engine.submit(
        PlaceOrder(Side.BUY, qty, OrderType.LIMIT, limit=market.px(market.bid), exits=name)
    )
    assert result.ok, result.reason
    entry = run.engine.orders.get(result.order_ids[0])  # type: ignore[union-attr]
    assert entry is not None
    await until(lambda: entry.perm_id and entry.status is OrderStatus.SUBMITTED, "resting")
    return entry


async def long_one_stopped(
    make_engine: MakeEngine, still: FakeGateway, name: str
) -> tuple[Run, Market, int, SimOrder]:
    """Long 1 at market with strategy ``name`` (a stop, no target): the run, the market, the
    fill price and the stop at the gateway."""
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    fill = await long_with(run, name, 1)
    await until(lambda: len(exits_at(still)[0]) == 1, "the stop")
    (stop,) = exits_at(still)[0]
    return run, Market(still), fill, stop


async def long_two_one_target(
    make_engine: MakeEngine, still: FakeGateway
) -> tuple[Run, Market, int, SimOrder]:
    """Long 2 at market with strategy "one" (one stop and one target of 2, one OCA group,
    both working): the run, the market, the fill price and the stop at the gateway."""
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    market = Market(still)
    fill = await long_with(run, "one", 2)
    await until(lambda: [len(x) for x in exits_at(still)] == [1, 1], "stop and target")
    await run.engine.exits.idle()
    (stop,), _ = exits_at(still)
    return run, market, fill, stop


def last_trade(run: Run) -> int | None:
    market = run.engine.market
    return market.last.price if market is not None and market.last is not None else None


def engine_order(run: Run, gw: SimOrder) -> Order:
    order = run.engine.orders.get(gw.req.order_ref)  # type: ignore[union-attr]
    assert order is not None
    return order


async def test_an_entry_fill_attaches_a_stop_and_two_targets_splitting_its_quantity_as_oca(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    fill = await long_with(run, "scalp", 2)
    await until(lambda: [len(x) for x in exits_at(still)] == [2, 2], "stops and targets")
    stops, targets = exits_at(still)
    assert sorted((o.req.total_qty, o.aux_ticks) for o in stops) == [(1, fill - 8)] * 2
    assert sorted((o.req.total_qty, o.lmt_ticks) for o in targets) == [
        (1, fill + 4), (1, fill + 12),
    ]  # fmt: skip
    for target in targets:  # each target with its own stop, one OCA group reducing on a fill
        (pair,) = [s for s in stops if s.req.oca_group == target.req.oca_group]
        assert target.req.oca_group and target.req.oca_type == pair.req.oca_type == 2
    assert run.engine.orders.protected() == 2  # type: ignore[union-attr]


async def test_a_partial_entry_fill_is_protected_for_what_it_filled(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    market = Market(still)
    bid = market.bid
    entry = await resting_entry(run, market, 2, "scalp")
    public_sell_into(market, entry.perm_id, 1)  # type: ignore[arg-type]
    await until(lambda: [len(x) for x in exits_at(still)] == [1, 1], "the first share")
    stops, targets = exits_at(still)
    assert (stops[0].req.total_qty, targets[0].req.total_qty) == (1, 1)
    assert targets[0].lmt_ticks == bid + 4  # the first target first
    public_sell_into(market, entry.perm_id, 1)  # type: ignore[arg-type]
    await until(lambda: [len(x) for x in exits_at(still)] == [2, 2], "the second share")
    assert sorted(t.lmt_ticks for t in exits_at(still)[1]) == [bid + 4, bid + 12]  # type: ignore[type-var]


async def test_after_n_ticks_in_profit_the_stop_moves_to_breakeven_at_the_gateway(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run, market, fill, stop = await long_one_stopped(make_engine, still, "be")
    assert stop.aux_ticks == fill - 8
    market.trade(fill + 3)  # not yet
    market.trade(fill + 2)
    await until(lambda: last_trade(run) == fill + 2, "the trades seen")
    assert stop.aux_ticks == fill - 8
    market.trade(fill + 4)
    await until(lambda: stop.aux_ticks == fill + 1, "the stop at breakeven + 1 at the gateway")
    await until(lambda: engine_order(run, stop).stop == fill + 1, "and so in the engine")


async def test_a_trailing_stop_is_ibs_trail_moving_with_the_market_and_triggering(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run, market, fill, stop = await long_one_stopped(make_engine, still, "trail")
    assert stop.req.order_type == "TRAIL" and stop.aux_ticks == 4
    assert stop.trail_stop_ticks == fill - 8
    market.trade(fill + 6)  # in favour: the stop follows 4 ticks behind
    await until(lambda: stop.trail_stop_ticks == fill + 2, "trailed at the gateway")
    ours = engine_order(run, stop)
    await until(lambda: ours.stop == fill + 2, "reported to the engine (trailStopPrice)")
    market.trade(fill + 4)  # against: it stays
    market.trade(fill + 2)  # reaches it: triggers
    await until(lambda: gateway_position(still, market) == 0, "stopped out at the gateway")
    await until(lambda: ours.status is OrderStatus.FILLED and run.pnl().quantity == 0, "flat")


async def test_a_target_fill_reduces_its_stop(make_engine: MakeEngine, still: FakeGateway) -> None:
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    market = Market(still)
    await long_with(run, "one", 2)
    await until(lambda: [len(x) for x in exits_at(still)] == [1, 1], "stop and target")
    (stop,), (target,) = exits_at(still)
    public_trade_into(market, target.perm_id, 1, BookSide.BID)  # the target fills 1 of 2
    await until(lambda: stop.req.total_qty == 1, "the stop reduced to 1 at the gateway")
    ours = engine_order(run, stop)
    await until(lambda: ours.quantity == 1 and run.pnl().quantity == 1, "and in the engine")
    assert run.engine.orders.protected() == 1  # type: ignore[union-attr]
    public_trade_into(market, target.perm_id, 1, BookSide.BID)  # the rest: the stop goes
    await until(lambda: exits_at(still) == ([], []), "nothing left working")
    await until(lambda: ours.status is OrderStatus.CANCELLED and run.pnl().quantity == 0, "flat")


async def test_the_kill_switch_still_cancels_every_exit_and_flattens(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    market = Market(still)
    await long_with(run, "scalp", 2)
    await until(lambda: [len(x) for x in exits_at(still)] == [2, 2], "exits working")
    done = await run.engine.kill("test: exits")
    assert done.ok and done.step == "halted"
    assert working_at_gateway(still) == [] and gateway_position(still, market) == 0


async def test_an_unknown_strategy_or_an_order_that_is_no_entry_is_refused(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    refused = await run.engine.submit(PlaceOrder(Side.BUY, 1, exits="nope"))
    assert not refused.ok and "no exit strategy 'nope'" in refused.reason
    assert (await run.engine.submit(PlaceOrder(Side.BUY, 1))).ok  # long 1, no exits
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    closing = await run.engine.submit(PlaceOrder(Side.SELL, 1, exits="trail"))
    assert not closing.ok and "not an entry" in closing.reason
    assert working_at_gateway(still) == [] and run.pnl().quantity == 1


@pytest.mark.parametrize(("qty", "close", "after"), [(2, Flatten(), 0), (1, Reverse(), -1)])
async def test_a_close_right_after_the_fill_leaves_no_exit_working_at_the_gateway(
    make_engine: MakeEngine, still: FakeGateway, qty: int, close: Flatten | Reverse, after: int
) -> None:
    """The close comes while the fill's exits are still being sent: those it did not see
    are not sent, or cancelled once sent; the stops never rest on a flat (or turned) book."""
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    market = Market(still)
    assert (await run.engine.submit(PlaceOrder(Side.BUY, qty, exits="scalp"))).ok
    orders = run.engine.orders
    assert orders is not None
    while orders.position_quantity() != qty:  # the fill booked, its exits on their way
        await asyncio.sleep(0)
    closed = await run.engine.submit(close)
    assert closed.ok, closed.reason
    await run.engine.exits.idle()
    await until(lambda: gateway_position(still, market) == after, f"position {after} at IB")
    await until(lambda: working_at_gateway(still) == [], "no exit left working at IB")
    await run.wait(lambda: not orders.working() and run.pnl().quantity == after, "and here")


async def test_a_stop_whose_target_works_moves_while_reducing_and_u_too(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """Moving a stop only reduces: its target in the same OCA group is no further quantity
    on its side (a group fills once), so REDUCING (a loss limit, the kill's aftermath) lets
    it move, by a modify and by u."""
    run, market, fill, stop = await long_two_one_target(make_engine, still)
    inst, risk = run.engine.instrument, run.engine.risk
    assert inst is not None and risk is not None
    risk.reduce("test: a loss limit")
    moved = await run.engine.submit(ModifyOrder(stop.req.order_ref, stop=inst.to_price(fill - 6)))
    assert moved.ok, moved.reason  # it said "trading is REDUCING (...): only orders that reduce"
    await until(lambda: stop.aux_ticks == fill - 6, "the stop moved at the gateway")
    market.trade(fill + 3)
    await until(lambda: last_trade(run) == fill + 3, "the trade seen")
    assert (await run.engine.submit(StopsToBreakeven())).ok
    await until(lambda: stop.aux_ticks == fill, "and to breakeven by u")


async def test_u_refused_says_why_and_moves_nothing(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run, market, fill, stop = await long_two_one_target(make_engine, still)
    market.trade(fill + 3)
    await until(lambda: last_trade(run) == fill + 3, "the trade seen")
    run.engine.halt("test: halted")
    result = await run.engine.submit(StopsToBreakeven())
    assert not result.ok and result.order_ids == ()  # it said ok, naming the stop
    assert "HALTED" in result.reason and stop.req.order_ref in result.reason
    assert stop.aux_ticks == fill - 8


async def test_u_moving_nothing_says_which_reason_applies(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """Not "the market is not beyond breakeven, or the stops are there already": which."""
    run, market, fill, stop = await long_two_one_target(make_engine, still)
    stop_id, inst = stop.req.order_ref, run.engine.instrument
    assert inst is not None
    market.trade(fill - 1)
    await until(lambda: last_trade(run) == fill - 1, "the trade seen")
    short = await run.engine.submit(StopsToBreakeven())
    assert not short.ok
    assert short.reason == (
        f"breakeven: no stop moved: the market (last trade {inst.to_price(fill - 1)}) is not "
        f"beyond breakeven for any stop ({stop_id} at {inst.to_price(fill)})"
    )
    market.trade(fill + 3)
    await until(lambda: last_trade(run) == fill + 3, "the trade seen")
    assert (await run.engine.submit(StopsToBreakeven())).ok
    await until(lambda: engine_order(run, stop).stop == fill, "at breakeven")
    there = await run.engine.submit(StopsToBreakeven())
    assert not there.ok
    assert there.reason == (
        f"breakeven: no stop moved: every stop is at or beyond breakeven already ({stop_id})"
    )


async def test_an_entry_filled_while_disconnected_gets_its_exits_once_reconnected(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """The fill comes back as history at the reconciliation, never one by one: its exits go
    all the same, dealt to the targets as a fill seen live would be."""
    run = await make_engine(still, market=MarketConfig(exits=STRATEGIES))
    market = Market(still)
    bid = market.bid
    await resting_entry(run, market, 2, "scalp")
    assert still.faults.fill_while_disconnected() == 1
    await run.wait(lambda: len(run.of(Reconciled)) >= 2, "the reconciliation after it")
    await until(lambda: [len(x) for x in exits_at(still)] == [2, 2], "stops and targets")
    stops, targets = exits_at(still)
    assert sorted(o.aux_ticks or 0 for o in stops) == [bid - 8] * 2
    assert sorted(o.lmt_ticks or 0 for o in targets) == [bid + 4, bid + 12]
    await run.engine.exits.idle()
    assert run.engine.orders.protected() == 2  # type: ignore[union-attr]
