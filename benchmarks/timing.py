"""Shared timing helpers of the benchmark scripts: best-of throughput, the benchmarks' own
market clock, and a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

T = TypeVar("T")
NS = 1_000_000_000

# When a benchmark's market opens: a Friday morning in Chicago, the CME session open for hours
# and ESZ6 the front month (for the gateway's catalog and the IB adapter's roll alike).
MARKET_OPEN = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("America/Chicago"))


def best_of(fn: Callable[[], int], repeat: int = 3) -> float:
    """Best items/s over ``repeat`` runs of ``fn`` (which returns the number of items)."""
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


class MarketClock:
    """The benchmarks' own wall clock: ``start`` at the moment ``anchor_ns`` of
    CLOCK_MONOTONIC, then advancing with it. CLOCK_MONOTONIC is system-wide on Linux, so a
    child process given the same anchor keeps the same time. Whatever the real date and hour,
    a benchmark on this clock runs in an open market on the same contract every time (on the
    real clock, from eight days before ESZ6's expiry the IB adapter rolled to ESH7 while the
    gateway's catalog, fixed on a date, still printed into ESZ6)."""

    def __init__(self, start: datetime = MARKET_OPEN, anchor_ns: int | None = None) -> None:
        self.start_ns = int(start.timestamp()) * NS
        self.anchor_ns = time.monotonic_ns() if anchor_ns is None else anchor_ns

    def ns(self) -> int:
        """Now, in UTC nanoseconds (the engine's clock)."""
        return self.start_ns + time.monotonic_ns() - self.anchor_ns

    def seconds(self) -> float:
        """Now, in UTC seconds (the gateway's and the IB adapter's clock)."""
        return self.ns() / NS

    def today(self) -> date:
        """Today's date in Chicago (the gateway's catalog date)."""
        return datetime.fromtimestamp(self.seconds(), MARKET_OPEN.tzinfo).date()


class BenchError(Exception):
    """A benchmark cannot measure what it is for: the message says why. Its ``main`` prints
    it and exits 1."""


class Stuck(BenchError):
    """A benchmark waited too long for something: the message says what."""


async def bounded(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """``awaitable``'s result, or :class:`Stuck` naming ``what`` after ``seconds``."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise Stuck(f"waited {seconds:g} s for {what}") from None
