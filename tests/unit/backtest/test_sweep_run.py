"""A sweep's runs in worker processes and on a local Dask cluster (the same table), failures
and refusals reported, and Ctrl-C ending it with what finished."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support import sweep_jobs
from tests.support.waiting import GUARD
from tradeterm.backtest.grid import Plan, parse_grid, plan
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.backtest.sweep import Sweep, run_sweep
from tradeterm.backtest.sweep_view import as_json, headline, problems, sorted_rows

GRID16 = ["fast=2:8:2", "slow=10:40:10"]  # 4 x 4, none refused


def plan16(tmp_path: Path) -> Plan:
    return plan(BacktestSpec(tmp_path / "bars.csv", "sma_cross"), parse_grid(GRID16))


def table_of(sweep: Sweep) -> dict[str, object]:
    """What a sweep shows, less how long it took and where."""
    shown = as_json(sweep, "net_pnl")
    del shown["seconds"]
    return shown


def test_sixteen_runs_on_two_workers_sorted_by_net_pnl(tmp_path: Path) -> None:
    sweep = run_sweep(plan16(tmp_path), sweep_jobs.arithmetic, workers=2)
    assert sweep.complete and sweep.failed == [] and sweep.stopped == 0
    assert sweep.where == "2 worker processes"
    shown = table_of(sweep)
    runs = shown["runs"]
    assert isinstance(runs, list) and len(runs) == 16
    expected = sorted(
        ((Decimal(f * 100 - s * 7) / 4, f, s) for f in (2, 4, 6, 8) for s in (10, 20, 30, 40)),
        key=lambda t: -t[0],
    )
    assert [(r["fast"], r["slow"], r["net_pnl"]) for r in runs] == [
        (str(f), str(s), str(pnl)) for pnl, f, s in expected
    ]
    assert runs[0] == {"fast": "8", "slow": "10", "fills": 18, "net_pnl": "182.5", "ratio": 0.8}


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_a_local_dask_cluster_gives_the_same_table(tmp_path: Path, dask_address: str) -> None:
    on_workers = run_sweep(plan16(tmp_path), sweep_jobs.arithmetic, workers=2)
    on_dask = run_sweep(plan16(tmp_path), sweep_jobs.arithmetic, cluster=dask_address)
    assert on_dask.where == f"Dask scheduler {dask_address}"
    assert on_dask.complete and len(on_dask.rows) == 16
    assert table_of(on_dask) == table_of(on_workers)


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


def test_ctrl_c_cancels_what_is_pending_stops_what_runs_and_keeps_what_finished(
    tmp_path: Path,
) -> None:
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
    sweep = run_sweep(found, sweep_jobs.waits_for_stop, workers=2)
    thread.join()
    assert not sweep.complete
    assert [row.values for row in sweep.rows] == [("1", "10")]
    assert sweep.stopped == 7 and sweep.failed == []
    assert "stopped: 7 not run to the end" in headline(sweep, "net_pnl")


def test_an_empty_plan_runs_nothing(tmp_path: Path) -> None:
    found = plan(BacktestSpec(tmp_path / "x.csv", "sma_cross"), parse_grid(["fast=30", "slow=20"]))
    sweep = run_sweep(found, sweep_jobs.arithmetic, workers=2)
    assert sweep.rows == [] and len(found.refused) == 1 and sweep.complete
