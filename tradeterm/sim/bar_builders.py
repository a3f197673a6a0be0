"""Bars for the fake gateway: 5-second real-time bars and historical bars (+ keepUpToDate).

Prices are integer ticks, ``wap`` is in ticks (a float), times are epoch seconds of the bar's
start. Everything is built from :class:`TradePrint`s (or 1-minute :class:`BarPrint`s from an
OHLCV replay), so history and the live stream are the same data.

:class:`BarAggregator` (``reqRealTimeBars``): one bar per N seconds (default 5), emitted when
time reaches the bar's end, i.e. on the first trade or :meth:`~BarAggregator.on_time` tick at
or after it. Quiet bars: like IB, a bar is sent every period even without trades: open = high
= low = close = the last trade price, volume 0, count 0, wap = that price. Nothing is sent
before the first trade (or ``last_price``). A gap of more than ``max_fill`` periods (market
closed, a replay jumping hours) is skipped rather than filled.

:class:`BarHistory` (``reqHistoricalData``): one per instrument. It keeps 1-second bars for the
last ``fine_keep`` seconds (4 h; finer than 5 s so that "1 secs" is exact), 1-minute bars for
``minute_keep`` seconds (30 days) and daily bars without limit, all updated per trade. A
request aggregates the finest store that serves the bar size: secs from the 1-s store, mins and
hours from the 1-min store, "1 day" from the daily store. Alignment: bars up to 1 hour are
aligned on the clock (epoch multiples), 2/3/4/8-hour bars on the US/Central wall clock
(00:00, 04:00, ... local; on the day daylight saving ends one of them lasts an hour longer), daily bars
are CME trading days (17:00 CT to 17:00 CT, labelled by the day the session ends; their
``time`` is 00:00 UTC of that date). Periods without trades have no bar. ``useRTH`` is not
applied. Durations: ``"N S|D|W|M|Y"`` with D = 86400 s, W = 7 D, M = 30 D, Y = 365 D counted
back from the end time; a request returns the bars starting at or after ``end - duration``
and before ``end`` (with no end time: up to the latest data, including the bar in progress).

keepUpToDate: :meth:`BarHistory.subscribe` a key (the gateway's reqId) with a bar size; each
:meth:`~BarHistory.on_trade` / :meth:`~BarHistory.on_bar` returns ``(key, bar)`` for every
subscription: the bar in progress, already including the trade. The gateway sends them as
historicalDataUpdate; ib_async replaces its last bar when the time is the same and appends
otherwise, which reproduces exactly what a new request would return. :meth:`~BarHistory.on_time`
re-sends the current bars (IB repeats them every few seconds).

Seam: :meth:`BarHistory.backfill` records trades/bars without producing updates. Bars are keyed
by their start time, so a live trade falling into the last backfilled bar's period updates that
bar (no duplicate) and consecutive periods follow each other (no gap). Do not feed the same
period both as trades and as BarPrints.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_left
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tradeterm.sim.market_events import BarPrint, MarketEvent, TradePrint

NS = 1_000_000_000
DAY = 86_400
_EXCHANGE_TZ = ZoneInfo("America/Chicago")
_SESSION_SHIFT = timedelta(hours=7)  # 17:00 CT + 7 h = 00:00 of the trading date
_UNIT_SIZES = {"sec": 1, "min": 60, "hour": 3600, "day": DAY}
_ALLOWED_SIZES = frozenset({1, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800,
                            3600, 7200, 10800, 14400, 28800, DAY})  # fmt: skip
_DURATION_UNITS = {"S": 1, "D": DAY, "W": 7 * DAY, "M": 30 * DAY, "Y": 365 * DAY}


@dataclass(frozen=True, slots=True)
class Bar:
    """A finished or in-progress bar. ``time`` = start (epoch s; daily: 00:00 UTC of the trading
    date); prices in ticks; ``count`` = number of trades (-1 when unknown, e.g. OHLCV bars)."""

    time: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    wap: float
    count: int


class _Acc:
    """Mutable bar under construction; ``pv`` = sum of price x size."""

    __slots__ = ("close", "count", "high", "low", "open", "pv", "time", "volume")

    def __init__(self, time: int, price: int) -> None:
        self.time = time
        self.open = self.high = self.low = self.close = price
        self.volume = 0
        self.pv: float = 0
        self.count = 0

    def trade(self, price: int, size: int) -> None:
        if price > self.high:
            self.high = price
        if price < self.low:
            self.low = price
        self.close = price
        self.volume += size
        self.pv += price * size
        self.count += 1

    def merge(self, o: _Acc) -> None:
        """Fold a later bar into this one."""
        self.high = max(self.high, o.high)
        self.low = min(self.low, o.low)
        self.close = o.close
        self.volume += o.volume
        self.pv += o.pv
        self.count = -1 if self.count < 0 or o.count < 0 else self.count + o.count

    def copy(self, time: int) -> _Acc:
        acc = _Acc(time, self.open)
        acc.high, acc.low, acc.close = self.high, self.low, self.close
        acc.volume, acc.pv, acc.count = self.volume, self.pv, self.count
        return acc

    def bar(self) -> Bar:
        wap = self.pv / self.volume if self.volume else float(self.close)
        return Bar(self.time, self.open, self.high, self.low, self.close, self.volume, wap,
                   self.count)  # fmt: skip


def _bar_acc(b: BarPrint, time: int) -> _Acc:
    acc = _Acc(time, b.open)
    acc.high, acc.low, acc.close, acc.volume = b.high, b.low, b.close, b.volume
    acc.pv = (b.high + b.low + b.close) / 3 * b.volume
    acc.count = -1
    return acc


# --- parsing -------------------------------------------------------------------------------


def parse_bar_size(text: str) -> int:
    """IB barSizeSetting (``"5 secs"``, ``"1 min"``, ``"4 hours"``, ``"1 day"``) -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*(sec|secs|min|mins|hour|hours|day|days)\s*", text.lower())
    if m is None:
        raise ValueError(f"unsupported bar size {text!r}")
    size = int(m.group(1)) * _UNIT_SIZES[m.group(2).rstrip("s")]
    if size not in _ALLOWED_SIZES:
        raise ValueError(f"unsupported bar size {text!r}")
    return size


def parse_duration(text: str) -> int:
    """IB durationStr (``"1800 S"``, ``"2 D"``, ``"1 W"``, ``"1 M"``, ``"1 Y"``) -> seconds."""
    m = re.fullmatch(r"\s*(\d+)\s*([SDWMY])\s*", text.upper())
    if m is None or int(m.group(1)) <= 0:
        raise ValueError(f"invalid duration {text!r}")
    return int(m.group(1)) * _DURATION_UNITS[m.group(2)]


def format_bar_time(time: int, bar_seconds: int, format_date: int = 1,
                    tz: str = "US/Central") -> str:  # fmt: skip
    """A bar's date field for historicalData: daily ``"yyyymmdd"``; intraday formatDate 1
    ``"yyyymmdd hh:mm:ss US/Central"`` (local time), formatDate 2 epoch seconds."""
    if bar_seconds >= DAY:
        return datetime.fromtimestamp(time, ZoneInfo("UTC")).strftime("%Y%m%d")
    if format_date == 2:
        return str(time)
    local = datetime.fromtimestamp(time, ZoneInfo(tz))
    return f"{local:%Y%m%d %H:%M:%S} {tz}"


# --- real-time bars --------------------------------------------------------------------------


class BarAggregator:
    """N-second real-time bars from trades (see the module docstring)."""

    def __init__(self, seconds: int = 5, *, last_price: int | None = None,
                 max_fill: int = 720) -> None:  # fmt: skip
        if seconds <= 0:
            raise ValueError("seconds must be > 0")
        self.seconds = seconds
        self.max_fill = max_fill
        self._last = last_price
        self._acc: _Acc | None = None  # bar in progress (None = none started)
        self._start: int | None = None

    @property
    def current(self) -> Bar | None:
        """The bar in progress (with trades so far), if any."""
        return self._acc.bar() if self._acc is not None and self._acc.volume else None

    def _bucket(self, ts_ns: int) -> int:
        t = ts_ns // NS
        return t - t % self.seconds

    def on_time(self, ts_ns: int) -> list[Bar]:
        """Close every bar that ended at or before ``ts_ns``; returns them in order."""
        bucket = self._bucket(ts_ns)
        out: list[Bar] = []
        if self._start is None:
            self._start = bucket
            return out
        if bucket <= self._start:
            return out
        if self._acc is not None and self._acc.volume:
            out.append(self._acc.bar())
            self._last = self._acc.close
        elif self._last is not None:
            out.append(self._quiet(self._start))
        self._acc = None
        start = self._start + self.seconds
        if (bucket - start) // self.seconds <= self.max_fill and self._last is not None:
            out.extend(self._quiet(t) for t in range(start, bucket, self.seconds))
        self._start = bucket
        return out

    def _quiet(self, start: int) -> Bar:
        assert self._last is not None
        return Bar(start, self._last, self._last, self._last, self._last, 0, float(self._last), 0)

    def on_trade(self, trade: TradePrint) -> list[Bar]:
        """Record a trade; returns the bars that closed before it (usually none)."""
        out = self.on_time(trade.ts_ns)
        if self._acc is None:
            assert self._start is not None
            self._acc = _Acc(self._start, trade.price)
        self._acc.trade(trade.price, trade.size)
        return out


# --- history ---------------------------------------------------------------------------------


class _Series:
    """Bars of one size keyed by start time, kept sorted; drops bars older than ``keep``."""

    def __init__(self, keep: int | None) -> None:
        self.keep = keep
        self.starts: list[int] = []
        self.accs: list[_Acc] = []

    def get(self, start: int, price: int) -> _Acc:
        starts = self.starts
        if starts and starts[-1] == start:
            return self.accs[-1]
        if not starts or starts[-1] < start:
            acc = _Acc(start, price)
            starts.append(start)
            self.accs.append(acc)
            self._trim()
            return acc
        i = bisect_left(starts, start)
        if starts[i] == start:
            return self.accs[i]
        acc = _Acc(start, price)
        starts.insert(i, start)
        self.accs.insert(i, acc)
        return acc

    def put(self, acc: _Acc) -> None:
        """Merge a whole bar into its slot."""
        self.get(acc.time, acc.open).merge(acc)

    def _trim(self) -> None:
        if self.keep is None:
            return
        limit = self.starts[-1] - self.keep
        if self.starts[0] >= limit - self.keep // 8:  # trim in chunks
            return
        i = bisect_left(self.starts, limit)
        del self.starts[:i]
        del self.accs[:i]

    def between(self, begin: int, end: int | None) -> Iterator[_Acc]:
        i = bisect_left(self.starts, begin)
        j = len(self.starts) if end is None else bisect_left(self.starts, end)
        return iter(self.accs[i:j])


@dataclass(slots=True)
class _Sub:
    size: int
    acc: _Acc | None = None


class BarHistory:
    """Historical bars of one instrument and keepUpToDate updates (see the module docstring)."""

    def __init__(self, *, fine_keep: int = 4 * 3600, minute_keep: int = 30 * DAY) -> None:
        self._fine = _Series(fine_keep)
        self._minute = _Series(minute_keep)
        self._daily = _Series(None)
        self._subs: dict[Hashable, _Sub] = {}
        self._day_span = (0, -1, 0)  # (session start, session end, trading-date label)
        self.now = 0  # latest time seen, epoch s
        self.last_price: int | None = None

    # -- time alignment --
    def _trading_day(self, t: int) -> int:
        lo, hi, label = self._day_span
        if lo <= t < hi:
            return label
        local = datetime.fromtimestamp(t, _EXCHANGE_TZ).replace(tzinfo=None) + _SESSION_SHIFT
        day = local.date()
        label = calendar.timegm(day.timetuple())
        start = datetime.combine(day, datetime.min.time()) - _SESSION_SHIFT
        lo = int(start.replace(tzinfo=_EXCHANGE_TZ).timestamp())
        hi = int((start + timedelta(days=1)).replace(tzinfo=_EXCHANGE_TZ).timestamp())
        self._day_span = (lo, hi, label)
        return label

    def bucket(self, t: int, size: int) -> int:
        """Start of the ``size``-second bar containing epoch second ``t``."""
        if size >= DAY:
            return self._trading_day(t)
        if size <= 3600:
            return t - t % size
        # multi-hour bars follow the wall clock in Chicago (00:00, 04:00, ... local)
        local = datetime.fromtimestamp(t, _EXCHANGE_TZ)
        wall = (local.hour * 3600 + local.minute * 60 + local.second) // size * size
        start = datetime(local.year, local.month, local.day, wall // 3600, wall // 60 % 60,
                         tzinfo=_EXCHANGE_TZ)  # fmt: skip
        return int(start.timestamp())

    def _source(self, size: int) -> _Series:
        return self._fine if size < 60 else self._minute if size < DAY else self._daily

    # -- recording --
    def _record_trade(self, t: TradePrint) -> None:
        s = t.ts_ns // NS
        self._fine.get(s, t.price).trade(t.price, t.size)
        self._minute.get(s - s % 60, t.price).trade(t.price, t.size)
        self._daily.get(self._trading_day(s), t.price).trade(t.price, t.size)
        if s >= self.now:
            self.now = s
            self.last_price = t.price

    def _record_bar(self, b: BarPrint) -> None:
        s = b.ts_ns // NS
        start = s - s % 60
        self._minute.put(_bar_acc(b, start))
        self._daily.put(_bar_acc(b, self._trading_day(s)))
        if start + 59 >= self.now:
            self.now = start + 59
            self.last_price = b.close

    def backfill(self, items: Iterable[MarketEvent]) -> int:
        """Seed history from trades and/or 1-minute BarPrints (other events are skipped, so a
        replay stream can be passed as is); no updates. Returns the number recorded."""
        n = 0
        for item in items:
            if isinstance(item, TradePrint):
                self._record_trade(item)
            elif isinstance(item, BarPrint):
                self._record_bar(item)
            else:
                continue
            n += 1
        for sub in self._subs.values():
            sub.acc = None
        return n

    # -- requests --
    def request(self, bar_size: str | int, duration: str | int,
                end_ns: int | None = None) -> list[Bar]:  # fmt: skip
        """Bars of ``bar_size`` covering ``duration`` back from ``end_ns`` (None = now)."""
        size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
        span = parse_duration(duration) if isinstance(duration, str) else duration
        end = None if end_ns is None else -(-end_ns // NS)
        begin = (self.now + 1 if end is None else end) - span
        return [acc.bar() for acc in self._aggregate(size, begin, end)]

    def _aggregate(self, size: int, begin: int, end: int | None) -> list[_Acc]:
        source = self._source(size)
        src_size = 1 if size < 60 else 60 if size < DAY else size
        out: list[_Acc] = []
        for acc in source.between(self.bucket(begin, size), end):
            start = acc.time if src_size == size else self.bucket(acc.time, size)
            if out and out[-1].time == start:
                out[-1].merge(acc)
            else:
                out.append(acc.copy(start))
        if out and out[0].time < begin:
            del out[0]  # the bar that starts before the requested span
        return out

    def _current(self, size: int, t: int) -> _Acc | None:
        start = self.bucket(t, size)
        bars = self._aggregate(size, start, None)
        return bars[0] if bars and bars[0].time == start else None

    # -- keepUpToDate --
    def subscribe(self, key: Hashable, bar_size: str | int) -> Bar | None:
        """Start keepUpToDate updates for ``key``; returns the current bar, if any."""
        size = parse_bar_size(bar_size) if isinstance(bar_size, str) else bar_size
        sub = _Sub(size, self._current(size, self.now) if self.last_price is not None else None)
        self._subs[key] = sub
        return sub.acc.bar() if sub.acc else None

    def unsubscribe(self, key: Hashable) -> None:
        self._subs.pop(key, None)

    def on_trade(self, trade: TradePrint) -> list[tuple[Hashable, Bar]]:
        """Record a live trade; returns the updated current bar of each subscription."""
        self._record_trade(trade)
        s = trade.ts_ns // NS
        out = []
        for key, sub in self._subs.items():
            start = self.bucket(s, sub.size)
            if sub.acc is not None and sub.acc.time == start:
                sub.acc.trade(trade.price, trade.size)
            elif sub.acc is not None and start < sub.acc.time:
                continue  # a late trade for an older bar: ib_async would ignore the update
            else:
                sub.acc = self._current(sub.size, s)
            if sub.acc is not None:
                out.append((key, sub.acc.bar()))
        return out

    def on_bar(self, bar: BarPrint) -> list[tuple[Hashable, Bar]]:
        """Record a live 1-minute bar; returns updates for subscriptions of 1 min and more."""
        self._record_bar(bar)
        s = bar.ts_ns // NS
        out = []
        for key, sub in self._subs.items():
            if sub.size < 60:
                continue
            acc = self._current(sub.size, s)
            if acc is not None and (sub.acc is None or acc.time >= sub.acc.time):
                sub.acc = acc
                out.append((key, acc.bar()))
        return out

    def on_time(self, ts_ns: int) -> list[tuple[Hashable, Bar]]:
        """A clock tick: advance ``now``; returns the current bar of each subscription."""
        self.now = max(self.now, ts_ns // NS)
        return [(key, sub.acc.bar()) for key, sub in self._subs.items() if sub.acc is not None]
