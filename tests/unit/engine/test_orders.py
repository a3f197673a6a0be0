"""OrderManager (and, where the dispatch matters, the Engine) against an in-memory broker:
prices on the tick, orderRef, brackets, modify/cancel handshakes, foreign orders, blocking,
adoption after a restart, reconciliation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest

from tests.support.clock import TUESDAY_10 as T0
from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tradeterm.broker.ib.codes import translate
from tradeterm.broker.port import (
    AccountPnL,
    BarEvent,
    BrokerEvent,
    CommissionEvent,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    OrderNotice,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.domain import (
    Bar,
    ClientOrderId,
    ClientOrderIds,
    DepthLevel,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    TimeInForce,
    Trade,
)
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.commands import (
    CancelAll,
    CancelOrder,
    Flatten,
    GlobalCancel,
    ModifyOrder,
    NotSent,
    PlaceBracket,
    PlaceOrder,
    Refused,
    Reverse,
)
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import (
    CommandDone,
    EngineEvent,
    EngineNotice,
    FillBooked,
    OrderUpdated,
    OtherMarketOrders,
    PositionDivergence,
    Reconciled,
)
from tradeterm.engine.order_manager import BeforeSend, OrderManager, PreTradeCheck
from tradeterm.engine.order_tracking import SentOrder
from tradeterm.engine.portfolio import Portfolio
from tradeterm.engine.reconcile import foreign_gone, settle_orders
from tradeterm.engine.stream import EventStream
from tradeterm.engine.types import OrderRole


def ib_message(code: int, text: str, ts_ns: int, broker_id: int) -> OrderNotice:
    """IB's message about one order, as the adapter hands it to the order manager."""
    event = translate(code, text, ts_ns, broker_id)
    assert isinstance(event, OrderNotice)
    return event


class Desk:
    """An OrderManager wired like the Engine wires it, with a portfolio and an event log."""

    def __init__(
        self, instance: str = "ES", session: int = 2, client_id: int = 1,
        checks: tuple[PreTradeCheck, ...] = (), before_send: BeforeSend | None = None,
    ) -> None:  # fmt: skip
        self.clock = Clock()
        self.broker = FakeBroker(ES, client_id=client_id)
        self.broker.set_state(ConnectionState.OK)
        self.portfolio = Portfolio(ES, clock=self.clock, calendar=CME)
        self.events: list[EngineEvent] = []
        self.ids = ClientOrderIds(instance, session)
        self.om = OrderManager(
            self.broker, ES, self.ids,
            position=lambda: self.portfolio.position,
            fills_of=self.portfolio.ledger.for_order,
            emit=self.events.append, clock=self.clock,
            checks=checks, before_send=before_send, blocked=None,
        )  # fmt: skip
        self._commands = 0

    def cmd(self) -> str:
        self._commands += 1
        return f"cmd-{self._commands}"

    async def place(self, side: Side, qty: int = 1, limit: Any = None, stop: Any = None) -> Order:
        order_type = {
            (False, False): OrderType.MARKET, (True, False): OrderType.LIMIT,
            (False, True): OrderType.STOP, (True, True): OrderType.STOP_LIMIT,
        }[(limit is not None, stop is not None)]  # fmt: skip
        (oid,) = await self.om.place(PlaceOrder(side, qty, order_type, limit, stop), self.cmd())
        order = self.om.get(oid)
        assert order is not None
        return order

    async def working(self, side: Side, qty: int = 1, limit: Any = "5000.00") -> Order:
        """A limit order the broker has acknowledged (SUBMITTED, with a permId)."""
        order = await self.place(side, qty, limit)
        assert order.broker_id is not None
        self.om.on_report(report(order, OrderStatus.SUBMITTED, perm_id=5000 + order.broker_id))
        assert order.status is OrderStatus.SUBMITTED and order.perm_id is not None
        return order

    def execute(self, ex: ExecutionReport) -> Fill | None:
        """What the engine does with an execution: book it once, then count it on its order."""
        fill = self.om.fill_of(ex)
        if fill is None or not self.portfolio.add_fill(fill):
            return None
        self.om.on_fill(fill)
        return fill

    def hold(self, quantity: int, price: int = PX_5000) -> None:
        """Give the portfolio a position (a fill of no order of ours); 0 leaves it flat."""
        if not quantity:
            return
        side = Side.BUY if quantity > 0 else Side.SELL
        n = len(self.portfolio.ledger)
        self.portfolio.add_fill(Fill(f"pos{n}", None, ES, side, abs(quantity), price, T0))


def report(order: Order, status: OrderStatus, **kw: Any) -> OrderReport:
    """What IB says about ``order`` (as sent by this client), with ``kw`` overriding fields."""
    fields: dict[str, Any] = dict(
        broker_id=order.broker_id or 0, perm_id=order.perm_id or 0, client_id=1,
        order_ref=order.client_id, instrument=ES, side=order.side, quantity=order.quantity,
        order_type=str(order.order_type), limit=order.limit, stop=order.stop,
        tif=str(order.tif), status=status, filled=order.filled, remaining=order.remaining,
        avg_fill_price=None, parent_id=0, oca_group=order.oca_group or "", ts_ns=T0,
    )  # fmt: skip
    fields.update(kw)
    return OrderReport(**fields)


def foreign_report(broker_id: int, perm_id: int, order_ref: str = "", **kw: Any) -> OrderReport:
    fields: dict[str, Any] = dict(
        broker_id=broker_id, perm_id=perm_id, client_id=2, order_ref=order_ref, instrument=ES,
        side=Side.BUY, quantity=1, order_type="LMT", limit=PX_5000 - 40, stop=None, tif="DAY",
        status=OrderStatus.SUBMITTED, filled=0, remaining=1, avg_fill_price=None, parent_id=0,
        oca_group="", ts_ns=T0,
    )  # fmt: skip
    fields.update(kw)
    return OrderReport(**fields)


def execution(order: Order, qty: int, price: int, exec_id: str, *, historical: bool = False,
              ts_ns: int = T0) -> ExecutionReport:  # fmt: skip
    return ExecutionReport(
        exec_id, order.broker_id or 0, order.perm_id or 0, 1, order.client_id, ES, order.side,
        qty, price, ts_ns, historical,
    )  # fmt: skip


@pytest.fixture
def desk() -> Desk:
    return Desk()


# ---- prices and ids --------------------------------------------------------------------------


@pytest.mark.parametrize("price", ["5000.13", Decimal("5000.13"), 5000.13])
async def test_limit_prices_round_to_the_tick_on_the_safe_side(desk: Desk, price: Any) -> None:
    buy = await desk.place(Side.BUY, 1, limit=price)
    sell = await desk.place(Side.SELL, 1, limit=price)
    assert buy.limit == PX_5000  # 5000.00: a buy never pays more than asked
    assert sell.limit == PX_5000 + 1  # 5000.25: a sell never receives less
    assert [p.limit for p in desk.broker.placed] == [PX_5000, PX_5000 + 1]


async def test_on_tick_prices_are_sent_unchanged(desk: Desk) -> None:
    await desk.place(Side.BUY, 1, limit="5000.25")
    await desk.place(Side.SELL, 1, stop="4999.75")
    assert [(p.limit, p.stop) for p in desk.broker.placed] == [
        (PX_5000 + 1, None), (None, PX_5000 - 1)
    ]  # fmt: skip


async def test_a_price_that_is_not_a_number_is_refused_before_sending(desk: Desk) -> None:
    with pytest.raises(Refused, match="not a price"):
        await desk.place(Side.BUY, 1, limit="abc")
    assert desk.broker.placed == []


BAD_PRICES = [
    0, "0", "0.00", Decimal(0), -5, "-5", Decimal("-0.25"), -0.25,  # not above zero
    "0.1",  # above zero, but a buy rounds it down to the tick at 0.00
    float("nan"), float("inf"), "nan", "inf", Decimal("NaN"), Decimal("-Infinity"),  # not finite
    "\u0665\u0660\u0660\u0660", "\uff15\uff10\uff10\uff10", "5_000", "5e3",  # not plain ASCII
]  # fmt: skip


def _bad_price_commands(price: Any, order_id: str) -> list[Any]:
    """Every command that carries a price, with ``price`` in each of its price fields."""
    return [
        PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=price),
        PlaceOrder(Side.BUY, 1, OrderType.STOP, stop=price),
        PlaceOrder(Side.BUY, 1, OrderType.STOP_LIMIT, limit=price, stop="5001"),
        PlaceOrder(Side.BUY, 1, OrderType.STOP_LIMIT, limit="5001", stop=price),
        PlaceBracket(Side.BUY, 1, stop_ticks=4, entry_limit=price),
        ModifyOrder(order_id, limit=price),
    ]


@pytest.mark.parametrize("price", BAD_PRICES, ids=repr)
async def test_a_price_not_above_zero_or_not_finite_is_refused_for_every_order_type(
    desk: Desk, price: Any
) -> None:
    resting = await desk.working(Side.BUY, 1, "4990")
    placed = len(desk.broker.placed)
    for cmd in _bad_price_commands(price, resting.client_id):
        with pytest.raises(Refused, match=r"not a price|must be above zero"):
            match cmd:
                case PlaceOrder():
                    await desk.om.place(cmd, desk.cmd())
                case PlaceBracket():
                    await desk.om.place_bracket(cmd, desk.cmd(), reference=PX_5000)
                case ModifyOrder():
                    await desk.om.modify(cmd)
    assert len(desk.broker.placed) == placed and desk.broker.modified == []
    assert resting.status is OrderStatus.SUBMITTED and resting.limit == 4990 * 4


async def test_a_bracket_leg_that_would_be_priced_at_or_below_zero_is_refused(
    desk: Desk,
) -> None:
    buy = PlaceBracket(Side.BUY, 1, stop_ticks=8, entry_limit="1.00")  # stop at -1.00
    with pytest.raises(Refused, match="the bracket's stop price must be above zero"):
        await desk.om.place_bracket(buy, desk.cmd(), reference=None)
    sell = PlaceBracket(Side.SELL, 1, stop_ticks=8, target_ticks=4)  # from 0.75: target -0.25
    with pytest.raises(Refused, match="the bracket's target must be above zero"):
        await desk.om.place_bracket(sell, desk.cmd(), reference=3)
    assert desk.broker.placed == []


async def test_order_ref_is_the_client_order_id_and_names_the_instance(desk: Desk) -> None:
    a = await desk.place(Side.BUY, 1, limit="4990")
    b = await desk.place(Side.BUY, 1, limit="4991")
    first, second = desk.broker.placed
    assert first.order_ref == a.client_id and second.order_ref == b.client_id
    parsed = ClientOrderId.parse(first.order_ref)
    assert parsed is not None and (parsed.instance, parsed.session) == ("ES", 2)
    assert a.client_id != b.client_id
    assert (a.broker_id, b.broker_id) == (first.broker_id, second.broker_id)
    assert second.broker_id > first.broker_id
    assert a.status is OrderStatus.PENDING_SUBMIT


async def test_a_plain_order_the_broker_refuses_is_rejected_and_refused(desk: Desk) -> None:
    desk.broker.fail("place", "not connected")
    with pytest.raises(Refused, match="not connected"):
        await desk.place(Side.BUY, 1, limit="4990")
    (order,) = desk.om._orders.values()
    assert order.status is OrderStatus.REJECTED


# ---- brackets --------------------------------------------------------------------------------


async def test_bracket_legs_in_order_transmit_last_children_point_at_parent(desk: Desk) -> None:
    cmd = PlaceBracket(Side.BUY, 2, stop_ticks=8, target_ticks=16, entry_limit="5000.10")
    ids = await desk.om.place_bracket(cmd, desk.cmd(), reference=None)
    entry, target, stop = desk.broker.placed
    assert tuple(p.order_ref for p in (entry, target, stop)) == ids
    assert (entry.order_type, entry.side, entry.limit) == (OrderType.LIMIT, Side.BUY, PX_5000)
    assert (target.order_type, target.side, target.limit) == (
        OrderType.LIMIT, Side.SELL, PX_5000 + 16,
    )  # fmt: skip
    assert (stop.order_type, stop.side, stop.stop) == (OrderType.STOP, Side.SELL, PX_5000 - 8)
    assert [p.transmit for p in (entry, target, stop)] == [False, False, True]
    assert entry.parent_broker_id is None
    assert target.parent_broker_id == stop.parent_broker_id == entry.broker_id
    assert target.parent_id == stop.parent_id == entry.order_ref
    assert target.oca_group == stop.oca_group is not None
    assert {p.quantity for p in desk.broker.placed} == {2}
    roles = [desk.om.view(desk.om.get(i)).role for i in ids]  # type: ignore[arg-type]
    assert roles == ["entry", "target", "stop"]


async def test_market_bracket_is_measured_from_the_reference(desk: Desk) -> None:
    cmd = PlaceBracket(Side.SELL, 1, stop_ticks=4)
    await desk.om.place_bracket(cmd, desk.cmd(), reference=PX_5000)
    entry, stop = desk.broker.placed
    assert entry.order_type is OrderType.MARKET
    assert (stop.side, stop.stop, stop.transmit) == (Side.BUY, PX_5000 + 4, True)
    with pytest.raises(Refused, match="no price"):
        await desk.om.place_bracket(cmd, desk.cmd(), reference=None)


@pytest.mark.parametrize("refused_leg", [1, 2])
async def test_a_refused_bracket_leg_cancels_the_legs_already_sent(
    desk: Desk, refused_leg: int
) -> None:
    desk.broker.fail("place", "leg refused", after=refused_leg)
    cmd = PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16, entry_limit="5000")
    with pytest.raises(Refused, match="leg refused"):
        await desk.om.place_bracket(cmd, desk.cmd(), reference=None)
    sent = desk.broker.placed
    assert len(sent) == refused_leg
    assert sorted(desk.broker.cancelled) == sorted(p.broker_id for p in sent)
    legs = sorted(desk.om._orders.values(), key=lambda o: o.client_id)
    entry, target, stop = legs
    statuses = [o.status for o in (entry, target, stop)]
    if refused_leg == 1:
        assert statuses == [
            OrderStatus.PENDING_CANCEL, OrderStatus.REJECTED, OrderStatus.CANCELLED
        ]  # fmt: skip
    else:
        assert statuses == [
            OrderStatus.PENDING_CANCEL, OrderStatus.PENDING_CANCEL, OrderStatus.REJECTED
        ]  # fmt: skip


async def test_a_refused_bracket_entry_sends_nothing_else(desk: Desk) -> None:
    desk.broker.fail("place", "no")
    cmd = PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16, entry_limit="5000")
    with pytest.raises(Refused):
        await desk.om.place_bracket(cmd, desk.cmd(), reference=None)
    assert desk.broker.placed == [] and desk.broker.cancelled == []
    assert desk.om.working() == []


# ---- modify ----------------------------------------------------------------------------------


async def test_modify_is_confirmed_only_by_a_report_with_the_new_values(desk: Desk) -> None:
    order = await desk.working(Side.BUY, 1, "5000.00")
    await desk.om.modify(ModifyOrder(order.client_id, quantity=2, limit="4999.60"))
    (sent,) = desk.broker.modified
    assert (sent.change.quantity, sent.change.limit) == (2, PX_5000 - 2)  # 4999.50, rounded down
    assert order.status is OrderStatus.PENDING_MODIFY
    assert (order.quantity, order.limit) == (1, PX_5000)
    desk.om.on_report(report(order, OrderStatus.SUBMITTED))  # a stale report: old values
    assert order.status is OrderStatus.PENDING_MODIFY and order.limit == PX_5000
    desk.om.on_report(report(order, OrderStatus.SUBMITTED, quantity=2, limit=PX_5000 - 2))
    assert order.status is OrderStatus.SUBMITTED and order.pending_change is None
    assert (order.quantity, order.limit) == (2, PX_5000 - 2)


@pytest.mark.parametrize("code", [321, 105])
async def test_modify_refused_by_a_notice_for_the_order_keeps_old_values(
    desk: Desk, code: int
) -> None:
    order = await desk.working(Side.SELL, 1, "5010.00")
    other = await desk.working(Side.BUY, 1, "4990.00")
    await desk.om.modify(ModifyOrder(order.client_id, limit="5011.00"))
    await desk.om.modify(ModifyOrder(other.client_id, limit="4989.00"))
    assert order.broker_id is not None
    desk.om.on_notice(ib_message(code, "Error validating request", T0, order.broker_id))
    assert order.status is OrderStatus.SUBMITTED and order.pending_change is None
    assert order.limit == 5010 * 4
    assert order.reject_reason is not None and str(code) in order.reject_reason
    assert other.status is OrderStatus.PENDING_MODIFY  # a notice for another id: untouched
    assert any(isinstance(e, EngineNotice) and e.code == code for e in desk.events)


async def test_modify_not_sent_keeps_the_order_as_it_was(desk: Desk) -> None:
    order = await desk.working(Side.BUY, 1, "5000.00")
    desk.broker.fail("modify", "socket closed")
    with pytest.raises(Refused, match="socket closed"):
        await desk.om.modify(ModifyOrder(order.client_id, limit="4999.00"))
    assert order.status is OrderStatus.SUBMITTED and order.limit == PX_5000


# ---- cancel ----------------------------------------------------------------------------------


async def test_a_fill_after_the_cancel_request_is_booked_and_completes_the_order(
    desk: Desk,
) -> None:
    order = await desk.working(Side.BUY, 2, "5000.00")
    await desk.om.cancel(order.client_id)
    assert desk.broker.cancelled == [order.broker_id]
    assert order.status is OrderStatus.PENDING_CANCEL and order in desk.om.working()
    assert desk.execute(execution(order, 1, PX_5000, "x1")) is not None
    assert order.status is OrderStatus.PENDING_CANCEL and order.filled == 1
    assert order in desk.om.working()  # still able to fill
    desk.om.on_report(report(order, OrderStatus.PENDING_CANCEL))
    assert desk.execute(execution(order, 1, PX_5000, "x2")) is not None
    assert desk.execute(execution(order, 1, PX_5000, "x2")) is None  # seen again: once
    assert order.status is OrderStatus.FILLED and order.filled == 2
    assert desk.portfolio.position.quantity == 2
    desk.om.on_report(report(order, OrderStatus.CANCELLED))  # the cancel lost the race
    assert order.status is OrderStatus.FILLED
    with pytest.raises(Refused, match="filled"):
        await desk.om.cancel(order.client_id)


async def test_cancel_not_sent_leaves_the_order_pending_cancel(desk: Desk) -> None:
    order = await desk.working(Side.BUY, 1)
    desk.broker.fail("cancel", "socket closed")
    await desk.om.cancel(order.client_id)
    assert order.status is OrderStatus.PENDING_CANCEL
    assert any(isinstance(e, EngineNotice) and "socket closed" in e.text for e in desk.events)
    assert desk.broker.cancelled == []
    await desk.om.resend_cancels()  # IB's orders read again: now it is asked, once
    await desk.om.resend_cancels()
    assert desk.broker.cancelled == [order.broker_id]


async def test_flatten_while_disconnected_cancels_nothing_and_sends_nothing(desk: Desk) -> None:
    """The cancels could not be sent, nor the close: a flatten that went half way would leave
    the position without its stop (the matrix's drop × flatten)."""
    desk.hold(1)
    stop = await desk.working(Side.SELL, 1, "4990")
    desk.broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    with pytest.raises(Refused, match=r"not connected to IB .*nothing cancelled"):
        await desk.om.close_position(desk.cmd(), reverse=False)
    assert stop.status is OrderStatus.SUBMITTED
    assert desk.broker.cancelled == [] and len(desk.broker.placed) == 1


async def test_a_flatten_cut_short_withdraws_its_cancels(desk: Desk) -> None:
    """The connection drops after the first cancel went out: the close cannot be sent, and
    the cancels are withdrawn, or those IB never got would be asked again once it is back and
    leave the position without its stop (the matrix's drop just before × flatten). A cancel
    IB did carry out still ends its order."""
    desk.hold(1)
    target = await desk.working(Side.SELL, 1, "5010")
    stop = await desk.working(Side.SELL, 1, "4990")
    desk.broker.fail("cancel", "not connected", after=1)
    desk.broker.fail("reserve_order_id", "not connected to IB: no order id")
    with pytest.raises(NotSent, match="not connected"):  # the engine finishes it (kill switch)
        await desk.om.close_position(desk.cmd(), reverse=False)
    assert desk.broker.cancelled == [target.broker_id]
    assert target.status is OrderStatus.SUBMITTED and stop.status is OrderStatus.SUBMITTED
    desk.om.on_reconnect()
    await desk.om.resend_cancels()  # IB is back: nothing is asked again
    assert desk.broker.cancelled == [target.broker_id]
    desk.om.on_report(report(target, OrderStatus.CANCELLED))  # that cancel had reached IB
    assert desk.om.working() == [stop]


async def test_ibs_order_canceled_ends_an_order_ib_async_no_longer_knows(desk: Desk) -> None:
    """A cancel sent on a new connection for an order placed on the old one: ib_async has
    forgotten the order and drops IB's Cancelled status; IB's 202 for its id still ends it."""
    order = await desk.working(Side.BUY, 1, "4990")
    await desk.om.cancel(order.client_id)
    assert order.broker_id is not None
    desk.om.on_notice(ib_message(202, "Order Canceled - reason:", T0, order.broker_id))
    assert order.status is OrderStatus.CANCELLED and desk.om.working() == []


async def test_requests_ib_drops_unread_leave_the_order_as_it_was(desk: Desk) -> None:
    """Error 100 (pacing): IB never read the request. A dropped cancel is asked again, a
    dropped modification is refused, a dropped new order was never taken."""
    pacing = "Max rate of messages per second has been exceeded"
    cancelled = await desk.working(Side.BUY, 1, "4990")
    await desk.om.cancel(cancelled.client_id)
    assert cancelled.broker_id is not None
    desk.om.on_notice(ib_message(100, pacing, T0, cancelled.broker_id))
    assert cancelled.status is OrderStatus.PENDING_CANCEL  # we still want it cancelled
    assert desk.om.lookups == {cancelled.client_id}
    await desk.om.resend_cancels()
    assert desk.broker.cancelled == [cancelled.broker_id] * 2

    moved = await desk.working(Side.BUY, 1, "4980")
    await desk.om.modify(ModifyOrder(moved.client_id, limit="4981"))
    assert moved.broker_id is not None
    desk.om.on_notice(ib_message(100, pacing, T0, moved.broker_id))
    assert moved.status is OrderStatus.SUBMITTED and moved.limit == 4980 * 4
    assert moved.pending_change is None and "dropped" in (moved.reject_reason or "")

    new = await desk.place(Side.BUY, 1, limit="4970")
    assert new.broker_id is not None
    desk.om.on_notice(ib_message(100, pacing, T0, new.broker_id))
    assert new.status is OrderStatus.REJECTED and new not in desk.om.working()


async def test_cancel_of_an_unknown_order_is_refused(desk: Desk) -> None:
    with pytest.raises(Refused, match="no order"):
        await desk.om.cancel("tt.ES.2.99")


async def test_cancel_all_touches_only_own_orders_children_before_parents(desk: Desk) -> None:
    ids = await desk.om.place_bracket(
        PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16, entry_limit="5000"),
        desk.cmd(), reference=None,
    )  # fmt: skip
    plain = await desk.working(Side.SELL, 1, "5020")  # after: a bracket refuses it as a risk
    entry, target, stop = (desk.om.get(i) for i in ids)
    assert entry and target and stop
    for order in (entry, target, stop):
        desk.om.on_report(report(order, OrderStatus.SUBMITTED))
    # two orders that are not this instance's: another instance's, and a manual one
    other_instance = foreign_report(7, 9007, "tt.NQ.1.1")
    manual = foreign_report(0, 9008, "", side=Side.SELL, limit=PX_5000 + 40)
    desk.om.on_report(other_instance)
    desk.om.on_report(manual)
    assert set(desk.om.foreign) == {"ib:9007", "ib:9008"}
    assert all(not v.own and v.role == "foreign" for v in desk.om.foreign.values())
    assert len(desk.om.working()) == 4

    done = await desk.om.cancel_all()
    assert set(done) == {plain.client_id, *ids}
    cancelled = desk.broker.cancelled
    assert plain.broker_id and entry.broker_id and target.broker_id and stop.broker_id
    sent = [plain.broker_id, entry.broker_id, target.broker_id, stop.broker_id]
    assert sorted(cancelled) == sorted(sent)
    assert cancelled.index(entry.broker_id) > cancelled.index(target.broker_id)
    assert cancelled.index(entry.broker_id) > cancelled.index(stop.broker_id)
    assert 7 not in cancelled
    assert desk.broker.global_cancels == 0


async def test_cancel_all_at_one_price(desk: Desk) -> None:
    a = await desk.working(Side.BUY, 1, "4990")
    await desk.working(Side.BUY, 1, "4991")
    assert await desk.om.cancel_all(at_price=4990 * 4) == (a.client_id,)
    assert desk.broker.cancelled == [a.broker_id]


async def test_foreign_order_with_an_id_like_ours_is_not_taken_for_ours(desk: Desk) -> None:
    """IB order ids are per API client: another client's order 100 is not our order 100."""
    ours = await desk.working(Side.BUY, 1, "5000")
    assert ours.broker_id is not None
    other = foreign_report(ours.broker_id, 9100, "", client_id=2, quantity=3)
    desk.om.on_report(other)
    assert "ib:9100" in desk.om.foreign
    assert ours.perm_id == 5000 + ours.broker_id and ours.status is OrderStatus.SUBMITTED
    assert ours.quantity == 1
    ex = ExecutionReport("f1", ours.broker_id, 9100, 2, "", ES, Side.BUY, 1, PX_5000, T0, False)
    fill = desk.execute(ex)
    assert fill is not None and fill.order_id is None  # booked, but not on our order
    assert ours.filled == 0


async def test_a_foreign_order_that_ends_is_dropped(desk: Desk) -> None:
    desk.om.on_report(foreign_report(3, 9003))
    assert "ib:9003" in desk.om.foreign
    desk.om.on_report(foreign_report(3, 9003, status=OrderStatus.CANCELLED))
    assert desk.om.foreign == {}
    desk.om.on_report(foreign_report(4, 9004))
    desk.om.drop_foreign(foreign_gone(desk.om.foreign, []))  # IB no longer lists it
    assert desk.om.foreign == {}
    last = desk.events[-1]
    assert isinstance(last, OrderUpdated) and last.order.status is OrderStatus.CANCELLED


def gc_report(broker_id: int, perm_id: int, **kw: Any) -> OrderReport:
    """Another market's order (GC, e.g. a GC instance's stop) as IB lists it to this client:
    its contract is not ours, so no instrument and no prices in our ticks."""
    fields: dict[str, Any] = dict(
        instrument=None, side=Side.SELL, order_type="STP", limit=None, stop=None,
        con_id=990011, symbol="GCZ6", client_id=180,
    )  # fmt: skip
    fields.update(kw)
    return foreign_report(broker_id, perm_id, **fields)


async def test_another_markets_order_is_never_this_markets(desk: Desk) -> None:
    """A GC stop working for the GC instance on the same account is not an ES order: not in
    the views, not a protection of the ES position, not a working order for the risk
    checks; it is only counted by its contract, so nothing at IB is hidden."""
    desk.hold(1)  # long 1 ES, no stop of ours
    desk.om.on_report(gc_report(3, 9003))
    desk.om.on_report(gc_report(4, 9004, side=Side.BUY, order_type="LMT"))
    assert desk.om.foreign == {}  # not listed as this market's (read-only or not)
    assert desk.om.working() == [] and desk.om.views() == ()
    assert desk.om.protected() == 0  # the GC stop never makes the ES position look protected
    assert not desk.om.is_entry(Side.SELL, 1)  # selling 1 only closes: no GC order counted
    assert desk.om.other_markets() == (("GCZ6", 2),)
    assert not [e for e in desk.events if isinstance(e, OrderUpdated)]
    said = [e.markets for e in desk.events if isinstance(e, OtherMarketOrders)]
    assert said == [(("GCZ6", 1),), (("GCZ6", 2),)]
    desk.om.on_report(gc_report(4, 9004, status=OrderStatus.FILLED))  # ends: no longer counted
    desk.om.drop_foreign(foreign_gone(desk.om.shown_foreign(), []))  # IB lists none of them
    assert desk.om.other_markets() == ()
    assert desk.events[-1] == OtherMarketOrders(())


async def test_another_clients_stop_in_this_contract_shows_with_its_price(desk: Desk) -> None:
    desk.hold(1)
    desk.om.on_report(foreign_report(5, 9005, side=Side.SELL, order_type="STP", limit=None,
                                     stop=PX_5000 - 8, con_id=ES.con_id or 0, symbol="ESZ6"))  # fmt: skip
    (view,) = desk.om.foreign.values()
    assert (view.own, view.side, view.order_type, view.price) == (False, Side.SELL, "STP",
                                                                  PX_5000 - 8)  # fmt: skip
    assert desk.om.protected() == 0  # read-only and not ours: it protects nothing of ours
    assert desk.om.other_markets() == ()


# ---- blocked entries -------------------------------------------------------------------------


async def test_entries_refused_while_blocked_but_reducing_orders_and_cancels_allowed(
    desk: Desk,
) -> None:
    resting = await desk.working(Side.BUY, 1, "4990")
    desk.hold(2)
    desk.om.blocked = "reconciling (reconnect)"
    with pytest.raises(Refused, match="blocked: reconciling"):
        await desk.place(Side.BUY, 1, limit="4995")
    with pytest.raises(Refused, match="blocked"):
        await desk.place(Side.SELL, 3, limit="5010")  # would flip to short
    with pytest.raises(Refused, match="blocked"):
        await desk.om.place_bracket(
            PlaceBracket(Side.BUY, 1, stop_ticks=4), desk.cmd(), reference=PX_5000
        )
    n = len(desk.broker.placed)
    reduce = await desk.place(Side.SELL, 2, limit="5010")  # only shrinks the long
    assert desk.broker.placed[-1].order_ref == reduce.client_id
    with pytest.raises(Refused, match="blocked"):
        await desk.place(Side.SELL, 1, limit="5011")  # with the 2 working it would flip
    assert await desk.om.cancel(resting.client_id) == (resting.client_id,)
    assert desk.broker.cancelled == [resting.broker_id]
    assert len(desk.broker.placed) == n + 1


async def test_flatten_is_allowed_while_blocked_and_reverse_is_not(desk: Desk) -> None:
    desk.hold(-2)
    desk.om.blocked = "disconnected"
    with pytest.raises(Refused, match="blocked"):
        await desk.om.close_position(desk.cmd(), reverse=True)
    assert desk.broker.placed == []
    await desk.om.close_position(desk.cmd(), reverse=False)
    (sent,) = desk.broker.placed
    assert (sent.side, sent.quantity, sent.order_type) == (Side.BUY, 2, OrderType.MARKET)


async def test_reverse_doubles_the_position_the_other_way(desk: Desk) -> None:
    desk.hold(1)
    resting = await desk.working(Side.BUY, 1, "4990")
    ids = await desk.om.close_position(desk.cmd(), reverse=True)
    assert ids[0] == resting.client_id
    assert desk.broker.cancelled == [resting.broker_id]
    sent = desk.broker.placed[-1]
    assert (sent.side, sent.quantity, sent.order_type) == (Side.SELL, 2, OrderType.MARKET)
    assert desk.om.view(desk.om.get(ids[-1])).role == "reverse"  # type: ignore[arg-type]


async def test_reverse_with_no_position_is_refused(desk: Desk) -> None:
    with pytest.raises(Refused, match="no position to reverse"):
        await desk.om.close_position(desk.cmd(), reverse=True)
    assert desk.broker.placed == []
    assert await desk.om.close_position(desk.cmd(), reverse=False) == ()  # flatten: nothing


async def test_reverse_while_flat_is_refused_before_anything_is_cancelled(desk: Desk) -> None:
    resting = await desk.working(Side.BUY, 1, "4990")
    with pytest.raises(Refused, match="no position to reverse"):
        await desk.om.close_position(desk.cmd(), reverse=True)
    assert desk.broker.cancelled == [] and len(desk.broker.placed) == 1
    assert resting.status is OrderStatus.SUBMITTED
    assert desk.om.working() == [resting]


async def test_a_reverse_the_checks_refuse_cancels_nothing() -> None:
    desk = Desk(checks=(lambda i: "maximum position is 3" if i.quantity > 3 else None,))
    desk.hold(2)
    resting = await desk.working(Side.SELL, 1, "5010")
    with pytest.raises(Refused, match="maximum position is 3"):
        await desk.om.close_position(desk.cmd(), reverse=True)  # would sell 4
    assert desk.broker.cancelled == [] and len(desk.broker.placed) == 1
    assert resting.status is OrderStatus.SUBMITTED


@pytest.mark.parametrize(
    ("held", "working", "cmd"),
    [
        (1, None, PlaceBracket(Side.SELL, 1, stop_ticks=8, target_ticks=16)),  # closes
        (1, None, PlaceBracket(Side.SELL, 3, stop_ticks=8)),  # flips to short 2
        (2, None, PlaceBracket(Side.SELL, 1, stop_ticks=8, entry_limit="5001")),  # reduces
        (-1, None, PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16)),
        (3, (Side.SELL, 2), PlaceBracket(Side.SELL, 1, stop_ticks=8)),
        (0, (Side.BUY, 1), PlaceBracket(Side.SELL, 1, stop_ticks=8)),  # a buy may fill first
        (-1, (Side.SELL, 3), PlaceBracket(Side.BUY, 1, stop_ticks=8)),
    ],
)
async def test_a_bracket_whose_entry_would_reduce_the_position_is_refused_sending_nothing(
    desk: Desk, held: int, working: tuple[Side, int] | None, cmd: PlaceBracket
) -> None:
    desk.hold(held)
    if working is not None:
        await desk.working(working[0], working[1], "5010")
    placed = list(desk.broker.placed)
    with pytest.raises(Refused, match=r"a bracket is an entry: .* (would|could) reduce the"):
        await desk.om.place_bracket(cmd, desk.cmd(), reference=PX_5000)
    assert desk.broker.placed == placed and desk.broker.cancelled == []
    assert len(desk.om.working()) == len(placed)


@pytest.mark.parametrize(
    ("held", "working"),
    [
        (0, None),
        (2, None),
        (0, (Side.BUY, 2)),  # more on the same side
        (1, (Side.SELL, 1)),  # a sell closing the long: the entry then opens from flat
    ],
)
async def test_a_bracket_that_opens_or_adds_to_the_position_is_sent(
    desk: Desk, held: int, working: tuple[Side, int] | None
) -> None:
    desk.hold(held)
    if working is not None:
        await desk.working(working[0], working[1], "4990")
    before = len(desk.broker.placed)
    ids = await desk.om.place_bracket(
        PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16), desk.cmd(), reference=PX_5000
    )
    assert [p.order_ref for p in desk.broker.placed[before:]] == list(ids) and len(ids) == 3


async def test_a_bracket_adds_to_a_position_whose_earlier_bracket_exits_are_working(
    desk: Desk,
) -> None:
    """The exits of a bracket only close its position: they do not count against a new one."""
    cmd = PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16)
    (entry, *_) = await desk.om.place_bracket(cmd, desk.cmd(), reference=PX_5000)
    order = desk.om.get(entry)
    assert order is not None and order.broker_id is not None
    desk.om.on_report(report(order, OrderStatus.SUBMITTED, perm_id=9000))
    desk.execute(execution(order, 1, PX_5000, "e1"))
    assert desk.portfolio.position.quantity == 1 and len(desk.om.working()) == 2
    assert len(await desk.om.place_bracket(cmd, desk.cmd(), reference=PX_5000)) == 3


async def test_flatten_the_broker_refuses_is_refused(desk: Desk) -> None:
    desk.hold(1)
    desk.broker.fail("place", "not connected")
    with pytest.raises(Refused, match="not connected"):
        await desk.om.close_position(desk.cmd(), reverse=False)


# ---- adoption after a restart ----------------------------------------------------------------


async def test_own_orders_of_an_earlier_session_are_adopted_and_relinked(desk: Desk) -> None:
    old = ClientOrderIds("ES", 1)  # the instance before the restart
    entry_ref, stop_ref = old.next(), old.next()
    # one contract of the entry filled before the restart; the ledger (journal) has it
    desk.portfolio.add_fill(Fill("old1", entry_ref, ES, Side.BUY, 1, PX_5000, T0, perm_id=501))
    parent = foreign_report(
        11, 501, entry_ref, client_id=1, quantity=2, limit=PX_5000, filled=1, remaining=1,
    )  # fmt: skip
    child = foreign_report(
        12, 502, stop_ref, client_id=1, side=Side.SELL, quantity=2, order_type="STP",
        limit=None, stop=PX_5000 - 8, tif="GTC", parent_id=11, oca_group="grp",
    )  # fmt: skip
    desk.om.on_report(parent)
    desk.om.on_report(child)
    entry, stop = desk.om.get(entry_ref), desk.om.get(stop_ref)
    assert entry is not None and stop is not None
    assert desk.om.foreign == {}
    assert (entry.broker_id, entry.perm_id, entry.status) == (11, 501, OrderStatus.SUBMITTED)
    assert entry.filled == 1 and entry.remaining == 1  # the fill replayed onto it
    assert stop.parent_id == entry_ref and stop.oca_group == "grp"
    assert (stop.order_type, stop.stop, stop.filled) == (OrderType.STOP, PX_5000 - 8, 0)
    assert desk.om.view(stop).role == "stop"
    # it is ours again: a later fill counts on it, cancel-all cancels it, child first
    desk.execute(execution(entry, 1, PX_5000, "new1"))
    assert entry.status is OrderStatus.FILLED
    await desk.om.cancel_all()
    assert desk.broker.cancelled == [12]
    desk.om.on_report(child)  # the same report again: nothing new
    assert len(desk.om._orders) == 2


async def test_a_child_listed_before_its_parent_is_still_linked(desk: Desk) -> None:
    old = ClientOrderIds("ES", 1)
    entry_ref, stop_ref = old.next(), old.next()
    parent = foreign_report(11, 501, entry_ref, client_id=1, limit=PX_5000)
    child = foreign_report(
        12, 502, stop_ref, client_id=1, side=Side.SELL, order_type="STP", limit=None,
        stop=PX_5000 - 8, tif="GTC", parent_id=11, oca_group="grp",
    )  # fmt: skip
    desk.om.on_report(child)
    desk.om.on_report(parent)
    stop = desk.om.get(stop_ref)
    assert stop is not None and stop.parent_id == entry_ref
    await desk.om.cancel_all()
    assert desk.broker.cancelled == [12, 11]  # so the child before its parent


async def test_another_instances_order_is_not_adopted(desk: Desk) -> None:
    desk.om.on_report(foreign_report(11, 501, ClientOrderIds("NQ", 1).next(), client_id=1))
    assert desk.om.working() == [] and "ib:501" in desk.om.foreign


async def test_an_order_of_this_instance_placed_by_another_client_id_is_anothers(
    desk: Desk,
) -> None:
    """IB lets only the API client that placed an order cancel it (10147 for any other): the
    market's console (another client id) placed this one with the market's own orderRef. It
    is another client's, read-only with its price and its client, never cancelled from here;
    the same order placed by this client id is adopted (the test above)."""
    ref = ClientOrderIds("ES", 1).next()
    desk.om.on_report(foreign_report(11, 501, ref, client_id=125, limit=PX_5000 - 40))
    assert desk.om.working() == [] and desk.om.get(ref) is None
    shown = desk.om.foreign["ib:501"]
    assert (shown.own, shown.placed_by, shown.limit) == (False, 125, PX_5000 - 40)
    await desk.om.cancel_all()
    assert desk.broker.cancelled == []


def journaled(seq: int, client_id: int | None) -> SentOrder:
    """A working limit an earlier run sent under API client ``client_id`` (None: unknown) as
    IB's order ``seq``."""
    return SentOrder(
        f"tt.ES.1.{seq}", Side.BUY, 1, OrderType.LIMIT, PX_5000 - 40, None, TimeInForce.DAY,
        OrderRole.PLAIN, f"cmd-1.{seq}", seq, 9000 + seq, client_id, T0,
    )  # fmt: skip


async def test_a_journaled_order_of_another_client_id_is_not_restored_as_own(desk: Desk) -> None:
    """The market's journal is shared by its screen and its console: an order the console
    sent (client 125) is not this client's to cancel or to wait for; this client's own, and
    one whose client is not known (an older journal), are tracked again."""
    assert desk.om.restore(journaled(1, 125)) is None
    own = desk.om.restore(journaled(2, 1))
    unknown = desk.om.restore(journaled(3, None))
    assert desk.om.working() == [own, unknown]
    desk.om.on_report(foreign_report(1, 9001, "tt.ES.1.1", client_id=125))  # IB lists it
    assert desk.om.foreign["ib:9001"].placed_by == 125 and desk.om.get("tt.ES.1.1") is None


# ---- reconciliation --------------------------------------------------------------------------


async def test_an_order_ib_does_not_list_is_closed_only_on_ibs_word(desk: Desk) -> None:
    """Issue 12: an unconfirmed order is never closed because an open-order list lacks it."""
    kept = await desk.working(Side.BUY, 1, "4990")
    done_at_ib = await desk.working(Side.BUY, 1, "4991")
    filled = await desk.working(Side.BUY, 1, "4992")
    in_flight = await desk.working(Side.BUY, 1, "4993")
    never = await desk.working(Side.BUY, 1, "4994")
    assert never.broker_id is not None
    desk.broker.never_got.add(never.broker_id)
    assert filled.limit is not None and desk.execute(execution(filled, 1, filled.limit, "x1"))
    closed, unknown = settle_orders(
        desk.om,
        [report(kept, OrderStatus.SUBMITTED)],
        [report(done_at_ib, OrderStatus.CANCELLED)],
    )
    assert kept.status is OrderStatus.SUBMITTED
    assert done_at_ib.status is OrderStatus.CANCELLED  # IB's completed orders say so
    assert filled.status is OrderStatus.FILLED
    assert never.status is OrderStatus.CANCELLED and "never reached IB" in (
        never.reject_reason or ""
    )
    assert set(closed) == {never}  # done_at_ib and filled closed on their own reports
    # nothing says what became of it: it stays open, counts as working, and says why
    assert unknown == [in_flight] and in_flight.status is OrderStatus.SUBMITTED
    assert in_flight in desk.om.working() and desk.om.missing
    assert [o for o, _ in desk.om.unconfirmed()] == [in_flight]
    assert "not listed at IB" in desk.om.unconfirmed()[0][1]
    # IB lists it after all: it is no longer missing
    desk.om.on_report(report(in_flight, OrderStatus.SUBMITTED))
    assert not desk.om.missing and desk.om.unconfirmed() == []


@pytest.mark.parametrize("code", [10147, 10148, 161])
async def test_a_refused_cancel_asks_about_that_order_only(desk: Desk, code: int) -> None:
    order = await desk.working(Side.BUY, 1, "4990")
    assert order.broker_id is not None
    desk.om.on_notice(ib_message(code, "OrderId not found", T0, order.broker_id + 1000))
    assert desk.om.lookups == set()  # not one of ours
    desk.om.on_notice(ib_message(code, "cannot be cancelled", T0, order.broker_id))
    assert desk.om.lookups == {order.client_id}
    assert order.status is OrderStatus.SUBMITTED  # information, not a state


async def test_a_cancel_is_sent_once_per_connection(desk: Desk) -> None:
    order = await desk.working(Side.BUY, 1, "4990")
    await desk.om.cancel_all()
    await desk.om.cancel_all()  # the kill switch retrying: IB has the first one
    assert desk.broker.cancelled == [order.broker_id]
    desk.om.on_reconnect()  # a new connection: the first may have been lost with the old one
    await desk.om.cancel_all()
    assert desk.broker.cancelled == [order.broker_id, order.broker_id]


async def test_the_broker_id_is_taken_before_the_intent_is_journaled() -> None:
    seen: list[int | None] = []

    async def journal(order: Order, command_id: str, role: str) -> None:
        seen.append(order.broker_id)

    desk = Desk(before_send=journal)
    order = await desk.place(Side.BUY, 1, limit="4990")
    assert seen == [order.broker_id] and order.broker_id is not None
    assert desk.broker.placed[-1].broker_id == order.broker_id


async def test_the_journal_sees_whose_each_order_is_before_it_is_sent() -> None:
    """The intent committed before an order leaves says whose it is (its command's
    ``source``), every bracket leg included: nothing written later need say it."""
    seen: list[tuple[str, str, int]] = []

    async def journal(order: Order, command_id: str, role: str) -> None:
        seen.append((command_id, order.source, len(sender.broker.placed)))

    sender = Desk(before_send=journal)
    await sender.om.place(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990"), "cmd-1")
    await sender.om.place(PlaceOrder(Side.BUY, 1, source="sma_cross"), "cmd-2")
    bracket = PlaceBracket(Side.BUY, 1, 8, 16, entry_limit="4990", source="orb")
    await sender.om.place_bracket(bracket, "cmd-3", None)
    assert seen == [
        ("cmd-1", "manual", 0), ("cmd-2", "sma_cross", 1),
        ("cmd-3", "orb", 2), ("cmd-3", "orb", 3), ("cmd-3", "orb", 4),
    ]  # fmt: skip


# ---- the engine ------------------------------------------------------------------------------


class Run:
    def __init__(self, engine: Engine, broker: FakeBroker, clock: Clock) -> None:
        self.engine, self.broker, self.clock = engine, broker, clock
        self.stream: EventStream = engine.listen()
        self.events: list[EngineEvent] = []

    def of(self, kind: type[Any]) -> list[Any]:
        self.events.extend(self.stream.drain())
        return [e for e in self.events if isinstance(e, kind)]

    def om(self) -> OrderManager:
        assert self.engine.orders is not None
        return self.engine.orders


async def settle() -> None:
    """Let the engine's pump apply what the broker pushed."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
async def run() -> AsyncIterator[Run]:
    clock = Clock()
    broker = FakeBroker(ES)
    # timer_s: the test drives Engine.tick() itself
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    r = Run(engine, broker, clock)
    await engine.start()
    # a market to check prices against (the risk manager refuses priced orders without one)
    broker.push(QuoteEvent(Quote(T0, PX_5000 - 1, 10, PX_5000, 10)))
    await settle()
    try:
        yield r
    finally:
        await engine.stop()


async def test_engine_starts_reconciled_and_trading(run: Run) -> None:
    (rec,) = run.of(Reconciled)
    assert rec.reason == "start" and rec.entries_allowed
    assert run.engine.snapshot().entries_blocked is None
    assert run.broker.subscribed == [ES]


async def test_engine_dispatches_commands(run: Run) -> None:
    placed = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990.13"))
    assert placed.ok and run.broker.placed[-1].limit == 4990 * 4
    reverse = await run.engine.submit(Reverse())
    assert not reverse.ok and "no position" in reverse.reason
    assert (await run.engine.submit(CancelOrder(placed.order_ids[0]))).ok
    assert (await run.engine.submit(CancelAll())).ok
    assert (await run.engine.submit(Flatten())).ok
    assert run.broker.global_cancels == 0
    assert (await run.engine.submit(GlobalCancel())).ok
    assert run.broker.global_cancels == 1
    results = [e.result for e in run.of(CommandDone)]
    assert [r.command_id for r in results] == [f"cmd-{i}" for i in range(1, 7)]


async def test_engine_refusals_of_reverse_and_bracket_send_nothing(run: Run) -> None:
    """What the screen's reverse key and bracket entries submit: refused with no message to
    the broker."""
    resting = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990"))
    assert resting.ok, resting.reason
    reverse = await run.engine.submit(Reverse())
    assert not reverse.ok and reverse.reason == "no position to reverse"
    assert run.broker.cancelled == []
    order = run.om().get(resting.order_ids[0])
    assert order is not None
    run.broker.push(report(order, OrderStatus.SUBMITTED), execution(order, 1, 4990 * 4, "x1"))
    await settle()
    assert run.engine.snapshot().pnl.quantity == 1  # type: ignore[union-attr]
    placed = len(run.broker.placed)
    bracket = await run.engine.submit(PlaceBracket(Side.SELL, 1, stop_ticks=8, target_ticks=16))
    assert not bracket.ok and "a bracket is an entry: SELL 1" in bracket.reason
    assert len(run.broker.placed) == placed and run.broker.cancelled == []


async def test_a_quantity_the_broker_changes_on_its_own_is_taken_and_the_cover_follows(
    run: Run,
) -> None:
    """IB re-balances a bracket's OCA group when its target fills in part: it reports the stop
    with the smaller quantity, no modification of ours pending. That is the stop's quantity
    now: a position grown afterwards is not counted as protected by contracts that are gone."""
    placed = await run.engine.submit(
        PlaceBracket(Side.BUY, 2, stop_ticks=8, target_ticks=16, entry_limit="4999.75")
    )
    assert placed.ok, placed.reason
    entry, target, stop = (run.om().get(i) for i in placed.order_ids)
    assert entry is not None and target is not None and stop is not None
    run.broker.push(*(report(o, OrderStatus.SUBMITTED) for o in (entry, target, stop)))
    run.broker.push(execution(entry, 2, PX_5000 - 1, "x1"))
    run.broker.push(execution(target, 1, PX_5000 + 15, "x2"))  # the target fills 1 of 2
    await settle()
    assert run.om().protected() == 1 and stop.remaining == 2  # capped by the position only
    run.broker.push(report(stop, OrderStatus.SUBMITTED, quantity=1, remaining=1))
    await settle()
    assert (stop.quantity, stop.remaining, stop.status) == (1, 1, OrderStatus.SUBMITTED)
    shown = [e.order for e in run.of(OrderUpdated) if e.order.order_id == stop.client_id]
    assert (shown[-1].quantity, shown[-1].remaining) == (1, 1)  # published, so journaled
    more = await run.engine.submit(PlaceOrder(Side.BUY, 1))
    assert more.ok, more.reason
    added = run.om().get(more.order_ids[0])
    assert added is not None
    run.broker.push(execution(added, 1, PX_5000, "x3"))
    await settle()
    assert run.engine.snapshot().pnl.quantity == 2  # type: ignore[union-attr]
    assert run.om().protected() == 1  # the stop covers 1 of the 2, not 2


async def test_a_quantity_reported_while_our_modification_is_pending_waits_for_it(
    desk: Desk,
) -> None:
    order = await desk.working(Side.BUY, 3, "5000.00")
    await desk.om.modify(ModifyOrder(order.client_id, quantity=5))
    desk.om.on_report(report(order, OrderStatus.SUBMITTED, quantity=2))
    assert order.quantity == 3 and order.status is OrderStatus.PENDING_MODIFY
    desk.om.on_report(report(order, OrderStatus.SUBMITTED, quantity=5))
    assert order.quantity == 5 and order.status is OrderStatus.SUBMITTED


async def test_reconnect_blocks_entries_then_recovers_a_missed_fill_once(run: Run) -> None:
    engine, broker = run.engine, run.broker
    placed = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "5000"))
    assert placed.ok
    order = run.om().get(placed.order_ids[0])
    assert order is not None
    broker.push(report(order, OrderStatus.SUBMITTED))
    await settle()

    broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    await settle()
    assert "reconnecting" in (engine.snapshot().entries_blocked or "")
    refused = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990"))
    assert not refused.ok and "blocked" in refused.reason

    # while we were away the order filled: IB lists the execution, no open order, a position
    missed = execution(order, 1, PX_5000, "miss1", historical=True, ts_ns=T0 + NS)
    broker.execution_reports = [missed]
    broker.open_order_reports = []
    broker.position_reports = [
        PositionReport(ES, ES.con_id or 0, "DU1234567", 1, Decimal("250002.25"), T0)
    ]
    broker.set_state(ConnectionState.OK, "reconnected")
    await settle()
    assert "reconciling" in (engine.snapshot().entries_blocked or "")
    await engine.tick()
    (rec,) = [r for r in run.of(Reconciled) if r.reason == "reconnect"]
    assert (rec.fills_recovered, rec.position, rec.orders_closed) == (1, 1, 0)
    (booked,) = run.of(FillBooked)
    assert booked.historical and booked.own and booked.fill.exec_id == "miss1"
    assert order.status is OrderStatus.FILLED
    assert engine.snapshot().entries_blocked is None
    assert run.of(PositionDivergence) == []

    broker.push(execution(order, 1, PX_5000, "miss1", ts_ns=T0 + NS))  # live copy, late
    await settle()
    await engine.reconcile("again")
    assert len(run.of(FillBooked)) == 1
    assert engine.portfolio is not None and engine.portfolio.position.quantity == 1


async def test_a_cancel_typed_while_disconnected_is_sent_once_ib_is_back(run: Run) -> None:
    """It shows PENDING_CANCEL meanwhile; the reconciliation after the reconnect asks IB."""
    engine, broker = run.engine, run.broker
    placed = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990"))
    order = run.om().get(placed.order_ids[0])
    assert order is not None and order.broker_id is not None
    broker.push(report(order, OrderStatus.SUBMITTED, perm_id=7001))
    await settle()
    broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    await settle()
    broker.fail("cancel", "not connected to IB")
    assert (await engine.submit(CancelOrder(order.client_id))).ok
    assert order.status is OrderStatus.PENDING_CANCEL and broker.cancelled == []
    broker.open_order_reports = [report(order, OrderStatus.SUBMITTED, perm_id=7001)]
    broker.set_state(ConnectionState.OK, "reconnected")
    await settle()
    await engine.tick()
    assert broker.cancelled == [order.broker_id]
    await engine.reconcile("again")  # asked on this connection already: not again
    assert broker.cancelled == [order.broker_id]


async def test_a_broker_position_that_still_disagrees_after_the_grace_is_adopted(
    run: Run,
) -> None:
    engine, broker, clock = run.engine, run.broker, run.clock
    broker.push(PositionReport(ES, ES.con_id or 0, "DU1234567", 2, Decimal("250025"), T0))
    await settle()
    clock.advance(0.5)
    await engine.tick()
    assert run.of(PositionDivergence) == []  # within the grace: a fill may be in flight
    clock.advance(0.6)
    await engine.tick()
    (div,) = run.of(PositionDivergence)
    assert (div.ours, div.broker, div.at_start) == (0, 2, False)
    assert engine.portfolio is not None
    assert engine.portfolio.position.quantity == 2
    assert engine.portfolio.position.avg_price == PX_5000 + 2  # 250025 / 50 = 5000.50


async def test_a_position_report_matched_by_a_fill_within_the_grace_is_no_divergence(
    run: Run,
) -> None:
    engine, broker, clock = run.engine, run.broker, run.clock
    placed = await engine.submit(PlaceOrder(Side.BUY, 1))
    order = run.om().get(placed.order_ids[0])
    assert order is not None
    at_ib = PositionReport(ES, ES.con_id or 0, "DU1234567", 1, Decimal("250000"), T0)
    broker.position_reports = [at_ib]  # what IB answers when asked
    broker.push(at_ib)  # IB's push arrives before the execution
    clock.advance(0.5)
    broker.push(execution(order, 1, PX_5000, "e1"), CommissionEvent("e1", Decimal("2.25"), None))
    await settle()
    clock.advance(2)
    await engine.tick()
    assert run.of(PositionDivergence) == []
    assert engine.portfolio is not None and engine.portfolio.commissions == Decimal("2.25")


async def test_a_silent_position_stream_is_asked_not_taken_for_flat(run: Run) -> None:
    """Started flat (no PositionReport yet), then a fill: when IB says nothing within the
    grace, the engine asks IB for its position instead of assuming the old (flat) one."""
    engine, broker, clock = run.engine, run.broker, run.clock
    placed = await engine.submit(PlaceOrder(Side.BUY, 1))
    order = run.om().get(placed.order_ids[0])
    assert order is not None
    broker.push(execution(order, 1, PX_5000, "e1"))
    await settle()
    broker.position_reports = [
        PositionReport(ES, ES.con_id or 0, "DU1234567", 1, Decimal("250000"), T0)
    ]
    clock.advance(2)
    await engine.tick()
    assert run.of(PositionDivergence) == []
    assert engine.portfolio is not None and engine.portfolio.position.quantity == 1
    broker.position_reports = []  # and if IB really holds nothing, that is adopted
    broker.push(execution(order, 1, PX_5000, "e2"))
    await settle()
    clock.advance(2)
    await engine.tick()
    (div,) = run.of(PositionDivergence)
    assert (div.ours, div.broker) == (2, 0)


async def test_10147_through_the_engine_looks_up_that_order_without_blocking_entries(
    run: Run,
) -> None:
    placed = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990"))
    order = run.om().get(placed.order_ids[0])
    assert order is not None and order.broker_id is not None
    calls = len(run.broker.executions_since)
    run.broker.push(ib_message(10147, "OrderId not found", T0, order.broker_id))
    await settle()
    await run.engine.tick()
    assert len(run.broker.executions_since) == calls + 1  # looked up at IB
    assert order.status is OrderStatus.PENDING_SUBMIT  # IB said nothing of it: still open
    assert run.engine.snapshot().entries_blocked is None  # not a reconnect
    assert run.of(Reconciled) == [] or all(r.reason == "start" for r in run.of(Reconciled))
    run.broker.completed_order_reports = [report(order, OrderStatus.CANCELLED)]
    run.clock.advance(2)
    await run.engine.tick()
    assert order.status is OrderStatus.CANCELLED  # IB's completed orders say so


async def test_ibs_routine_cancel_answer_is_information_not_a_warning(run: Run) -> None:
    """IB answers every cancel with 202 "Order Canceled": a cancel the trader asked for is
    said once, by the order's update, with no reason (no warning, no second notice); one IB
    made on its own carries IB's reason; an order IB could not find (10147) stays a
    warning."""
    ours = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990"))
    ibs = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4989"))
    asked, unasked = run.om().get(ours.order_ids[0]), run.om().get(ibs.order_ids[0])
    assert asked is not None and asked.broker_id is not None
    assert unasked is not None and unasked.broker_id is not None
    assert (await run.engine.submit(CancelOrder(asked.client_id))).ok
    run.broker.push(ib_message(202, "Order Canceled - reason:", T0, asked.broker_id))
    reason = "Order Canceled - reason:day order expired"
    run.broker.push(ib_message(202, reason, T0, unasked.broker_id))
    run.broker.push(ib_message(10147, "OrderId not found", T0, asked.broker_id))
    await settle()
    levels = {e.code: e.level for e in run.of(EngineNotice)}
    assert 202 not in levels  # each cancel is said by its order's update
    assert levels[10147] == "WARNING"
    assert asked.status is OrderStatus.CANCELLED and not asked.reject_reason
    assert unasked.status is OrderStatus.CANCELLED
    assert unasked.reject_reason == "day order expired"


async def test_broker_events_before_the_instrument_is_known_are_ignored() -> None:
    engine = Engine(FakeBroker(ES), "ES", clock=Clock(), session=2)
    stream = engine.listen()
    order = Order("tt.ES.2.1", ES, Side.BUY, 1, OrderType.MARKET)
    events: list[BrokerEvent] = [
        QuoteEvent(Quote(T0, PX_5000, 5, PX_5000 + 1, 7)),
        DepthEvent(T0, (DepthLevel(PX_5000, 5),), (DepthLevel(PX_5000 + 1, 7),)),
        TradeEvent(Trade(T0, PX_5000, 2)),
        BarEvent(Bar(T0, PX_5000, PX_5000, PX_5000, PX_5000, 2), 5, True),
        report(order, OrderStatus.SUBMITTED, broker_id=1),
        execution(order, 1, PX_5000, "e1"),
        CommissionEvent("e1", Decimal("2.25"), None),
        PositionReport(ES, ES.con_id or 0, "DU1234567", 1, Decimal("250000"), T0),
        AccountPnL("DU1234567", None, None, None, T0),
    ]
    for event in events:
        engine.apply(event)
    assert engine.events_applied == len(events)
    assert engine.market is None and engine.portfolio is None
    assert not [e for e in stream.drain() if isinstance(e, EngineNotice)]
    snap = engine.snapshot()
    assert snap.market is None and snap.entries_blocked == "not started"


async def test_market_events_pushed_before_start_do_not_break_the_pump() -> None:
    clock = Clock()
    broker = FakeBroker(ES)
    broker.push(
        TradeEvent(Trade(T0, PX_5000, 2)), QuoteEvent(Quote(T0, PX_5000, 1, PX_5000 + 1, 1))
    )
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    stream = engine.listen()
    await engine.start()
    try:
        await settle()
        assert not [e for e in stream.drain() if isinstance(e, EngineNotice) and e.level == "ERROR"]
        broker.push(TradeEvent(Trade(T0 + 1, PX_5000 + 3, 1)))
        await settle()
        assert engine.market is not None and engine.market.last is not None
        assert engine.market.last.price == PX_5000 + 3
    finally:
        await engine.stop()


async def test_an_order_an_earlier_run_sent_is_tracked_until_ib_says_what_became_of_it(
    desk: Desk,
) -> None:
    """Issue 12: a journaled order of a killed run counts as working (no close on top of it)
    until IB lists it, finishes it, or proves it never received it."""

    def sent(n: int) -> SentOrder:
        return SentOrder(
            f"tt.ES.1.{n}", Side.SELL, 5, OrderType.MARKET, None, None, TimeInForce.DAY,
            OrderRole.KILL, "kill-1.1", 40 + n, None, 1, T0,
        )  # fmt: skip

    listed, never, silent = sent(1), sent(2), sent(3)
    orders = [desk.om.restore(s) for s in (listed, never, silent)]
    assert all(o is not None and o.status is OrderStatus.PENDING_SUBMIT for o in orders)
    assert len(desk.om.working()) == 3 and desk.om.missing
    a, b, c = (o for o in orders if o is not None)
    desk.broker.never_got.add(42)
    found = report(a, OrderStatus.SUBMITTED, perm_id=9001)
    desk.om.on_report(found)  # the engine applies IB's open orders, then settles the rest
    closed, unknown = settle_orders(desk.om, [found], [])
    assert a.status is OrderStatus.SUBMITTED and a.perm_id == 9001  # found: tracked again
    assert closed == [b] and b.status is OrderStatus.CANCELLED
    assert unknown == [c] and c in desk.om.working()
    assert "SELL 5 MKT" in dict((o.client_id, w) for o, w in desk.om.unconfirmed())[c.client_id]


async def test_an_earlier_runs_order_ib_cannot_find_is_closed_when_cancelled(desk: Desk) -> None:
    """Issue 20: an order a killed run journaled but never sent, while a later id of that run
    reached IB, cannot be proved unreceived by ids. Cancelling it (the kill switch, cancel all)
    settles it: sent on an earlier connection, in none of IB's lists, and its cancel answered
    'not found' (10147), it is not at IB. It stayed unconfirmed for ever, and every kill
    switch after it ended unverified."""
    unsent = desk.om.restore(SentOrder(
        "tt.ES.1.7", Side.BUY, 1, OrderType.LIMIT, PX_5000 - 40, None, TimeInForce.DAY,
        OrderRole.PLAIN, "cmd-1.7", 47, None, 1, T0,
    ))  # fmt: skip
    assert unsent is not None
    desk.om.on_reconnect()
    assert settle_orders(desk.om, [], []) == ([], [unsent])  # IB's next id is above it: no proof
    await desk.om.cancel_all()
    assert desk.broker.cancelled == [47]
    for code in (10148, 161):  # IB has it, finished or not cancellable now: no proof
        desk.om.on_notice(ib_message(code, "cannot be cancelled", T0, 47))
        assert settle_orders(desk.om, [], []) == ([], [unsent])
    desk.om.on_notice(ib_message(10147, "OrderId 47 that needs to be cancelled is not found.",
                                   T0, 47))  # fmt: skip
    assert desk.om.lookups == {unsent.client_id}  # looked up: lists read again, then settled
    closed, unknown = settle_orders(desk.om, [], [])
    assert closed == [unsent] and unknown == [] and desk.om.working() == []
    assert unsent.status is OrderStatus.CANCELLED and "10147" in (unsent.reject_reason or "")
    assert not desk.om.missing and desk.om.unconfirmed() == []


async def test_not_found_for_an_order_of_this_connection_proves_nothing(desk: Desk) -> None:
    """IB may not have read an order yet when it reads its cancel (acknowledgements slow):
    'not found' on the connection the order went out on never closes it, nor does 'not found'
    on an earlier connection once the lists show the order after all."""
    order = await desk.working(Side.BUY, 1, "4990")
    assert order.broker_id is not None
    await desk.om.cancel_all()
    desk.om.on_notice(ib_message(10147, "not found", T0, order.broker_id))
    assert settle_orders(desk.om, [], []) == ([], [order]) and order in desk.om.working()
    desk.om.on_reconnect()
    await desk.om.resend_cancels()
    desk.om.on_notice(ib_message(10147, "not found", T0, order.broker_id))
    listed = report(order, OrderStatus.PENDING_CANCEL)
    desk.om.on_report(listed)
    assert settle_orders(desk.om, [listed], []) == ([], []) and order in desk.om.working()


async def an_entry_being_journaled() -> tuple[Desk, asyncio.Task[Order], asyncio.Event]:
    """A desk whose journal holds a limit buy's intent until ``release`` is set: the desk,
    the placing of the buy (its task, under way) and ``release``."""
    writing = asyncio.Event()
    release = asyncio.Event()

    async def slow_journal(order: Order, command_id: str, role: str) -> None:
        writing.set()
        await release.wait()

    desk = Desk(before_send=slow_journal)
    entry = asyncio.create_task(desk.place(Side.BUY, 1, limit="4990"))
    await writing.wait()
    return desk, entry, release


async def test_an_order_cancelled_while_its_intent_is_journaled_is_never_sent() -> None:
    """A kill (cancel all) while an entry's intent is being written: the entry must not go out
    after the kill's cancels (IB would answer the cancel 'not found' and then work the order)."""
    desk, entry, release = await an_entry_being_journaled()
    (cid,) = await desk.om.cancel_all()
    assert desk.broker.cancelled == []  # nothing at IB to cancel yet
    release.set()
    with pytest.raises(Refused, match="never sent"):
        await entry
    order = desk.om.get(cid)
    assert order is not None and order.status is OrderStatus.REJECTED
    assert desk.broker.placed == [] and desk.om.working() == []


@pytest.mark.parametrize(
    ("close", "by"),
    [
        (lambda om: om.close_position("cmd-f", reverse=False), "a flatten"),
        (lambda om: om.cancel_all(), "cancel all"),
        (lambda om: om.cancel_all(keep_closes=True, by="the kill switch"), "the kill switch"),
        (lambda om: om.cancel("tt.ES.2.1"), "its cancel"),
    ],
)
async def test_an_order_cancelled_before_it_left_says_what_cancelled_it(
    close: Callable[[OrderManager], Awaitable[object]], by: str
) -> None:
    """b then f at once: the buy's refusal names the flatten, not "kill switch or cancel all"."""
    desk, entry, release = await an_entry_being_journaled()
    assert [o.client_id for o in desk.om.working()] == ["tt.ES.2.1"]
    await close(desk.om)
    release.set()
    with pytest.raises(Refused) as refused:
        await entry
    assert str(refused.value) == f"never sent: cancelled before it left, by {by}"


async def test_after_a_restart_a_brackets_adopted_exits_count_once_against_a_new_bracket(
    desk: Desk,
) -> None:
    """Adopted at a restart, a filled bracket's stop and target are no children any more (their
    parent is gone from IB's open orders) but still one OCA group: they close one contract
    between them, not two. Counted as two sells, they made any new BUY bracket on the long
    of 1 'could reduce the short 1 that the working SELL order(s) for 2 would make'."""
    desk.hold(1)
    for broker_id, kind, limit, stop in ((71, "STP", None, PX_5000 - 8),
                                         (72, "LMT", PX_5000 + 16, None)):  # fmt: skip
        adopted = desk.om.adopt(foreign_report(
            broker_id, 8000 + broker_id, f"tt.ES.1.{broker_id}", client_id=1, side=Side.SELL,
            order_type=kind, limit=limit, stop=stop, tif="GTC", oca_group="oca-tt.ES.1.70",
        ))  # fmt: skip
        assert adopted is not None and adopted.parent_id is None
    cmd = PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16)
    assert len(await desk.om.place_bracket(cmd, desk.cmd(), reference=PX_5000)) == 3


async def test_an_order_found_at_ib_on_a_restart_gets_a_queue_estimate() -> None:
    """trial21: a restored ATM target showed `1L` with no queue figure (not even `q?`) and the
    orders panel dropped its `ahead` column: the orders IB lists at the start (or at a
    reconnect) are applied by the reconciliation, which never told the queue estimate."""
    clock, broker = Clock(), FakeBroker(ES)
    first = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    await first.start()
    broker.push(QuoteEvent(Quote(T0, PX_5000 - 1, 10, PX_5000, 10)))
    await settle()
    placed = await first.submit(PlaceOrder(Side.SELL, 1, OrderType.LIMIT, "5010"))
    order = first.orders.get(placed.order_ids[0]) if first.orders else None
    assert order is not None
    await first.stop()
    broker.open_order_reports = [report(order, OrderStatus.SUBMITTED, perm_id=7001)]
    second = Engine(broker, "ES", clock=clock, calendar=CME, session=3, timer_s=3600)
    await second.start()
    try:
        assert [o.order_id for o in second.snapshot().orders] == [order.client_id]
        assert order.client_id in second.snapshot().queue  # `q?` at worst, never nothing
    finally:
        await second.stop()
