"""The benchmarks still run (tiny sizes). Their figures are printed, never asserted: speed
targets live in the benchmark scripts, not in tests that would flake on a shared machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.parametrize(
    ("script", "args", "expect"),
    [
        ("bench_sim.py", ["5000"], "events/s"),
        ("bench_engine_marketdata.py", ["5000"], "events/s"),
        ("bench_gateway.py", ["--events", "2000", "--rates", "500", "--seconds", "0.5"],
         "ib_async decoded"),
        ("bench_engine.py", ["--samples", "5", "--msg-rates", "500", "--ingest-rates", "500",
                             "--window", "1", "--warmup", "0.5", "--events", "2000"], "p99"),
        ("bench_kill.py", ["--samples", "2", "--burst", "60", "--msg-rates", "300",
                           "--warmup", "0.5"], "entries reported never sent"),
        ("bench_ui.py", ["--sizes", "80x24", "--seconds", "0.5", "--warmup", "0", "--samples", "2"],
         "KB/s"),
    ],
)  # fmt: skip
def test_benchmark_runs(script: str, args: list[str], expect: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert expect in proc.stdout
