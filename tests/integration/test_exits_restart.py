"""Exit strategies across a restart (issue 18): the journal keeps what each order was sent
for, so the next run of the instance moves the last run's stops to breakeven as that run
would have (by itself and with ``u``), says which stops it took back, and restores a
trailing stop with its trailing amount."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.integration.desk_helpers import Market, session_gone
from tests.integration.engine_helpers import (
    always_open,
    public_sell_into,
    public_trade_into,
    working_at_gateway,
)
from tests.integration.journal_helpers import query, settings_for
from tests.support.waiting import until
from tradeterm.config import Settings
from tradeterm.domain import OrderType, Side
from tradeterm.engine import exits
from tradeterm.engine.commands import PlaceOrder, StopsToBreakeven
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice
from tradeterm.engine.order_manager import OrderManager
from tradeterm.engine.types import OrderRole
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.oms import SimOrder
from tradeterm.sim.market_events import BookSide

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


def targets_at(gateway: FakeGateway) -> list[SimOrder]:
    return [o for o in working_at_gateway(gateway) if o.req.order_type == "LMT"]


async def leave_a_stop_without_its_target(
    settings: Settings, gateway: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> int:
    """A run buys 1 with exit strategy "be" and dies after the share's stop went and before
    its target did (the target's send never returns: the process is gone, nothing of the
    target journaled): the fill price (ticks)."""
    send = OrderManager._send

    async def dies_before_the_target(self: OrderManager, order: Any, *args: Any,
                                     role: OrderRole, **kw: Any) -> None:  # fmt: skip
        if role is OrderRole.TARGET:
            await asyncio.Event().wait()  # the kill -9
        await send(self, order, *args, role=role, **kw)

    with monkeypatch.context() as patch:
        patch.setattr(OrderManager, "_send", dies_before_the_target)
        async with open_runtime(settings, calendar=always_open()) as rt:
            await rt.engine.start()
            result = await rt.engine.submit(PlaceOrder(Side.BUY, 1, exits="be"))
            assert result.ok, result.reason
            await stops_working(gateway, 1)
            entry = rt.engine.orders.get(result.order_ids[0])  # type: ignore[union-attr]
            assert entry is not None and entry.avg_fill_price is not None
            fill = int(entry.avg_fill_price)
        await session_gone(gateway, 1)
    assert targets_at(gateway) == []  # the stop alone at IB
    return fill


async def test_a_target_a_crash_cut_off_from_its_stop_is_sent_at_the_restart_once(
    still: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next run sends the target, in the stop's OCA group, for the share's contracts at
    the strategy's price, once, and says so; a further reconciliation and a further restart
    send nothing more."""
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    fill = await leave_a_stop_without_its_target(settings, still, monkeypatch)
    ((stop_id, stop),) = stops_at(still).items()
    async with open_runtime(settings, calendar=always_open()) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        await until(lambda: len(targets_at(still)) == 1, "the target, sent by the restart")
        (target,) = targets_at(still)
        assert (target.lmt_ticks, target.req.total_qty) == (fill + 30, 1)
        assert target.req.oca_group == stop.req.oca_group and target.req.oca_type == 2
        await rt.engine.exits.idle()
        said = [e.text for e in stream.drain() if isinstance(e, EngineNotice)]
        assert [t for t in said if "target sent now" in t and stop_id in t], said
        rt.engine.exits.after_reconcile()  # a reconnect's reconciliation: nothing more
        await rt.engine.exits.idle()
        assert len(targets_at(still)) == 1
    await session_gone(still, 1)
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        await rt.engine.exits.idle()
        assert len(targets_at(still)) == 1 and list(stops_at(still)) == [stop_id]
    await session_gone(still, 1)


async def test_a_share_whose_target_filled_while_the_app_was_away_gets_no_new_target(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    await leave_two_stops(settings, still, "be")
    (target,) = targets_at(still)
    public_trade_into(Market(still), target.perm_id, 1, BookSide.BID)  # it fills: OCA ends the stop
    await until(lambda: working_at_gateway(still) == [], "the target filled, its stop gone")
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        await rt.engine.exits.idle()
        assert working_at_gateway(still) == []
        assert rt.engine.orders is not None and rt.engine.orders.working() == []
    await session_gone(still, 1)


async def test_a_missing_target_whose_price_is_not_journaled_is_said_not_guessed(
    still: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop sent before OCA groups named the target's distance (``ENTRY.xN``): which target
    of the strategy its share was dealt cannot be told, so nothing is sent and a WARNING
    names the stop and the missing target."""
    settings = settings_for(still.config.port, tmp_path, exits=EXITS)
    monkeypatch.setattr(exits, "_group", lambda entry, share, _ticks: f"{entry}.x{share}")
    await leave_a_stop_without_its_target(settings, still, monkeypatch)
    monkeypatch.undo()
    (stop_id,) = stops_at(still)
    async with open_runtime(settings, calendar=always_open()) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        await rt.engine.exits.idle()
        notices = [(e.level, e.text) for e in stream.drain() if isinstance(e, EngineNotice)]
        said = [n for n in notices if stop_id in n[1] and "target" in n[1]]
        assert [level for level, _ in said] == ["WARNING"], notices
        assert "NO target sent" in said[0][1]
        assert targets_at(still) == []
    await session_gone(still, 1)
