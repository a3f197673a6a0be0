"""Fills, the fill ledger and positions with exact P&L: tradeterm.domain.fills/position."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.instruments import ES, NQ
from tradeterm.domain import (
    DomainError,
    Fill,
    FillLedger,
    Position,
    Side,
)

B, S = Side.BUY, Side.SELL


def test_side_basics() -> None:
    assert (B.sign, S.sign) == (1, -1)
    assert B.opposite is S and S.opposite is B
    for text, side in (("BOT", B), ("SLD", S), ("buy", B), (" s ", S), ("SELL", S)):
        assert Side.parse(text) is side
    with pytest.raises(ValueError):
        Side.parse("long")


# ---- fills and ledger -----------------------------------------------------------------


def test_fill_is_validated_and_signed() -> None:
    assert Fill("e", "o", ES, S, 2, 100, 0).signed_quantity == -2
    with pytest.raises(DomainError):
        Fill("e", "o", ES, B, 0, 100, 0)
    with pytest.raises(DomainError):
        Fill("", "o", ES, B, 1, 100, 0)


def test_ledger_is_idempotent_by_execution_id() -> None:
    ledger = FillLedger()
    f1 = Fill("e1", "o1", ES, B, 1, 22100, 10)
    f2 = Fill("e2", "o2", ES, S, 2, 22104, 30)
    assert ledger.add(f1) and ledger.add(f2)
    assert not ledger.add(Fill("e1", "o1", ES, B, 1, 22100, 10))  # replayed after reconnect
    assert len(ledger) == 2 and "e1" in ledger and "e3" not in ledger
    assert list(ledger) == [f1, f2]
    assert ledger.for_order("o2") == [f2]
    assert ledger.last_ts_ns == 30


def test_ledger_refuses_a_changed_execution() -> None:
    ledger = FillLedger()
    ledger.add(Fill("e1", "o1", ES, B, 1, 22100, 10))
    with pytest.raises(DomainError, match="e1"):
        ledger.add(Fill("e1", "o1", ES, B, 2, 22100, 10))


def test_commissions_may_arrive_before_or_after_their_fill() -> None:
    ledger = FillLedger()
    assert ledger.last_ts_ns is None
    ledger.set_commission("e2", Decimal("2.25"))  # report came first
    ledger.add(Fill("e1", "o1", ES, B, 1, 22100, 10))
    ledger.add(Fill("e2", "o1", ES, B, 1, 22100, 11))
    ledger.add(Fill("e3", "o3", NQ, B, 1, 80000, 12))
    assert ledger.total_commission() == Decimal("2.25")
    ledger.set_commission("e1", Decimal("2.25"))
    ledger.set_commission("e3", Decimal("1.10"))
    assert ledger.commission("e1") == Decimal("2.25")
    assert ledger.total_commission() == Decimal("5.60")
    assert ledger.total_commission(ES) == Decimal("4.50")
    ledger.set_commission("e9", Decimal("9"))  # fill not seen yet: not counted
    assert ledger.total_commission() == Decimal("5.60")


# ---- positions ------------------------------------------------------------------------


def test_round_trip_long() -> None:
    pos = Position(ES)
    assert pos.is_flat and pos.avg_price is None and pos.unrealized(22000) == 0
    assert pos.apply(B, 2, 22100) == 0
    assert pos.quantity == 2 and pos.avg_price == 22100
    assert pos.unrealized(22104) == 8
    assert pos.unrealized_money(22104) == Decimal("100.00")  # 8 ticks × 12.50
    assert pos.apply(S, 2, 22104) == 8
    assert pos.is_flat and pos.realized == 8 and pos.realized_money() == Decimal("100.00")


def test_round_trip_short() -> None:
    pos = Position(ES)
    pos.apply(S, 1, 22100)
    assert pos.quantity == -1 and pos.avg_price == 22100
    assert pos.unrealized(22098) == 2
    assert pos.apply(B, 1, 22103) == -3
    assert pos.realized_money() == Decimal("-37.50")


def test_fifo_matching_and_average_price() -> None:
    pos = Position(ES)
    pos.apply(B, 1, 100)
    pos.apply(B, 1, 102)
    assert pos.avg_price == 101
    assert pos.apply(S, 1, 105) == 5  # closes the oldest lot (100)
    assert pos.avg_price == 102
    pos.apply(B, 1, 103)
    assert pos.avg_price == Fraction(205, 2)  # exact, not a float


def test_reversal_closes_then_opens() -> None:
    pos = Position(ES)
    pos.apply(B, 2, 100)
    assert pos.apply(S, 5, 104) == 8
    assert pos.quantity == -3 and pos.avg_price == 104
    assert pos.unrealized(100) == 12
    assert pos.apply(B, 3, 101) == 9 and pos.is_flat
    assert pos.realized == 17 and pos.open_cost == 0


def test_apply_fill_checks_the_instrument() -> None:
    pos = Position(ES)
    assert pos.apply_fill(Fill("e1", None, ES, B, 1, 100, 0)) == 0
    with pytest.raises(DomainError):
        pos.apply_fill(Fill("e2", None, NQ, B, 1, 100, 0))
    with pytest.raises(DomainError):
        pos.apply(B, 0, 100)


def test_opened_restores_a_broker_position() -> None:
    short = Position.opened(ES, -3, 22100)
    assert short.quantity == -3 and short.avg_price == 22100
    assert Position.opened(ES, 0, 22100).is_flat


@pytest.mark.parametrize(
    ("qty", "side", "order_qty", "reduces"),
    [
        (3, S, 1, True),
        (3, S, 3, True),
        (3, S, 4, False),  # would flip
        (3, B, 1, False),  # would grow
        (-2, B, 2, True),
        (-2, S, 1, False),
        (0, B, 1, False),
        (0, S, 1, False),
        (3, S, 0, False),
    ],
)
def test_reduces(qty: int, side: Side, order_qty: int, reduces: bool) -> None:
    assert Position.opened(ES, qty, 100).reduces(side, order_qty) is reduces


trades = st.lists(
    st.tuples(st.sampled_from([B, S]), st.integers(1, 5), st.integers(-50, 50)),
    min_size=1,
    max_size=40,
)


@given(trades=trades, mark=st.integers(-50, 50))
def test_pnl_equals_cash_flow(trades: list[tuple[Side, int, int]], mark: int) -> None:
    """Realized + unrealized P&L is what the trades' cash flows say, whatever the matching."""
    pos = Position(ES)
    cash = 0
    realized = 0
    for side, qty, price in trades:
        realized += pos.apply(side, qty, price)
        cash -= side.sign * qty * price
    assert pos.quantity == sum(side.sign * qty for side, qty, _ in trades)
    assert pos.realized == realized
    assert pos.realized + pos.unrealized(mark) == cash + pos.quantity * mark
    if pos.quantity:
        prices = [price for _, _, price in trades]
        assert pos.avg_price is not None and min(prices) <= pos.avg_price <= max(prices)
    else:
        assert pos.open_cost == 0 and pos.avg_price is None
