"""Benchmark: journal shipping to PostgreSQL (prints figures; asserts nothing).

1. Throughput: a journal holding ``--rows`` fills (intent + fill rows, as trading writes
   them) is shipped from scratch by :class:`~tradeterm.shared.shipper.Shipper`; rows/s. And
   the journal's own cost of shipping: a fill row's write with the ``ship_log`` copy on, off
   (an instance with no ``[shared] url``) and with no trigger at all (:func:`copy_cost`).
2. Lag while trading: a journal on a thread of its own commits an intent and books a fill
   ``--fill-rate`` times a second while the shipper ships it; the rows and seconds behind are
   sampled every 50 ms (p50, p99, max).
3. Tick-to-order at ``--msg-rate`` market-data messages a second (``engine_latency``'s
   marker benchmark: the gateway process, ib_async, the Engine, a strategy) while the journal
   of (2) is written in the same process, one run per variant, the variants in turn, for
   ``--rounds`` rounds (so that the machine's load falls on all of them alike):
   ``none`` (the journal does not ship: no copy, no shipper), ``thread`` (the shipper on a
   thread of the trading process: the first way), ``process`` (an instance's way: the shipper
   in a child process, ``ship_process.py``) and ``down`` (the same with the database stopped,
   only with the throwaway server). The lag of (2) is sampled during the ``process`` runs;
   the CPU the trading process (this one: engine, ib_async, the journal, and in ``thread``
   the shipper) spends in each run, as a share of one core, is printed beside its latency.

The database: ``--url`` (its owner's URL: the benchmark migrates it), else a throwaway server
started from the local PostgreSQL binaries by ``benchmarks/bench_shipping.py``.

Run: ``python benchmarks/bench_shipping.py [--url URL] [--rows 20000] [--fill-rate 200]
[--msg-rate 5000] [--samples 200] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from tradeterm.bench.engine_latency import bench_latency
from tradeterm.bench.journal_rates import ES
from tradeterm.bench.timing import pct
from tradeterm.config import Settings
from tradeterm.domain import Fill, Order, OrderType, Side
from tradeterm.engine.events import FillBooked
from tradeterm.engine.types import OrderRole
from tradeterm.journal import Journal
from tradeterm.journal import rows as R
from tradeterm.journal.store import prepare
from tradeterm.shared.migrations import migrate
from tradeterm.shared.ship_process import ShippingProcess
from tradeterm.shared.shipper import Identity, Lag, Shipper, ShippingThread
from tradeterm.shared.target import Target


async def _trade(journal: Journal, n: int, now_ns: int) -> None:
    order = Order(f"tt.ES.b.{n:x}", ES, Side.BUY, 1, OrderType.MARKET, source="bench")
    await journal.commit_intent(order, f"cmd-{n}", OrderRole.PLAIN)
    journal.record(
        FillBooked(Fill(f"e{n}", order.client_id, ES, Side.BUY, 1, 24000, now_ns), True, False)
    )


async def _fill_journal(path: Path, rows: int) -> None:
    async with Journal(path, ship=True) as journal:
        await journal.start_session("ES", "sim", "bench")
        for n in range(rows // 2):
            await _trade(journal, n, time.time_ns())
        await journal.flush()


def _shipper(path: Path, url: str, name: str) -> Shipper:
    return Shipper(path, Target(url), Identity(name, "bench", "ES", "sim"), poll_s=0.02)


def throughput(url: str, rows: int, directory: Path) -> float:
    """Rows/s shipping ``rows`` journal rows from scratch."""
    path = directory / "throughput.sqlite"
    asyncio.run(_fill_journal(path, rows))
    thread = ShippingThread(_shipper(path, url, "bench-throughput"))
    t0 = time.perf_counter()
    thread.start()
    while thread.shipper.lag().rows or thread.shipper.shipped_seq is None:
        time.sleep(0.01)
    seconds = time.perf_counter() - t0
    thread.stop()
    shipped = thread.shipper.rows_shipped
    print(f"throughput: {shipped:,} rows in {seconds:.2f} s: {shipped / seconds:,.0f} rows/s")
    return shipped / seconds


def copy_cost(directory: Path, fills: int = 5_000, runs: int = 15) -> dict[str, float]:
    """Microseconds per fill row written in one transaction (the best of ``runs``), the
    journal's ``ship_log`` copy on (it ships), off (it does not: ``ship_meta.shipping`` 0)
    and with no trigger at all (dropped: what the writer costs without shipping's schema)."""
    rows = [r for n in range(fills)
            for r in R.fill_rows(Fill(f"e{n}", "o", ES, Side.BUY, 1, 24000, n), True, False, n)]  # fmt: skip
    best: dict[str, float] = {}
    for run in range(runs):
        for variant in ("on", "off", "none"):
            path = directory / f"copy-{variant}-{run}.sqlite"
            prepare(path, ship=variant == "on")
            with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
                if variant == "none":
                    triggers = conn.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE "
                        "'ship%'"
                    ).fetchall()
                    for (name,) in triggers:
                        conn.execute(f"DROP TRIGGER {name}")
                t0 = time.perf_counter()
                conn.execute("BEGIN")
                for statement, params in rows:
                    conn.execute(statement, params)
                conn.execute("COMMIT")
                us = (time.perf_counter() - t0) / len(rows) * 1e6
            best[variant] = min(best.get(variant, us), us)
    print(f"a fill row's write, best of {runs}: ship_log copy on {best['on']:.2f} us, off "
          f"{best['off']:.2f} us, no trigger {best['none']:.2f} us")  # fmt: skip
    return best


class Trading:
    """A journal on a thread of its own, trading ``fill_rate`` fills a second, shipped as
    ``variant`` says (``none``, ``thread``, ``process`` or ``down``)."""

    def __init__(self, url: str, path: Path, fill_rate: float, variant: str) -> None:
        self.path, self.fill_rate, self.ship = path, fill_rate, variant != "none"
        asyncio.run(_fill_journal(path, 2))  # the file exists before the shipper opens it
        self.shipping: ShippingThread | ShippingProcess | None = None
        if variant == "thread":
            self.shipping = ShippingThread(_shipper(path, url, f"bench-{variant}"))
        elif variant in ("process", "down"):
            settings = Settings(symbol="ES", shared={"url": url, "instance": f"bench-{variant}"})
            self.shipping = ShippingProcess(ShippingProcess.spec_of(settings, path))
        self.lags: list[tuple[int, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True),
                         threading.Thread(target=self._sample, daemon=True)]  # fmt: skip

    def lag(self) -> Lag:
        if isinstance(self.shipping, ShippingThread):
            return self.shipping.shipper.lag()
        return self.shipping.lag() if self.shipping is not None else Lag(0, 0.0, False, None)

    async def _run(self) -> None:
        async with Journal(self.path, ship=self.ship) as journal:
            await journal.start_session("ES", "sim", "bench")
            n, t0 = 10**6, time.perf_counter()
            while not self._stop.is_set():
                n += 1
                await _trade(journal, n, time.time_ns())
                await asyncio.sleep(
                    max(0.0, t0 + (n - 10**6) / self.fill_rate - time.perf_counter())
                )

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            lag = self.lag()
            if lag.rows is not None and lag.seconds is not None:
                self.lags.append((lag.rows, lag.seconds))

    def __enter__(self) -> Trading:
        if self.shipping is not None:
            self.shipping.start()
        for thread in self._threads:
            thread.start()
        deadline = time.monotonic() + 30  # measured once shipping, as an instance that trades
        while self.ship and time.monotonic() < deadline:
            lag = self.lag()
            if lag.connected or (lag.problem or "not connected yet") != "not connected yet":
                break
            time.sleep(0.05)
        self.lags.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        if self.shipping is not None:
            self.shipping.stop()

    def report(self) -> dict[str, float]:
        rows = [float(r) for r, _ in self.lags] or [0.0]
        seconds = [s for _, s in self.lags] or [0.0]
        print(f"lag while trading {self.fill_rate:g} fills/s: rows "
              f"p50 {pct(rows, 0.5):.0f}, p99 {pct(rows, 0.99):.0f}, max {max(rows):.0f}; "
              f"seconds p50 {pct(seconds, 0.5):.3f}, p99 {pct(seconds, 0.99):.3f}, "
              f"max {max(seconds):.3f}")  # fmt: skip
        return {"lag_rows_p99": pct(rows, 0.99), "lag_s_p99": pct(seconds, 0.99),
                "lag_s_max": max(seconds)}  # fmt: skip


def bench(
    args: argparse.Namespace, url: str, outage: tuple[Callable[[], None], Callable[[], None]]
    | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The figures; ``outage``: how to stop and start the database (the ``down`` runs)."""
    asyncio.run(_migrate(url))
    found: dict[str, Any] = {}
    variants = ["none", "thread", "process"] + (["down"] if outage else [])
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory(prefix="tt-bench-ship-") as tmp:
        found["rows_per_s"] = throughput(url, args.rows, Path(tmp))
        found["copy_us"] = copy_cost(Path(tmp))
        latency = (args.msg_rate, args.samples, 0.05, 7, 3.0)
        for r in range(args.rounds):
            for variant in variants[r % len(variants) :] + variants[: r % len(variants)]:
                print(f"round {r + 1}, tick-to-order with shipping {variant}:")
                path = Path(tmp) / f"trading-{variant}-{r}.sqlite"
                with Trading(url, path, args.fill_rate, variant) as trading:
                    if variant == "down" and outage:
                        outage[0]()
                    cpu, wall = time.process_time(), time.perf_counter()
                    try:
                        run = asyncio.run(bench_latency(*latency))
                        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                        runs[variant].append(run | {"cpu_pct": 100 * cpu / wall})
                    finally:
                        if variant == "down" and outage:
                            outage[1]()
                if variant == "process":
                    found.setdefault("lag", []).append(trading.report())
    for variant, results in runs.items():
        found[variant] = {k: [r[k] for r in results if k in r]
                          for k in ("p50_ms", "p99_ms", "cpu_pct")}  # fmt: skip
        print(f"shipping {variant:>7}: tick-to-order p50 {_runs(found[variant]['p50_ms'])} ms; "
              f"p99 {_runs(found[variant]['p99_ms'])} ms; the trading process's CPU "
              f"{_runs(found[variant]['cpu_pct'])} % of a core")  # fmt: skip
    return found


def _runs(values: list[float]) -> str:
    """The median of the runs, and each run's figure."""
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} ({', '.join(f'{v:.1f}' for v in values)})"


async def _migrate(url: str) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await migrate(conn)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", help="the shared database's owner URL (default: a throwaway server)")
    p.add_argument("--rows", type=int, default=20_000)
    p.add_argument("--fill-rate", type=float, default=200.0)
    p.add_argument("--msg-rate", type=float, default=5_000.0)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3, help="runs of each variant, in turn")
    return p
