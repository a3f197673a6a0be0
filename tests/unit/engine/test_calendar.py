"""The CME session calendar: 17:00 CT rollover, the daily break, weekends, DST weekends."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.clock import ct
from tradeterm.engine import calendar as session
from tradeterm.engine.calendar import CHICAGO, NS, SessionCalendar


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> int:
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=dt.UTC).timestamp()) * NS


# 2026-11-16 is a Monday.
def test_rollover_at_17_ct() -> None:
    before, at = ct(2026, 11, 17, 16, 59, 59), ct(2026, 11, 17, 17)
    assert session.session_date(before) == dt.date(2026, 11, 17)
    assert session.session_date(at) == dt.date(2026, 11, 18)
    assert session.session_open_ns(at) == at
    assert session.session_open_ns(before) == ct(2026, 11, 16, 17)
    assert session.session_open_ns(ct(2026, 11, 18, 9, 30)) == at


def test_maintenance_break() -> None:
    assert session.is_open(ct(2026, 11, 17, 15, 59, 59))
    assert not session.is_open(ct(2026, 11, 17, 16))
    assert not session.is_open(ct(2026, 11, 17, 16, 59, 59))
    assert session.is_open(ct(2026, 11, 17, 17))
    # during the break the day that just closed is still the session
    assert session.session_date(ct(2026, 11, 17, 16, 30)) == dt.date(2026, 11, 17)
    assert session.next_open_ns(ct(2026, 11, 17, 16, 30)) == ct(2026, 11, 17, 17)


def test_friday_close_weekend_sunday_open() -> None:
    fri, sat, sun = 20, 21, 22
    assert session.is_open(ct(2026, 11, fri, 15, 59))
    assert not session.is_open(ct(2026, 11, fri, 16))
    assert not session.is_open(ct(2026, 11, fri, 17, 30))  # no Friday-evening session
    assert not session.is_open(ct(2026, 11, sat, 12))
    assert not session.is_open(ct(2026, 11, sun, 16, 59))
    assert session.is_open(ct(2026, 11, sun, 17))
    for t in (ct(2026, 11, fri, 18), ct(2026, 11, sat, 12), ct(2026, 11, sun, 16)):
        assert session.session_date(t) == dt.date(2026, 11, fri)
        assert session.session_open_ns(t) == ct(2026, 11, 19, 17)
        assert session.next_open_ns(t) == ct(2026, 11, sun, 17)
        assert session.next_break_ns(t) == ct(2026, 11, 23, 16)
    assert session.session_date(ct(2026, 11, sun, 17)) == dt.date(2026, 11, 23)
    assert session.next_open_ns(ct(2026, 11, fri, 10)) == ct(2026, 11, sun, 17)


def test_time_to_break() -> None:
    t = ct(2026, 11, 18, 15, 45)
    assert session.next_break_ns(t) == ct(2026, 11, 18, 16)
    assert session.seconds_to_break(t) == 15 * 60
    assert session.seconds_to_break(ct(2026, 11, 18, 17)) == 23 * 3600
    assert session.seconds_to_break(ct(2026, 11, 20, 15)) == 3600  # Friday


def test_dst_march_2026() -> None:
    # 2026-03-08 (Sunday) 02:00 CST -> CDT: Friday closes at 22:00Z, Sunday opens at 22:00Z.
    assert session.session_close_ns(utc(2026, 3, 6, 12)) == utc(2026, 3, 6, 22)
    assert session.next_open_ns(utc(2026, 3, 7, 12)) == utc(2026, 3, 8, 22)
    assert not session.is_open(utc(2026, 3, 8, 21, 59))
    assert session.is_open(utc(2026, 3, 8, 22))
    assert session.session_date(utc(2026, 3, 8, 22)) == dt.date(2026, 3, 9)
    assert session.next_break_ns(utc(2026, 3, 8, 22)) == utc(2026, 3, 9, 21)
    assert session.seconds_to_break(utc(2026, 3, 8, 22)) == 23 * 3600
    # the Thursday session before: CST both ends
    assert session.session_open_ns(utc(2026, 3, 6, 12)) == utc(2026, 3, 5, 23)


def test_dst_november_2026() -> None:
    # 2026-11-01 (Sunday) 02:00 CDT -> CST: Friday closes at 21:00Z, Sunday opens at 23:00Z.
    assert session.session_close_ns(utc(2026, 10, 30, 12)) == utc(2026, 10, 30, 21)
    assert not session.is_open(utc(2026, 10, 30, 21))
    assert session.next_open_ns(utc(2026, 10, 31, 12)) == utc(2026, 11, 1, 23)
    assert not session.is_open(utc(2026, 11, 1, 22, 30))  # 16:30 CST
    assert session.is_open(utc(2026, 11, 1, 23))
    assert session.session_open_ns(utc(2026, 11, 2, 14)) == utc(2026, 11, 1, 23)
    assert session.next_break_ns(utc(2026, 11, 2, 14)) == utc(2026, 11, 2, 22)


times = st.integers(utc(2025, 1, 1), utc(2028, 12, 31))


@given(times)
def test_properties(ts: int) -> None:
    cal = session.CME
    opened = cal.session_open_ns(ts)
    closed = cal.session_close_ns(ts)
    assert opened <= ts
    assert closed - opened in (22 * 3600 * NS, 23 * 3600 * NS, 24 * 3600 * NS)
    assert dt.datetime.fromtimestamp(opened // NS, CHICAGO).time() == dt.time(17)
    assert cal.is_open(ts) == (ts < closed)
    nxt = cal.next_open_ns(ts)
    assert nxt > ts and cal.is_open(nxt) and not cal.is_open(nxt - 1)
    brk = cal.next_break_ns(ts)
    assert brk > ts and cal.is_open(brk - 1) and not cal.is_open(brk)
    assert cal.session_date(ts) == dt.datetime.fromtimestamp(closed // NS, CHICAGO).date()


HOURS = (
    "20261125:1700-20261126:1600;20261126:1700-20261127:1215;20261128:CLOSED;"
    "20261129:1700-20261130:1600"
)


def test_trading_hours_early_close() -> None:
    cal = SessionCalendar.from_trading_hours(HOURS, "America/Chicago")
    assert cal.is_open(ct(2026, 11, 27, 12, 14))
    assert not cal.is_open(ct(2026, 11, 27, 12, 15))
    assert cal.next_break_ns(ct(2026, 11, 27, 9)) == ct(2026, 11, 27, 12, 15)
    assert cal.session_date(ct(2026, 11, 27, 9)) == dt.date(2026, 11, 27)
    assert cal.next_open_ns(ct(2026, 11, 27, 13)) == ct(2026, 11, 29, 17)
    assert cal.session_open_ns(ct(2026, 11, 28, 9)) == ct(2026, 11, 26, 17)
    # outside the covered range: the rules
    assert cal.is_open(ct(2026, 12, 2, 9))
    assert cal.next_open_ns(ct(2026, 11, 24, 16, 30)) == ct(2026, 11, 24, 17)


def test_trading_hours_old_format_and_errors() -> None:
    cal = SessionCalendar.from_trading_hours("20090507:0700-1830,1830-2330;20090508:CLOSED")
    assert cal.is_open(ct(2009, 5, 7, 18, 30))
    assert cal.session_close_ns(ct(2009, 5, 7, 8)) == ct(2009, 5, 7, 23, 30)
    with pytest.raises(ValueError):
        SessionCalendar.from_trading_hours("20090507:garbage")
    with pytest.raises(ValueError, match="not a trading-hours day"):
        SessionCalendar.from_trading_hours("garbage")
