"""Pure helpers of the gateway's order desk: execution-filter times and trading days."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from tradeterm.sim.gateway.desks.wire_records import NS, parse_filter_time, trading_day

CHICAGO = ZoneInfo("America/Chicago")


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * NS


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("20261120 14:30:01", datetime(2026, 11, 20, 14, 30, 1, tzinfo=UTC)),
        ("20261120-14:30:01", datetime(2026, 11, 20, 14, 30, 1, tzinfo=UTC)),
        ("20261120 08:30:01 US/Central", datetime(2026, 11, 20, 8, 30, 1, tzinfo=CHICAGO)),
        ("  20261120 14:30:01  ", datetime(2026, 11, 20, 14, 30, 1, tzinfo=UTC)),
    ],
)
def test_execution_filter_times(text: str, moment: datetime) -> None:
    assert parse_filter_time(text) == ns(moment)


def test_no_filter_time_and_bad_ones() -> None:
    assert parse_filter_time("") is None
    with pytest.raises(ValueError):
        parse_filter_time("yesterday")
    with pytest.raises(ValueError):
        parse_filter_time("20261120 14:30:01 Mars/Olympus")


def test_a_trading_day_starts_at_the_16_00_central_close() -> None:
    def day_of(hour: int, minute: int) -> date:
        return trading_day(datetime(2026, 11, 17, hour, minute, tzinfo=CHICAGO).timestamp())

    assert day_of(15, 59) == date(2026, 11, 17)
    assert day_of(16, 0) == date(2026, 11, 18)
    assert day_of(17, 0) == date(2026, 11, 18)
