"""SHADOW mode (issue 15): live market data from the (fake) IB Gateway through the real
IbBroker, every order filled in-process by the paper broker. The gateway's wire probe sees
every placeOrder and cancelOrder that reaches it: in SHADOW there must be none, whatever the
engine does (place, modify, cancel, fill, the kill switch, a restart)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market, session_gone
from tests.integration.engine_helpers import always_open, gateway_position
from tests.integration.journal_helpers import query, settings_for
from tests.support.waiting import until
from tradeterm.config import Settings
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.commands import CancelOrder, ModifyOrder, PlaceBracket, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice
from tradeterm.paper.paper_broker import ENDED_BY_RESTART, PaperBroker
from tradeterm.runtime import Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.probe import WireProbe
from tradeterm.sim.market_events import BookDelta, BookSide

pytestmark = pytest.mark.integration


def shadow(gateway: FakeGateway, journal_dir: Path) -> Settings:
    return settings_for(gateway.config.port, journal_dir).model_copy(update={"mode": "shadow"})


@pytest.fixture
def probe(still: FakeGateway) -> WireProbe:
    """Every placeOrder and cancelOrder that reaches the gateway, from now on."""
    wire = WireProbe()
    wire.install(still.server)
    return wire


@asynccontextmanager
async def running(settings: Settings, gateway: FakeGateway) -> AsyncIterator[Runtime]:
    """A started SHADOW instance with the book in view; its session gone after the block."""
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        await until(lambda: _quoted(rt.engine), "a quote through IB")
        yield rt
    await session_gone(gateway, 1)


def _quoted(engine: Engine) -> bool:
    market = engine.market
    return market is not None and market.quote is not None and market.quote.bid is not None


def paper(rt: Runtime) -> PaperBroker:
    broker = rt.engine.broker
    assert isinstance(broker, PaperBroker)
    return broker


def position(rt: Runtime) -> int:
    pnl = rt.engine.snapshot().pnl
    return pnl.quantity if pnl is not None else 0


async def paper_position(rt: Runtime) -> int:
    return sum(p.quantity for p in await paper(rt).positions())


def status(rt: Runtime, order_id: str) -> OrderStatus:
    orders = rt.engine.orders
    assert orders is not None
    order = orders.get(order_id)
    assert order is not None
    return order.status


async def place(rt: Runtime, command: PlaceOrder) -> str:
    result = await rt.engine.submit(command)
    assert result.ok, result.reason
    (order_id,) = result.order_ids
    return order_id


def last_trade(rt: Runtime) -> int | None:
    market = rt.engine.market
    return market.last.price if market is not None and market.last is not None else None


def nothing_reached_ib(probe: WireProbe, gateway: FakeGateway) -> None:
    assert probe.orders == probe.what_ifs == probe.cancels == []
    assert not gateway.oms.orders  # the gateway's order desk never saw one either


async def test_shadow_places_modifies_cancels_and_fills_without_an_order_reaching_ib(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    market = Market(still)
    async with running(shadow(still, tmp_path), still) as rt:
        assert "SHADOW" in rt.describe() and "no order reaches IB" in rt.describe()
        resting = await place(
            rt, PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 4))
        )
        await until(lambda: status(rt, resting) is OrderStatus.SUBMITTED, "the limit working")
        moved = await rt.engine.submit(
            ModifyOrder(resting, quantity=2, limit=market.px(market.bid - 5))
        )
        assert moved.ok, moved.reason
        orders = rt.engine.orders
        assert orders is not None
        order = orders.get(resting)
        assert order is not None
        await until(lambda: order.limit == market.bid - 5 and order.quantity == 2, "modified")
        assert (await rt.engine.submit(CancelOrder(resting))).ok
        await until(lambda: status(rt, resting) is OrderStatus.CANCELLED, "cancelled")
        bought = await place(rt, PlaceOrder(Side.BUY, 1))
        await until(lambda: status(rt, bought) is OrderStatus.FILLED, "the market buy filled")
        assert position(rt) == 1 and await paper_position(rt) == 1
        nothing_reached_ib(probe, still)
        assert rt.engine.snapshot().account == "SHADOW"
    nothing_reached_ib(probe, still)
    assert gateway_position(still, market) == 0
    assert query(tmp_path, "SELECT count(*) FROM fills", mode="shadow") == [(1,)]
    assert [p.parent.name for p in tmp_path.glob("*/*.sqlite")] == ["shadow"]  # its own journal


async def test_shadow_sizes_by_the_real_accounts_net_liquidation_passed_through(
    still: FakeGateway, tmp_path: Path
) -> None:
    """The equity SHADOW knows is the shadowed IB account's net liquidation (the paper
    broker passes the account's figures through); paper fills do not change it."""
    async with running(shadow(still, tmp_path), still) as rt:
        start = still.config.starting_cash
        await until(lambda: rt.engine.snapshot().equity == start, "IB's net liquidation")
        bought = await place(rt, PlaceOrder(Side.BUY, 1))
        await until(lambda: status(rt, bought) is OrderStatus.FILLED, "the paper buy filled")
        snap = rt.engine.snapshot()
        assert snap.account == "SHADOW" and snap.equity == start
        assert snap.account_values is not None and snap.account_values.account != "SHADOW"


async def test_a_limit_behind_300_lots_does_not_fill_when_10_trade(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    market = Market(still)
    async with running(shadow(still, tmp_path), still) as rt:
        bid = market.bid
        market.feed.push(BookDelta(still.now_ns(), BookSide.BID, bid, 300), external=True)
        book = rt.engine.market
        assert book is not None
        await until(lambda: book.quote is not None and book.quote.bid_size == 300, "300 bid")
        resting = await place(rt, PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(bid)))
        await until(lambda: status(rt, resting) is OrderStatus.SUBMITTED, "the limit working")
        market.trade(bid, 10)
        await until(lambda: book.last is not None and book.last.size == 10, "the 10 lots seen")
        assert status(rt, resting) is OrderStatus.SUBMITTED and position(rt) == 0
        market.trade(bid, 291)  # the 290 left ahead of us, then 1 of ours
        await until(lambda: status(rt, resting) is OrderStatus.FILLED, "filled after the queue")
        assert position(rt) == 1
    nothing_reached_ib(probe, still)


async def test_the_kill_switch_in_shadow_cancels_and_flattens_on_paper_then_halts(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    market = Market(still)
    async with running(shadow(still, tmp_path), still) as rt:
        bought = await place(rt, PlaceOrder(Side.BUY, 2))
        await until(lambda: status(rt, bought) is OrderStatus.FILLED, "long 2")
        resting = await place(
            rt, PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(market.ask + 8))
        )
        await until(lambda: status(rt, resting) is OrderStatus.SUBMITTED, "the limit working")
        rt.engine.request_kill("test")
        await rt.engine.kill_switch.join()
        snap = rt.engine.snapshot()
        assert snap.trading_state == "HALTED"
        assert snap.kill is not None  # it says where it is flat: nothing of SHADOW is at IB
        assert snap.kill.detail == "flat at the paper broker, no working orders"
        assert status(rt, resting) is OrderStatus.CANCELLED
        assert position(rt) == 0 and await paper_position(rt) == 0
        assert await paper(rt).open_orders() == []
    nothing_reached_ib(probe, still)
    async with running(shadow(still, tmp_path), still) as rt:  # the HALTED latch holds
        assert rt.engine.snapshot().trading_state == "HALTED"
        assert not (await rt.engine.submit(PlaceOrder(Side.BUY, 1))).ok
    nothing_reached_ib(probe, still)


async def test_a_restart_keeps_the_paper_position_and_ends_paper_orders_openly(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    market = Market(still)
    settings = shadow(still, tmp_path)
    async with running(settings, still) as rt:
        bought = await place(rt, PlaceOrder(Side.BUY, 1))
        await until(lambda: status(rt, bought) is OrderStatus.FILLED, "long 1")
        resting = await place(
            rt, PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=market.px(market.bid - 6))
        )
        await until(lambda: status(rt, resting) is OrderStatus.SUBMITTED, "the limit working")
        first_ids = {o.broker_id for o in await paper(rt).open_orders()}
    async with running(settings, still) as rt:
        assert position(rt) == 1 and await paper_position(rt) == 1  # not taken for IB's flat
        await until(lambda: status(rt, resting) is OrderStatus.CANCELLED, "the old limit ended")
        orders = rt.engine.orders
        assert orders is not None
        ended = orders.get(resting)
        assert ended is not None and ended.reject_reason == ENDED_BY_RESTART
        sold = await place(rt, PlaceOrder(Side.SELL, 1))
        await until(lambda: status(rt, sold) is OrderStatus.FILLED, "flat again")
        sold_id = orders.get(sold)
        assert sold_id is not None and sold_id.broker_id is not None
        assert sold_id.broker_id > max(i for i in first_ids if i is not None)
        assert position(rt) == 0 and await paper_position(rt) == 0
        assert rt.engine.snapshot().trading_state == "ACTIVE"  # no fill conflict
    nothing_reached_ib(probe, still)
    exec_ids = query(tmp_path, "SELECT exec_id FROM fills", mode="shadow")
    assert len(exec_ids) == 2 and len(set(exec_ids)) == 2


async def test_a_bracket_in_shadow_enters_rests_its_exits_and_the_target_cancels_the_stop(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    """A native bracket on paper: the entry fills, the stop and the target rest, a trade
    through the target fills it and its OCA sibling (the stop) is cancelled; flat, and not
    one order message reached the gateway."""
    market = Market(still)
    async with running(shadow(still, tmp_path), still) as rt:
        result = await rt.engine.submit(PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=4))
        assert result.ok, result.reason
        entry, target, stop = result.order_ids
        await until(lambda: status(rt, entry) is OrderStatus.FILLED, "the entry filled")
        await until(
            lambda: status(rt, target) is status(rt, stop) is OrderStatus.SUBMITTED,
            "the exits resting",
        )
        assert position(rt) == 1 and await paper_position(rt) == 1
        orders = rt.engine.orders
        assert orders is not None
        limit = orders.get(target)
        assert limit is not None and limit.limit is not None
        market.trade(limit.limit + 1, 5)  # the price moves through the target
        await until(lambda: status(rt, target) is OrderStatus.FILLED, "the target filled")
        await until(lambda: status(rt, stop) is OrderStatus.CANCELLED, "the stop cancelled")
        assert position(rt) == 0 and await paper_position(rt) == 0
        assert await paper(rt).open_orders() == []
        nothing_reached_ib(probe, still)
    nothing_reached_ib(probe, still)
    assert gateway_position(still, market) == 0


async def test_an_exit_strategys_trailing_stop_trails_on_paper_and_triggers(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    """Issue 18: a TRAIL order on paper follows the market as IB's does (it was a fixed
    stop while the ladder showed ``1T``): trades up move it, reported to the engine, and a
    trade back through it sells; not one order message reached the gateway."""
    market = Market(still)
    settings = settings_for(
        still.config.port, tmp_path, exits={"trail": {"stop_ticks": 8, "trail_ticks": 4}}
    ).model_copy(update={"mode": "shadow"})
    async with running(settings, still) as rt:
        entry = await place(rt, PlaceOrder(Side.BUY, 1, exits="trail"))
        await until(lambda: status(rt, entry) is OrderStatus.FILLED, "the entry filled")
        orders = rt.engine.orders
        assert orders is not None
        bought = orders.get(entry)
        assert bought is not None and bought.avg_fill_price is not None
        fill = int(bought.avg_fill_price)
        await until(
            lambda: [o.status for o in orders.working()] == [OrderStatus.SUBMITTED],
            "the trailing stop working on paper",
        )
        (stop,) = orders.working()
        assert (stop.order_type, stop.trail, stop.stop) == (OrderType.TRAIL, 4, fill - 8)
        market.trade(fill + 3)  # the stop rises to the trade - 4
        await until(lambda: stop.stop == fill - 1, "the stop trailing up to fill - 1")
        market.trade(fill + 6)
        await until(lambda: stop.stop == fill + 2, "the stop trailing up to fill + 2")
        market.trade(fill + 4)  # down: a trailing stop never moves back
        market.trade(fill + 3)
        await until(lambda: last_trade(rt) == fill + 3, "the trades down seen")
        assert stop.stop == fill + 2 and stop.status is OrderStatus.SUBMITTED
        market.trade(fill + 2, 5)  # through it: it sells at market
        await until(lambda: stop.status is OrderStatus.FILLED, "the trailing stop filled")
        await until(lambda: position(rt) == 0, "flat")
        assert await paper_position(rt) == 0
        nothing_reached_ib(probe, still)
    nothing_reached_ib(probe, still)


async def test_a_restart_ends_a_paper_brackets_exits_and_says_the_position_is_unprotected(
    still: FakeGateway, probe: WireProbe, tmp_path: Path
) -> None:
    """The exits of a bracket an earlier run left working end with it (a paper order lives
    only with its process); the position carried in is then naked, and the screen is told."""
    settings = shadow(still, tmp_path)
    async with running(settings, still) as rt:
        result = await rt.engine.submit(PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=4))
        assert result.ok, result.reason
        entry, target, stop = result.order_ids
        await until(lambda: status(rt, entry) is OrderStatus.FILLED, "the entry filled")
        await until(lambda: status(rt, stop) is OrderStatus.SUBMITTED, "the stop resting")
    async with open_runtime(settings, calendar=always_open()) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        await until(lambda: _quoted(rt.engine), "a quote through IB")
        assert position(rt) == 1 and await paper_position(rt) == 1
        await until(
            lambda: status(rt, target) is status(rt, stop) is OrderStatus.CANCELLED,
            "the exits ended",
        )
        orders = rt.engine.orders
        assert orders is not None
        for exit_id in (target, stop):
            ended = orders.get(exit_id)
            assert ended is not None and ended.reject_reason == ENDED_BY_RESTART
        notices: list[str] = []

        def warned() -> bool:
            notices.extend(e.text for e in stream.drain() if isinstance(e, EngineNotice))
            return any("+1 carried in without a protective stop" in t for t in notices)

        await until(warned, "the unprotected position said")
        assert await paper(rt).open_orders() == []  # no stop invented
    await session_gone(still, 1)
    nothing_reached_ib(probe, still)
