"""Order states, broker reports and the Order lifecycle: tradeterm.domain.orders/order_status."""

from __future__ import annotations

from fractions import Fraction
from itertools import count

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.instruments import ES, NQ
from tradeterm.domain.errors import DomainError, InvalidOrderError, InvalidTransitionError
from tradeterm.domain.fills import Fill
from tradeterm.domain.order_status import OrderStatus, after_report
from tradeterm.domain.orders import Order, OrderChange, OrderType, TimeInForce
from tradeterm.domain.side import Side

S = OrderStatus
_exec_ids = count(1)


def limit_buy(qty: int = 3, price: int = 22100, status: OrderStatus = S.NEW) -> Order:
    return Order("o1", ES, Side.BUY, qty, OrderType.LIMIT, limit=price, status=status)


def fill(order: Order, qty: int, price: int = 22100) -> Fill:
    return Fill(f"e{next(_exec_ids)}", order.client_id, ES, order.side, qty, price, ts_ns=1)


# ---- statuses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ib", "status"),
    [
        ("PendingSubmit", S.PENDING_SUBMIT),
        ("ApiPending", S.PENDING_SUBMIT),
        ("PreSubmitted", S.SUBMITTED),
        ("Submitted", S.SUBMITTED),
        ("PendingCancel", S.PENDING_CANCEL),
        ("ApiCancelled", S.CANCELLED),
        ("Cancelled", S.CANCELLED),
        ("Filled", S.FILLED),
        ("Inactive", S.INACTIVE),
    ],
)
def test_every_ib_status_string_maps(ib: str, status: OrderStatus) -> None:
    assert OrderStatus.from_ib(ib) is status


def test_unknown_ib_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="Bogus"):
        OrderStatus.from_ib("Bogus")


def test_pending_cancel_is_open_not_terminal() -> None:
    assert S.PENDING_CANCEL.is_open and not S.PENDING_CANCEL.is_terminal
    assert {s for s in S if s.is_terminal} == {S.FILLED, S.CANCELLED, S.REJECTED}
    assert not S.NEW.is_open  # never sent: nothing to cancel at the broker
    assert S.INACTIVE.is_open and S.PENDING_SUBMIT.is_open


REPORTABLE = [s for s in S if s not in (S.NEW, S.PENDING_MODIFY)]


@given(current=st.sampled_from(list(S)), reported=st.sampled_from(REPORTABLE))
def test_reports_end_in_current_or_reported_state_and_terminal_states_absorb(
    current: OrderStatus, reported: OrderStatus
) -> None:
    after = after_report(current, reported)
    assert after in (current, reported)
    if current.is_terminal:
        assert after is current
    if reported.is_terminal and not current.is_terminal:
        assert after is reported


@pytest.mark.parametrize(
    ("current", "reported", "after"),
    [
        (S.PENDING_SUBMIT, S.SUBMITTED, S.SUBMITTED),
        (S.INACTIVE, S.SUBMITTED, S.SUBMITTED),
        (S.PENDING_CANCEL, S.SUBMITTED, S.PENDING_CANCEL),  # stale: cancel still in flight
        (S.PENDING_MODIFY, S.SUBMITTED, S.PENDING_MODIFY),
        (S.SUBMITTED, S.PENDING_SUBMIT, S.SUBMITTED),  # late echo does not go backwards
        (S.NEW, S.PENDING_SUBMIT, S.PENDING_SUBMIT),
        (S.SUBMITTED, S.PENDING_CANCEL, S.PENDING_CANCEL),  # cancelled from TWS
        (S.PENDING_CANCEL, S.FILLED, S.FILLED),  # fills can beat a cancel
        (S.FILLED, S.CANCELLED, S.FILLED),
        (S.CANCELLED, S.SUBMITTED, S.CANCELLED),
    ],
)
def test_report_examples(current: OrderStatus, reported: OrderStatus, after: OrderStatus) -> None:
    assert after_report(current, reported) is after


@pytest.mark.parametrize("local", [S.NEW, S.PENDING_MODIFY])
def test_local_states_cannot_be_reported(local: OrderStatus) -> None:
    with pytest.raises(ValueError, match="local state"):
        after_report(S.SUBMITTED, local)


# ---- construction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order_type", "limit", "stop"),
    [
        (OrderType.MARKET, None, None),
        (OrderType.LIMIT, 100, None),
        (OrderType.STOP, None, 100),
        (OrderType.STOP_LIMIT, 99, 100),
    ],
)
def test_valid_order_shapes(order_type: OrderType, limit: int | None, stop: int | None) -> None:
    order = Order("o", ES, Side.SELL, 1, order_type, limit=limit, stop=stop)
    assert order.status is S.NEW and order.remaining == 1 and order.tif is TimeInForce.DAY


@pytest.mark.parametrize(
    ("order_type", "qty", "limit", "stop"),
    [
        (OrderType.MARKET, 1, 100, None),
        (OrderType.LIMIT, 1, None, None),
        (OrderType.LIMIT, 1, 100, 100),
        (OrderType.STOP, 1, None, None),
        (OrderType.STOP_LIMIT, 1, None, 100),
        (OrderType.LIMIT, 0, 100, None),
        (OrderType.LIMIT, -2, 100, None),
    ],
)
def test_malformed_orders_are_refused(
    order_type: OrderType, qty: int, limit: int | None, stop: int | None
) -> None:
    with pytest.raises(InvalidOrderError):
        Order("o", ES, Side.BUY, qty, order_type, limit=limit, stop=stop)


def test_order_needs_an_id() -> None:
    with pytest.raises(InvalidOrderError):
        Order("", ES, Side.BUY, 1, OrderType.MARKET)


def test_ib_strings() -> None:
    assert OrderType.STOP_LIMIT == "STP LMT" and OrderType.MARKET == "MKT"
    assert TimeInForce.GTC == "GTC"


# ---- lifecycle ------------------------------------------------------------------------


def test_happy_path_submit_work_fill() -> None:
    order = limit_buy()
    order.submit()
    assert order.status is S.PENDING_SUBMIT and order.is_open
    order.bind(broker_id=12, perm_id=99)
    assert order.on_status(S.SUBMITTED)
    assert not order.on_status(S.SUBMITTED)  # duplicate report: no change
    order.apply_fill(fill(order, 1, 22100))
    assert order.status is S.SUBMITTED and order.filled == 1 and order.remaining == 2
    order.apply_fill(fill(order, 2, 22101))
    assert order.status is S.FILLED and order.is_terminal and order.remaining == 0
    assert order.avg_fill_price == Fraction(22100 + 2 * 22101, 3)


def test_submit_only_once() -> None:
    order = limit_buy()
    order.submit()
    with pytest.raises(InvalidTransitionError):
        order.submit()


def test_fill_may_arrive_before_the_submitted_status() -> None:
    order = limit_buy(qty=1)
    order.submit()
    order.apply_fill(fill(order, 1))
    assert order.status is S.FILLED
    assert not order.on_status(S.SUBMITTED)  # the late status does not reopen it


def test_fill_of_an_order_never_sent_is_a_bug() -> None:
    order = limit_buy()
    with pytest.raises(InvalidTransitionError):
        order.apply_fill(fill(order, 1))


def test_fill_of_another_order_or_instrument_is_refused() -> None:
    order = limit_buy(status=S.SUBMITTED)
    with pytest.raises(DomainError):
        order.apply_fill(Fill("x1", "other", ES, Side.BUY, 1, 22100, 1))
    with pytest.raises(DomainError):
        order.apply_fill(Fill("x2", "o1", ES, Side.SELL, 1, 22100, 1))
    with pytest.raises(DomainError):
        order.apply_fill(Fill("x3", "o1", NQ, Side.BUY, 1, 22100, 1))
    assert order.filled == 0


def test_cancel_paths() -> None:
    new = limit_buy()
    assert new.request_cancel() is False  # never sent: cancelled here, nothing to send
    assert new.status is S.CANCELLED

    working = limit_buy(status=S.SUBMITTED)
    assert working.request_cancel() is True
    assert working.status is S.PENDING_CANCEL and working.is_open
    assert working.request_cancel() is True  # a retry may be sent again
    assert working.on_status(S.CANCELLED)
    assert working.request_cancel() is False  # finished: nothing to send


def test_fills_during_pending_cancel_count_and_can_complete_the_order() -> None:
    order = limit_buy(qty=2, status=S.SUBMITTED)
    order.request_cancel()
    order.apply_fill(fill(order, 1))
    assert order.status is S.PENDING_CANCEL and order.filled == 1
    order.apply_fill(fill(order, 1))
    assert order.status is S.FILLED


def test_a_fill_after_cancel_is_still_counted() -> None:
    order = limit_buy(qty=2, status=S.PENDING_CANCEL)
    order.on_status(S.CANCELLED)
    order.apply_fill(fill(order, 1))  # crossed the cancel on the wire
    assert order.status is S.CANCELLED and order.filled == 1
    order.apply_fill(fill(order, 1))
    assert order.status is S.FILLED


def test_cancel_rejected_returns_to_working() -> None:
    order = limit_buy(status=S.SUBMITTED)
    order.request_cancel()
    order.cancel_rejected()
    assert order.status is S.SUBMITTED
    with pytest.raises(InvalidTransitionError):
        order.cancel_rejected()


def test_a_withdrawn_cancel_returns_to_the_state_before_it() -> None:
    order = limit_buy(status=S.PENDING_SUBMIT)
    order.request_cancel()
    order.withdraw_cancel(S.PENDING_SUBMIT)  # still not acknowledged: still unconfirmed
    assert order.status is S.PENDING_SUBMIT
    with pytest.raises(InvalidTransitionError):
        order.withdraw_cancel(S.SUBMITTED)  # no cancel to withdraw
    order.request_cancel()
    with pytest.raises(InvalidTransitionError):
        order.withdraw_cancel(S.CANCELLED)


def test_reject_keeps_the_reason_once() -> None:
    order = limit_buy()
    order.submit()
    assert order.on_rejected("201: margin")
    assert order.status is S.REJECTED and order.reject_reason == "201: margin"
    assert not order.on_rejected("later")
    assert order.reject_reason == "201: margin"


def test_modify_accepted_applies_the_change() -> None:
    order = limit_buy(status=S.SUBMITTED)
    order.request_modify(OrderChange(limit=22104))
    assert order.status is S.PENDING_MODIFY and order.limit == 22100
    assert not order.on_status(S.SUBMITTED)  # may predate the modify: stays pending
    order.modify_accepted()
    assert order.status is S.SUBMITTED and order.limit == 22104 and order.pending_change is None


def test_modify_rejected_keeps_the_old_values() -> None:
    order = limit_buy(status=S.SUBMITTED)
    order.request_modify(OrderChange(quantity=5, limit=22090))
    order.modify_rejected()
    assert (order.status, order.quantity, order.limit) == (S.SUBMITTED, 3, 22100)
    with pytest.raises(InvalidTransitionError):
        order.modify_rejected()
    with pytest.raises(InvalidTransitionError):
        order.modify_accepted()


def test_one_modify_at_a_time_and_only_when_working() -> None:
    order = limit_buy(status=S.SUBMITTED)
    order.request_modify(OrderChange(limit=22101))
    with pytest.raises(InvalidTransitionError):
        order.request_modify(OrderChange(limit=22102))
    for status in (S.NEW, S.PENDING_SUBMIT, S.PENDING_CANCEL, S.FILLED):
        with pytest.raises(InvalidTransitionError):
            limit_buy(status=status).request_modify(OrderChange(limit=1))


def test_modify_is_validated() -> None:
    order = limit_buy(qty=3, status=S.SUBMITTED)
    with pytest.raises(InvalidOrderError):
        OrderChange()
    with pytest.raises(InvalidOrderError):
        order.request_modify(OrderChange(stop=22000))  # a limit order has no stop
    order.apply_fill(fill(order, 2))
    with pytest.raises(InvalidOrderError, match="already filled"):
        order.request_modify(OrderChange(quantity=2))
    assert order.status is S.SUBMITTED and order.pending_change is None


def test_modify_reaching_the_filled_quantity_completes_the_order() -> None:
    order = limit_buy(qty=3, status=S.SUBMITTED)
    order.request_modify(OrderChange(quantity=2))
    order.apply_fill(fill(order, 2))  # fills in flight reach the new quantity
    assert order.status is S.PENDING_MODIFY
    order.modify_accepted()
    assert order.status is S.FILLED and order.remaining == 0


def test_cancel_during_modify_keeps_the_cancel_pending() -> None:
    order = limit_buy(status=S.SUBMITTED)
    order.request_modify(OrderChange(limit=22101))
    assert order.request_cancel()
    order.modify_accepted()
    assert order.status is S.PENDING_CANCEL and order.limit == 22101


def test_full_fill_clears_a_pending_modify() -> None:
    order = limit_buy(qty=1, status=S.SUBMITTED)
    order.request_modify(OrderChange(limit=22101))
    order.apply_fill(fill(order, 1))
    assert order.status is S.FILLED and order.pending_change is None


def test_broker_ids_never_change() -> None:
    order = limit_buy()
    order.bind(broker_id=7)
    order.bind(perm_id=1234)
    order.bind(broker_id=7, perm_id=1234)
    assert (order.broker_id, order.perm_id) == (7, 1234)
    with pytest.raises(DomainError):
        order.bind(broker_id=8)
    with pytest.raises(DomainError):
        order.bind(perm_id=1)


def test_a_fill_matched_by_perm_id_needs_no_client_id() -> None:
    order = limit_buy(status=S.SUBMITTED)
    order.apply_fill(Fill("x9", None, ES, Side.BUY, 1, 22100, 1, perm_id=5))
    assert order.filled == 1


def test_a_quantity_the_broker_reports_on_its_own_is_taken_while_the_order_is_open() -> None:
    order = limit_buy(3, status=S.SUBMITTED)
    order.apply_fill(fill(order, 1))
    assert order.on_quantity(2) and (order.quantity, order.remaining) == (2, 1)
    assert not order.on_quantity(2)  # the same: nothing changed
    assert not order.on_quantity(0) and order.quantity == 2  # below what filled: kept
    order.apply_fill(fill(order, 1))
    assert order.status is S.FILLED
    assert not order.on_quantity(5) and order.quantity == 2  # finished: history
