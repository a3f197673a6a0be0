"""Instrument specs, instruments and exact money: tradeterm.domain.instruments/money."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tradeterm.domain import (
    CME_ROOTS,
    ContractMonth,
    DomainError,
    Instrument,
    InstrumentSpec,
    OffTickError,
    Rounding,
    UnknownInstrumentError,
    decimal_from,
    from_cents,
    spec_for,
    to_cents,
    whole_from,
)

ES = Instrument.from_spec("ES", ContractMonth(2024, 9))


@pytest.mark.parametrize(
    ("root", "exchange", "tick", "multiplier", "tick_value", "months"),
    [
        ("ES", "CME", "0.25", 50, "12.50", "HMUZ"),
        ("MES", "CME", "0.25", 5, "1.25", "HMUZ"),
        ("NQ", "CME", "0.25", 20, "5.00", "HMUZ"),
        ("MNQ", "CME", "0.25", 2, "0.50", "HMUZ"),
        ("YM", "CBOT", "1", 5, "5.00", "HMUZ"),
        ("RTY", "CME", "0.1", 50, "5.00", "HMUZ"),
        ("CL", "NYMEX", "0.01", 1000, "10.00", "FGHJKMNQUVXZ"),
        ("GC", "COMEX", "0.1", 100, "10.00", "GJMQVZ"),
    ],
)
def test_spec_table_matches_ib_facts(
    root: str, exchange: str, tick: str, multiplier: int, tick_value: str, months: str
) -> None:
    spec = spec_for(root)
    assert (spec.root, spec.exchange, spec.currency) == (root, exchange, "USD")
    assert spec.tick == Decimal(tick) and spec.multiplier == multiplier
    assert spec.tick_value == Decimal(tick_value) and spec.months == months
    assert Instrument.from_spec(root).tick_value == Decimal(tick_value)


def test_the_table_holds_exactly_the_documented_roots() -> None:
    assert set(CME_ROOTS) == {
        "ES", "MES", "NQ", "MNQ", "YM", "MYM", "RTY", "M2K", "ZN", "ZB", "6E", "CL", "MCL",
        "NG", "GC", "MGC", "SI",
    }  # fmt: skip
    ticks = {r: (CME_ROOTS[r].tick, CME_ROOTS[r].tick_value) for r in ("ZN", "ZB", "6E", "MYM")}
    assert ticks == {
        "ZN": (Decimal("0.015625"), Decimal("15.625")),
        "ZB": (Decimal("0.03125"), Decimal("31.25")),
        "6E": (Decimal("0.00005"), Decimal("6.25")),
        "MYM": (Decimal("1.00"), Decimal("0.5")),
    }
    assert not {s.exchange for s in CME_ROOTS.values()} & {"GLOBEX", "ECBOT"}


def test_spec_for_is_case_insensitive_and_names_known_roots() -> None:
    assert spec_for(" mes ") is CME_ROOTS["MES"]
    with pytest.raises(UnknownInstrumentError) as err:
        spec_for("M6E")
    assert "'M6E'" in str(err.value)
    assert all(root in str(err.value) for root in CME_ROOTS)
    assert isinstance(err.value, DomainError)


def test_spec_from_live_values_is_validated() -> None:
    live = InstrumentSpec("MCL", "NYMEX", Decimal("0.01"), Decimal(100), "FGHJKMNQUVXZ")
    assert live.tick_value == Decimal("1.00")
    with pytest.raises(DomainError):
        InstrumentSpec("X", "CME", Decimal(0), Decimal(1), "H")
    with pytest.raises(DomainError):
        InstrumentSpec("X", "CME", Decimal("0.25"), Decimal(0), "H")
    with pytest.raises(DomainError):
        InstrumentSpec("X", "CME", Decimal("0.25"), Decimal(1), "HA")
    for multiplier in (Decimal("NaN"), Decimal("Infinity"), 50):
        with pytest.raises(DomainError):
            InstrumentSpec("X", "CME", Decimal("0.25"), multiplier, "H")  # type: ignore[arg-type]
        with pytest.raises(DomainError):
            Instrument("X", "CME", Decimal("0.25"), multiplier)  # type: ignore[arg-type]


def test_cycles() -> None:
    es = spec_for("ES")
    assert es.is_listed(ContractMonth(2024, 9)) and not es.is_listed(ContractMonth(2024, 8))
    assert es.cycle_months(ContractMonth(2024, 7), 3) == [
        ContractMonth(2024, 9),
        ContractMonth(2024, 12),
        ContractMonth(2025, 3),
    ]
    assert spec_for("CL").cycle_months(ContractMonth(2024, 12), 2) == [
        ContractMonth(2024, 12),
        ContractMonth(2025, 1),
    ]


def test_instrument_from_spec_names_the_contract() -> None:
    assert (ES.root, ES.exchange, ES.tick, ES.multiplier) == ("ES", "CME", Decimal("0.25"), 50)
    assert ES.key == "ESU4" and str(ES) == "ESU4"
    assert Instrument.from_spec("RTY").key == "RTY"  # a root template is named by its root
    assert Instrument.from_spec(spec_for("CL"), ContractMonth(2025, 1), con_id=7).con_id == 7
    with pytest.raises(UnknownInstrumentError):
        Instrument.from_spec("ZZ")


def test_instrument_from_ib_contract_details() -> None:
    from_ib = Instrument(
        "ES", "CME", decimal_from(0.25), decimal_from("50"), ContractMonth(2024, 9), "ESU4", 1
    )
    assert from_ib.to_ticks(5528.5) == 22114
    assert from_ib.key == ES.key and from_ib != ES  # con_id differs
    with pytest.raises(DomainError):
        Instrument("ES", "CME", Decimal(0), Decimal(50))
    with pytest.raises(DomainError):
        Instrument("ES", "CME", Decimal("0.25"), Decimal(-50))
    with pytest.raises(DomainError):
        Instrument("", "CME", Decimal("0.25"), Decimal(50))


def test_instruments_are_hashable_values() -> None:
    assert {ES: 1}[Instrument.from_spec("ES", ContractMonth(2024, 9))] == 1
    assert Instrument.from_spec("ES", ContractMonth(2024, 12)) != ES


def test_instrument_binds_the_tick_math() -> None:
    yml = Instrument.from_spec("YM")
    assert ES.to_ticks("5528.3", Rounding.UP) == 22114
    assert ES.parse_price(" 5528.5 ") == 22114
    with pytest.raises(OffTickError):
        ES.parse_price("5528.1")
    assert ES.to_price(22114) == Decimal("5528.50") and ES.to_float(22114) == 5528.5
    assert ES.format_price(22114) == "5528.50" and yml.format_price(39000) == "39000"
    assert (ES.price_decimals, yml.price_decimals) == (2, 0)
    assert ES.money(4) == Decimal("50.00")


def test_cents() -> None:
    assert to_cents(ES.money(3)) == 3750
    assert from_cents(1250) == Decimal("12.50")
    assert from_cents(-5) == Decimal("-0.05")
    with pytest.raises(DomainError, match="cents"):
        to_cents(Decimal("0.125"))


def test_decimal_from_reads_what_a_broker_meant() -> None:
    assert decimal_from(0.1) == Decimal("0.1")
    assert decimal_from(50) == Decimal(50)
    assert decimal_from(" 12.5 ") == Decimal("12.5")
    for bad in (float("nan"), "x", True, "inf"):
        with pytest.raises(DomainError):
            decimal_from(bad)


@pytest.mark.parametrize(
    "text", ["\u0665\u0660", "\uff15", "\u00b3", "5_000", "1e3", "NaN", "-Infinity", "", "."]
)
def test_numbers_typed_as_text_are_plain_ascii(text: str) -> None:
    with pytest.raises(DomainError, match="not a"):
        decimal_from(text)
    with pytest.raises(DomainError, match="not a whole number"):
        whole_from(text)


def test_plain_ascii_numbers_are_read() -> None:
    assert [decimal_from(t) for t in ("5000.25", "-0.5", "+.5", "7.")] == [
        Decimal("5000.25"), Decimal("-0.5"), Decimal("0.5"), Decimal(7)
    ]  # fmt: skip
    assert [whole_from(t) for t in ("3", " 12 ", "-2", "+4")] == [3, 12, -2, 4]
