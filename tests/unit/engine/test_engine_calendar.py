"""The engine's session calendar comes from the contract's trading hours (IB's tradingHours
in its timeZoneId) unless one is given; unreadable hours fall back to the CME rules, loudly."""

from __future__ import annotations

import datetime as dt

from tests.support.fake_broker import FakeBroker
from tests.support.instruments import CL
from tradeterm.engine.calendar import CHICAGO, CME, NS
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice


def at(day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(2026, 11, day, hour, minute, tzinfo=CHICAGO).timestamp()) * NS


async def started(hours: tuple[str, str] | None) -> Engine:
    broker = FakeBroker(CL)
    broker.hours = hours
    engine = Engine(broker, "CL", clock=lambda: at(17, 10), session=1, timer_s=3600)
    engine.listen()
    await engine.start()
    return engine


async def test_the_contracts_hours_make_the_calendar() -> None:
    # a made-up market open 08:30-13:30 Chicago, Tuesday and Wednesday
    hours = "20261117:0830-20261117:1330;20261118:0830-20261118:1330;20261119:CLOSED"
    engine = await started((hours, "US/Central"))
    try:
        assert engine.calendar is not CME
        assert engine.calendar.is_open(at(17, 10)) and not engine.calendar.is_open(at(17, 14))
        assert CME.is_open(at(17, 14))  # the Globex rules would have said open
    finally:
        await engine.stop()


async def test_unreadable_hours_fall_back_to_cme_and_say_so() -> None:
    broker = FakeBroker(CL)
    broker.hours = ("garbage", "US/Central")
    engine = Engine(broker, "CL", clock=lambda: at(17, 10), session=1, timer_s=3600)
    stream = engine.listen()
    await engine.start()
    try:
        assert engine.calendar is CME
        notices = [e.text for e in stream.drain() if isinstance(e, EngineNotice)]
        assert any("trading hours" in n for n in notices)
    finally:
        await engine.stop()


async def test_no_hours_means_cme() -> None:
    engine = await started(None)
    try:
        assert engine.calendar is CME
    finally:
        await engine.stop()
