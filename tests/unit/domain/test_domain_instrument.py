"""Prices ↔ integer ticks, price text, money: tradeterm.domain.instrument and .money."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeterm.domain import (
    CME_ROOTS,
    ContractMonth,
    DomainError,
    Instrument,
    OffTickError,
    Rounding,
    Side,
    decimal_from,
    from_cents,
    to_cents,
)

ES = Instrument.from_spec("ES", ContractMonth(2024, 9))
CL = Instrument.from_spec("CL", ContractMonth(2024, 8))
RTY = Instrument.from_spec("RTY")
YM = Instrument.from_spec("YM")
ALL = [Instrument.from_spec(root) for root in CME_ROOTS]


def test_from_spec_uses_the_table_and_names_the_contract() -> None:
    assert ES.root == "ES" and ES.exchange == "CME"
    assert ES.tick_size == Decimal("0.25") and ES.multiplier == 50
    assert ES.key == "ESU4" and str(ES) == "ESU4"
    assert RTY.key == "RTY"  # a root without expiry is named by its root
    assert Instrument.from_spec("mnq").root == "MNQ"
    with pytest.raises(DomainError, match="unknown futures root"):
        Instrument.from_spec("ZZ")


@pytest.mark.parametrize(
    ("root", "tick_value"),
    [
        ("ES", "12.50"),
        ("MES", "1.25"),
        ("NQ", "5.00"),
        ("MNQ", "0.50"),
        ("YM", "5.00"),
        ("RTY", "5.00"),
        ("CL", "10.00"),
        ("GC", "10.00"),
    ],
)
def test_tick_values_match_the_cme_table(root: str, tick_value: str) -> None:
    assert Instrument.from_spec(root).tick_value == Decimal(tick_value)
    assert CME_ROOTS[root].tick_value == Decimal(tick_value)


def test_ib_exchange_names_are_current() -> None:
    assert {s.exchange for s in CME_ROOTS.values()} == {"CME", "CBOT", "NYMEX", "COMEX"}


def test_instrument_rejects_bad_tick_or_multiplier() -> None:
    with pytest.raises(DomainError):
        Instrument("ES", "CME", Decimal(0), Decimal(50))
    with pytest.raises(DomainError):
        Instrument("ES", "CME", Decimal("0.25"), Decimal(-50))
    with pytest.raises(DomainError):
        Instrument("ES", "CME", Decimal("NaN"), Decimal(50))
    with pytest.raises(DomainError):
        Instrument("", "CME", Decimal("0.25"), Decimal(50))


def test_instruments_compare_by_contract_not_by_cache() -> None:
    again = Instrument("ES", "CME", Decimal("0.250"), Decimal(50), ContractMonth(2024, 9))
    assert again.to_ticks(5528.5) == ES.to_ticks(5528.5)
    assert {ES: 1}[Instrument.from_spec("ES", ContractMonth(2024, 9))] == 1
    assert Instrument.from_spec("ES", ContractMonth(2024, 12)) != ES


def test_float_noise_never_moves_a_price_by_a_tick() -> None:
    assert 4.35 / 0.01 < 435  # the float trap this guards against
    assert CL.to_ticks(4.35) == 435
    assert CL.to_ticks(4.35, Rounding.DOWN) == 435
    assert 0.3 / 0.1 < 3
    assert RTY.to_ticks(0.3, Rounding.DOWN) == 3
    assert CL.to_ticks(78.53) == 7853
    assert CL.to_ticks(0.07) == 7
    assert RTY.to_ticks(2050.3) == 20503
    assert ES.to_ticks(5528.5) == 22114
    assert CL.to_ticks(-37.63) == -3763  # April 2020


def test_exact_conversion_refuses_off_tick_prices() -> None:
    for price in (5528.3, Decimal("5528.3"), "5528.10", "5528.2500001"):
        with pytest.raises(OffTickError):
            ES.to_ticks(price)


@pytest.mark.parametrize("price", [5528.3, "5528.3", Decimal("5528.3")])
def test_rounding_modes(price: float | str | Decimal) -> None:
    assert ES.to_ticks(price, Rounding.DOWN) == 22113  # 5528.25
    assert ES.to_ticks(price, Rounding.UP) == 22114  # 5528.50
    assert ES.to_ticks(price, Rounding.NEAREST) == 22113


@pytest.mark.parametrize("price", [5528.125, "5528.125"])
def test_nearest_breaks_ties_upward(price: float | str) -> None:
    assert ES.to_ticks(price, Rounding.NEAREST) == 22113
    assert ES.to_ticks("-0.125", Rounding.NEAREST) == 0


def test_rounding_modes_keep_on_tick_prices() -> None:
    for mode in Rounding:
        assert CL.to_ticks(78.53, mode) == 7853
        assert ES.to_ticks("5528.50", mode) == 22114


def test_negative_prices_round_toward_the_named_direction() -> None:
    assert CL.to_ticks(-37.635, Rounding.DOWN) == -3764
    assert CL.to_ticks(-37.635, Rounding.UP) == -3763
    assert CL.to_ticks("-37.635", Rounding.DOWN) == -3764


def test_passive_rounding_never_makes_a_limit_more_aggressive() -> None:
    assert Rounding.passive(Side.BUY) is Rounding.DOWN
    assert Rounding.passive(Side.SELL) is Rounding.UP
    assert ES.to_ticks(5528.4, Rounding.passive(Side.BUY)) == 22113
    assert ES.to_ticks(5528.4, Rounding.passive(Side.SELL)) == 22114


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "abc", "", "NaN", "Infinity"])
def test_non_prices_are_refused(bad: float | str) -> None:
    with pytest.raises(DomainError):
        ES.to_ticks(bad)


def test_price_text_uses_the_instruments_decimals() -> None:
    assert ES.format_price(22114) == "5528.50"
    assert ES.format_price(1) == "0.25"
    assert ES.format_price(0) == "0.00"
    assert ES.format_price(-1) == "-0.25"
    assert CL.format_price(-3763) == "-37.63"
    assert RTY.format_price(20501) == "2050.1"
    assert YM.format_price(39000) == "39000"
    assert [i.price_decimals for i in (ES, CL, RTY, YM)] == [2, 2, 1, 0]


def test_parse_price_reads_user_text() -> None:
    assert ES.parse_price(" 5528.5 ") == 22114
    assert ES.parse_price("5528") == 22112
    with pytest.raises(OffTickError):
        ES.parse_price("5528.1")


def test_prices_for_the_broker_are_exact_on_the_tick() -> None:
    assert RTY.to_float(3) == 0.3 and repr(RTY.to_float(3)) == "0.3"  # not 0.30000000000000004
    assert ES.to_price(22114) == Decimal("5528.50")
    assert CL.to_price(-3763) == Decimal("-37.63")


@given(ticks=st.integers(-(10**8), 10**8), inst=st.sampled_from(ALL))
def test_every_tick_round_trips_through_every_price_form(ticks: int, inst: Instrument) -> None:
    price = inst.to_price(ticks)
    as_float = inst.to_float(ticks)
    assert Decimal(repr(as_float)) == price  # the text IB receives is the exact price
    assert inst.to_ticks(as_float) == ticks
    assert inst.to_ticks(price) == ticks
    assert inst.parse_price(inst.format_price(ticks)) == ticks
    assert Decimal(inst.format_price(ticks)) == price


@given(
    ticks=st.integers(-(10**6), 10**6),
    frac=st.fractions(min_value=0, max_value=1, max_denominator=1000).filter(lambda f: 0 < f < 1),
    inst=st.sampled_from(ALL),
)
def test_off_tick_prices_round_to_the_neighbouring_ticks(
    ticks: int, frac: Fraction, inst: Instrument
) -> None:
    offset = Decimal(frac.numerator) / Decimal(frac.denominator)
    price = (ticks + offset) * inst.tick_size
    assert inst.to_ticks(price, Rounding.DOWN) == ticks
    assert inst.to_ticks(price, Rounding.UP) == ticks + 1
    expected = ticks + 1 if frac >= Fraction(1, 2) else ticks
    assert inst.to_ticks(price, Rounding.NEAREST) == expected
    as_float = float(price)
    assert inst.to_ticks(as_float, Rounding.DOWN) == ticks
    assert inst.to_ticks(as_float, Rounding.UP) == ticks + 1
    with pytest.raises(OffTickError):
        inst.to_ticks(price)


def test_money_is_exact() -> None:
    assert ES.money(4) == Decimal("50.00")
    assert ES.money(-1) == Decimal("-12.50")
    assert CL.money(3) == Decimal("30.00")
    assert to_cents(ES.money(3)) == 3750
    assert from_cents(1250) == Decimal("12.50")
    assert from_cents(-5) == Decimal("-0.05")
    with pytest.raises(DomainError, match="cents"):
        to_cents(Decimal("0.125"))


def test_decimal_from_reads_what_a_broker_meant() -> None:
    assert decimal_from(0.1) == Decimal("0.1")
    assert decimal_from(0.25) == Decimal("0.25")
    assert decimal_from(50) == Decimal(50)
    assert decimal_from(" 12.5 ") == Decimal("12.5")
    for bad in (float("nan"), "x", True, "inf"):
        with pytest.raises(DomainError):
            decimal_from(bad)  # type: ignore[arg-type]


def test_an_ib_min_tick_float_builds_the_same_instrument() -> None:
    from_ib = Instrument(
        "ES", "CME", decimal_from(0.25), decimal_from("50"), ContractMonth(2024, 9)
    )
    assert from_ib == ES
