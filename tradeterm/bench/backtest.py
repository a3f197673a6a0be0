"""Benchmark: bars/s of tradeterm's bar backtest running ``sma_cross`` over generated ES
1-minute bars (the figure ``tradeterm bench`` reports). The comparison with backtrader,
backtesting.py and NautilusTrader over the same bars is ``benchmarks/bench_backtest.py`` (the
peers are the ``bench`` extra's, never the package's dependencies).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tradeterm.backtest.spec import BacktestResult
from tradeterm.domain import Bar

START_NS = int(dt.datetime(2020, 1, 6, tzinfo=dt.UTC).timestamp()) * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000
FAST, SLOW, QUANTITY = 10, 30, 1  # sma_cross's parameters, for every engine compared
COMMISSION = Decimal("2.25")  # per contract per side


def es_bars(count: int, seed: int) -> list[Bar]:
    """``count`` ES 1-minute bars from 3000.00, a minute apart: each close a normal step of
    about 4 ticks from its open, the open at or a tick from the last close, wicks of a tick
    or two, prices kept above 1000.00."""
    rng = random.Random(seed)
    bars, close = [], 12_000
    for i in range(count):
        open_ = close + rng.choice((-1, 0, 0, 0, 1))
        close = open_ + round(rng.gauss(0, 4))
        if close < 4_000:
            close = open_ + abs(close - open_)
        high = max(open_, close) + int(abs(rng.gauss(0, 1.5)))
        low = min(open_, close) - int(abs(rng.gauss(0, 1.5)))
        bars.append(Bar(START_NS + i * MINUTE_NS, open_, high, low, close, rng.randint(50, 3000)))
    return bars


def sma_cross_run(
    bars: list[Bar], commission: Decimal = COMMISSION
) -> Callable[[], tuple[BacktestResult, float]]:
    """tradeterm's bar mode over ``bars`` (what ``run_backtest`` runs once the file is read):
    each call runs it and returns the result and the seconds the run took."""
    from tradeterm.backtest.bar_loop import run_bars
    from tradeterm.backtest.data import instrument_for
    from tradeterm.backtest.run import load_strategy
    from tradeterm.backtest.spec import BacktestSpec

    params = (("fast", str(FAST)), ("slow", str(SLOW)), ("quantity", str(QUANTITY)))
    spec = BacktestSpec(Path("generated"), "sma_cross", params, commission=commission)
    instrument = instrument_for("ES")

    def run() -> tuple[BacktestResult, float]:
        t0 = time.perf_counter()
        result = run_bars(spec, instrument, load_strategy(spec), bars, commission=commission)
        return result, time.perf_counter() - t0

    return run


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000, help="generated 1-minute bars")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the best counts)")
    parser.add_argument("--seed", type=int, default=1, help="the random walk's seed")
    return parser


def bench(args: argparse.Namespace) -> dict[str, float]:
    """``bars_per_s``: the best of ``--repeat`` runs over bars already in memory (printed)."""
    run = sma_cross_run(es_bars(args.bars, args.seed))
    runs = [run() for _ in range(args.repeat)]
    result, seconds = min(runs, key=lambda r: r[1])
    print(f"sma_cross over {args.bars:,} bars: {args.bars / seconds:,.0f} bars/s "
          f"({len(result.fills):,} fills, best of {args.repeat})")  # fmt: skip
    return {"bars_per_s": args.bars / seconds}


if __name__ == "__main__":
    bench(parser().parse_args())
