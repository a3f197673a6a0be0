"""Exit strategies across a restart (issue 18): the journal keeps what each order was sent
for, so the next run of the instance moves the last run's stops to breakeven as that run
would have (by itself and with ``u``), says which stops it took back, and restores a
trailing stop with its trailing amount."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market, session_gone
from tests.integration.engine_helpers import always_open, public_sell_into, working_at_gateway
from tests.integration.journal_helpers import query, settings_for
from tests.support.waiting import until
from tradeterm.config import Settings
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder, StopsToBreakeven
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.oms import SimOrder

pytestmark = pytest.mark.integration

EXITS = {
    "be": {"stop_ticks": 8, "targets": [{"ticks": 30, "qty": 1}], "breakeven_after_ticks": 4,
           "breakeven_offset_ticks": 1},
    "manual": {"stop_ticks": 8, "targets": [{"ticks": 30, "qty": 1}],
               "breakeven_offset_ticks": 2},
    "trail": {"stop_ticks": 8, "trail_ticks": 5},
}  # fmt: skip


def stops_at(gateway: FakeGateway) -> dict[str, SimOrder]:
    """The stops working at the gateway by our order id."""
    working = working_at_gateway(gateway)
    return {o.req.order_ref: o for o in working if o.req.order_type in ("STP", "TRAIL")}


async def stops_working(gateway: FakeGateway, count: int) -> None:
    await until(lambda: len(stops_at(gateway)) == count, f"{count} stop(s) at the gateway")


def last_trade(engine: Engine) -> int | None:
    market = engine.market
    return market.last.price if market is not None and market.last is not None else None


async def leave_two_stops(settings: Settings, gateway: FakeGateway, *names: str) -> int:
    """A first run buys 1 with each exit strategy of ``names`` and quits, its stops working
    at the gateway: the fill price (ticks; the book does not move between the two)."""
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        for i, name in enumerate(names, 1):  # one after the other: the stops in this order
            result = await rt.engine.submit(PlaceOrder(Side.BUY, 1, exits=name))
            assert result.ok, result.reason
            await stops_working(gateway, i)
            await rt.engine.exits.idle()  # its target sent too
        orders = rt.engine.orders
        assert orders is not None
        entry = orders.get(result.order_ids[0])
        assert entry is not None and entry.avg_fill_price is not None
        fill = int(entry.avg_fill_price)
    await session_gone(gateway, 1)
    return fill


async def leave_an_entry_resting(settings: Settings, gateway: FakeGateway, name: str) -> SimOrder:
    """A run buys 1 at the bid with exit strategy ``name`` and quits, the entry resting at
    the gateway: that order, as the gateway has it."""
    market = Market(gateway)
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        placed = await rt.engine.submit(
            PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid), exits=name)
        )
        assert placed.ok, placed.reason
        (order_id,) = placed.order_ids
        await until(
            lambda: any(o.req.order_ref == order_id for o in working_at_gateway(gateway)),
            "the entry resting",
        )
    await session_gone(gateway, 1)
    (entry,) = [o for o in working_at_gateway(gateway) if o.req.order_ref == order_id]
    return entry


async def test_after_a_restart_breakeven_still_moves_the_last_runs_stop_at_the_gateway(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    fill = await leave_two_stops(settings, still, "be", "trail")
    be_stop, trail_stop = stops_at(still)  # in the order sent
    assert stops_at(still)[be_stop].aux_ticks == fill - 8
    # the journal holds the trailing amount and what each exit was sent for
    assert query(tmp_path, "SELECT trail_ticks, exit_strategy, exit_fill_ticks,"
                 " breakeven_after_ticks, breakeven_offset_ticks FROM order_intents"
                 " WHERE order_id IN (?, ?) ORDER BY created_ns",
                 (be_stop, trail_stop)) == [(None, "be", fill, 4, 1), (5, "trail", fill, None, 0)]  # fmt: skip
    market = Market(still)
    async with open_runtime(settings, calendar=always_open()) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        notices = [e.text for e in stream.drain() if isinstance(e, EngineNotice)]
        said = [t for t in notices if "restored from the journal" in t]
        assert len(said) == 1 and be_stop in said[0] and trail_stop in said[0], notices
        assert not [t for t in notices if "NOT protected" in t], notices  # both are
        market.trade(fill + 4)
        await until(
            lambda: stops_at(still)[be_stop].aux_ticks == fill + 1,
            "the last run's stop at breakeven + 1 at the gateway",
        )
    await session_gone(still, 1)


async def test_after_a_restart_u_moves_the_last_runs_stops_to_breakeven(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    fill = await leave_two_stops(settings, still, "manual")
    (stop_id,) = stops_at(still)
    market = Market(still)
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        market.trade(fill + 3)
        await until(lambda: last_trade(rt.engine) == fill + 3, "the trade seen")
        result = await rt.engine.submit(StopsToBreakeven())
        assert result.ok, result.reason  # it said "no stop of an exit strategy is working"
        assert result.order_ids == (stop_id,)
        await until(lambda: stops_at(still)[stop_id].aux_ticks == fill + 2, "at breakeven + 2")
    await session_gone(still, 1)


async def test_an_entry_still_working_at_a_restart_keeps_its_exit_strategy(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    market = Market(still)
    bid = market.bid
    entry = await leave_an_entry_resting(settings, still, "be")
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        public_sell_into(market, entry.perm_id, 1)
        await until(lambda: len(stops_at(still)) == 1, "its stop, sent by the new run")
        (stop,) = stops_at(still).values()
        assert stop.aux_ticks == bid - 8
        await rt.engine.exits.idle()  # its target sent too: breakeven watches the stop
        market.trade(bid + 4)
        await until(lambda: stop.aux_ticks == bid + 1, "and moved to breakeven + 1")
    await session_gone(still, 1)


async def test_an_entry_filled_while_the_app_was_away_is_protected_at_the_restart(
    still: FakeGateway, tmp_path: Path
) -> None:
    """Its fill comes as history at the reconciliation, not one by one: the stop and the
    target go all the same, once; the stops of the first share, still working, are not
    sent again."""
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    market = Market(still)
    fill = await leave_two_stops(settings, still, "be")  # a share with its exits, working
    bid = market.bid
    entry = await leave_an_entry_resting(settings, still, "be")
    public_sell_into(market, entry.perm_id, 1)  # it fills while the app is away
    await until(lambda: len(working_at_gateway(still)) == 2, "the entry filled at the gateway")
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        await stops_working(still, 2)  # the new fill's stop, sent by the new run
        stops = sorted(o.aux_ticks or 0 for o in stops_at(still).values())
        assert stops == sorted([fill - 8, bid - 8])
        await until(lambda: len(working_at_gateway(still)) == 4, "and its target")
        targets = [o for o in working_at_gateway(still) if o.req.order_type == "LMT"]
        assert sorted(o.lmt_ticks or 0 for o in targets) == sorted([fill + 30, bid + 30])
        await rt.engine.exits.idle()
        assert rt.engine.orders is not None and rt.engine.orders.protected() == 2
    await session_gone(still, 1)


async def test_a_position_held_without_a_stop_at_a_restart_is_said_where_exits_are_used(
    still: FakeGateway, tmp_path: Path
) -> None:
    """A contract no stop of ours covers, and no entry of this run's knowledge explains (a
    manual buy here; an entry filled whole just before a crash, its exits never sent, looks
    the same): the restart says the position is bare, in a WARNING, never only the INFO's
    '(0 protected by stops)'."""
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        bought = await rt.engine.submit(PlaceOrder(Side.BUY, 1))  # no exit strategy
        assert bought.ok, bought.reason
        orders = rt.engine.orders
        assert orders is not None
        await until(lambda: orders.position_quantity() == 1, "long 1")
    await session_gone(still, 1)
    async with open_runtime(settings, calendar=always_open()) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        notices = [(e.level, e.text) for e in stream.drain() if isinstance(e, EngineNotice)]
        bare = [n for n in notices if "NOT protected" in n[1]]
        assert [level for level, _ in bare] == ["WARNING"], notices
        assert "position +1: 1 contract(s)" in bare[0][1]
        assert working_at_gateway(still) == []  # said, not guessed at: nothing was sent
    await session_gone(still, 1)
