"""``opening_range``: the opening-range breakout on the CME session, one trade a day.

Times are Chicago wall time (``America/Chicago``, the CME's, summer time included); a bar is
judged at its close (its start plus one minute). ``session_open`` picks the session:

- ``rth`` (the default): the regular hours, 08:30 to 15:00; the session day is the date;
- ``globex``: the electronic session, 17:00 to 16:00 the next day; the session day is the
  date it closes on (Sunday evening's bars belong to Monday).

Each session day:

- **The range** is the highest high and lowest low of the bars that start in the first
  ``range_minutes`` minutes after the open; it is complete at the close of the last of them.
  A day without a bar in that window has no range and no trade.
- **The break.** After the range is complete and before the flat time, the first bar that
  closes above the range's high enters long, below its low short: an :class:`EntrySignal`
  with a market entry (the runner takes no stop entries, so the order goes on the closed bar
  rather than resting at the range's edge), its protective stop at the other side of the
  range (``close - low`` ticks for a long, ``high - close`` for a short) but never more than
  ``stop_cap_ticks``, its target ``target_range`` x the range's height (rounded up, at least
  1 tick). The runner sends it as one native bracket sized by the risk rules.
- **One trade a day.** After that signal nothing more is entered that session day, whatever
  the bracket does; no position is ever taken before the break.
- **Flat by the end.** From ``flat_minutes`` before the session's end until the next range
  is complete, a position it holds is closed: ``TargetPosition(0)`` at each closed bar and
  at each of its fills while it holds one. The runner closes with a market order and leaves
  the bracket's stop and target working (GTC), so one of those filling later is a fill outside
  its trading time, answered the same way.

Prices are integer ticks; the range, the stop and the target are whole ticks. The range is
kept one bar at a time (each bar that starts in a session's range window widens it), rebuilt
from ``ctx.bars`` when the bars do not continue the ones it saw: the work per bar does not grow
with the history.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from tradeterm.domain import Bar, Fill, Side
from tradeterm.strategies.api import (
    NO_INTENTS,
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)
from tradeterm.strategies.indicators import Indicators

CHICAGO = ZoneInfo("America/Chicago")
NS = 1_000_000_000
MINUTE_NS = 60 * NS

# (open, end) in Chicago wall time; the end is on the session day, the open on it or the day
# before (when the open is later in the day than the end)
SESSIONS = {"rth": (dt.time(8, 30), dt.time(15, 0)), "globex": (dt.time(17, 0), dt.time(16, 0))}
_DAY = dt.timedelta(days=1)


class OpeningRangeParams(Params):
    session_open: Literal["rth", "globex"] = Field(
        "rth", description="the open the range starts at: rth 08:30 or globex 17:00 Chicago"
    )
    range_minutes: int = Field(
        15, ge=1, le=240, description="minutes after the open the range spans"
    )
    stop_cap_ticks: int = Field(40, ge=1, le=10_000,
                                description="the stop, at the range's other side, is never farther than this")  # fmt: skip
    target_range: Decimal = Field(Decimal(1), gt=0, le=20,
                                  description="target: this many times the range's height from the fill")  # fmt: skip
    flat_minutes: int = Field(10, ge=1, le=240,
                              description="flat, and no entry, from this many minutes before the session end")  # fmt: skip

    @model_validator(mode="after")
    def _fits_in_the_session(self) -> OpeningRangeParams:
        opens, ends = SESSIONS[self.session_open]
        length = (_minutes(ends) - _minutes(opens)) % (24 * 60)
        if self.range_minutes + self.flat_minutes >= length:
            raise ValueError(
                f"range_minutes ({self.range_minutes}) + flat_minutes ({self.flat_minutes}) "
                f"leave no time to trade in the {length}-minute {self.session_open} session"
            )
        return self


def _minutes(t: dt.time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True, slots=True)
class Session:
    """One session day's times, UTC nanoseconds."""

    day: dt.date
    open_ns: int
    range_end_ns: int
    flat_ns: int
    end_ns: int


class _Range(Indicators):
    """The highest high and lowest low of the bars that start in the range window of the
    latest session that has one (``open_ns`` None before any)."""

    def __init__(self, session: Callable[[int], Session]) -> None:
        super().__init__()
        self.session = session
        self.clear()

    def clear(self) -> None:
        self.open_ns: int | None = None  # the session the range is of
        self.high = self.low = 0

    def add(self, bar: Bar) -> None:
        s = self.session(bar.start_ns + MINUTE_NS)  # a bar in the window closes in its session
        if not s.open_ns <= bar.start_ns < s.range_end_ns:
            return
        if self.open_ns != s.open_ns:
            self.open_ns, self.high, self.low = s.open_ns, bar.high, bar.low
        else:
            self.high, self.low = max(self.high, bar.high), min(self.low, bar.low)


class OpeningRange(Strategy[OpeningRangeParams]):
    """Trades the first close beyond the opening range, once a day; flat before the end."""

    parameters = OpeningRangeParams

    def __init__(self, params: OpeningRangeParams) -> None:
        super().__init__(params)
        self.traded_day: dt.date | None = None  # the session day of its last entry
        self.range = _Range(self.session)

    def on_start(self, ctx: StrategyContext) -> Intents:
        self.range.forget()  # the next bar rebuilds it from ctx.bars
        return NO_INTENTS

    def session(self, ts_ns: int) -> Session:
        """The session day ``ts_ns`` (a bar's close) belongs to: the one whose end is the
        first after it, the bar at the end included."""
        p = self.params
        opens, ends = SESSIONS[p.session_open]
        local = dt.datetime.fromtimestamp(ts_ns // NS, CHICAGO)
        day = local.date() if local.time() <= ends else local.date() + _DAY
        end = _ns(day, ends)
        open_ns = _ns(day if opens < ends else day - _DAY, opens)
        range_end = open_ns + p.range_minutes * MINUTE_NS
        return Session(day, open_ns, range_end, end - p.flat_minutes * MINUTE_NS, end)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        closed_ns = bar.start_ns + MINUTE_NS
        s = self.session(closed_ns)
        self.range.update(ctx.bars)
        if not s.range_end_ns <= closed_ns < s.flat_ns:
            return self._flat(ctx, "outside its trading time")
        if ctx.position or self.traded_day == s.day:
            return NO_INTENTS
        if self.range.open_ns != s.open_ns:  # no bar in this session's range window
            return NO_INTENTS
        high, low = self.range.high, self.range.low
        if bar.close > high:
            side, stop, edge = Side.BUY, bar.close - low, "above the high"
        elif bar.close < low:
            side, stop, edge = Side.SELL, high - bar.close, "below the low"
        else:
            return NO_INTENTS
        p = self.params
        stop = min(stop, p.stop_cap_ticks)
        target = max(1, math.ceil(Fraction(p.target_range) * (high - low)))
        self.traded_day = s.day
        reason = (
            f"close {ctx.instrument.to_price(bar.close)} {edge} of the {p.range_minutes}-minute "
            f"{p.session_open} range {ctx.instrument.to_price(low)}-"
            f"{ctx.instrument.to_price(high)} ({high - low} ticks): stop {stop}, "
            f"target {target} ticks"
        )
        return (EntrySignal(side, Entry.market(), stop, target, reason),)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        s = self.session(ctx.now_ns)
        if s.flat_ns <= ctx.now_ns or ctx.now_ns < s.range_end_ns:
            return self._flat(ctx, "a fill outside its trading time")
        return NO_INTENTS

    def _flat(self, ctx: StrategyContext, why: str) -> Intents:
        if not ctx.position:
            return NO_INTENTS
        return (TargetPosition(0, f"flat: {why}"),)


def _ns(day: dt.date, at: dt.time) -> int:
    return int(dt.datetime.combine(day, at, CHICAGO).timestamp()) * NS
