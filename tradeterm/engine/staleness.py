"""A per-feed staleness watchdog for market data.

:class:`StalenessWatchdog` answers "has this feed gone silent?" (IB failure #1: data silently
stops after a reconnect). Feed timestamps are the *local receive clock*, not exchange times.
Rules: a feed that delivers and then stays silent past its threshold is stale, whatever the
calendar says (the simulated market and replays run at any hour, and a frozen feed must not
look live on a weekend). The calendar only decides whether data is expected from a feed that
has not delivered: while the market is open, every feed must deliver within its threshold,
its age counting from the later of its last data and the latest session open (so the 17:00
reopen does not flag a feed that was quiet over the break); while it is closed (daily break,
weekend) a feed whose last data came with the session that closed is silent because the
market is, and is not stale. Data within one threshold after the close still counts as the
session's own tail; a feed is taken to run through the closed hours once it delivers later
than that. Trades and bars are legitimately quiet in a slow market: give them longer
thresholds than quotes and depth. :meth:`~StalenessWatchdog.check` reports transitions only.
A source that says it is silent on purpose (a paused replay: :meth:`~StalenessWatchdog.hold`)
is neither stale nor aging while held; :meth:`~StalenessWatchdog.release` restarts every
feed's clock, so a replay that stays frozen after its resume goes stale one threshold later.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tradeterm.engine.calendar import CME, NS, SessionCalendar


class Feed(enum.StrEnum):
    QUOTES = "quotes"
    DEPTH = "depth"
    TRADES = "trades"
    BARS = "bars"


@dataclass(frozen=True, slots=True)
class StaleChange:
    """A feed became stale (``stale`` True) or recovered (False); ``age_s`` at the check."""

    feed: Feed
    stale: bool
    age_s: float


def _wall_clock_ns() -> int:
    return time.time_ns()


class StalenessWatchdog:
    """Per-feed silence detection (see the module notes).

    ``thresholds``: seconds of silence after which each watched feed is stale (feeds not in
    the mapping are not watched). ``clock``: UTC nanoseconds (injectable for tests); the
    watch starts at construction, so a feed that never arrives while the market is open goes
    stale too. ``calendar``: when data is expected (default: Globex rules).
    """

    __slots__ = ("_calendar", "_clock", "_delivered", "_last", "_stale", "held", "thresholds")

    def __init__(
        self,
        thresholds: Mapping[Feed, float],
        *,
        clock: Callable[[], int] = _wall_clock_ns,
        calendar: SessionCalendar = CME,
    ) -> None:
        if any(t <= 0 for t in thresholds.values()):
            raise ValueError("staleness thresholds must be positive")
        self.thresholds = dict(thresholds)
        self._clock = clock
        self._calendar = calendar
        start = clock()
        self._last = dict.fromkeys(self.thresholds, start)  # data, or the watch's (re)start
        self._delivered: dict[Feed, int | None] = dict.fromkeys(self.thresholds)  # data only
        self._stale = dict.fromkeys(self.thresholds, False)
        self.held = False  # the source is silent on purpose (a paused replay)

    def hold(self) -> None:
        """The source stops on purpose (a paused replay): no feed is stale until
        :meth:`release`."""
        self.held = True

    def release(self, ts_ns: int | None = None) -> None:
        """The source delivers again: every feed must deliver within its threshold from now."""
        self.held = False
        self.rearm(ts_ns)

    def touch(self, feed: Feed, ts_ns: int | None = None) -> None:
        """Data arrived on ``feed`` (at ``ts_ns``, the local clock; default: now)."""
        if feed in self._last:
            ts = self._clock() if ts_ns is None else ts_ns
            if ts > self._last[feed]:
                self._last[feed] = ts
            delivered = self._delivered[feed]
            if delivered is None or ts > delivered:
                self._delivered[feed] = ts

    def rearm(self, ts_ns: int | None = None) -> None:
        """Restart every feed's clock (after a resubscription): each must deliver within its
        threshold from now."""
        ts = self._clock() if ts_ns is None else ts_ns
        for feed in self._last:
            self._last[feed] = ts

    def age(self, feed: Feed, now_ns: int | None = None) -> float:
        """Seconds since ``feed`` last delivered (or since the watch started)."""
        now = self._clock() if now_ns is None else now_ns
        return (now - self._last[feed]) / NS

    def data_age(self, feed: Feed, now_ns: int | None = None) -> float:
        """Seconds since ``feed`` last delivered data (a re-arm does not count), or since the
        watch started when it never did: how old what the screen shows from it is."""
        now = self._clock() if now_ns is None else now_ns
        delivered = self._delivered[feed]
        return self.age(feed, now) if delivered is None else (now - delivered) / NS

    def is_stale(self, feed: Feed) -> bool:
        """The state as of the last :meth:`check`."""
        return self._stale.get(feed, False)

    def check(self, now_ns: int | None = None) -> list[StaleChange]:
        """Re-evaluate every feed; returns only the feeds whose state changed."""
        now = self._clock() if now_ns is None else now_ns
        calendar = self._calendar
        is_open = calendar.is_open(now)
        # open: the session's start; closed: the close that began the closed hours
        edge = calendar.session_open_ns(now) if is_open else calendar.session_close_ns(now)
        changes: list[StaleChange] = []
        for feed, threshold in self.thresholds.items():
            last, limit = self._last[feed], int(threshold * NS)
            if self.held:
                stale = False
            elif is_open:
                stale = now - max(last, edge) > limit
            else:
                delivered = self._delivered[feed]
                runs_closed = delivered is not None and delivered > edge + limit
                stale = runs_closed and now - last > limit
            if stale != self._stale[feed]:
                self._stale[feed] = stale
                changes.append(StaleChange(feed, stale, (now - last) / NS))
        return changes
