"""Last trading days and front-month selection: tradeterm.domain.expiry."""

from __future__ import annotations

import datetime as dt

import pytest

from tradeterm.domain import (
    CME_ROOTS,
    ContractMonth,
    DomainError,
    UnknownInstrumentError,
    expiry_date,
    first_notice_day,
    front_month,
    listed_months,
    roll_date,
    third_friday,
)

D = dt.date


@pytest.mark.parametrize(
    ("root", "month", "last_day"),
    [
        # Published last trading days (CME Group contract calendars).
        ("ES", ContractMonth(2024, 9), D(2024, 9, 20)),
        ("ES", ContractMonth(2024, 3), D(2024, 3, 15)),
        ("ES", ContractMonth(2024, 12), D(2024, 12, 20)),
        ("ES", ContractMonth(2020, 3), D(2020, 3, 20)),
        ("ES", ContractMonth(2026, 12), D(2026, 12, 18)),
        ("NQ", ContractMonth(2024, 9), D(2024, 9, 20)),
        ("MES", ContractMonth(2026, 6), D(2026, 6, 19)),
        ("YM", ContractMonth(2025, 3), D(2025, 3, 21)),
        ("RTY", ContractMonth(2025, 6), D(2025, 6, 20)),
        # CL: 3 business days before the 25th of the prior month...
        ("CL", ContractMonth(2024, 8), D(2024, 7, 22)),
        ("CL", ContractMonth(2024, 10), D(2024, 9, 20)),
        ("CL", ContractMonth(2024, 11), D(2024, 10, 22)),
        # ...4 when the 25th is a weekend day (Sunday 2024-08-25).
        ("CL", ContractMonth(2024, 9), D(2024, 8, 20)),
        # GC: third-last business day of the contract month.
        ("GC", ContractMonth(2024, 8), D(2024, 8, 28)),
        ("GC", ContractMonth(2024, 12), D(2024, 12, 27)),
        ("GC", ContractMonth(2025, 2), D(2025, 2, 26)),
        ("MGC", ContractMonth(2025, 2), D(2025, 2, 26)),
        ("SI", ContractMonth(2024, 12), D(2024, 12, 27)),
        ("MYM", ContractMonth(2025, 3), D(2025, 3, 21)),
        ("M2K", ContractMonth(2025, 6), D(2025, 6, 20)),
        # Treasuries: the 7th business day before the month's last business day.
        ("ZN", ContractMonth(2024, 9), D(2024, 9, 19)),
        ("ZB", ContractMonth(2025, 3), D(2025, 3, 20)),
        # 6E: 2 business days before the 3rd Wednesday (2024-09-18).
        ("6E", ContractMonth(2024, 9), D(2024, 9, 16)),
        # MCL: one business day before CL (CLQ4: 2024-07-22).
        ("MCL", ContractMonth(2024, 8), D(2024, 7, 19)),
        # NG: 3 business days before the 1st of the month (Sunday 2024-09-01).
        ("NG", ContractMonth(2024, 9), D(2024, 8, 28)),
    ],
)
def test_expiry_on_known_dates(root: str, month: ContractMonth, last_day: dt.date) -> None:
    assert expiry_date(root, month) == last_day


def test_holidays_are_ignored_as_documented() -> None:
    # CLF5 really stopped on 2024-12-19: Christmas made the 25th a non-business day.
    assert expiry_date("CL", ContractMonth(2025, 1)) == D(2024, 12, 20)


def test_third_friday_when_the_month_starts_on_a_friday() -> None:
    assert third_friday(ContractMonth(2026, 5)) == D(2026, 5, 15)
    assert third_friday(ContractMonth(2024, 11)) == D(2024, 11, 15)


@pytest.mark.parametrize("root", sorted(CME_ROOTS))
def test_every_root_in_the_table_has_an_expiry_rule(root: str) -> None:
    for month in CME_ROOTS[root].cycle_months(ContractMonth(2024, 1), 24):
        day = expiry_date(root, month)
        assert day.weekday() < 5
        assert day < D(month.year, month.month, 28) + dt.timedelta(days=4)


def test_expiry_refuses_unlisted_months_and_unknown_roots() -> None:
    with pytest.raises(DomainError, match="does not list"):
        expiry_date("ES", ContractMonth(2024, 8))
    with pytest.raises(UnknownInstrumentError):
        expiry_date("M6E", ContractMonth(2024, 9))  # traded on IB's details alone


@pytest.mark.parametrize(
    ("root", "today", "roll_days", "front"),
    [
        # ESZ6 expires Fri 2026-12-18; with 8 roll days the roll date is 12-10.
        ("ES", D(2026, 12, 9), 8, ContractMonth(2026, 12)),
        ("ES", D(2026, 12, 10), 8, ContractMonth(2027, 3)),
        ("ES", D(2026, 12, 11), 8, ContractMonth(2027, 3)),  # Dec -> Mar across the year end
        ("ES", D(2026, 12, 17), 0, ContractMonth(2026, 12)),
        ("ES", D(2026, 12, 18), 0, ContractMonth(2027, 3)),  # expiry day: already the next
        ("ES", D(2026, 10, 1), 8, ContractMonth(2026, 12)),
        ("ES", D(2024, 7, 1), 0, ContractMonth(2024, 9)),
        # CLQ4 stops 2024-07-22, CLU4 2024-08-20.
        ("CL", D(2024, 7, 19), 0, ContractMonth(2024, 8)),
        ("CL", D(2024, 7, 22), 0, ContractMonth(2024, 9)),
        ("CL", D(2024, 7, 31), 0, ContractMonth(2024, 9)),
        ("CL", D(2024, 7, 18), 2, ContractMonth(2024, 8)),
        ("CL", D(2024, 7, 20), 2, ContractMonth(2024, 9)),
        # CLF5 (2024-12-20 by the weekday rule) then CLG5 across the year end.
        ("CL", D(2024, 12, 19), 0, ContractMonth(2025, 1)),
        ("CL", D(2024, 12, 23), 0, ContractMonth(2025, 2)),
        # CLF5 by the default roll: 8 days before its last trading day (2024-12-20).
        ("CL", D(2024, 12, 11), 8, ContractMonth(2025, 1)),
        ("CL", D(2024, 12, 12), 8, ContractMonth(2025, 2)),
        # GC is left before its first notice day, never traded inside its delivery month:
        # GCQ4's first notice day is Wed 2024-07-31 (it trades until 08-28).
        ("GC", D(2024, 7, 30), 0, ContractMonth(2024, 8)),
        ("GC", D(2024, 7, 31), 0, ContractMonth(2024, 10)),
        ("GC", D(2024, 8, 27), 0, ContractMonth(2024, 10)),
        # GCZ4: first notice Fri 2024-11-29; with 8 roll days GCG5 is the front from 11-21.
        ("GC", D(2024, 11, 20), 8, ContractMonth(2024, 12)),
        ("GC", D(2024, 11, 21), 8, ContractMonth(2025, 2)),
        ("GC", D(2024, 12, 10), 8, ContractMonth(2025, 2)),
        ("GC", D(2024, 12, 30), 0, ContractMonth(2025, 2)),
        # GCM5: May 31 2025 is a Saturday, so the notice day is Fri 05-30.
        ("GC", D(2025, 5, 21), 8, ContractMonth(2025, 6)),
        ("GC", D(2025, 5, 22), 8, ContractMonth(2025, 8)),
        # Treasuries too: ZNH6's first notice day is Fri 2026-02-27 (it trades to 03-20).
        ("ZN", D(2026, 2, 26), 0, ContractMonth(2026, 3)),
        ("ZN", D(2026, 2, 27), 0, ContractMonth(2026, 6)),
        ("ZB", D(2026, 2, 28), 0, ContractMonth(2026, 6)),  # a Saturday
        ("SI", D(2026, 2, 26), 0, ContractMonth(2026, 3)),  # SIH6: notice day Fri 02-27
        ("SI", D(2026, 2, 28), 0, ContractMonth(2026, 5)),  # a Saturday: May
        # the others to their expiry: 6EH6 stops Mon 2026-03-16, NGF6 Mon 2025-12-29
        ("6E", D(2026, 3, 15), 0, ContractMonth(2026, 3)),  # a Sunday
        ("6E", D(2026, 3, 16), 0, ContractMonth(2026, 6)),
        ("NG", D(2025, 12, 28), 0, ContractMonth(2026, 1)),
        ("NG", D(2025, 12, 29), 0, ContractMonth(2026, 2)),
    ],
)
def test_front_month(root: str, today: dt.date, roll_days: int, front: ContractMonth) -> None:
    assert front_month(root, today, roll_days) == front


@pytest.mark.parametrize(
    ("month", "notice"),
    [
        (ContractMonth(2024, 8), D(2024, 7, 31)),
        (ContractMonth(2024, 12), D(2024, 11, 29)),
        (ContractMonth(2025, 2), D(2025, 1, 31)),
        (ContractMonth(2025, 6), D(2025, 5, 30)),  # the month ends on a Saturday
        (ContractMonth(2025, 12), D(2025, 11, 28)),  # ... on a Sunday
    ],
)
def test_gold_first_notice_day_is_the_last_business_day_before_the_month(
    month: ContractMonth, notice: dt.date
) -> None:
    assert first_notice_day(month) == notice
    assert roll_date("GC", month) == notice
    assert roll_date("GC", month, 8) == notice - dt.timedelta(days=8)


def test_roll_date_uses_the_brokers_expiry_when_given() -> None:
    """IB's last trading day knows the holidays: CLF5 really stopped 2024-12-19."""
    assert roll_date("CL", ContractMonth(2025, 1), 8) == D(2024, 12, 12)
    assert roll_date("CL", ContractMonth(2025, 1), 8, D(2024, 12, 19)) == D(2024, 12, 11)
    assert roll_date("ES", ContractMonth(2026, 12), 8, D(2026, 12, 18)) == D(2026, 12, 10)
    # GC's notice day does not depend on the last trading day
    assert roll_date("GC", ContractMonth(2024, 12), 0, D(2024, 12, 27)) == D(2024, 11, 29)


def test_roll_date_refuses_months_outside_the_cycle() -> None:
    with pytest.raises(DomainError, match="does not trade F"):
        roll_date("GC", ContractMonth(2025, 1))  # a serial month: listed, never the front
    with pytest.raises(DomainError, match="does not trade Q"):
        roll_date("ES", ContractMonth(2024, 8))


def test_front_month_refuses_negative_roll() -> None:
    with pytest.raises(DomainError):
        front_month("ES", D(2024, 7, 1), -1)


def test_listed_months_still_trading() -> None:
    assert listed_months("ES", D(2024, 9, 20), 3) == [  # expiry day: still trading
        ContractMonth(2024, 9),
        ContractMonth(2024, 12),
        ContractMonth(2025, 3),
    ]
    assert listed_months("ES", D(2024, 9, 21), 2) == [
        ContractMonth(2024, 12),
        ContractMonth(2025, 3),
    ]
    assert listed_months("CL", D(2024, 7, 23), 2) == [
        ContractMonth(2024, 9),
        ContractMonth(2024, 10),
    ]
    assert listed_months("GC", D(2024, 1, 2), 0) == []
    with pytest.raises(DomainError):
        listed_months("GC", D(2024, 1, 2), -1)


@pytest.mark.parametrize("root", sorted(CME_ROOTS))
def test_front_month_is_the_first_listed_month_not_yet_rolled(root: str) -> None:
    for day in range(0, 730, 7):
        today = D(2024, 1, 1) + dt.timedelta(days=day)
        months = listed_months(root, today, 3)
        front = front_month(root, today)
        assert front == next(m for m in months if roll_date(root, m) > today)
        if root not in ("GC", "MGC", "SI", "ZN", "ZB"):  # traded up to their expiry
            assert front == (months[1] if expiry_date(root, months[0]) == today else months[0])
        else:  # never inside the delivery month
            assert (today.year, today.month) < (front.year, front.month)
