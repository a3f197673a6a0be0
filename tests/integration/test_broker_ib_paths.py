"""IbBroker paths that ``test_broker_ib`` leaves out: the RTVolume trade fallback, position and
P&L events after fills, a native bracket's links and its cancel cascade, modify after a
gateway restart, order errors 10147/10148 and the depth reset 317.

Real ib_async 2.1.0 against the in-process fake gateway with a still market (no synthetic
events after the opening book), so every print and fill is one the test made. Every wait is on
a condition with a hang guard; nothing is timed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.integration.broker_helpers import Recorder
from tests.integration.desk_helpers import Market
from tests.integration.test_broker_ib import TODAY, reports, status
from tests.support.waiting import until
from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import (
    AccountPnL,
    AccountValues,
    CancelRefusal,
    CancelRejected,
    ConnectionChanged,
    ConnectionState,
    DepthEvent,
    Notice,
    OrderNotice,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.domain import Instrument, Order, OrderChange, OrderStatus, OrderType, Side
from tradeterm.domain.bracket import make_bracket
from tradeterm.domain.ids import ClientOrderIds
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

ACCOUNT = "DU0000001"
TICK_VALUE = Decimal("12.50")  # ES: 0.25 x 50
COMMISSION = Decimal("2.25")  # the fake gateway's default, per contract per side
TBT_REFUSED = 10190

Start = Callable[..., Awaitable[FakeGateway]]


@pytest.fixture
async def still(start_gateway: Start) -> FakeGateway:
    return await start_gateway(rate=0.0, today=TODAY)


async def subscribed(
    make: Callable[..., Awaitable[tuple[IbBroker, Recorder]]], gateway: FakeGateway
) -> tuple[IbBroker, Recorder, Instrument]:
    """A connected (OK) broker subscribed to the ES front month, its first two-sided quote received."""
    broker, rec = await make(gateway)
    es = await broker.resolve("ES")
    await broker.subscribe_market_data(es)
    await until(lambda: any(q.quote.bid and q.quote.ask for q in rec.of(QuoteEvent)), "a quote")
    return broker, rec, es


def notices(rec: Recorder, code: int, start: int = 0) -> list[Notice]:
    return [n for n in rec.of(Notice, start) if n.code == code]


# ---- market data ----------------------------------------------------------------------------


@pytest.mark.parametrize("refused", [True, False], ids=["tbt-refused", "tbt-served"])
async def test_each_print_is_one_trade_event_from_tick_by_tick_or_rtvolume(
    make: Any, still: FakeGateway, refused: bool
) -> None:
    """Refused tick-by-tick AllLast (10190): trades come from RTVolume (233) instead; served:
    from tick-by-tick only. Either way one print is exactly one TradeEvent."""
    if refused:
        still.faults.refuse_tick_by_tick()
    broker, rec, _es = await subscribed(make, still)
    if refused:
        await until(lambda: notices(rec, TBT_REFUSED), "the tick-by-tick refusal")
        [notice] = notices(rec, TBT_REFUSED)
        assert isinstance(notice, OrderNotice) and notice.broker_id > 0
    market = Market(still)
    prints = [(market.bid, 3), (market.ask, 2), (market.bid - 1, 1)]
    for ticks, size in prints:
        market.trade(ticks, size)
    await until(lambda: len(rec.of(TradeEvent)) >= len(prints), "one TradeEvent per print")
    # one more print: once its event is in, any duplicate of the earlier ones would be too
    closing = (market.ask + 4, 1)
    mark = rec.mark()
    market.trade(*closing)
    await until(lambda: len(rec.of(TradeEvent, mark)) >= 1, "the closing print")
    got = [(t.trade.price, t.trade.size) for t in rec.of(TradeEvent)]
    assert got == [*prints, closing]
    assert bool(notices(rec, TBT_REFUSED)) is refused
    assert broker.state is ConnectionState.OK


async def test_depth_reset_317_empties_the_book(make: Any, still: FakeGateway) -> None:
    """IB's 317 ("market depth data has been RESET"): the engine is told the book is empty.
    The fake gateway has no 317 fault; the test sends the error on the depth stream's
    session itself."""
    broker, rec, _es = await subscribed(make, still)
    await until(lambda: any(d.bids and d.asks for d in rec.of(DepthEvent)), "a full book")
    feed = Market(still).feed
    [depth] = [w for w in feed.watches.values() if w.kind == "depth"]
    mark = rec.mark()
    depth.session.send_error(depth.req_id, 317, "Market depth data has been RESET. Please "
                             "empty deep book contents before applying any new entries.")  # fmt: skip
    await until(lambda: notices(rec, 317, mark), "the 317 notice")
    await until(lambda: rec.of(DepthEvent, mark), "a depth event after 317")
    last = rec.of(DepthEvent, mark)[-1]
    assert last.bids == () and last.asks == ()
    assert broker.state is ConnectionState.OK and not rec.of(ConnectionChanged, mark)


# ---- positions and P&L ----------------------------------------------------------------------


async def fill(broker: IbBroker, rec: Recorder, market: Market, order: Order, through: int) -> int:
    """Rest a limit order, print through it at ``through`` ticks, wait until it is filled."""
    oid = await broker.place(order, f"ref-{order.client_id}")
    await until(lambda: status(rec, oid) is OrderStatus.SUBMITTED, f"{order.client_id} working")
    market.trade(through)
    await until(lambda: status(rec, oid) is OrderStatus.FILLED, f"{order.client_id} filled")
    return oid


async def test_position_and_account_pnl_after_fills_equal_a_hand_computation(
    make: Any, still: FakeGateway
) -> None:
    broker, rec, es = await subscribed(make, still)
    market = Market(still)
    b1 = market.bid - 4  # buy 2 at b1, then sell 1 at s1; the last print is at s1 + 1
    s1 = market.ask + 6
    await fill(broker, rec, market, Order("b", es, Side.BUY, 2, OrderType.LIMIT, limit=b1), b1 - 1)

    def position() -> PositionReport | None:
        found = [p for p in rec.of(PositionReport) if p.con_id == es.con_id]
        return found[-1] if found else None

    await until(lambda: (p := position()) is not None and p.quantity == 2, "position 2")
    pos = position()
    assert pos is not None
    assert pos.instrument == es and pos.account == ACCOUNT
    assert pos.avg_cost == b1 * Decimal("0.25") * 50

    await fill(broker, rec, market, Order("s", es, Side.SELL, 1, OrderType.LIMIT, limit=s1), s1 + 1)
    await until(lambda: (p := position()) is not None and p.quantity == 1, "position 1")
    pos = position()
    assert pos is not None and pos.avg_cost == b1 * Decimal("0.25") * 50

    # by hand: IB's realized P&L is net of every commission so far (3 contracts traded)
    realized = (s1 - b1) * TICK_VALUE - 3 * COMMISSION
    unrealized = (s1 + 1 - b1) * TICK_VALUE

    def pnl() -> AccountPnL | None:
        found = [p for p in rec.of(AccountPnL) if p.account == ACCOUNT]
        return found[-1] if found else None

    await until(lambda: (p := pnl()) is not None and p.realized == realized, "realized P&L")
    await until(lambda: (p := pnl()) is not None and p.unrealized == unrealized, "unrealized")
    last = pnl()
    assert last is not None
    assert (last.daily, last.unrealized, last.realized) == (
        realized + unrealized,
        unrealized,
        realized,
    )


async def test_account_values_come_at_connect_and_follow_a_fill(
    make: Any, still: FakeGateway
) -> None:
    """The account's figures from IB's account updates, which ib_async subscribes to in its
    startup sync, before the adapter knows the account (not configured here: the only one).
    At connect: the starting cash, no margin. After a buy of 2 marked one tick under its
    price: the cash less two commissions plus the open loss, and the position's margin."""
    broker, rec, es = await subscribed(make, still)

    def figures() -> AccountValues | None:
        found = [v for v in rec.of(AccountValues) if v.account == ACCOUNT]
        return found[-1] if found else None

    await until(lambda: figures() is not None, "the account's figures")
    first = figures()
    assert first is not None and first.currency == "USD"
    start = still.config.starting_cash
    assert first.net_liquidation == first.available_funds == start
    assert first.initial_margin == first.maintenance_margin == 0

    market = Market(still)
    b1 = market.bid - 4
    await fill(broker, rec, market, Order("b", es, Side.BUY, 2, OrderType.LIMIT, limit=b1), b1 - 1)
    after = start - 2 * COMMISSION - 2 * TICK_VALUE
    await until(lambda: (v := figures()) is not None and v.net_liquidation == after, "marked")
    last = figures()
    assert last is not None and last.initial_margin is not None and last.initial_margin > 0
    assert last.maintenance_margin is not None and last.maintenance_margin > 0
    assert last.available_funds == after - last.initial_margin


# ---- orders ---------------------------------------------------------------------------------


def latest(rec: Recorder, broker_id: int) -> OrderReport:
    return reports(rec, broker_id)[-1]


async def test_bracket_children_share_oca_group_and_parent_and_die_with_it(
    make: Any, still: FakeGateway
) -> None:
    broker, rec, es = await subscribed(make, still)
    market = Market(still)
    bracket = make_bracket(
        ClientOrderIds("test", 1), es, Side.BUY, 1,
        entry_limit=market.bid - 10, stop_loss=market.bid - 20, take_profit=market.bid + 10,
    )  # fmt: skip
    assert bracket.take_profit is not None
    entry, target, stop = bracket.orders
    pid = await broker.place(entry, "ref-entry", transmit=False)
    tid = await broker.place(target, "ref-tp", transmit=False, parent_broker_id=pid)
    sid = await broker.place(stop, "ref-sl", transmit=True, parent_broker_id=pid)
    ids = (pid, tid, sid)
    await until(
        lambda: all(status(rec, i) is OrderStatus.SUBMITTED for i in ids), "the bracket working"
    )

    parent, tp, sl = (latest(rec, i) for i in ids)
    assert parent.parent_id == 0 and tp.parent_id == pid and sl.parent_id == pid
    assert tp.oca_group and tp.oca_group == sl.oca_group == stop.oca_group
    assert (tp.order_type, tp.limit, sl.order_type, sl.stop) == (
        "LMT", target.limit, "STP", stop.stop,
    )  # fmt: skip
    # and that is what reached the gateway, not only what ib_async kept of our own orders
    sim = still.oms.orders
    assert sim[(1, tid)].req.parent_id == pid and sim[(1, sid)].req.parent_id == pid
    assert sim[(1, tid)].req.oca_group == sim[(1, sid)].req.oca_group == tp.oca_group

    mark = rec.mark()
    await broker.cancel(pid)
    await until(
        lambda: all(status(rec, i) is OrderStatus.CANCELLED for i in ids), "all three cancelled"
    )
    cancelled = {
        r.broker_id for r in rec.of(OrderReport, mark) if r.status is OrderStatus.CANCELLED
    }
    assert cancelled == set(ids)
    assert all(still.oms.orders[(1, i)].status == "Cancelled" for i in ids)


async def test_modify_after_a_gateway_restart_reaches_the_gateway(
    make: Any, still: FakeGateway
) -> None:
    broker, rec, es = await subscribed(make, still)
    market = Market(still)
    first, second = market.bid - 20, market.bid - 21
    order = Order("w", es, Side.BUY, 1, OrderType.LIMIT, limit=first)
    oid = await broker.place(order, "ref-w")
    await until(lambda: status(rec, oid) is OrderStatus.SUBMITTED, "working")
    order.bind(oid)

    mark = rec.mark()
    await still.restart(0.3)  # every socket closes; working orders are kept
    await until(lambda: ConnectionState.OK in rec.states(mark), "OK after the restart")
    assert ConnectionState.RECONNECTING in rec.states(mark)
    assert broker.reconnect_tasks_started == 1

    after = rec.mark()
    await broker.modify(order, OrderChange(limit=second), "ref-w")
    await until(
        lambda: any(r.broker_id == oid and r.limit == second for r in rec.of(OrderReport, after)),
        "the modified order reported",
    )  # fmt: skip
    assert latest(rec, oid).status is OrderStatus.SUBMITTED
    sim = still.oms.orders[(1, oid)]
    assert sim.lmt_ticks == second and sim.status == "Submitted"
    assert [o for o in still.oms.working() if o.client_id == 1] == [sim]


async def test_cancel_of_unknown_and_of_filled_orders_are_notices_only(
    make: Any, still: FakeGateway
) -> None:
    broker, rec, es = await subscribed(make, still)
    mid = await broker.place(Order("m", es, Side.BUY, 1, OrderType.MARKET), "ref-m")
    await until(lambda: status(rec, mid) is OrderStatus.FILLED, "MKT filled")
    unknown = mid + 1000

    mark = rec.mark()
    await broker.cancel(unknown)
    await until(lambda: notices(rec, 10147, mark), "10147")
    await broker.cancel(mid)
    await until(lambda: notices(rec, 10148, mark), "10148")

    [not_found] = notices(rec, 10147, mark)
    [done] = notices(rec, 10148, mark)
    assert isinstance(not_found, CancelRejected) and not_found.broker_id == unknown
    assert not_found.kind is CancelRefusal.NOT_FOUND
    assert isinstance(done, CancelRejected) and done.broker_id == mid
    assert done.kind is CancelRefusal.ALREADY_DONE
    assert broker.state is ConnectionState.OK and not rec.of(ConnectionChanged, mark)
    assert status(rec, mid) is OrderStatus.FILLED
    assert not [r for r in rec.of(OrderReport, mark) if r.broker_id == unknown]


async def test_rtvolume_fallback_is_set_up_again_after_a_reconnect(
    make: Any, still: FakeGateway
) -> None:
    still.faults.refuse_tick_by_tick()
    broker, rec, _es = await subscribed(make, still)
    await until(lambda: notices(rec, TBT_REFUSED), "the first refusal")
    mark = rec.mark()
    still.faults.drop()
    await until(lambda: ConnectionState.OK in rec.states(mark), "OK after the drop")
    await until(lambda: notices(rec, TBT_REFUSED, mark), "the refusal of the new request")
    market = Market(still)
    prints = [(market.bid, 4), (market.ask, 5)]
    after = rec.mark()
    for ticks, size in prints:
        market.trade(ticks, size)
    await until(lambda: len(rec.of(TradeEvent, after)) >= 2, "trades after the reconnect")
    assert [(t.trade.price, t.trade.size) for t in rec.of(TradeEvent, after)] == prints
    assert broker.reconnect_tasks_started == 1
