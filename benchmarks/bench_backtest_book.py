"""Event-mode backtest throughput and memory on the recorded Databento files (prints figures;
asserts nothing).

python benchmarks/bench_backtest_book.py [--profile] [--repeat N]

* events/s through book, strategy and paper broker (``run_events`` on events already read),
  and end to end (``run_book``: the file's decoding included), for the ESU4 MBP-1 file (2,386
  events, run ``--repeat`` times over) and the ESH4 MBO file (61,559 events);
* peak memory of a ``run_book`` of the whole MBO file: the Python heap at its peak
  (tracemalloc) and the process's maximum resident set;
* ``--profile``: where the time of the MBO run goes, on events read and end to end
  (cProfile, by own time).

The strategy: ``FlipsEvery`` (tests/support), told every trade, flipping its target every 50.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support's strategies

from tradeterm.backtest.book_run import run_book, run_events  # noqa: E402
from tradeterm.backtest.data import instrument_for  # noqa: E402
from tradeterm.backtest.run import load_strategy  # noqa: E402
from tradeterm.backtest.spec import BacktestResult, BacktestSpec  # noqa: E402
from tradeterm.sim.market_events import MarketEvent  # noqa: E402
from tradeterm.sim.replay import load_replay  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
MBP1 = DATA / "ESU4_glbx-mdp3_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.dbn.zst"
MBO = DATA / "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"
STRATEGY = "tests.support.book_strategies:FlipsEvery"


def spec(path: Path) -> BacktestSpec:
    return BacktestSpec(path, STRATEGY, (("trades", "50"),))


def run_read(path: Path, events: list[MarketEvent]) -> BacktestResult:
    """A run on events already read: book, strategy and paper broker, no decoding."""
    given = spec(path)
    return run_events(given, instrument_for("ES"), load_strategy(given), events)


def through(path: Path, repeat: int) -> tuple[float, float, int, int]:
    """(events/s without decoding, events/s end to end, events, fills), best of 3."""
    events = list(load_replay(path, tick_size="0.25"))
    best_run = best_file = 0.0
    fills = 0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fills = len(run_read(path, events).fills)
        best_run = max(best_run, len(events) * repeat / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for _ in range(repeat):
            run_book(spec(path))
        best_file = max(best_file, len(events) * repeat / (time.perf_counter() - t0))
    return best_run, best_file, len(events), fills


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="runs of the MBP-1 file per timing")
    parser.add_argument("--profile", action="store_true", help="cProfile the MBO run")
    args = parser.parse_args()
    if not MBO.is_file() or not MBP1.is_file():
        sys.exit(f"the recorded files are not in {DATA}")
    print(f"{'file':8} {'events':>8} {'fills':>6} {'run ev/s':>12} {'with decoding':>14}")
    for name, path, repeat in (("MBP-1", MBP1, args.repeat), ("MBO", MBO, 1)):
        run, file, n, fills = through(path, repeat)
        print(f"{name:8} {n:>8,} {fills:>6} {run:>12,.0f} {file:>14,.0f}")
    tracemalloc.start()
    result = run_book(spec(MBO))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"MBO whole file ({result.count:,} events): Python heap peak {peak / 2**20:.1f} MiB, "
          f"process max RSS {rss:.0f} MiB")  # fmt: skip
    if args.profile:
        events = list(load_replay(MBO, tick_size="0.25"))
        for what, call in (("events read", lambda: run_read(MBO, events)),
                           ("end to end", lambda: run_book(spec(MBO)))):  # fmt: skip
            print(f"---- MBO, {what}")
            profiler = cProfile.Profile()
            profiler.runcall(call)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(10)


if __name__ == "__main__":
    main()
