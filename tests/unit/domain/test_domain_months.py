"""Contract months and local symbols: tradeterm.domain.months."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeterm.domain import CME_ROOTS, ContractMonth, DomainError, parse_local_symbol

SEP24 = ContractMonth(2024, 9)
TODAY = dt.date(2024, 7, 1)


def test_month_codes_and_ib_forms() -> None:
    assert SEP24.code == "U"
    assert SEP24.yyyymm == "202409" and str(SEP24) == "202409"
    assert SEP24.local_symbol("ES") == "ESU4"
    assert ContractMonth(2025, 1).local_symbol("CL") == "CLF5"
    assert ContractMonth(2030, 12).local_symbol("GC") == "GCZ0"


def test_months_are_validated_and_ordered() -> None:
    with pytest.raises(DomainError):
        ContractMonth(2024, 13)
    with pytest.raises(DomainError):
        ContractMonth(2024, 0)
    assert ContractMonth(2024, 12) < ContractMonth(2025, 3)
    assert sorted([ContractMonth(2025, 3), SEP24]) == [SEP24, ContractMonth(2025, 3)]


def test_shifted_crosses_years_both_ways() -> None:
    assert SEP24.shifted(3) == ContractMonth(2024, 12)
    assert SEP24.shifted(4) == ContractMonth(2025, 1)
    assert SEP24.shifted(-9) == ContractMonth(2023, 12)
    assert SEP24.shifted(0) == SEP24


@given(year=st.integers(1950, 9000), month=st.integers(1, 12), n=st.integers(-500, 500))
def test_shifted_is_reversible(year: int, month: int, n: int) -> None:
    m = ContractMonth(year, month)
    assert m.shifted(n).shifted(-n) == m


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("202409", None, SEP24),
        ("U4", TODAY, SEP24),
        ("u24", TODAY, SEP24),
        ("Z3", TODAY, ContractMonth(2023, 12)),  # last year's contract can be named
        ("H2", TODAY, ContractMonth(2032, 3)),  # otherwise the next decade
        ("F0", dt.date(2029, 12, 31), ContractMonth(2030, 1)),
        ("Z9", dt.date(2030, 1, 2), ContractMonth(2029, 12)),
    ],
)
def test_parse_contract_month(text: str, today: dt.date | None, expected: ContractMonth) -> None:
    assert ContractMonth.parse(text, today) == expected


@pytest.mark.parametrize("text", ["2024", "U", "A4", "202413", "U2024", "ESU4"])
def test_parse_refuses_non_months(text: str) -> None:
    with pytest.raises(DomainError):
        ContractMonth.parse(text, TODAY)


def test_a_last_trade_date_is_not_a_contract_month() -> None:
    with pytest.raises(DomainError, match="contractMonth"):
        ContractMonth.parse("20240820")  # CLU4's last trade date, in August


def test_a_short_year_needs_today() -> None:
    with pytest.raises(DomainError, match="today"):
        ContractMonth.parse("U4")


@pytest.mark.parametrize(
    ("symbol", "root", "month"),
    [
        ("ESU4", "ES", SEP24),
        ("mesz4", "MES", ContractMonth(2024, 12)),
        ("CLQ4", "CL", ContractMonth(2024, 8)),
        ("M2KU4", "M2K", SEP24),
        ("NQU24", "NQ", SEP24),
    ],
)
def test_parse_local_symbol(symbol: str, root: str, month: ContractMonth) -> None:
    assert parse_local_symbol(symbol, TODAY) == (root, month)


@given(root=st.sampled_from(sorted(CME_ROOTS)), offset=st.integers(-12, 100))
def test_local_symbols_round_trip(root: str, offset: int) -> None:
    month = ContractMonth(TODAY.year, TODAY.month).shifted(offset)
    assert parse_local_symbol(month.local_symbol(root), TODAY) == (root, month)


@pytest.mark.parametrize("symbol", ["ES", "U4", "ES4", "ESA4", ""])
def test_parse_local_symbol_refuses_garbage(symbol: str) -> None:
    with pytest.raises(DomainError):
        parse_local_symbol(symbol, TODAY)
