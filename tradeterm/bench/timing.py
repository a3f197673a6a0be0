"""Shared timing helpers of the benchmarks: best-of throughput, percentiles, the benchmarks'
own market clock, a bounded wait, and the machine they ran on."""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import platform
import re
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from tradeterm.sim.gateway.fake_gateway import FakeGateway
    from tradeterm.sim.gateway.probe import WireProbe

T = TypeVar("T")
NS = 1_000_000_000

# When a benchmark's market opens: a Friday morning in Chicago, the CME session open for hours
# and ESZ6 the front month (for the gateway's catalog and the IB adapter's roll alike).
MARKET_OPEN = datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("America/Chicago"))


_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor, colours, modes
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, clipboard
    r"|\x1b[P^_][^\x1b]*\x1b\\"  # DCS, PM, APC strings
    r"|\x1b[@-Z\\-_]|\x1b[ -/][0-~]"  # short escapes
    r"|[\x00-\x09\x0b\x0c\x0e-\x1f\x7f]"  # other control characters (newlines stay)
)


def plain(data: bytes | str) -> str:
    """A terminal's output as its text: control sequences removed, ``\r\n`` a newline."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return _CONTROL.sub("", text.replace("\r\n", "\n"))


def best_of(fn: Callable[[], int], repeat: int = 3) -> float:
    """Best items/s over ``repeat`` runs of ``fn`` (which returns the number of items)."""
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1); NaN for no values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else math.nan


def ms(ns: float) -> float:
    return ns / 1e6


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> str:
    """CPU model, cores, Python and OS: the machine a table of figures is for."""
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {python}, {platform.system()} {platform.release()}"
    )


def load_line() -> str:
    """Cores, load average and Python: the line a latency run starts with."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs, load average {load} at the start (other work on the "
            f"machine shows in the tails), Python {platform.python_version()}")  # fmt: skip


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


def script(
    name: str, parser: Callable[[], argparse.ArgumentParser],
    bench: Callable[[argparse.Namespace], object],
) -> None:  # fmt: skip
    """A benchmark run as a script: its options parsed, its figures printed; a
    :class:`BenchError` ends it with one line naming ``name`` and exit status 1."""
    try:
        bench(parser().parse_args())
    except BenchError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(1)


def per_size(
    sizes: str, run: Callable[[int, int], Coroutine[Any, Any, dict[str, float]]]
) -> dict[str, dict[str, float]]:
    """``run(cols, rows)`` for every size of ``sizes`` ("200x50,80x24"), each in its own event
    loop; the figures by size ("80x24")."""
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # sockets closing at exit
    found: dict[str, dict[str, float]] = {}
    for size in sizes.split(","):
        cols, rows = (int(v) for v in size.lower().split("x"))
        found[f"{cols}x{rows}"] = asyncio.run(run(cols, rows))
    return found


@dataclass(frozen=True)
class ScreenBench:
    """A screen benchmark: the options every one takes (terminal ``--sizes``, the ``--msgs``
    load, the ``--seconds`` window, ``--warmup``) and its own (``options``), and
    ``run_size(cols, rows, args)`` run for each size (see :func:`per_size`)."""

    name: str
    doc: str | None
    sizes: str
    seconds: float
    options: Callable[[argparse.ArgumentParser], None]
    run_size: Callable[[int, int, argparse.Namespace], Coroutine[Any, Any, dict[str, float]]]

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(description=(self.doc or "").split("\n\n")[0])
        parser.add_argument("--sizes", default=self.sizes)
        parser.add_argument("--msgs", type=float, default=5000.0, help="market-data messages/s")
        parser.add_argument("--seconds", type=float, default=self.seconds, help="measuring window")
        parser.add_argument("--warmup", type=float, default=2.0)
        self.options(parser)
        return parser

    def bench(self, args: argparse.Namespace) -> dict[str, dict[str, float]]:
        """Every size's figures, by size ("80x24")."""
        return per_size(args.sizes, lambda cols, rows: self.run_size(cols, rows, args))

    def main(self) -> None:
        script(self.name, self.parser, self.bench)


async def bounded(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """``awaitable``'s result, or :class:`Stuck` naming ``what`` after ``seconds``."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        raise Stuck(f"waited {seconds:g} s for {what}") from None


async def calibrate(
    gateway: FakeGateway, probe: WireProbe, msgs_per_s: float, rounds: int = 4,
    within: float = 0.03,
) -> float:  # fmt: skip
    """Set the gateway's synthetic rate so that about ``msgs_per_s`` messages a second are
    written to its clients (how many messages an event makes depends on what they subscribed
    to): at most ``rounds`` one-second measures, done once within ``within`` of the aim.
    Returns the rate (the gateway's ``--rate``)."""
    config = gateway.config
    for _ in range(rounds):
        frames, t0 = probe.frames, time.monotonic()
        await asyncio.sleep(1.0)
        measured = (probe.frames - frames) / (time.monotonic() - t0)
        if measured <= 0:
            break
        config.rate = max(1.0, config.rate * msgs_per_s / measured)
        if abs(measured - msgs_per_s) < within * msgs_per_s:
            break
    return config.rate
