"""``tradeterm backtest``'s journal as a user meets it, in a subprocess: a bracket strategy's
run recorded with its entry, stop and target as the orders they are and read back by
``tradeterm report``; the report printed before any file is written; a journal file refused
before the run; ``--no-journal``; Ctrl-C while the journal is written abandons it whole."""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.integration.backtest_marker_strategy import SPEC
from tests.integration.test_backtest_cli import backtest, command, environ
from tests.support.interrupt import interrupt_at

START = dt.datetime(2024, 1, 2, 14, 30, tzinfo=dt.UTC)


def waves(path: Path, count: int = 1500) -> Path:
    """1-minute ES bars swinging 12 points every ~90 minutes: EMA crosses, and brackets
    whose stops and targets are reached."""
    lines = ["ts_utc,open,high,low,close,volume"]
    last = 5000.0
    for i in range(count):
        close = round((5000 + 12 * math.sin(i / 15) + 2 * math.sin(i / 2.3)) * 4) / 4
        high, low = max(last, close) + 0.5, min(last, close) - 0.5
        lines.append(f"{START + dt.timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},{last},{high},"
                     f"{low},{close},100")  # fmt: skip
        last = close
    path.write_text("\n".join(lines) + "\n")
    return path


def report(tmp_path: Path, journal: Path) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "report", "--journal", str(journal), "--format",
         "json"], capture_output=True, text=True, env=environ(tmp_path), timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data: dict[str, object] = json.loads(proc.stdout)
    return data


def test_a_bracket_strategy_is_recorded_with_its_orders(tmp_path: Path) -> None:
    journal = tmp_path / "scalp.sqlite"
    proc = backtest(tmp_path, "--data", str(waves(tmp_path / "waves.csv")), "--strategy",
                    "ema_scalp", "--journal", str(journal), "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    conn = sqlite3.connect(journal)
    try:
        orders = conn.execute(
            "SELECT order_id, order_type, side, quantity, limit_ticks, stop_ticks, parent_id,"
            " oca_group, status FROM order_intents"
        ).fetchall()
        fills = conn.execute("SELECT order_id, side FROM fills").fetchall()
    finally:
        conn.close()
    by_id = {o[0]: o for o in orders}
    stops = [o for o in orders if o[1] == "STP"]
    targets = [o for o in orders if o[1] == "LMT"]
    assert stops and targets, orders
    for exit_order in stops + targets:  # each exit its own order, of its entry's bracket
        entry = by_id[exit_order[6]]
        assert (entry[1], exit_order[2] != entry[2], exit_order[3]) == ("MKT", True, entry[3])
        assert exit_order[7] is not None
    assert all(o[5] is not None for o in stops) and all(o[4] is not None for o in targets)
    assert {o[8] for o in stops + targets} >= {"FILLED", "CANCELLED"}  # one fills, one goes
    for order_id, side in fills:  # each fill is of its own order, on that order's side
        assert by_id[order_id][2] == side
    assert any(by_id[o][1] != "MKT" for o, _ in fills)  # exits filled as themselves
    data = report(tmp_path, journal)
    total = data["by_source"]["ema_scalp"]  # type: ignore[index]
    assert total["trades"] >= len([o for o in stops + targets if o[8] == "FILLED"])
    assert printed["fills"] == len(fills)


def test_the_report_is_printed_and_the_journal_refused_before_the_run(tmp_path: Path) -> None:
    data = waves(tmp_path / "waves.csv", 200)
    taken = tmp_path / "taken.sqlite"
    taken.write_bytes(b"someone's")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for journal, words in ((taken, "exists already"), (blocker / "bt.sqlite", "not a folder")):
        marker = tmp_path / "marker"
        proc = backtest(tmp_path, "--data", str(data), "--strategy", SPEC, "--param",
                        f"path={marker}", "--param", "after=1", "--journal", str(journal))  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert not marker.exists()  # refused before the run
        assert proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert taken.read_bytes() == b"someone's"


def test_no_journal_writes_none(tmp_path: Path) -> None:
    proc = backtest(tmp_path, "--data", str(waves(tmp_path / "waves.csv", 200)), "--strategy",
                    "sma_cross", "--no-journal", "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["journal"] is None
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").rglob("*.sqlite"))


def test_ctrl_c_while_the_journal_is_written_abandons_it_whole(tmp_path: Path) -> None:
    journal = tmp_path / "out" / "bt.sqlite"
    marker, go = tmp_path / "writing", tmp_path / "go"
    env = environ(tmp_path) | {"SLOW_JOURNAL_MARKER": str(marker), "SLOW_JOURNAL_GO": str(go)}
    args = command("--data", str(waves(tmp_path / "waves.csv")), "--strategy", "sma_cross",
                   "--journal", str(journal), "--format", "json")  # fmt: skip
    args[2] = "tests.integration.backtest_slow_journal"  # tradeterm, with the slow writer
    code, out, err = interrupt_at(args, marker, env, after=lambda: go.write_text("go"))
    assert json.loads(out)["complete"] is True  # the report, printed before the journal
    assert code == 130, err
    assert err.strip().splitlines() == ["tradeterm: journal not written: interrupted"], err
    assert list(journal.parent.iterdir()) == []  # no half journal, no lock, no WAL
