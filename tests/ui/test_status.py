"""The status bar's word on the session: the countdown to the break while the market is open,
and when it opens while it is closed (the screen and its pure text)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.ui.helpers import make_app, ready, settle
from tradeterm.engine.calendar import CHICAGO, CME, NS, SessionCalendar
from tradeterm.ui.widgets.status import session_text


def ct(day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(2026, 12, day, hour, minute, tzinfo=CHICAGO).timestamp()) * NS


@pytest.mark.parametrize(
    ("now", "text"),
    [
        (ct(9, 9), "break in 7h00m"),  # Wednesday, in session
        (ct(9, 16, 30), "CLOSED, opens 17:00 CT"),  # the daily break
        (ct(4, 16, 30), "CLOSED, opens Sun 17:00 CT"),  # Friday after the close
        (ct(5, 12), "CLOSED, opens Sun 17:00 CT"),  # Saturday
        (ct(6, 6), "CLOSED, opens 17:00 CT"),  # Sunday morning: today
        (ct(6, 17, 30), "break in 22h30m"),  # Sunday evening, open
    ],
)
def test_session_text_on_the_cme(now: int, text: str) -> None:
    assert session_text(CME, now) == text


def test_session_text_in_the_markets_own_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    hours = "20261207:0800-20261207:1200;20261207:1300-20261207:2200;20261208:0800-20261208:2200"
    eurex = SessionCalendar.from_trading_hours(hours, berlin)

    def at(day: int, hour: int, minute: int = 0) -> int:
        return int(dt.datetime(2026, 12, day, hour, minute, tzinfo=berlin).timestamp()) * NS

    assert session_text(eurex, at(7, 12, 30)) == "CLOSED, opens 13:00 CET"
    assert session_text(eurex, at(7, 23)) == "CLOSED, opens Tue 08:00 CET"
    assert session_text(eurex, at(8, 21)) == "break in 1h00m"


async def test_the_status_bar_says_closed_and_when_it_opens() -> None:
    sunday_noon_utc = int(dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()) * NS
    app = make_app(clock=lambda: sunday_noon_utc, calendar=CME)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        status = app.screen.query_one("#status")
        await settle(pilot, app, lambda: "qty" in status.shown, "the status bar")  # type: ignore[attr-defined]
        assert "CLOSED, opens 17:00 CT" in status.shown  # type: ignore[attr-defined]
        assert "break in" not in status.shown  # type: ignore[attr-defined]
