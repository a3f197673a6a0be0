"""tradeterm's backtest and the peer backtesters take sma_cross to the same fills and net P&L.

The recorded ES day (1365 one-minute bars) runs through ``run_backtest`` and through
backtrader (a test dependency) with the default parameters (fast 10, slow 30, one contract),
market orders at the next bar's open, multiplier 50, 2.25 a contract a side: the executions
must be equal fill for fill (time, side, quantity, price in ticks) and the net P&L to the
cent. The peers read the CSV on their own (tests/support), not through tradeterm's loader.
backtesting.py and NautilusTrader (the ``bench`` extra, the benchmark's other peers) are held
to the same figures when installed, so the benchmark compares engines that agree.
"""

from __future__ import annotations

import importlib.util
from decimal import Decimal

import pytest

from tests.real_data import DERIVED
from tests.support.peers import Execution, Setup, net_pnl, prepare
from tests.support.strategy_driver import ESH0_DAY, esh0_bars
from tradeterm.backtest.run import core, run_backtest
from tradeterm.backtest.spec import BacktestResult, BacktestSpec
from tradeterm.domain import Side

SETUP = Setup()  # sma_cross's defaults; ES terms


def tradeterm_run() -> BacktestResult:
    spec = BacktestSpec(DERIVED / ESH0_DAY, "sma_cross", symbol="ES",
                        commission=SETUP.commission)  # fmt: skip
    return run_backtest(spec)


def executions(result: BacktestResult) -> list[Execution]:
    return [Execution(f.ts_ns, f.side, f.quantity, f.price) for f in result.fills]


def test_sma_cross_on_the_recorded_day_fills_as_backtrader_does() -> None:
    bars = esh0_bars()  # skips without ../shared/data
    ours = tradeterm_run()
    theirs = prepare("backtrader", bars, SETUP)()

    assert ours.count == len(bars)
    assert executions(ours) == theirs.fills
    assert core(ours)["net_pnl"] == theirs.net_pnl
    # the same figure from the executions alone, and a day that exercises the comparison:
    # reversals of two contracts, a position left open and marked at the last close
    assert theirs.net_pnl == net_pnl(theirs.fills, bars[-1].close, SETUP) == Decimal("-573.75")
    assert len(theirs.fills) == 53
    assert any(f.quantity == 2 for f in theirs.fills)
    assert sum(f.side.sign * f.quantity for f in theirs.fills) == -1
    assert theirs.fills[0] == Execution(bars[30].start_ns, Side.SELL, 1, bars[30].open)


@pytest.mark.parametrize(("engine", "module"), [("backtesting.py", "backtesting"),
                                                ("NautilusTrader", "nautilus_trader")])  # fmt: skip
def test_the_benchmark_peers_agree_with_backtrader(engine: str, module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[bench]')")
    bars = esh0_bars()
    reference = prepare("backtrader", bars, SETUP)()
    peer = prepare(engine, bars, SETUP)()
    assert peer.fills == reference.fills
    assert peer.net_pnl == reference.net_pnl
