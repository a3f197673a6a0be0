"""Portfolio: fills booked once whatever their order, commissions whenever they come, exact P&L
against hand computations, the daily reset at the CME open, and the broker's final word."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.clock import TUESDAY_10, Clock, ct
from tests.support.instruments import ES, NQ, PX_5000
from tradeterm.domain import DomainError, Fill, Instrument, Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.portfolio import Portfolio

TICK_VALUE = Decimal("12.50")  # ES: 0.25 x 50


def fill(exec_id: str, side: Side, qty: int, price: int, ts: int = TUESDAY_10, *,
         order_id: str | None = "tt.ES.1.1", instrument: Instrument = ES) -> Fill:  # fmt: skip
    return Fill(exec_id, order_id, instrument, side, qty, price, ts)


def portfolio(now: int = TUESDAY_10) -> tuple[Portfolio, Clock]:
    clock = Clock(now)
    return Portfolio(ES, clock=clock, calendar=CME), clock


# ---- the ledger: once, in any order ----------------------------------------------------------


def test_the_same_execution_twice_is_booked_once() -> None:
    pf, _ = portfolio()
    f = fill("e1", Side.BUY, 2, PX_5000)
    assert pf.add_fill(f) is True
    assert pf.add_fill(f) is False
    again = fill("e1", Side.BUY, 2, PX_5000)  # an equal copy, e.g. from recovery
    assert pf.add_fill(again) is False
    assert pf.position.quantity == 2
    assert len(pf.ledger) == 1


def test_fills_out_of_order_end_in_the_same_position_and_pnl() -> None:
    t = TUESDAY_10
    fills = [
        fill("e1", Side.BUY, 1, 100, t),
        fill("e2", Side.BUY, 1, 104, t + 1),
        fill("e3", Side.SELL, 1, 110, t + 2),
    ]
    in_order, _ = portfolio()
    late, _ = portfolio()
    for f in fills:
        in_order.add_fill(f)
    for f in (fills[2], fills[0], fills[1]):  # the sell is reported first
        late.add_fill(f)
    for pf in (in_order, late):
        pf.on_mark(120)
        pnl = pf.pnl()
        assert pnl.quantity == 1
        assert pnl.realized_ticks == 10  # 110 - 100
        assert pnl.unrealized_ticks == 16  # 120 - 104
        assert pf.ledger.last_ts_ns == t + 2


def test_a_different_fill_under_a_known_exec_id_raises_and_changes_nothing() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    with pytest.raises(DomainError):
        pf.add_fill(fill("e1", Side.BUY, 1, PX_5000 + 1))
    assert pf.position.quantity == 1 and pf.position.avg_price == PX_5000


def test_a_fill_of_another_instrument_is_not_booked() -> None:
    pf, _ = portfolio()
    assert pf.add_fill(fill("n1", Side.BUY, 1, 80000, instrument=NQ)) is False
    assert pf.position.quantity == 0 and len(pf.ledger) == 0


# ---- commissions -----------------------------------------------------------------------------


def test_commission_after_its_fill() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    assert pf.add_commission("e1", Decimal("2.25")) is True
    assert pf.add_commission("e1", Decimal("2.25")) is False  # repeated: nothing changes
    pnl = pf.pnl()
    assert pnl.commissions == pnl.day_commissions == Decimal("2.25")
    assert pnl.daily == Decimal("-2.25")


def test_commission_before_its_fill_counts_when_the_fill_arrives() -> None:
    pf, _ = portfolio()
    assert pf.add_commission("e1", Decimal("2.25")) is False
    assert pf.commissions == 0
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    assert pf.pnl().commissions == pf.pnl().day_commissions == Decimal("2.25")


def test_corrected_commission_replaces_the_first() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    pf.add_commission("e1", Decimal("2.25"))
    assert pf.add_commission("e1", Decimal("2.50")) is True
    pnl = pf.pnl()
    assert pnl.commissions == pnl.day_commissions == Decimal("2.50")


def test_corrected_commission_before_the_fill_is_counted_once() -> None:
    pf, _ = portfolio()
    pf.add_commission("e1", Decimal("2.25"))
    pf.add_commission("e1", Decimal("2.50"))  # corrected before the fill arrived
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    pnl = pf.pnl()
    assert pnl.commissions == pnl.day_commissions == Decimal("2.50")


def test_corrected_commission_of_yesterdays_fill_is_not_todays() -> None:
    pf, clock = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    pf.add_commission("e1", Decimal("2.25"))
    clock.now = ct(2026, 11, 17, 17, 30)  # the next session
    assert pf.pnl().day_commissions == 0
    pf.add_commission("e1", Decimal("2.50"))
    pnl = pf.pnl()
    assert pnl.commissions == Decimal("2.50")
    assert pnl.day_commissions == 0


# ---- P&L against a hand computation ----------------------------------------------------------


def test_long_partly_closed_realized_and_unrealized() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 2, PX_5000))  # 2 @ 5000.00
    pf.add_fill(fill("e2", Side.SELL, 1, PX_5000 + 4))  # 1 @ 5001.00: +4 ticks
    pf.on_mark(PX_5000 + 10)  # 5002.50
    pnl = pf.pnl()
    assert (pnl.quantity, pnl.avg_price, pnl.mark) == (1, PX_5000, PX_5000 + 10)
    assert pnl.realized_ticks == 4 and pnl.realized == Decimal("50.00")
    assert pnl.unrealized_ticks == 10 and pnl.unrealized == Decimal("125.00")
    assert pnl.open_ticks == 10
    assert pnl.net == Decimal("175.00")
    assert pnl.daily == Decimal("175.00")


def test_short_two_contracts_open_against_the_mark() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.SELL, 3, PX_5000 + 1))  # 3 @ 5000.25
    pf.add_fill(fill("e2", Side.BUY, 1, PX_5000 - 1))  # 1 @ 4999.75: +2 ticks
    pf.add_commission("e1", Decimal("6.75"))
    pf.add_commission("e2", Decimal("2.25"))
    pf.on_mark(PX_5000 + 3)  # 5000.75: the 2 short lose 2 ticks each
    pnl = pf.pnl()
    assert pnl.quantity == -2 and pnl.avg_price == PX_5000 + 1
    assert pnl.realized_ticks == 2 and pnl.realized == 2 * TICK_VALUE
    assert pnl.unrealized_ticks == -4 and pnl.unrealized == -4 * TICK_VALUE
    assert pnl.open_ticks == -2  # per contract, from the short's point of view
    assert pnl.commissions == Decimal("9.00")
    assert pnl.net == Decimal("25.00") - Decimal("50.00") - Decimal("9.00")


def test_flat_has_no_open_ticks() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    pf.add_fill(fill("e2", Side.SELL, 1, PX_5000 - 3))
    pnl = pf.pnl()
    assert pnl.quantity == 0 and pnl.avg_price is None and pnl.open_ticks is None
    assert pnl.realized == Decimal("-37.50") and pnl.unrealized == 0


# ---- the trading day -------------------------------------------------------------------------


def test_daily_pnl_resets_at_17_central_and_carries_the_position_at_the_mark() -> None:
    pf, clock = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    pf.add_commission("e1", Decimal("2.25"))
    pf.on_mark(PX_5000 + 4)
    assert pf.pnl().daily == 4 * TICK_VALUE - Decimal("2.25")

    clock.now = ct(2026, 11, 17, 16, 30)  # the daily break: still Tuesday's session
    assert pf.pnl().daily == 4 * TICK_VALUE - Decimal("2.25")
    assert pf.pnl().session_open_ns == ct(2026, 11, 16, 17)

    clock.now = ct(2026, 11, 17, 17)  # the open: a new trading day
    pnl = pf.pnl()
    assert pnl.session_open_ns == ct(2026, 11, 17, 17)
    assert pnl.daily == 0 and pnl.day_commissions == 0
    assert pnl.unrealized == 4 * TICK_VALUE and pnl.commissions == Decimal("2.25")  # totals stay

    clock.now = ct(2026, 11, 17, 17, 5)
    pf.on_mark(PX_5000 + 6)  # up 2 ticks since the open
    assert pf.pnl().daily == 2 * TICK_VALUE

    pf.add_fill(fill("e2", Side.SELL, 1, PX_5000 + 8, clock.now))
    pf.add_commission("e2", Decimal("2.25"))
    pnl = pf.pnl()
    # realized 8 ticks in all, of which 4 were already unrealized at the open
    assert pnl.realized_ticks == 8 and pnl.unrealized_ticks == 0
    assert pnl.daily == 4 * TICK_VALUE - Decimal("2.25")
    assert pnl.commissions == Decimal("4.50")


def test_first_mark_of_the_day_is_measured_from_the_last_mark_before_the_open() -> None:
    pf, clock = portfolio(ct(2026, 11, 17, 15, 59))
    pf.add_fill(fill("e1", Side.SELL, 2, PX_5000, clock.now))
    pf.on_mark(PX_5000 - 3)
    clock.now = ct(2026, 11, 17, 17, 1)
    pf.on_mark(PX_5000 - 5)  # nothing read in between: the open saw 4997.xx = -3
    pnl = pf.pnl()
    assert pnl.unrealized_ticks == 10
    assert pnl.daily == 4 * TICK_VALUE  # 2 contracts x 2 ticks since the open


def test_no_reset_over_the_weekend_until_sunday_17() -> None:
    fri = ct(2026, 11, 20, 15)
    pf, clock = portfolio(fri)
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000, fri))
    pf.on_mark(PX_5000 + 1)
    for t in (ct(2026, 11, 20, 17, 30), ct(2026, 11, 21, 12), ct(2026, 11, 22, 16, 59)):
        clock.now = t
        assert pf.pnl().daily == TICK_VALUE, t
    clock.now = ct(2026, 11, 22, 17)
    assert pf.pnl().daily == 0
    assert pf.pnl().session_open_ns == ct(2026, 11, 22, 17)


# ---- the broker's word -----------------------------------------------------------------------


def test_adopt_takes_the_brokers_quantity_and_average_and_keeps_realized() -> None:
    pf, _ = portfolio()
    pf.add_fill(fill("e1", Side.BUY, 1, PX_5000))
    pf.add_fill(fill("e2", Side.SELL, 1, PX_5000 + 2))  # +2 ticks realized
    # IB's averageCost is price x multiplier with commissions folded in: 5000.295 x 50
    pf.adopt(-2, Decimal("250014.75"))
    assert pf.position.quantity == -2
    assert pf.position.avg_price == PX_5000 + 1  # 5000.25, the nearest tick
    assert pf.position.realized == 2
    pf.on_mark(PX_5000)
    assert pf.pnl().unrealized_ticks == 2  # short 2 from 5000.25, mark 5000.00
    pf.adopt(0, Decimal(0))
    assert pf.position.quantity == 0 and pf.position.realized == 2


def test_adopt_without_a_mark_marks_at_the_adopted_price() -> None:
    pf, _ = portfolio()
    pf.adopt(1, Decimal("250000"))
    pnl = pf.pnl()
    assert pnl.mark == PX_5000 and pnl.unrealized == 0


# ---- properties ------------------------------------------------------------------------------

FILLS = st.lists(
    st.tuples(st.sampled_from(Side), st.integers(1, 5), st.integers(PX_5000 - 40, PX_5000 + 40)),
    min_size=1,
    max_size=30,
)


def _fills(spec: list[tuple[Side, int, int]]) -> list[Fill]:
    return [fill(f"e{i}", s, q, p, TUESDAY_10 + i) for i, (s, q, p) in enumerate(spec)]


def _book(fills: list[Fill]) -> Portfolio:
    pf, _ = portfolio(TUESDAY_10 + len(fills))
    for f in fills:
        pf.add_fill(f)
    return pf


@settings(max_examples=200)
@given(spec=FILLS, mark=st.integers(PX_5000 - 60, PX_5000 + 60))
def test_realized_plus_unrealized_is_the_sum_over_fills(
    spec: list[tuple[Side, int, int]], mark: int
) -> None:
    fills = _fills(spec)
    pf = _book(fills)
    pf.on_mark(mark)
    pnl = pf.pnl()
    expected = sum(f.signed_quantity * (mark - f.price) for f in fills)
    assert pnl.realized_ticks + pnl.unrealized_ticks == expected
    assert pnl.realized + pnl.unrealized == expected * TICK_VALUE
    assert pnl.quantity == sum(f.signed_quantity for f in fills)


@settings(max_examples=200)
@given(spec=FILLS, mark=st.integers(PX_5000 - 60, PX_5000 + 60), seed=st.integers(0, 2**32))
def test_fills_twice_or_shuffled_change_nothing(
    spec: list[tuple[Side, int, int]], mark: int, seed: int
) -> None:
    fills = _fills(spec)
    once = _book(fills)
    shuffled = fills[:]
    random.Random(seed).shuffle(shuffled)
    twice = _book(fills + shuffled)  # every fill again, in another order: all duplicates
    assert (twice.position.quantity, twice.position.avg_price, twice.position.realized) == (
        once.position.quantity, once.position.avg_price, once.position.realized,
    )  # fmt: skip
    assert len(twice.ledger) == len(fills)
    # Booked in another order, FIFO may split the P&L differently between realized and
    # unrealized, but the position and the total at any mark are the same.
    other = _book(shuffled)
    assert other.position.quantity == once.position.quantity
    for pf in (once, other):
        pf.on_mark(mark)
    a, b = once.pnl(), other.pnl()
    assert a.realized_ticks + a.unrealized_ticks == b.realized_ticks + b.unrealized_ticks
