"""Integer-tick price math: tradeterm.domain.ticks."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeterm.domain import (
    CME_ROOTS,
    DomainError,
    OffTickError,
    Rounding,
    Side,
    format_ticks,
    nearest_tick,
    price_decimals,
    price_to_ticks,
    round_to_tick,
    spec_for,
    ticks_to_float,
    ticks_to_money,
    ticks_to_price,
)

QUARTER = Decimal("0.25")  # ES, NQ
CENT = Decimal("0.01")  # CL
TENTH = Decimal("0.1")  # RTY, GC
TICKS = sorted({spec.tick for spec in CME_ROOTS.values()})
Price = float | Decimal | int | str


def test_the_table_covers_every_kind_of_tick() -> None:
    # 6E; NG; SI; CL; ZN (1/64); ZB (1/32); RTY, GC; ES, NQ; YM
    assert [Decimal("0.00005"), Decimal("0.001"), Decimal("0.005"), CENT, Decimal("0.015625"),
            Decimal("0.03125"), TENTH, QUARTER, Decimal(1)] == TICKS  # fmt: skip


def test_float_noise_never_moves_a_price_by_a_tick() -> None:
    assert 4.35 / 0.01 < 435  # the float trap this guards against
    assert price_to_ticks(4.35, CENT) == 435
    assert price_to_ticks(4.35, CENT, Rounding.DOWN) == 435
    assert 0.3 / 0.1 < 3
    assert price_to_ticks(0.3, TENTH, Rounding.DOWN) == 3
    assert price_to_ticks(78.53, CENT) == 7853
    assert price_to_ticks(5528.5, QUARTER) == 22114
    assert price_to_ticks(-37.63, CENT) == -3763  # April 2020


@pytest.mark.parametrize("price", [5528.3, Decimal("5528.3"), "5528.10", "5528.2500001"])
def test_exact_conversion_refuses_off_tick_prices(price: Price) -> None:
    with pytest.raises(OffTickError):
        price_to_ticks(price, QUARTER)


@pytest.mark.parametrize("price", [5528.3, "5528.3", Decimal("5528.3")])
def test_rounding_modes(price: Price) -> None:
    assert price_to_ticks(price, QUARTER, Rounding.DOWN) == 22113  # 5528.25
    assert price_to_ticks(price, QUARTER, Rounding.UP) == 22114  # 5528.50
    assert nearest_tick(price, QUARTER) == 22113


@pytest.mark.parametrize("price", [5528.125, "5528.125"])
def test_nearest_breaks_ties_upward(price: Price) -> None:
    assert nearest_tick(price, QUARTER) == 22113
    assert nearest_tick("-0.125", QUARTER) == 0
    assert nearest_tick(-0.125, QUARTER) == 0


def test_negative_prices_round_toward_the_named_direction() -> None:
    assert price_to_ticks(-37.635, CENT, Rounding.DOWN) == -3764
    assert price_to_ticks(-37.635, CENT, Rounding.UP) == -3763
    assert price_to_ticks("-37.635", CENT, Rounding.DOWN) == -3764


def test_round_to_tick_is_safe_for_the_side() -> None:
    assert Rounding.passive(Side.BUY) is Rounding.DOWN
    assert Rounding.passive(Side.SELL) is Rounding.UP
    assert round_to_tick(5528.4, QUARTER, Side.BUY) == 22113  # pays no more than 5528.40
    assert round_to_tick(5528.4, QUARTER, Side.SELL) == 22114  # gets no less than 5528.40


@given(
    data=st.data(),
    tick=st.sampled_from(TICKS),
    side=st.sampled_from(list(Side)),
    as_float=st.booleans(),
)
def test_round_to_tick_direction_and_distance(
    data: st.DataObject, tick: Decimal, side: Side, as_float: bool
) -> None:
    # at most 10**9 ticks from zero (6E: 50,000.00000): a float price holds no more precision
    bound = min(10**9, int(tick * 10**11))
    exact = Decimal(data.draw(st.integers(-bound, bound))) / 100
    price: Price = float(exact) if as_float else exact
    ticks = round_to_tick(price, tick, side)
    rounded = ticks_to_price(ticks, tick)
    if side is Side.BUY:
        assert exact - tick < rounded <= exact
    else:
        assert exact <= rounded < exact + tick
    assert round_to_tick(rounded, tick, side) == ticks  # idempotent once on the tick
    assert round_to_tick(ticks_to_float(ticks, tick), tick, side) == ticks


@given(ticks=st.integers(-(10**9), 10**9), tick=st.sampled_from(TICKS))
def test_every_tick_round_trips_through_every_price_form(ticks: int, tick: Decimal) -> None:
    price = ticks_to_price(ticks, tick)
    as_float = ticks_to_float(ticks, tick)
    assert price == ticks * tick
    assert Decimal(repr(as_float)) == price  # the text IB receives is the exact price
    assert price_to_ticks(as_float, tick) == ticks
    assert price_to_ticks(price, tick) == ticks
    assert price_to_ticks(str(price), tick) == ticks
    assert price_to_ticks(format_ticks(ticks, tick), tick) == ticks
    assert Decimal(format_ticks(ticks, tick)) == price
    for mode in Rounding:
        assert price_to_ticks(as_float, tick, mode) == ticks


@pytest.mark.parametrize("tick", TICKS)
def test_no_drift_across_millions_of_ticks(tick: Decimal) -> None:
    """Accumulating a float tick drifts; integer ticks never do."""
    for base in (0, 10**7, 10**8):
        for k in range(0, 2_000_000, 997):
            ticks = base + k
            assert ticks_to_price(ticks, tick) == ticks * tick
            assert price_to_ticks(ticks_to_float(ticks, tick), tick) == ticks


@given(
    ticks=st.integers(-(10**6), 10**6),
    frac=st.fractions(min_value=0, max_value=1, max_denominator=1000).filter(lambda f: 0 < f < 1),
    tick=st.sampled_from(TICKS),
)
def test_off_tick_prices_round_to_the_neighbouring_ticks(
    ticks: int, frac: Fraction, tick: Decimal
) -> None:
    offset = Decimal(frac.numerator) / Decimal(frac.denominator)
    price = (ticks + offset) * tick
    assert price_to_ticks(price, tick, Rounding.DOWN) == ticks
    assert price_to_ticks(price, tick, Rounding.UP) == ticks + 1
    assert nearest_tick(price, tick) == (ticks + 1 if frac >= Fraction(1, 2) else ticks)
    assert price_to_ticks(float(price), tick, Rounding.DOWN) == ticks
    assert price_to_ticks(float(price), tick, Rounding.UP) == ticks + 1
    with pytest.raises(OffTickError):
        price_to_ticks(price, tick)
    with pytest.raises(OffTickError):
        price_to_ticks(float(price), tick)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", "", "NaN", "Infinity"])
def test_non_prices_are_refused(bad: Price) -> None:
    with pytest.raises(DomainError):
        price_to_ticks(bad, QUARTER)


@pytest.mark.parametrize("tick", [Decimal(0), Decimal(-1), Decimal("NaN"), 0.25])
def test_bad_ticks_are_refused(tick: Decimal) -> None:
    with pytest.raises(DomainError):
        price_to_ticks("1", tick)


def test_price_text_uses_the_ticks_decimals() -> None:
    assert format_ticks(22114, QUARTER) == "5528.50"
    assert format_ticks(1, QUARTER) == "0.25"
    assert format_ticks(0, QUARTER) == "0.00"
    assert format_ticks(-1, QUARTER) == "-0.25"
    assert format_ticks(-3763, CENT) == "-37.63"
    assert format_ticks(20501, TENTH) == "2050.1"
    assert format_ticks(39000, Decimal("1.00")) == "39000"
    assert format_ticks(3, Decimal(5)) == "15"
    assert [price_decimals(t) for t in (QUARTER, CENT, TENTH, Decimal("1.00"))] == [2, 2, 1, 0]


def test_prices_for_the_broker_are_exact() -> None:
    assert repr(ticks_to_float(3, TENTH)) == "0.3"  # not 0.30000000000000004
    assert ticks_to_price(22114, QUARTER) == Decimal("5528.50")
    assert ticks_to_price(-3763, CENT) == Decimal("-37.63")


def test_money_is_exact() -> None:
    es, cl = spec_for("ES"), spec_for("CL")
    assert ticks_to_money(4, 2, es) == Decimal("100.00")
    assert ticks_to_money(-1, 1, es) == Decimal("-12.50")
    assert ticks_to_money(3, 1, cl) == Decimal("30.00")
    assert ticks_to_money(1, 3, spec_for("MNQ")) == Decimal("1.50")
