"""Job functions for sweep tests, importable by name (worker processes and Dask workers import
them, as they import tradeterm's own): a job is ``job(spec, stop) -> Outcome``."""

from __future__ import annotations

import time
from decimal import Decimal

from tradeterm.backtest.spec import BacktestSpec
from tradeterm.backtest.sweep import Outcome, StopFlag


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
