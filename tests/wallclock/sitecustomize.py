"""A wall clock moved by ``WALL_CLOCK_OFFSET_S`` seconds, for a whole Python process and the
Python processes it starts (they inherit the variable, so they share the moved clock).

Put this folder first on ``PYTHONPATH`` and Python imports this module at start-up, before
anything else: ``time.time``, ``time.time_ns``, ``datetime.now``/``utcnow``/``today`` and
``date.today`` then read the real clock plus the offset (``time.monotonic`` and the
performance counters are left alone). A test runs a program "on a Sunday at 02:50 in
Chicago" this way without changing the machine's clock.
"""

from __future__ import annotations

import datetime as _dt
import os
import time as _time
from typing import Any

_OFFSET_S = float(os.environ.get("WALL_CLOCK_OFFSET_S") or 0)


def _install(offset_s: float) -> None:
    real_time, real_time_ns = _time.time, _time.time_ns
    offset_ns = round(offset_s * 1e9)
    real_datetime, real_date = _dt.datetime, _dt.date

    def time() -> float:
        return real_time() + offset_s

    def time_ns() -> int:
        return real_time_ns() + offset_ns

    class _Real(type):
        """Instances and subclasses of the real class count as the moved class's too."""

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, cls.__mro__[1])

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, cls.__mro__[1])

    class datetime(_dt.datetime, metaclass=_Real):
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return real_datetime.fromtimestamp(time(), tz)

        @classmethod
        def utcnow(cls) -> Any:
            return real_datetime.fromtimestamp(time(), _dt.UTC).replace(tzinfo=None)

        @classmethod
        def today(cls) -> Any:
            return real_datetime.fromtimestamp(time())

    class date(_dt.date, metaclass=_Real):
        @classmethod
        def today(cls) -> Any:
            return real_date.fromtimestamp(time())

    _time.time, _time.time_ns = time, time_ns
    _dt.datetime, _dt.date = datetime, date  # type: ignore[misc]


if _OFFSET_S:
    _install(_OFFSET_S)
