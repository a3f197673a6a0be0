"""Job functions and a strategy for sweep tests, importable by name (worker processes and Dask
workers import them, as they import tradeterm's own): a job is ``job(spec, stop) -> Outcome``."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from pydantic import Field

from tradeterm.backtest.spec import BacktestSpec
from tradeterm.backtest.sweep import Outcome, StopFlag
from tradeterm.domain import Bar
from tradeterm.strategies import Intents, Params, Strategy, StrategyContext
from tradeterm.strategies.api import NO_INTENTS


def arithmetic(spec: BacktestSpec, stop: StopFlag | None) -> Outcome:
    """Figures computed from the parameters alone: each combination's own, known in advance."""
    params = {k: int(v) for k, v in spec.params if k in ("fast", "slow")}
    fast, slow = params["fast"], params["slow"]
    return Outcome({
        "fills": fast + slow,
        "net_pnl": Decimal(fast * 100 - slow * 7) / 4,
        "ratio": fast / slow,
    })  # fmt: skip


def broken(spec: BacktestSpec, stop: StopFlag | None) -> Outcome:
    """Fails on fast=10, as a run on bad data would."""
    if dict(spec.params)["fast"] == "10":
        raise ValueError("bar 3:\nno close")
    return arithmetic(spec, stop)


def waits_for_stop(spec: BacktestSpec, stop: StopFlag | None) -> Outcome:
    """fast=1 finishes at once (and says so in a file beside ``spec.data``); the others run
    until the sweep asks them to stop (or 60 s), then return partial figures."""
    if dict(spec.params)["fast"] == "1":
        spec.data.with_suffix(".first").write_text("done")
        return arithmetic(spec, stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if stop is not None and stop.is_set():
            return Outcome({"fills": 0}, complete=False)
        time.sleep(0.01)
    return arithmetic(spec, stop)


class SleepyParams(Params):
    wait_us: int = Field(0, ge=0, description="microseconds slept on each bar")
    marker: str = Field("", description="a file written when a run without waits ends")


class Sleepy(Strategy[SleepyParams]):
    """Never trades; sleeps ``wait_us`` on each bar, so a sweep is still running when a test
    presses Ctrl-C; a run with no wait writes ``marker`` at its end."""

    parameters = SleepyParams

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        if self.params.wait_us:
            time.sleep(self.params.wait_us / 1_000_000)
        return NO_INTENTS

    def on_stop(self, ctx: StrategyContext) -> Intents:
        if not self.params.wait_us and self.params.marker:
            Path(self.params.marker).write_text("done")
        return NO_INTENTS
