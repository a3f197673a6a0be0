"""The one clock of a replay, and the pacing that plays recorded events on it.

:class:`ReplayClock` reads the **replayed market's time**: the recording's own timestamps
(epoch seconds, UTC), never shifted. While it runs, it moves ``speed`` times as fast as the
wall clock; paused, it stands still; at speed ``max`` it does not run by itself but follows the
events (each event moves it to the event's time, so a replay at max speed still stamps every
tick and bar with its recorded time). Everything a replayed feed stamps reads this one clock:
ticks, 5-second bars, historical bars and the replay's end of history.

The controls are what a trainer needs: :meth:`~ReplayClock.pause`, :meth:`~ReplayClock.resume`,
:meth:`~ReplayClock.set_speed` (a number > 0 or ``"max"``) and :meth:`~ReplayClock.jump` (skip
ahead: the clock moves at once, the events in between are played as fast as possible and
quietly, and the book as it is at the end is published once; see :func:`play`). A quiet gap
longer than ``max_gap`` (the hours between a file's snapshot and the session open) is shortened
in the same way, by moving the clock: stamps never move with it.

:func:`play` yields events when the clock reaches their time. Any clock with ``now()`` and
``sleep(seconds)`` in market seconds will do (a test's lockstep clock, whose ``sleep`` waits
for the test); shortening gaps and jumps need a :class:`ReplayClock`.

Silence: :meth:`ReplayClock.played_ns` is the clock a client judges a replayed feed's silence
on (the engine's staleness watchdog, ``engine/source_clock.py``). It runs only while the
recording owes something: an event is due and not yet played (the replay is behind, stalled or
frozen). It stands still while :func:`play` has played everything due and waits for the file's
next event (the recorded market itself is quiet: the hour before an open has no trade, yet the
replay is not stale), while paused, over shortened gaps, and while a jump is caught up with
(its events played at once, nothing shown until it lands). It runs at the market's pace up to
real time, at the wall's above x1: at x100 the 50 ms the event loop takes to deliver a busy
open's burst is 5 s of market time, not a frozen feed. So a replay that keeps up is never stale
at any speed, and one that stops delivering what the file holds goes stale one threshold
later (of market time up to x1, of wall time above).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

NS = 1_000_000_000
MAX = math.inf  # the speed "as fast as possible"
_SNAP_NS = 1_000_000  # a wake-up this close before its time counts as on time


class Stamped(Protocol):
    """An event of a recording: its time in epoch nanoseconds."""

    @property
    def ts_ns(self) -> int: ...


E = TypeVar("E", bound=Stamped)


class MarketClock(Protocol):
    """What :func:`play` needs: the market's time in epoch seconds and a sleep in market
    seconds."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


def parse_speed(speed: float | int | str) -> float:
    """Replay speed: a number (1 = real time, 10 = ten times faster), ``"10x"``, or
    0 / ``"max"`` = as fast as possible (returned as 0.0)."""
    if isinstance(speed, str):
        text = speed.strip().lower()
        if text in ("max", "maximum", "fast", "inf"):
            return 0.0
        text = text.removesuffix("x")
        try:
            value = float(text)
        except ValueError as exc:
            raise ValueError(f"invalid replay speed {speed!r}") from exc
    else:
        value = float(speed)
    if value < 0 or value != value:
        raise ValueError(f"replay speed must be >= 0, got {speed!r}")
    return 0.0 if value == float("inf") else value


class ReplayClock:
    """The replayed market's time (see the module docstring).

    ``start``: the market time (epoch s) it reads before the replay begins (:func:`play` starts
    an unstarted clock at its first event). ``speed``: as :func:`parse_speed` (0 = max).
    ``held``: it stands still and :func:`play` yields nothing, not even what is due at its
    time, until :meth:`release` (the listeners are not there yet); the hold is not a pause
    (:attr:`paused` is the trainer's own, which it may set or clear while held).
    ``wall`` (monotonic seconds) and ``wall_sleep`` are injectable for tests.
    """

    def __init__(
        self,
        start: float | None = None,
        speed: float | int | str = 1.0,
        *,
        paused: bool = False,
        held: bool = False,
        wall: Callable[[], float] = time.monotonic,
        wall_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._wall = wall
        self._wall_sleep = wall_sleep
        self._speed = _rate(speed)
        self._paused = paused
        self._held = held
        self._started = start is not None
        self._base = 0 if start is None else round(start * NS)  # market ns at _base_wall
        self._base_wall = wall()
        self._changed: asyncio.Event | None = None
        self._jumping = False
        self._landed_jumps = 0  # jumps played to their end (:attr:`jumps`)
        self._on_landed: list[Callable[[], None]] = []
        self._quiet = False  # play() has played everything due: the recording owes nothing
        self._ended = False  # play() has played the whole file: the market stands still
        self._failure: str | None = None  # why the replay stopped before the file's end
        self._owed_ns = self._base  # the silence clock (played_ns), brought up to date at...
        self._owed_wall = wall()  # ...this wall time

    # ---- reading -------------------------------------------------------------------------

    def now(self) -> float:
        """The replayed market's time, epoch seconds."""
        return self.now_ns() / NS

    def now_ns(self) -> int:
        """The replayed market's time, epoch nanoseconds (exact, as the events' stamps are)."""
        if self._paused or self._held or self._ended or self._speed == MAX or not self._started:
            return self._base
        return self._base + round((self._wall() - self._base_wall) * self._speed * NS)

    def played_ns(self) -> int:
        """The silence clock (see the module notes): time during which the recording owed an
        event, at the market's pace up to real time; it starts at the replay's start."""
        if not self._counting():
            return self._owed_ns
        return self._owed_ns + round((self._wall() - self._owed_wall) * min(self._speed, 1) * NS)

    def _counting(self) -> bool:
        return self._started and not (self._paused or self._held or self._jumping or self._quiet)

    def _owing(self) -> None:
        """Bring the silence clock up to now, before what it counts changes."""
        self._owed_ns = self.played_ns()
        self._owed_wall = self._wall()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def held(self) -> bool:
        """Held until :meth:`release` (see the class notes)."""
        return self._held

    @property
    def speed(self) -> float:
        """Market seconds per wall second (``math.inf`` = max)."""
        return self._speed

    @property
    def started(self) -> bool:
        return self._started

    @property
    def ended(self) -> bool:
        """The whole recording has been played (:meth:`end`): nothing more comes, at any
        speed, and the market's time stands at its end."""
        return self._ended

    @property
    def failure(self) -> str | None:
        """Why the replay stopped before the file's end (:meth:`end`); None: it did not."""
        return self._failure

    @property
    def jumping(self) -> bool:
        """A jump is being played: the events it skipped are due at once and are not shown
        one by one; the feed publishes the book when the replay has caught up (:meth:`landed`)."""
        return self._jumping

    @property
    def jumps(self) -> int:
        """How many jumps have landed: the client was not sent the events each skipped (the
        engine asks the history of their bars again)."""
        return self._landed_jumps

    # ---- controls ------------------------------------------------------------------------

    def start(self, market_time: float) -> None:
        """Set the market time (epoch s) once, at the replay's first event (no-op when
        started)."""
        if not self._started:
            self._started = True
            self._set(round(market_time * NS))
            self._owed_ns, self._owed_wall = self._base, self._wall()

    def pause(self) -> None:
        if not self._paused:
            self._owing()
            self._set(self.now_ns())
            self._paused = True

    def resume(self) -> None:
        if self._paused:
            self._owing()
            self._paused = False
            self._set(self._base)

    def release(self) -> None:
        """End the hold: the clock runs (unless paused) and the replay plays."""
        if self._held:
            self._owing()
            self._held = False
            self._set(self._base)

    def set_speed(self, speed: float | int | str) -> None:
        """A number > 0 (1 = real time) or ``"max"``; takes effect at once, time does not
        jump."""
        if isinstance(speed, int | float) and speed == 0:
            raise ValueError("replay speed must be > 0 (or 'max')")
        base = self.now_ns()
        self._owing()
        self._speed = _rate(speed)
        self._set(base)

    def jump(self, seconds: float) -> None:
        """Skip ``seconds`` of market time ahead at once; the events in between are played
        quietly and the book at the end is published (:func:`play`, :meth:`landed`)."""
        if not seconds >= 0:
            raise ValueError(f"a replay only jumps ahead, got {seconds!r} s")
        if self._ended:
            raise ValueError("the replay has ended: there is nothing ahead to jump to")
        if seconds:
            self._owing()
            self._jumping = True  # caught up with on purpose, shown when it lands: not silence
            self._set(self.now_ns() + round(seconds * NS))

    def skip(self, seconds: float) -> None:
        """Move ``seconds`` ahead where nothing happens (a quiet gap): unlike :meth:`jump`,
        there is nothing to catch up with."""
        if not seconds >= 0:
            raise ValueError(f"a replay only skips ahead, got {seconds!r} s")
        self._set(self.now_ns() + round(seconds * NS))

    def on_landed(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when a jump has been played up to the clock (:meth:`landed`)."""
        self._on_landed.append(callback)

    def landed(self) -> None:
        """The replay has caught up with the clock: the recording is quiet until its next
        event (:meth:`played_ns` stands still); after a jump, the jump ends and the listeners
        are told (the feed publishes the book as it is now)."""
        self._owing()
        self._quiet = True
        if self._jumping:
            self._jumping = False
            self._landed_jumps += 1
            for callback in self._on_landed:
                callback()

    def end(self, failure: str | None = None) -> None:
        """The recording has been played to its end, or ``failure`` stopped it there (the
        rest of the file cannot be read): the clock stops there (no later event can come, so
        time running on would only age the last one) and owes nothing."""
        self.landed()
        if not self._ended:
            self._set(self.now_ns())
            self._ended = True
            self._failure = failure

    def due(self) -> None:
        """The recording's next event is due: until it is played, its silence counts
        (:meth:`played_ns` runs), unless a jump is being caught up with (nothing is shown
        until it lands: silent on purpose)."""
        self._owing()
        self._quiet = False

    # ---- waiting -------------------------------------------------------------------------

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of market time (paused: until resumed and then some)."""
        await self.wait_until_ns(self.now_ns() + round(seconds * NS))

    async def wait_until_ns(self, target: int) -> None:
        """Return once the clock reads ``target`` (epoch ns). At speed max the clock moves
        there at once (after giving the event loop a turn); pause, speed changes and jumps
        take effect while waiting."""
        while True:
            if self._held:
                await self._wait_change(None)
                continue
            if not self._paused and self._speed == MAX:
                if target > self._base:
                    self._set(target)
                await asyncio.sleep(0)
                return
            now = self.now_ns()
            if now >= target:
                return
            if self._paused:
                await self._wait_change(None)
                continue
            timed_out = not await self._wait_change((target - now) / NS / self._speed)
            if timed_out and self.now_ns() < target <= self.now_ns() + _SNAP_NS:
                self._set(target)  # a wall timer a hair early (float rounding): on time

    async def _wait_change(self, wall_seconds: float | None) -> bool:
        """Wait for a control change (True) or ``wall_seconds`` of wall time (False)."""
        if self._changed is None:
            self._changed = asyncio.Event()
        changed: asyncio.Future[Any] = asyncio.ensure_future(self._changed.wait())
        waits: set[asyncio.Future[Any]] = {changed}
        if wall_seconds is not None:
            waits.add(asyncio.ensure_future(self._wall_sleep(wall_seconds)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        return changed.done() and not changed.cancelled()

    def _set(self, market_ns: int) -> None:
        self._base = market_ns
        self._base_wall = self._wall()
        if self._changed is not None:  # wake the waiters: they compute their wait again
            self._changed.set()
            self._changed = None


def _rate(speed: float | int | str) -> float:
    value = parse_speed(speed)
    return MAX if value == 0 else value


async def _aiter(events: Iterable[E] | AsyncIterable[E]) -> AsyncIterator[E]:
    if isinstance(events, AsyncIterable):
        async for ev in events:
            yield ev
    else:
        for ev in events:
            yield ev


async def play(
    events: Iterable[E] | AsyncIterable[E],
    clock: MarketClock,
    *,
    max_gap: float | None = None,
    batch: int = 256,
) -> AsyncIterator[E]:
    """Yield each event once ``clock`` reads its time (events already due at once, in file
    order; one older than the previous is never reordered). ``max_gap`` (market seconds, needs
    a :class:`ReplayClock`): a longer wait for the next event is cut to that length by moving
    the clock ahead (:meth:`ReplayClock.skip`). Control goes back to the event loop every
    ``batch`` events even when nothing waits. An unstarted :class:`ReplayClock` starts at the first event's time.
    :meth:`ReplayClock.landed` is called whenever the events up to the clock have been
    yielded (ending a jump) and :meth:`ReplayClock.due` when the next one falls due."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    replay_clock = clock if isinstance(clock, ReplayClock) else None
    if max_gap is not None and replay_clock is None:
        raise ValueError("shortening gaps needs a ReplayClock")
    since_yield = 0
    async for ev in _aiter(events):
        if replay_clock is not None:
            if not replay_clock.started:
                replay_clock.start(ev.ts_ns / NS)  # a replay begins at its first event
            delay_ns = ev.ts_ns - replay_clock.now_ns()
            if delay_ns > 0 or replay_clock.held:
                replay_clock.landed()  # everything up to the clock has been played
                if max_gap is not None and delay_ns > max_gap * NS:
                    replay_clock.skip((delay_ns - round(max_gap * NS)) / NS)
                await replay_clock.wait_until_ns(ev.ts_ns)
                replay_clock.due()
                since_yield = 0
        elif ev.ts_ns / NS > clock.now():
            await clock.sleep(ev.ts_ns / NS - clock.now())
            since_yield = 0
        since_yield += 1
        if since_yield >= batch:
            since_yield = 0
            await asyncio.sleep(0)
        yield ev
    if replay_clock is not None:
        replay_clock.landed()
