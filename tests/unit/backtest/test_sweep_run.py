"""A sweep's runs in worker processes and on a local Dask cluster (the same table), failures
and refusals reported, and Ctrl-C ending it with what finished."""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console

from tests.support import sweep_jobs
from tests.support.waiting import GUARD
from tradeterm.backtest.grid import Plan, grid_values, parse_grid, plan
from tradeterm.backtest.run import run_backtest
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.backtest.sweep import SORTABLE, Sweep, row_figures, run_sweep
from tradeterm.backtest.sweep_view import as_csv, as_json, headline, problems, sorted_rows

GRID16 = ["fast=5:20:5", "slow=30:60:10"]  # 4 x 4, none refused


def plan16(data: Path) -> Plan:
    return plan(BacktestSpec(data, "sma_cross"), parse_grid(GRID16))


def table_of(sweep: Sweep) -> dict[str, object]:
    """What a sweep shows, less how long it took."""
    shown = as_json(sweep, "net_pnl")
    del shown["seconds"]
    return shown


def test_sixteen_backtests_on_two_workers_are_each_combinations_own_run(es_day: Path) -> None:
    sweep = run_sweep(plan16(es_day), workers=2)
    assert sweep.complete and sweep.failed == [] and sweep.stopped == 0
    assert sweep.where == "2 worker processes" and len(sweep.rows) == 16
    specs = dict(sweep.plan.jobs)
    for row in sweep.rows:  # each row is its own parameters' run, as one run gives it
        spec = specs[row.index]
        assert row.values == grid_values(sweep.plan.axes, spec)
        assert row.figures == row_figures(run_backtest(spec))
    ordered = [Decimal(str(row.figures["net_pnl"])) for row in sorted_rows(sweep.rows, "net_pnl")]
    assert ordered == sorted(ordered, reverse=True) and len(set(ordered)) > 1
    assert set(sweep.rows[0].figures) <= set(SORTABLE)


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_a_local_dask_cluster_gives_the_same_table(es_day: Path, dask_address: str) -> None:
    on_workers = run_sweep(plan16(es_day), workers=2)
    on_dask = run_sweep(plan16(es_day), cluster=dask_address)
    assert on_dask.where == f"Dask scheduler {dask_address}"
    assert on_dask.complete and len(on_dask.rows) == 16
    assert table_of(on_dask) == table_of(on_workers)
    assert as_csv(on_dask, "net_pnl") == as_csv(on_workers, "net_pnl")


def test_the_job_function_is_a_parameter(tmp_path: Path) -> None:
    sweep = run_sweep(plan16(tmp_path / "none.csv"), sweep_jobs.arithmetic, workers=2)
    best = sorted_rows(sweep.rows, "net_pnl")[0]
    assert best.values == ("20", "30") and best.figures["net_pnl"] == Decimal(2000 - 210) / 4


def test_refused_and_failed_runs_are_reported_and_the_rest_run(tmp_path: Path) -> None:
    found = plan(
        BacktestSpec(tmp_path / "x.csv", "sma_cross"), parse_grid(["fast=5:20:5", "slow=20"])
    )
    sweep = run_sweep(found, sweep_jobs.broken, workers=2)
    assert [row.values for row in sorted_rows(sweep.rows, "net_pnl")] == [("15", "20"), ("5", "20")]
    assert problems(sweep) == [
        "fast=10 slow=20: failed: ValueError: bar 3: no close",
        "fast=20 slow=20: refused: sma_cross: fast (20) must be fewer bars than slow (20)",
    ]
    assert sweep.complete  # a failure is a result, not a stop


def interrupted_sweep(tmp_path: Path, console: Console | None = None) -> Sweep:
    """Eight runs of ``waits_for_stop`` on two workers, a Ctrl-C once the first finished."""
    found = plan(
        BacktestSpec(tmp_path / "bars.csv", "sma_cross"), parse_grid(["fast=1:8:1", "slow=10"])
    )
    first = (tmp_path / "bars.csv").with_suffix(".first")

    def interrupt() -> None:  # once the first run finished, as a Ctrl-C typed then
        deadline = time.monotonic() + GUARD
        while not first.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt, daemon=True)
    thread.start()
    sweep = run_sweep(found, sweep_jobs.waits_for_stop, workers=2, console=console)
    thread.join()
    return sweep


def test_ctrl_c_cancels_what_is_pending_stops_what_runs_and_keeps_what_finished(
    tmp_path: Path,
) -> None:
    sweep = interrupted_sweep(tmp_path)
    assert not sweep.complete
    assert [row.values for row in sweep.rows] == [("1", "10")]
    assert sweep.stopped == 7 and sweep.failed == []
    assert "stopped: 7 not run to the end" in headline(sweep, "net_pnl")


def test_an_empty_plan_runs_nothing(tmp_path: Path) -> None:
    found = plan(BacktestSpec(tmp_path / "x.csv", "sma_cross"), parse_grid(["fast=30", "slow=20"]))
    sweep = run_sweep(found, sweep_jobs.arithmetic, workers=2)
    assert sweep.rows == [] and len(found.refused) == 1 and sweep.complete


def test_a_stopped_sweeps_progress_bar_counts_only_the_runs_that_finished(
    tmp_path: Path,
) -> None:
    """The trial's stopped sweep showed "100% 4/4" with 2 of 4 not finished."""
    out = io.StringIO()
    sweep = interrupted_sweep(tmp_path, Console(file=out, width=100, force_terminal=True,
                                                color_system=None))  # fmt: skip
    assert sweep.stopped == 7
    last = [line for line in re.split(r"[\r\n]", out.getvalue()) if "sweep" in line][-1]
    assert "1/8" in last and "100%" not in last and "8/8" not in last
    assert "7 stopped" in last
