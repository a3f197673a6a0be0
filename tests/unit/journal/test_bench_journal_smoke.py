"""benchmarks/bench_journal.py still runs (tiny sizes); its figures are printed, never
asserted (speed targets live in the benchmark, not in tests that would flake)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_journal.py"


def test_bench_journal_runs(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "2000", "--fills", "200", "--intents", "20",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "rows/s committed" in proc.stdout and "p99" in proc.stdout
    assert "49,000 dropped" in proc.stdout
