"""The benchmarks still run (tiny sizes), and finish whatever the date and the hour. Their
figures are printed, never asserted: speed targets live in the benchmark scripts, not in tests
that would flake on a shared machine.

Each one runs under a wall clock moved to a given moment (tests/wallclock: the script and
every process it starts see that date and hour): a Sunday night in Chicago with the market
closed (bench_engine hung there), and a Monday past ESZ6's roll date, three minutes before the
daily break (entries are cut off; the IB adapter trades ESH7).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
WALLCLOCK = Path(__file__).resolve().parent / "wallclock"
CHICAGO = ZoneInfo("America/Chicago")
CLOCKS = {
    "sunday-0250-ct": datetime(2026, 12, 6, 2, 50, tzinfo=CHICAGO),
    "monday-1557-ct-past-roll": datetime(2026, 12, 14, 15, 57, tzinfo=CHICAGO),
}
HANG_S = 110  # far beyond any of these runs; below the suite's per-test timeout
# benchmarks/compare.py reads these figures from the output (at least this many at these sizes)
COMPARED = {"bench_engine.py": 4, "bench_ui.py": 4, "bench_journal.py": 7}


def run_at(moment: datetime, script: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    """``script`` run with the wall clock at ``moment`` (and advancing from there); the test
    fails when it has not finished after ``HANG_S`` seconds (its process group is killed)."""
    path = os.pathsep.join(filter(None, [str(WALLCLOCK), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path,
           "WALL_CLOCK_OFFSET_S": repr(moment.timestamp() - time.time())}  # fmt: skip
    command = [sys.executable, str(BENCH / script), *args]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            out, err = proc.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            pytest.fail(f"{script} at {moment:%a %Y-%m-%d %H:%M %Z} did not finish within "
                        f"{HANG_S} s; its output:\n{out[-2000:]}")  # fmt: skip
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


def test_the_moved_clock_reaches_the_script_and_its_children(tmp_path: Path) -> None:
    """The premise of the tests below: the script and a process it starts see the moment."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import datetime, subprocess, sys, time\n"
        "print(datetime.datetime.now(datetime.UTC).isoformat(), time.time())\n"
        "print(subprocess.run([sys.executable, '-c', 'import datetime; "
        "print(datetime.date.today())'], capture_output=True, text=True).stdout)\n"
    )
    moment = CLOCKS["sunday-0250-ct"]
    proc = run_at(moment, str(probe), [])
    now, stamp = proc.stdout.split()[:2]
    assert datetime.fromisoformat(now).astimezone(CHICAGO).date() == moment.date()
    assert abs(float(stamp) - moment.timestamp()) < HANG_S
    assert proc.stdout.split()[2] == "2026-12-06"


@pytest.mark.parametrize("clock", list(CLOCKS))
@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("bench_sim.py", ["5000"], "events/s"),
        ("bench_engine_marketdata.py", ["5000"], "events/s"),
        ("bench_gateway.py", ["--events", "2000", "--rates", "500", "--seconds", "0.5"],
         "ib_async decoded"),
        # every marker answered by the strategy's order: on 2026-12-06 the third and later
        # ones were refused (the risk limits) and each cost the gateway a 12 s wait
        ("bench_engine.py", ["--samples", "5", "--msg-rates", "500", "--ingest-rates", "500",
                             "--window", "1", "--warmup", "0.5", "--events", "2000"],
         "over 5 samples, 0 missed"),
        ("bench_kill.py", ["--samples", "2", "--burst", "60", "--msg-rates", "300",
                           "--warmup", "0.5"], "entries reported never sent"),
        ("bench_ui.py", ["--sizes", "80x24", "--seconds", "0.5", "--warmup", "0", "--samples", "2"],
         "cancelOrder: p50"),
        ("bench_ladder_lag.py", ["--sizes", "80x24", "--seconds", "1", "--warmup", "0",
                                 "--stall-at", "0.5", "--stall", "0.2"], "touch lag worst"),
        ("bench_journal.py", ["--rows", "2000", "--fills", "200", "--intents", "10"],
         "intent commit (while bulk rows stream in)"),
        ("bench_backtest.py", ["--bars", "600", "--repeat", "1", "--engines",
                               "tradeterm,backtrader"], "| backtrader | "),
    ],
)  # fmt: skip
def test_benchmark_runs(script: str, args: list[str], expect: str, clock: str) -> None:
    proc = run_at(CLOCKS[clock], script, args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout, proc.stdout[-2000:]
    if script in COMPARED:
        found = compare_module().figures(script, args, proc.stdout)
        assert len(found) >= COMPARED[script], (found, proc.stdout[-2000:])


def compare_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_compare", BENCH / "compare.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
