"""Benchmark: the journal writer (prints figures; asserts nothing).

1. Bulk rows through the writer: ``--rows`` closed-bar rows handed to ``Journal.record_rows``
   in chunks of ``--chunk`` (the event loop runs between chunks, as it would between engine
   events), timed until the last one is committed; also the cost of one ``record`` call on
   the event loop (what the engine's listener pays per event), and the rows dropped when the
   producer outruns the writer.
2. Critical rows: ``--fills`` fill events through ``Journal.record``, timed until committed.
3. Intent commit: ``--intents`` sequential ``commit_intent`` calls (each one a fsynced
   transaction, ``synchronous=FULL``), p50/p99/max, with the writer idle and again while
   bulk rows stream in: the latency the journal adds before an order is sent.

Run: ``python benchmarks/bench_journal.py [--rows 200000] [--fills 20000] [--intents 500]``.
The journal is written in a temporary directory (``--dir`` to choose the disk).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from tradeterm.bench.timing import pct
from tradeterm.broker.port import NoticeLevel
from tradeterm.domain import Bar, ContractMonth, Fill, Instrument, Order, OrderType, Side
from tradeterm.engine.events import EngineNotice, FillBooked
from tradeterm.engine.types import OrderRole
from tradeterm.journal import Journal
from tradeterm.journal import rows as R

ES = Instrument.from_spec("ES", ContractMonth(2026, 12), con_id=495512563)
T0 = 1_795_000_000_000_000_000


async def bulk(path: Path, rows: int, chunk: int) -> float:
    """Bulk rows/s committed (printed with the cost of ``record`` and the drops; returned)."""
    journal = Journal(path, queue_max=rows)  # room for all: measure the writer, not drops
    await journal.open()
    try:
        batch = [R.bar_row(495512563, Bar(T0 + i * 60 * 10**9, 24000, 24004, 23996, 24002, 10))
                 for i in range(rows)]  # fmt: skip
        started = time.perf_counter()
        for i in range(0, rows, chunk):
            journal.record_rows(batch[i : i + chunk], critical=False)
            await asyncio.sleep(0)
        await journal.flush()
        elapsed = time.perf_counter() - started
        assert journal.dropped == 0 and journal.rows_written >= rows
        print(f"bulk rows through the writer: {rows / elapsed:,.0f} rows/s committed "
              f"({rows:,} bar rows in {elapsed:.2f}s, batches of {journal.batch_size})")  # fmt: skip

        notices = [EngineNotice(NoticeLevel.INFO, f"notice {i}", T0 + i) for i in range(20_000)]
        started_ns = time.perf_counter_ns()
        for n in notices:
            journal.record(n)
        per_call = (time.perf_counter_ns() - started_ns) / len(notices)
        print(f"record() on the event loop: {per_call:,.0f} ns per event (notices, bulk lane)")
        await journal.flush()

        small = Journal(path.with_name("small.sqlite"), queue_max=1_000)  # the config's minimum
        await small.open()
        burst = [R.bar_row(1, Bar(T0 + i, 1, 1, 1, 1, 1)) for i in range(5_000)]
        for _ in range(10):  # a burst with no pause: the writer never runs
            small.record_rows(burst, critical=False)
        print(f"burst of 50,000 bulk rows into a 1,000-row queue: {small.dropped:,} dropped "
              "(counted, never blocking)")  # fmt: skip
        await small.close()
        return rows / elapsed
    finally:
        await journal.close()


async def critical(path: Path, fills: int) -> float:
    journal = Journal(path)
    await journal.open()
    try:
        events = [FillBooked(Fill(f"e{i}", "tt.ES.1.1", ES, Side.BUY, 1, 24000, T0 + i), True,
                             False) for i in range(fills)]  # fmt: skip
        started = time.perf_counter()
        for i, event in enumerate(events):
            journal.record(event)
            if i % 100 == 99:
                await asyncio.sleep(0)
        await journal.flush()
        elapsed = time.perf_counter() - started
        print(f"critical rows (fills): {fills / elapsed:,.0f} rows/s ({fills:,} in {elapsed:.2f}s)")
        return fills / elapsed
    finally:
        await journal.close()


async def intents(path: Path, count: int, under_load: bool) -> list[float]:
    """Each intent's commit latency (ms), printed as p50/p99/max."""
    journal = Journal(path)
    await journal.open()
    stop = asyncio.Event()

    async def load() -> None:
        i = 0
        while not stop.is_set():
            journal.record_rows([R.bar_row(1, Bar(T0 + (i + k) * 10**9, 1, 1, 1, 1, 1))
                                 for k in range(200)], critical=False)  # fmt: skip
            i += 200
            await asyncio.sleep(0.002)  # ~100,000 rows/s offered

    loader = asyncio.create_task(load()) if under_load else None
    try:
        await asyncio.sleep(0.05)
        latencies: list[float] = []
        for i in range(count):
            order = Order(f"tt.ES.{int(under_load)}.{i:x}", ES, Side.BUY, 1, OrderType.MARKET)
            order.submit()
            t = time.perf_counter_ns()
            await journal.commit_intent(order, f"cmd-{i}", OrderRole.PLAIN)
            latencies.append((time.perf_counter_ns() - t) / 1e6)
            await asyncio.sleep(0.001)
        what = "while bulk rows stream in" if under_load else "writer idle"
        print(
            f"intent commit ({what}): p50 {statistics.median(latencies):.3f} ms, "
            f"p99 {pct(latencies, 0.99):.3f} ms, max {max(latencies):.3f} ms ({count} intents)"
        )
        return latencies
    finally:
        stop.set()
        if loader is not None:
            await loader
        await journal.close()


async def measure(args: argparse.Namespace, base: Path) -> dict[str, float]:
    """Every figure printed; returned: ``bulk`` and ``fills`` (rows/s), ``intent_p50_ms``,
    ``intent_p99_ms`` (writer idle) and ``intent_load_p99_ms`` (while bulk rows stream in)."""
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, journal in {base}")
    found = {"bulk": await bulk(base / "bulk.sqlite", args.rows, args.chunk),
             "fills": await critical(base / "fills.sqlite", args.fills)}  # fmt: skip
    idle = await intents(base / "intents.sqlite", args.intents, under_load=False)
    loaded = await intents(base / "intents-load.sqlite", args.intents, under_load=True)
    return found | {"intent_p50_ms": pct(idle, 0.5), "intent_p99_ms": pct(idle, 0.99),
                    "intent_load_p99_ms": pct(loaded, 0.99)}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=100)
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--intents", type=int, default=500)
    parser.add_argument("--dir", default=None, help="directory for the journals (a temp dir)")
    return parser


def bench(args: argparse.Namespace) -> dict[str, float]:
    """:func:`measure` in ``--dir``, or in a temporary directory removed afterwards."""
    if args.dir is not None:
        return asyncio.run(measure(args, Path(args.dir)))
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        return asyncio.run(measure(args, Path(tmp)))


def main() -> None:
    bench(parser().parse_args())


if __name__ == "__main__":
    main()
