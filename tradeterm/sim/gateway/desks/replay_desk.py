"""The fake gateway's replayed feed: the file played on the replay's one clock into its
instrument's feed (``--replay FILE`` at ``--speed``; the trainer's embedded gateway).

A replay runs on one clock, a :class:`~tradeterm.sim.replay_clock.ReplayClock` that reads the
file's own times (:attr:`ReplayDesk.clock`, which a trainer pauses, speeds up and jumps):
ticks, 5-second bars and historical bars of the replayed feed are all stamped by it, so they
agree at any speed and quiet gaps shortened to 2 s (a file's snapshot hours before the open)
do not move them. A bar-only file is replayed as a market a client can trade against: each
1-minute bar becomes a book and trades (:mod:`~tradeterm.sim.bar_market`). A ``replay_clock``
given in the settings is used instead: a test's lockstep clock (``now()``/``sleep()`` in the
file's time) that the test moves by hand (and gives the gateway as its ``clock`` too) steps the
replay with what it checks.

A file of several instruments plays the one of the gateway's first symbol (``NQU4`` of a file
of ESU4 and NQU4 for NQ; ``replay_symbol`` picks it when given: ``sim.replay.instrument_of``).
When the file is played to its end, the clock ends there (:meth:`ReplayClock.end`): the market
stands still at its last event, and the orders resting at the gateway stay as they are. A file
that cannot be read on to its end (corrupt, truncated) ends the clock where it stopped, with
the reason (:attr:`ReplayClock.failure`, which the trainer's screen says), logged in one line;
:meth:`ReplayDesk.state` is then ``failed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from tradeterm.sim.bar_market import bar_market
from tradeterm.sim.gateway.desks.feed import InstrumentFeed
from tradeterm.sim.market_events import exchange_events
from tradeterm.sim.replay import instrument_of, load_replay
from tradeterm.sim.replay_clock import NS, MarketClock, ReplayClock, play

log = logging.getLogger(__name__)


class ReplaySettings(Protocol):
    replay: Path | None  # recorded data that the first symbol's feed plays instead
    replay_symbol: str | None  # the file's instrument to play (default: the first symbol's)
    speed: float  # replay speed; 0 = as fast as possible
    replay_clock: MarketClock | None  # the replay's clock (default: a ReplayClock at speed)
    symbols: tuple[str, ...]


class ReplayDesk:
    """Plays ``settings.replay`` into a feed (:meth:`start`) on :attr:`clock`; ``stalled``:
    the gateway's market data is frozen (a fault)."""

    def __init__(self, settings: ReplaySettings, stalled: Callable[[], bool]) -> None:
        assert settings.replay is not None
        self.settings = settings
        self.clock: MarketClock = settings.replay_clock or ReplayClock(speed=settings.speed)
        self._stalled = stalled
        self.tasks: list[asyncio.Task[None]] = []
        self.failure: str | None = None  # why the replay stopped before the file's end

    def start(self, feed: InstrumentFeed) -> None:
        self.tasks.append(asyncio.create_task(self._replay(feed)))

    def now_ns(self) -> int:
        """The replay's clock in epoch nanoseconds: the stamp of every replayed tick and bar."""
        return round(self.clock.now() * NS)

    def frozen(self) -> bool:
        """Nothing goes to clients during a stall, nor while a jump is played (the clock
        counts the jumps landed: the engine asks the bars over the span again, from the history
        this feed kept building meanwhile)."""
        clock = self.clock
        return self._stalled() or (isinstance(clock, ReplayClock) and clock.jumping)

    def state(self) -> str:
        """``none`` (no replay started), ``playing``, ``ended`` or ``failed`` (stopped
        before the file's end: :attr:`failure`)."""
        if not self.tasks:
            return "none"
        if not all(t.done() for t in self.tasks):
            return "playing"
        return "failed" if self.failure is not None else "ended"

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _replay(self, feed: InstrumentFeed) -> None:
        """Play the file on the replay's clock, and end the clock where it stops: at the
        file's end, or where it could not be read on (the reason logged and kept)."""
        assert self.settings.replay is not None
        name = self.settings.replay.name
        try:
            await self._play(feed)
            log.info("replay of %s finished after %d events", name, feed.events)
        except Exception as exc:
            expected = isinstance(exc, ValueError | OSError)  # ReplayError: a bad file
            self.failure = f"{name} could not be read on after {feed.events} events: {exc}"
            log.error("replay stopped: %s", self.failure, exc_info=not expected)
        finally:
            if isinstance(self.clock, ReplayClock):
                self.clock.end(self.failure)

    async def _play(self, feed: InstrumentFeed) -> None:
        """Play the file on the replay's clock, stamps untouched; quiet gaps over 2 s (and a
        trainer's jumps) move the clock ahead, and the book is published when it lands."""
        cfg = self.settings
        clock = self.clock
        assert cfg.replay is not None
        symbol = cfg.replay_symbol or instrument_of(cfg.replay, cfg.symbols[0])
        events = exchange_events(
            bar_market(load_replay(cfg.replay, symbol=symbol, tick_size=feed.tick, orders=True))
        )
        max_gap = None
        if isinstance(clock, ReplayClock):
            max_gap = 2.0
            clock.on_landed(feed.thaw)
        async for event in play(events, clock, max_gap=max_gap):
            while self._stalled():
                await asyncio.sleep(0.05)
            feed.push(event)
