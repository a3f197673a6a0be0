"""Benchmark: tradeterm's bar backtest against the peers, side by side (prints figures and
compares fills; asserts no speed).

    python benchmarks/bench_backtest.py [--bars 200000] [--repeat 3] [--seed 1]
                                        [--engines tradeterm,backtrader,backtesting.py,NautilusTrader]
    python benchmarks/bench_backtest.py --profile [--bars N] [--sort tottime] [--lines 30]

The same generated ES 1-minute bars (seeded random walk in ticks, one minute apart) run
through ``sma_cross`` (fast 10, slow 30, one contract; market orders filled at the next
bar's open; multiplier 50; 2.25 a contract a side) in tradeterm (``run_bars``, the bar mode
of ``run_backtest``) and in each peer of ``tests/support/peers.py``, configured to the same
fills. Each engine runs in a child process of this one, in turn (its imports and memory stay
there), generates the bars from the seed and loads them (outside the timing), then runs
``--repeat`` times; the figure is the best run: the engine built and run over data already
in memory (for backtrader its feed's preload, for backtesting.py its statistics, for
NautilusTrader its engine setup and ``add_data`` are part of the run). The table gives bars/s,
the fills and net P&L of each engine and whether its executions are tradeterm's, fill for
fill; a difference is flagged with the first fill that differs, and the script exits 1. An
engine that is not installed is listed as such (``pip install -e '.[bench]'``).

``--profile`` runs tradeterm's run once under cProfile in this process and prints where the
time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import importlib.metadata
import importlib.util
import json
import pstats
import resource
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the peers live in the tests' support package

from tests.support.peers import CENT, PEERS, Execution, PeerRun, Setup, prepare  # noqa: E402
from tradeterm.backtest.run import core  # noqa: E402
from tradeterm.bench.backtest import FAST, QUANTITY, SLOW, es_bars, sma_cross_run  # noqa: E402
from tradeterm.bench.timing import BenchError, machine  # noqa: E402
from tradeterm.domain import Bar  # noqa: E402

ENGINES = ("tradeterm", *PEERS)
DISTRIBUTIONS = {"tradeterm": "tradeterm", "backtrader": "backtrader",
                 "backtesting.py": "backtesting", "NautilusTrader": "nautilus_trader"}  # fmt: skip
MODULES = {"backtrader": "backtrader", "backtesting.py": "backtesting",
           "NautilusTrader": "nautilus_trader"}  # fmt: skip
SETUP = Setup(fast=FAST, slow=SLOW, quantity=QUANTITY)


def tradeterm_run(bars: list[Bar]) -> Callable[[], PeerRun]:
    """tradeterm's bar mode over ``bars`` (:func:`tradeterm.bench.backtest.sma_cross_run`)."""
    run = sma_cross_run(bars, SETUP.commission)

    def peer_run() -> PeerRun:
        result, seconds = run()
        fills = [Execution(f.ts_ns, f.side, f.quantity, f.price) for f in result.fills]
        return PeerRun("tradeterm", fills, core(result)["net_pnl"].quantize(CENT), seconds)

    return peer_run


def version(engine: str) -> str:
    try:
        return importlib.metadata.version(DISTRIBUTIONS[engine])
    except importlib.metadata.PackageNotFoundError:
        return "?"


def child(engine: str, count: int, repeat: int, seed: int) -> dict[str, Any]:
    """One engine's figures (run in its own process)."""
    module = MODULES.get(engine)
    if module is not None and importlib.util.find_spec(module) is None:
        return {"engine": engine, "missing": f"{module} not installed"}
    bars = es_bars(count, seed)
    run = tradeterm_run(bars) if engine == "tradeterm" else prepare(engine, bars, SETUP)
    runs = [run() for _ in range(repeat)]
    best = min(runs, key=lambda r: r.seconds)
    return {
        "engine": engine, "version": version(engine), "seconds": best.seconds,
        "all_seconds": [r.seconds for r in runs], "net_pnl": str(best.net_pnl),
        "fills": [[f.ts_ns, str(f.side), f.quantity, f.price] for f in best.fills],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def measure(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", engine,
               "--bars", str(args.bars), "--repeat", str(args.repeat), "--seed", str(args.seed)]  # fmt: skip
    print(f"  {engine} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"engine": engine, "failed": f"exit {proc.returncode}: {last}"}
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def fills_of(row: dict[str, Any]) -> list[tuple[int, str, int, int]]:
    return [(f[0], f[1], f[2], f[3]) for f in row["fills"]]


def first_difference(ours: list[Any], theirs: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            return f"fill #{i + 1}: tradeterm {fill_text(a)}, this engine {fill_text(b)}"
    return f"{len(ours)} fills against {len(theirs)}"


def fill_text(fill: tuple[int, str, int, int]) -> str:
    ts, side, quantity, price = fill
    when = dt.datetime.fromtimestamp(ts / 1e9, dt.UTC)
    return f"{when:%Y-%m-%d %H:%M} {side} {quantity} @ {Decimal(price) * SETUP.tick}"


def table(rows: list[dict[str, Any]], args: argparse.Namespace) -> tuple[str, bool]:
    """The markdown table (to paste into the README) and whether every engine agreed."""
    reference = next((r for r in rows if r["engine"] == "tradeterm" and "fills" in r), None)
    lines = [
        f"{args.bars:,} generated ES 1-minute bars (seed {args.seed}), sma_cross fast "
        f"{SETUP.fast} slow {SETUP.slow}, {SETUP.quantity} contract, market orders at the next "
        f"open, multiplier {SETUP.multiplier}, {SETUP.commission} a contract a side; best of "
        f"{args.repeat} run(s) over bars already in memory, each engine in its own process.",
        f"Machine: {machine()}; {dt.datetime.now(dt.UTC):%Y-%m-%d}.",
        "",
        "| engine | version | bars/s | run (s) | fills | net P&L | fills, P&L as tradeterm |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    notes, agreed = [], True
    for r in rows:
        name = r["engine"]
        if "fills" not in r:
            lines.append(f"| {name} | | | | | | {r.get('missing') or r.get('failed')} |")
            agreed = agreed and "missing" in r
            continue
        same = "(reference)"
        if reference is not None and r is not reference:
            ours, theirs = fills_of(reference), fills_of(r)
            if ours == theirs and r["net_pnl"] == reference["net_pnl"]:
                same = "same"
            else:
                agreed = False
                same = "**DIFFERENT**"
                detail = first_difference(ours, theirs) if ours != theirs else "fills equal"
                notes.append(f"{name} differs: {detail}; net P&L {r['net_pnl']} against "
                             f"{reference['net_pnl']}")  # fmt: skip
        rate = args.bars / r["seconds"]
        lines.append(f"| {name} | {r['version']} | {rate:,.0f} | {r['seconds']:.3f} | "
                     f"{len(r['fills']):,} | {Decimal(r['net_pnl']):,.2f} | {same} |")  # fmt: skip
    by_name = {r["engine"]: r for r in rows if "seconds" in r}
    if "tradeterm" in by_name and "backtrader" in by_name:
        ratio = by_name["backtrader"]["seconds"] / by_name["tradeterm"]["seconds"]
        lines += ["", f"tradeterm runs {ratio:.1f}x backtrader's bars/s (goal: at least 30x)."]
    if "NautilusTrader" in by_name:
        lines.append("NautilusTrader is fed each bar's open as a trade tick too (its market "
                     "orders fill on the next data point): two data points per bar.")  # fmt: skip
    lines += notes
    return "\n".join(lines), agreed


def profile(args: argparse.Namespace) -> None:
    bars = es_bars(args.bars, args.seed)
    run = tradeterm_run(bars)
    profiler = cProfile.Profile()
    profiler.enable()
    result = run()
    profiler.disable()
    print(f"tradeterm: {args.bars:,} bars, {len(result.fills):,} fills, net P&L "
          f"{result.net_pnl}; {args.bars / result.seconds:,.0f} bars/s under the profiler")  # fmt: skip
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000, help="generated 1-minute bars")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (the best counts)")
    parser.add_argument("--seed", type=int, default=1, help="the random walk's seed")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated, from: {', '.join(ENGINES)}")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="cProfile tradeterm's run")
    parser.add_argument("--sort", default="tottime", help="the profile's order (pstats keys)")
    parser.add_argument("--lines", type=int, default=30, help="profile lines printed")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bars < SETUP.slow + 2 or args.repeat < 1:
        raise SystemExit(f"bench_backtest: --bars must be at least {SETUP.slow + 2}, "
                         "--repeat at least 1")  # fmt: skip
    if args.child:
        print(json.dumps(child(args.child, args.bars, args.repeat, args.seed)))
        return
    if args.profile:
        profile(args)
        return
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    try:
        unknown = [e for e in engines if e not in ENGINES]
        if unknown:
            raise BenchError(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
        text, agreed = table([measure(e, args) for e in engines], args)
    except BenchError as exc:
        print(f"bench_backtest: {exc}", file=sys.stderr)
        sys.exit(1)
    print(text)
    if not agreed:
        sys.exit(1)


if __name__ == "__main__":
    main()
