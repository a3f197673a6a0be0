"""``tradeterm backtest ... --grid``, as a user runs it (a subprocess): the table with its heat
map, JSON, one line for bad input, and Ctrl-C in the terminal (SIGINT to the whole process
group, workers included) ending with the runs that finished, exit status 130."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.waiting import GUARD

ROOT = Path(__file__).resolve().parents[3]


def tradeterm(
    *argv: str, env: dict[str, str] | None = None, session: bool = False
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tradeterm.cli.main", "backtest", *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, start_new_session=session,
    )  # fmt: skip


def run(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = tradeterm(*argv, env=env)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_grid_prints_the_sorted_table_the_heat_map_and_the_refused(es_day: Path) -> None:
    code, out, err = run("--data", str(es_day), "--strategy", "sma_cross", "--grid",
                         "fast=10,20", "slow=20:30:10", "--workers", "2")  # fmt: skip
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith(
        "4 combinations: 3 run, 1 refused, 0 failed; sorted by net_pnl, largest first; "
    )
    assert lines[0].endswith(" on 2 worker processes")
    assert "net_pnl: rows fast, columns slow (red low, green high)" in out
    assert lines[-1] == (
        "fast=20 slow=20: refused: sma_cross: fast (20) must be fewer bars than slow (20)"
    )
    heat = [line for line in lines if line.startswith("│") and "refused" in line]
    assert len(heat) == 1 and heat[0].split("│")[1].strip() == "20"


def test_json_runs_sorted_by_the_chosen_figure(es_day: Path) -> None:
    code, out, err = run("--data", str(es_day), "--strategy", "sma_cross", "--grid",
                         "fast=5:15:5", "slow=30", "--workers", "2", "--sort", "fills",
                         "--format", "json")  # fmt: skip
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["sort"], doc["order"], doc["complete"]) == ("fills", "descending", True)
    fills = [run["fills"] for run in doc["runs"]]
    assert len(fills) == 3 and fills == sorted(fills, reverse=True)
    assert {run["fast"] for run in doc["runs"]} == {"5", "10", "15"}
    assert all(run["slow"] == "30" and run["bars"] == 1365 for run in doc["runs"])


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--grid", "fast=5:20"], "tradeterm: --grid 'fast=5:20': a range is start:stop:step"),
        (["--grid", "fats=5,10"], "tradeterm: --grid: sma_cross has no parameter 'fats'"),
        (["--workers", "2"], "tradeterm: --workers needs --grid KEY=VALUES"),
        (["--grid", "fast=5,10", "--workers", "0"], "tradeterm: --workers must be 1 or more"),
        (["--grid", "fast=5,10", "--param", "fast=3"], "tradeterm: --grid: fast is given by"),
    ],
)
def test_bad_sweep_input_is_one_line(tmp_path: Path, argv: list[str], line: str) -> None:
    code, out, err = run("--data", str(tmp_path / "bars.csv"), "--strategy", "sma_cross", *argv)
    assert code == 2 and out == ""
    assert err.startswith(line) and err.count("\n") == 1


def test_a_scheduler_out_of_reach_is_one_line(tmp_path: Path) -> None:
    code, out, err = run("--data", str(tmp_path / "bars.csv"), "--strategy", "sma_cross",
                         "--grid", "fast=5,10", "--cluster", "tcp://127.0.0.1:9",
                         env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"})  # fmt: skip
    assert code == 2 and out == ""
    assert err.startswith("tradeterm: --cluster tcp://127.0.0.1:9: no Dask scheduler reached")
    assert err.count("\n") == 1


def test_a_file_every_run_fails_on_is_one_line(tmp_path: Path) -> None:
    code, out, err = run("--data", str(tmp_path / "none.csv"), "--strategy", "sma_cross",
                         "--grid", "fast=5,10", "--workers", "2")  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1 and "none.csv" in err


def test_ctrl_c_in_the_terminal_prints_what_finished(tmp_path: Path) -> None:
    data = tmp_path / "bars.csv"
    start = dt.datetime(2024, 7, 1, tzinfo=dt.UTC)
    lines = ["ts_utc,open,high,low,close,volume"]
    for i in range(9000):  # past two of the bar loop's looks at the stop flag
        ts = (start + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{ts},5000,5001,4999,5000,10")
    data.write_text("\n".join(lines) + "\n")
    marker = tmp_path / "fast-run-done"
    process = tradeterm("--data", str(data), "--strategy", "tests.support.sweep_jobs:Sleepy",
                        "--param", f"marker={marker}", "--grid", "wait_us=0,300,301,302",
                        "--workers", "2", "--format", "json", session=True)  # fmt: skip
    deadline = time.monotonic() + GUARD
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.exists(), process.communicate()
    os.killpg(process.pid, signal.SIGINT)  # as a Ctrl-C typed in the terminal
    out, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (130, "")
    doc = json.loads(out)
    assert doc["complete"] is False
    assert [run["wait_us"] for run in doc["runs"]] == ["0"]
    assert doc["stopped"] == 3


def test_a_grid_whose_every_combination_is_refused_is_one_line(tmp_path: Path) -> None:
    """The trial's `--grid fast=a,b` exited 0 with "0 run, 2 refused"."""
    code, out, err = run("--data", str(tmp_path / "bars.csv"), "--strategy", "sma_cross",
                         "--grid", "fast=a,b")  # fmt: skip
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("tradeterm: --grid: every combination is refused, nothing to run: ")
    assert err.endswith(" (and 1 other reason)\n")  # fast='a' and fast='b', one line


def test_sort_by_a_figure_the_data_cannot_give_is_one_line(tmp_path: Path) -> None:
    """A bar file's runs have no `events`: sorting by it sorted by nothing."""
    data = tmp_path / "bars.csv"
    start = dt.datetime(2024, 7, 1, 14, tzinfo=dt.UTC)
    rows = [(start + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(20)]
    data.write_text("ts_utc,open,high,low,close,volume\n"
                    + "".join(f"{ts},5000,5001,4999,5000,10\n" for ts in rows))  # fmt: skip
    code, out, err = run("--data", str(data), "--strategy", "sma_cross", "--grid",
                         "fast=2,3", "--param", "slow=5", "--sort", "events")  # fmt: skip
    assert (code, out) == (2, "")
    assert err == "tradeterm: --sort events: bars.csv holds bars, not events\n"
