"""The CME Globex session calendar (US/Central), for P&L resets, entry cut-offs and the status bar.

Rules (equity index, energy and metals futures on Globex):

* A session opens at 17:00 CT and closes at 16:00 CT the next day; the daily maintenance
  break is 16:00–17:00 CT. The week runs from Sunday 17:00 to Friday 16:00: no session opens
  on Friday or Saturday evening.
* A moment belongs to the **most recent session that opened at or before it**: during the
  daily break and over the weekend, that is the session that has just closed. So
  :meth:`SessionCalendar.session_open_ns` is never after the moment, and it changes only at a
  real open, which makes it the reset point for daily P&L, limits and volume profiles.
* The trading date of a session is the date it closes on (the Sunday-evening session is
  Monday's).
* Times are UTC nanoseconds; the wall clock is ``America/Chicago`` from :mod:`zoneinfo`, so
  daylight saving changes (second Sunday of March, first Sunday of November, both inside the
  weekend close) shift the UTC times of 17:00/16:00 by an hour and nothing else.

Holidays and early closes are not in the rules. When IB's ``ContractDetails.tradingHours``
is known, build the calendar with :meth:`SessionCalendar.from_trading_hours`: its sessions are
used for every moment inside the range they cover (from the first open to the last close);
moments outside that range fall back to the rules above.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Iterable
from itertools import pairwise
from zoneinfo import ZoneInfo

NS = 1_000_000_000
CHICAGO = ZoneInfo("America/Chicago")

_OPEN = dt.time(17, 0)
_CLOSE = dt.time(16, 0)
_DAY = dt.timedelta(days=1)
_FRIDAY, _SATURDAY = 4, 5
_RANGE = re.compile(r"^(\d{8}):(\d{4})-(?:(\d{8}):)?(\d{4})$")


def _local(ts_ns: int, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts_ns // NS, tz)


def _ns(day: dt.date, at: dt.time, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, at, tzinfo=tz).timestamp()) * NS


class SessionCalendar:
    """Session arithmetic on one market's calendar (see the module notes).

    ``sessions``: explicit ``(open_ns, close_ns)`` pairs (e.g. parsed from ``tradingHours``);
    without them the Globex weekly rules apply everywhere.
    """

    __slots__ = ("_closes", "_opens", "tz")

    def __init__(self, sessions: Iterable[tuple[int, int]] = (), tz: ZoneInfo = CHICAGO) -> None:
        ordered = sorted(sessions)
        for (_, c1), (o2, _) in pairwise(ordered):
            if c1 > o2:
                raise ValueError("trading sessions overlap")
        if any(o >= c for o, c in ordered):
            raise ValueError("a trading session must close after it opens")
        self.tz = tz
        self._opens = [o for o, _ in ordered]
        self._closes = [c for _, c in ordered]

    @classmethod
    def from_trading_hours(cls, text: str, tz: str | ZoneInfo = CHICAGO) -> SessionCalendar:
        """Parse IB's ``tradingHours`` (``"20261120:1700-20261121:1600;20261122:CLOSED"``,
        also the older ``"20090507:0700-1830,1830-2330"`` form) in the contract's
        ``timeZoneId``. Adjacent ranges (a session split at midnight) are merged."""
        zone = ZoneInfo(tz) if isinstance(tz, str) else tz
        ranges: list[tuple[int, int]] = []
        for day_part in filter(None, (p.strip() for p in text.split(";"))):
            if day_part.endswith("CLOSED"):
                continue
            day_text, sep, ranges_text = day_part.partition(":")
            if not sep:
                raise ValueError(f"not a trading-hours day: {day_part!r}")
            for rng in ranges_text.split(","):
                full = rng if re.match(r"^\d{8}:", rng) else f"{day_text}:{rng}"
                m = _RANGE.match(full)
                if m is None:
                    raise ValueError(f"not a trading-hours range: {rng!r} in {day_part!r}")
                d1, t1, d2, t2 = m.groups()
                start = dt.datetime.strptime(d1 + t1, "%Y%m%d%H%M").replace(tzinfo=zone)
                end = dt.datetime.strptime((d2 or d1) + t2, "%Y%m%d%H%M").replace(tzinfo=zone)
                if end <= start:  # "1830-0000" style ranges end on the next day
                    end += _DAY
                ranges.append((int(start.timestamp()) * NS, int(end.timestamp()) * NS))
        merged: list[tuple[int, int]] = []
        for o, c in sorted(set(ranges)):
            if merged and o <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(c, merged[-1][1]))
            else:
                merged.append((o, c))
        return cls(merged, zone)

    # ---- explicit sessions -----------------------------------------------------------------

    def _covered(self, ts_ns: int) -> bool:
        return bool(self._opens) and self._opens[0] <= ts_ns < self._closes[-1]

    # ---- the rules ---------------------------------------------------------------------------

    def _rule_open_day(self, ts_ns: int) -> dt.date:
        """The local date on whose 17:00 the session containing ``ts_ns`` opened."""
        local = _local(ts_ns, self.tz)
        day = local.date() if local.time() >= _OPEN else local.date() - _DAY
        while day.weekday() in (_FRIDAY, _SATURDAY):
            day -= _DAY
        return day

    def _rule_next_open_day(self, ts_ns: int) -> dt.date:
        local = _local(ts_ns, self.tz)
        day = local.date() if local.time() < _OPEN else local.date() + _DAY
        while day.weekday() in (_FRIDAY, _SATURDAY):
            day += _DAY
        return day

    # ---- public API --------------------------------------------------------------------------

    def session_open_ns(self, ts_ns: int) -> int:
        """The open of the session ``ts_ns`` belongs to (the latest open at or before it):
        the daily P&L / limits reset point."""
        if self._covered(ts_ns):
            i = bisect_right(self._opens, ts_ns) - 1
            return self._opens[i]
        return _ns(self._rule_open_day(ts_ns), _OPEN, self.tz)

    def session_close_ns(self, ts_ns: int) -> int:
        """The scheduled close of the session ``ts_ns`` belongs to (in the past during a
        break or the weekend)."""
        if self._covered(ts_ns):
            i = bisect_right(self._opens, ts_ns) - 1
            return self._closes[i]
        return _ns(self._rule_open_day(ts_ns) + _DAY, _CLOSE, self.tz)

    def session_date(self, ts_ns: int) -> dt.date:
        """The trading date ``ts_ns`` belongs to: the local date its session closes on."""
        if self._covered(ts_ns):
            return _local(self.session_close_ns(ts_ns) - 1, self.tz).date()
        return self._rule_open_day(ts_ns) + _DAY

    def is_open(self, ts_ns: int) -> bool:
        """Whether the market trades at ``ts_ns``."""
        if self._covered(ts_ns):
            i = bisect_right(self._opens, ts_ns) - 1
            return i >= 0 and ts_ns < self._closes[i]
        return ts_ns < self.session_close_ns(ts_ns)

    def next_open_ns(self, ts_ns: int) -> int:
        """The first session open strictly after ``ts_ns``."""
        if self._covered(ts_ns):
            j = bisect_right(self._opens, ts_ns)
            if j < len(self._opens):
                return self._opens[j]
            ts_ns = self._closes[-1]
        candidate = _ns(self._rule_next_open_day(ts_ns), _OPEN, self.tz)
        if self._opens and ts_ns < self._opens[0] <= candidate:
            return self._opens[0]
        return candidate

    def next_break_ns(self, ts_ns: int) -> int:
        """The next close (daily break or weekend): the end of the current session when open,
        else the end of the next session."""
        if self.is_open(ts_ns):
            return self.session_close_ns(ts_ns)
        return self.session_close_ns(self.next_open_ns(ts_ns))

    def seconds_to_break(self, ts_ns: int) -> float:
        return (self.next_break_ns(ts_ns) - ts_ns) / NS


CME = SessionCalendar()
"""The Globex rules without holidays."""


def session_date(ts_ns: int) -> dt.date:
    return CME.session_date(ts_ns)


def session_open_ns(ts_ns: int) -> int:
    return CME.session_open_ns(ts_ns)


def session_close_ns(ts_ns: int) -> int:
    return CME.session_close_ns(ts_ns)


def is_open(ts_ns: int) -> bool:
    return CME.is_open(ts_ns)


def next_open_ns(ts_ns: int) -> int:
    return CME.next_open_ns(ts_ns)


def next_break_ns(ts_ns: int) -> int:
    return CME.next_break_ns(ts_ns)


def seconds_to_break(ts_ns: int) -> float:
    return CME.seconds_to_break(ts_ns)
