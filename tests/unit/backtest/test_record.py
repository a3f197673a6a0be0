"""A backtest recorded in a journal of its own: ``tradeterm report --journal FILE`` (run as a
user runs it, in a subprocess) shows its trades, P&L and strategy as it shows a live
session's; the journal says it is a backtest; a file already there is never written into."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.backtest.sample_result import sample
from tradeterm.backtest.record import RecordError, default_path, record
from tradeterm.backtest.spec import BacktestResult
from tradeterm.paths import backtests_dir

RECORDED = 1_800_000_000_000_000_000  # 2027-01-15 08:00 UTC, the moment of recording


def report(path: Path, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "report", "--journal", str(path), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_report_reads_a_backtest_like_a_live_session(tmp_path: Path) -> None:
    """Closed round trips (sample_result.py): +100.00 and +50.00 on Thursday 2026-11-19,
    -125.00 on Friday 2026-11-20; commissions 2.25 a contract on each side of each: 4 contracts
    closed on Thursday (9.00), 2 on Friday (9.00). The open long is not counted, as live."""
    path = record(sample(), tmp_path / "bt.sqlite", now_ns=RECORDED)
    data = json.loads(report(path, "--format", "json"))
    total = data["by_source"]["sma_cross"]
    assert (total["trades"], total["wins"]) == (3, 2)
    assert (total["gross"], total["commissions"], total["net"]) == ("25.00", "18.00", "7.00")
    assert total["profit_factor"] == 1.2
    days = {(d["day"], d["source"]): d["net"] for d in data["days"]}
    assert days == {("2026-11-19", "sma_cross"): "141.00", ("2026-11-20", "sma_cross"): "-134.00"}
    assert data["open_position"] == 1
    assert data["backtest"].startswith("backtest, not trading: sma_cross fast=10 slow=30")

    table = report(path)
    assert table.splitlines()[1].startswith("backtest, not trading: sma_cross fast=10 slow=30")
    assert "2026-11-19  sma_cross       2  100%   150.00   9.00   141.00" in table
    assert "open position 1 (not counted until closed)" in table


def test_the_journal_says_it_is_a_backtest(tmp_path: Path) -> None:
    path = record(sample(complete=False), tmp_path / "bt.sqlite", now_ns=RECORDED)
    conn = sqlite3.connect(path)
    try:
        mode, reason = conn.execute("SELECT mode, stop_reason FROM sessions").fetchone()
        kind, text = conn.execute("SELECT kind, text FROM system_events").fetchone()
        intents = conn.execute("SELECT source, status FROM order_intents").fetchall()
        fills = conn.execute("SELECT exec_id, ts_ns, price_ticks FROM fills").fetchall()
        bars = conn.execute("SELECT count(*) FROM bars").fetchone()[0]
    finally:
        conn.close()
    assert (mode, reason) == ("backtest", "backtest stopped early (partial)")
    assert kind == "backtest"
    assert text.startswith("backtest, not trading: sma_cross fast=10 slow=30 on ESZ6")
    assert "recorded 2027-01-15T08:00:00+00:00" in text
    assert text.endswith("partial: the run was stopped early")
    assert intents == [("sma_cross", "FILLED")] * 5
    result = sample()
    assert fills == [(f.exec_id, f.ts_ns, f.price) for f in result.fills]  # the data's times
    assert bars == 0  # the report reads none: they are the data file's
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bt.sqlite"]  # no partial, no .lock


def test_a_fill_without_an_order_id_is_its_own_order(tmp_path: Path) -> None:
    result = sample()
    result.fills = [
        f.__class__(f.exec_id, None, f.instrument, f.side, f.quantity, f.price, f.ts_ns)
        for f in result.fills
    ]
    path = record(result, tmp_path / "bt.sqlite", now_ns=RECORDED)
    total = json.loads(report(path, "--format", "json"))["by_source"]["sma_cross"]
    assert (total["trades"], total["net"]) == (3, "7.00")


def test_default_path_is_a_new_file_in_the_backtests_folder() -> None:
    result: BacktestResult = sample()
    first = record(result, now_ns=RECORDED)
    assert first == backtests_dir() / "ES-sma_cross-20270115T080000Z.sqlite"
    assert (
        default_path(result, RECORDED) == backtests_dir() / "ES-sma_cross-20270115T080000Z-2.sqlite"
    )


def test_an_existing_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = record(sample(), tmp_path / "bt.sqlite", now_ns=RECORDED)
    before = path.read_bytes()
    with pytest.raises(RecordError, match="exists already"):
        record(sample(), path, now_ns=RECORDED)
    assert path.read_bytes() == before


def test_a_file_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RecordError, match="cannot"):
        record(sample(), blocker / "bt.sqlite", now_ns=RECORDED)
