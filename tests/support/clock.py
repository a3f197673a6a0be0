"""The test clock. Tests never read the real date (weekends and closed markets must be
testable): the engine's clocks are callables returning epoch nanoseconds, and a test holds a
``Clock`` it sets or advances by hand. (The replay pacer's clock in tests/unit/sim/test_replay.py
is another idea: float seconds whose ``sleep`` moves time, the fake gateway's interface.)"""

from __future__ import annotations

import datetime as dt

from tradeterm.engine.calendar import CHICAGO, NS


def ct(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    """Chicago wall time (the CME's) as epoch nanoseconds."""
    return int(dt.datetime(y, mo, d, h, mi, s, tzinfo=CHICAGO).timestamp()) * NS


TUESDAY_10 = ct(2026, 11, 17, 10)  # a Tuesday, 10:00 CT: the market is open


class Clock:
    """A clock that moves only when the test moves it: set ``now`` or call ``advance``."""

    def __init__(self, now: int = TUESDAY_10) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * NS)
