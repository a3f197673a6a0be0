"""The reconciliation's decisions, as tables: what becomes of an order of ours that IB does or
does not list, which foreign orders are forgotten, and when IB's position replaces ours. They
are pure functions of what our book holds and what IB said (``engine/reconcile.py``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.unit.engine.test_orders import ES, T0, foreign_report
from tradeterm.broker.port import OrderReport, PositionReport
from tradeterm.domain import OrderStatus
from tradeterm.engine.events import OrderView
from tradeterm.engine.reconcile import ENDS, Fate, OwnOrder, fates, foreign_gone, position_fix

OURS = "tt.ES.2.1"


def listed(order_ref: str = OURS, perm_id: int = 0) -> OrderReport:
    """IB lists an open order with this orderRef and permId."""
    return foreign_report(7, perm_id, order_ref, client_id=1)


def own(
    *, perm_id: int | None = None, quantity: int = 2, filled: int = 0,
    never_received: bool = False, not_found: bool = False,
) -> OwnOrder:  # fmt: skip
    return OwnOrder(OURS, perm_id, quantity, filled, never_received, not_found)


@pytest.mark.parametrize(
    ("case", "order", "ib_lists", "fate"),
    [
        ("listed by its orderRef", own(), [listed()], Fate.LISTED),
        ("listed by permId, orderRef lost", own(perm_id=55), [listed("", 55)], Fate.LISTED),
        ("another order's permId is not ours", own(perm_id=55), [listed("", 56)], Fate.MISSING),
        ("listed: IB's list beats a proof", own(never_received=True), [listed()], Fate.LISTED),
        ("not listed, no proof: stays open", own(), [], Fate.MISSING),
        ("not listed, partly filled: stays open", own(filled=1), [], Fate.MISSING),
        ("not listed, fills add up", own(filled=2), [], Fate.FILLED),
        ("not listed, IB never received it", own(never_received=True), [], Fate.NEVER_RECEIVED),
        ("not listed, cancel 'not found'", own(not_found=True), [], Fate.NOT_AT_IB),
        ("fills add up before any proof", own(filled=2, not_found=True), [], Fate.FILLED),
        (
            "never received before not found",
            own(never_received=True, not_found=True),
            [],
            Fate.NEVER_RECEIVED,
        ),
        ("another order listed is no word on ours", own(), [listed("tt.ES.2.9")], Fate.MISSING),
    ],
)
def test_the_fate_of_an_order_of_ours(
    case: str, order: OwnOrder, ib_lists: list[OrderReport], fate: Fate
) -> None:
    assert fates([order], ib_lists) == {OURS: fate}, case


def test_an_order_closes_only_on_a_fact_never_for_being_missing() -> None:
    """Only FILLED and the broker's two proofs end an order; LISTED and MISSING keep it."""
    assert set(ENDS) == {Fate.FILLED, Fate.NEVER_RECEIVED, Fate.NOT_AT_IB}
    assert ENDS[Fate.FILLED] == (OrderStatus.FILLED, "")
    assert ENDS[Fate.NEVER_RECEIVED][0] is OrderStatus.CANCELLED
    assert "never reached IB" in ENDS[Fate.NEVER_RECEIVED][1]
    assert ENDS[Fate.NOT_AT_IB][0] is OrderStatus.CANCELLED
    assert "not found" in ENDS[Fate.NOT_AT_IB][1]


def test_each_order_gets_its_own_fate() -> None:
    orders = [
        OwnOrder("tt.ES.2.1", None, 1, 0),
        OwnOrder("tt.ES.2.2", None, 1, 1),
        OwnOrder("tt.ES.2.3", 77, 1, 0),
    ]
    assert fates(orders, [listed("", 77)]) == {
        "tt.ES.2.1": Fate.MISSING,
        "tt.ES.2.2": Fate.FILLED,
        "tt.ES.2.3": Fate.LISTED,
    }


def test_foreign_orders_ib_no_longer_lists_are_forgotten() -> None:
    a, b = foreign_report(900, 900), foreign_report(901, 901)
    ka, kb = (OrderView.foreign(r).order_id for r in (a, b))
    table = [([], [], []), ([ka], [a], []), ([ka], [], [ka]), ([ka, kb], [b], [ka])]
    for shown, ib_lists, gone in table:
        assert foreign_gone(shown, ib_lists) == gone, (shown, ib_lists)


def position(quantity: int, avg_cost: str = "250000") -> PositionReport:
    return PositionReport(ES, ES.con_id or 0, "DU1234567", quantity, Decimal(avg_cost), T0)


@pytest.mark.parametrize(
    ("ours", "ib", "at_start", "fix"),
    [
        (0, None, False, None),  # flat both
        (1, position(1), False, None),  # agree
        (-2, position(-2), True, None),
        (1, None, False, (0, "0", "WARNING", "position at IB is 0, fills here said 1: using IB's")),
        (
            0,
            position(3, "750037.5"),
            True,
            (
                3,
                "750037.5",
                "INFO",
                "position at IB is 3, fills here said 0: using IB's (carried in)",
            ),
        ),
        (
            2,
            position(-1),
            False,
            (-1, "250000", "WARNING", "position at IB is -1, fills here said 2: using IB's"),
        ),
    ],
)
def test_ibs_position_is_the_final_word(
    ours: int, ib: PositionReport | None, at_start: bool, fix: tuple[int, str, str, str] | None
) -> None:
    got = position_fix(ours, ib, at_start=at_start)
    if fix is None:
        assert got is None
        return
    assert got is not None
    quantity, avg_cost, level, text = fix
    assert (got.ours, got.quantity, got.avg_cost, got.level, got.text) == (
        ours, quantity, Decimal(avg_cost), level, text,
    )  # fmt: skip
