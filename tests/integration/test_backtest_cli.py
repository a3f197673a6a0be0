"""``tradeterm backtest`` as a user runs it, in a subprocess: the JSON object, the table and
CSV, one line for bad input (no traceback), Ctrl-C printing the partial report."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import real_data
from tests.integration.backtest_marker_strategy import SPEC
from tests.support.interrupt import interrupt_at
from tradeterm.backtest.run import core, run_backtest
from tradeterm.backtest.spec import BacktestSpec

ROOT = Path(__file__).resolve().parents[2]
DAY = real_data.DERIVED / "ESH0_1min_trades_2020-01-06_UTC.csv"
CORE = {"bars", "fills", "contracts", "gross_pnl", "commissions", "net_pnl", "seconds"}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "tradeterm.cli", "backtest", *args]


def environ(tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "d"),
        "XDG_CONFIG_HOME": str(tmp_path / "c"),
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def backtest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, env=environ(tmp_path),
                          timeout=120, check=False)  # fmt: skip


def need_day() -> None:
    if not DAY.is_file():
        pytest.skip(f"{DAY} not available")


def test_json_is_one_object_with_the_core_fields_of_the_run(tmp_path: Path) -> None:
    need_day()
    proc = backtest(tmp_path, "--data", str(DAY), "--strategy", "sma_cross", "--param",
                    "fast=5", "--commission", "1.5", "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert set(printed) >= CORE
    expected = core(run_backtest(BacktestSpec(DAY, "sma_cross", params=(("fast", "5"),),
                                              commission=Decimal("1.5"))))  # fmt: skip
    for key in CORE - {"seconds"}:
        assert Decimal(str(printed[key])) == expected[key], key
    assert printed["bars"] == 1365 and printed["fills"] > 20
    assert printed["commissions"] == printed["contracts"] * 1.5
    assert printed["complete"] is True


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_the_table_and_csv_show_the_core_fields(tmp_path: Path, fmt: str) -> None:
    need_day()
    proc = backtest(tmp_path, "--data", str(DAY), "--strategy", "sma_cross", "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    expected = core(run_backtest(BacktestSpec(DAY, "sma_cross")))
    if fmt == "csv":
        header, row = proc.stdout.splitlines()
        values = dict(zip(header.split(","), row.split(","), strict=True))
        assert Decimal(values["net_pnl"]) == expected["net_pnl"]
        assert int(values["fills"]) == expected["fills"]
        return
    text = proc.stdout
    assert re.search(rf"\bfills +{expected['fills']}\b", text)
    assert re.search(rf"\bnet P&L +{expected['net_pnl']:,.2f}\b", text)
    assert "equity" in text  # the curve drawn under the table
    journal = re.search(r"^journal: (\S+)", text, re.MULTILINE)
    assert journal is not None and Path(journal[1]).is_file()
    assert Path(journal[1]).is_relative_to(tmp_path / "d")  # the data dir's backtests folder


def test_the_journal_it_writes_is_read_by_tradeterm_report(tmp_path: Path) -> None:
    """Results go to a backtest journal: ``tradeterm report`` on it shows the run's P&L."""
    need_day()
    journal = tmp_path / "run.sqlite"
    proc = backtest(tmp_path, "--data", str(DAY), "--strategy", "sma_cross", "--journal",
                    str(journal), "--format", "json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["journal"] == str(journal)
    report = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "report", "--journal", str(journal), "--format", "json"],
        capture_output=True, text=True, env=environ(tmp_path), timeout=120, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    shown = json.loads(report.stdout)
    assert shown["backtest"]
    total = shown["total"]  # closed trades; the report does not mark an open position
    assert (total["trades"], total["wins"], total["profit_factor"]) == (
        printed["trades"],
        printed["wins"],
        printed["profit_factor"],
    )
    assert shown["open_position"] == printed["position"]
    assert set(shown["by_source"]) == {"sma_cross"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--strategy", "sma_cross", "--data", "{missing}"], "no such file"),
        (["--strategy", "sma_cross", "--data", "{junk}"], "not a bar or market data file"),
        (["--strategy", "sma_cross", "--param", "fast=0", "--data", "{bars}"], "fast"),
        (["--strategy", "sma_cross", "--param", "fast", "--data", "{bars}"], "not KEY=VALUE"),
        (["--strategy", "nosuch", "--data", "{bars}"], "unknown strategy 'nosuch'"),
        (["--strategy", "sma_cross", "--data", "{bars}", "--symbol", "XX"], "unknown futures root"),
        (
            ["--strategy", "sma_cross", "--data", "{bars}", "--commission", "-1"],
            "cannot be negative",
        ),
        (
            ["--strategy", "sma_cross", "--data", "{bars}", "--slippage-ticks", "-4"],
            "cannot be negative",
        ),
        (
            ["--strategy", "sma_cross", "--data", "{bars}", "--latency-ms", "-5"],
            "cannot be negative",
        ),
    ],
    ids=[
        "missing",
        "junk",
        "bad-param",
        "not-key-value",
        "unknown-strategy",
        "bad-symbol",
        "negative-commission",
        "negative-slippage",
        "negative-latency",
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], words: str
) -> None:
    (tmp_path / "junk.csv").write_text("hello,world\n1,2\n")
    (tmp_path / "bars.csv").write_text("ts_utc,open,high,low,close,volume\n"
                                       "2020-01-06T00:00:00Z,3223,3224,3223,3223,5\n")  # fmt: skip
    paths = {
        "missing": tmp_path / "none.csv",
        "junk": tmp_path / "junk.csv",
        "bars": tmp_path / "bars.csv",
    }
    proc = backtest(tmp_path, *(a.format(**paths) for a in args))
    assert proc.returncode != 0
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert words in proc.stderr


def test_ctrl_c_prints_the_partial_report(tmp_path: Path) -> None:
    bars = tmp_path / "long.csv"
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    lines = ["ts_utc,open,high,low,close,volume"]
    for i in range(300_000):
        o, c = 5000 + (i % 13) * 0.25, 5000 + (i % 11) * 0.25
        lines.append(
            f"{start + dt.timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},{o},{max(o, c) + 1},{min(o, c) - 1},{c},10"
        )
    bars.write_text("\n".join(lines) + "\n")
    marker = tmp_path / "marker"
    code, out, err = interrupt_at(
        command("--data", str(bars), "--strategy", SPEC, "--param", f"path={marker}",
                "--param", "after=5000", "--format", "json"),
        marker, environ(tmp_path),
    )  # fmt: skip
    assert code == 130, err
    assert "Traceback" not in err
    printed = json.loads(out)
    assert printed["complete"] is False
    assert 5000 <= printed["bars"] < 300_000


def test_a_relative_data_path_is_made_absolute_before_it_leaves_this_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep's jobs may run elsewhere (a Dask worker has its own working directory): the
    path the user typed, relative to his, must name the same file there."""
    from tradeterm.cli.backtest import spec_of
    from tradeterm.cli.main import build_command_parser

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    args = build_command_parser().parse_args(
        ["backtest", "--data", "bars.csv", "--strategy", "sma_cross"]
    )
    assert spec_of(args).data == tmp_path / "bars.csv"


HEADER = "ts_utc,open,high,low,close,volume\n"
TWO_MINUTES = "2025-01-08T23:00:00Z,5996.50,5997,5996,5996.5,10\n2025-01-08T23:01:00Z,5996.5,5997,5996,5997,4\n"  # fmt: skip
EVENTS = "ts,type\n2025-01-08T23:00:00Z,quote,5996.50,10,5996.75,3\n2025-01-08T23:00:01Z,trade,5996.75,1,B\n"  # fmt: skip


def _zip(path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bars.csv", HEADER + TWO_MINUTES * 20)


@pytest.mark.parametrize(
    ("name", "make", "args", "said"),
    [
        ("highlow.csv", HEADER + TWO_MINUTES.replace(",5997,5996,5997,", ",5900,5896,5896.5,"),
         [], "highlow.csv: line 3: high 5900.00 is below the open 5996.50"),
        ("volume.csv", HEADER + TWO_MINUTES.replace(",4\n", ",-4\n"), [],
         "volume.csv: line 3: negative volume -4"),
        ("header.csv", HEADER, [], "header.csv: no bars in the file"),
        ("empty.csv", "", [], "empty.csv: empty file"),
        ("five.csv", HEADER + TWO_MINUTES.replace("23:01", "23:05")
         + "2025-01-08T23:10:00Z,5996.50,5997,5996,5996.5,10\n", [],
         "five.csv: 5-minute bars (the first two at 2025-01-08 23:00 UTC and 2025-01-08 23:05 "
         "UTC): a backtest runs on 1-minute bars"),
        ("half.csv", HEADER + TWO_MINUTES.replace("23:01:00", "23:01:30"), [],
         "half.csv: line 3: 2025-01-08T23:01:30Z is not on a minute"),
        ("bars.zip", _zip, [], "bars.zip: a zip archive, not a text bar file nor a DBN file"),
        ("dir", None, [], "dir: a directory, not a data file"),
        ("events.csv", EVENTS, ["--fill", "close"], "--fill close is for bar data"),
        ("events.csv", EVENTS, ["--slippage-ticks", "3"], "--slippage-ticks is for bar data"),
    ],
    ids=["high-below-open", "negative-volume", "header-only", "zero-bytes", "five-minute",
         "off-minute", "zip", "directory", "events-fill-close", "events-slippage"],
)  # fmt: skip
def test_a_file_a_backtest_cannot_run_is_one_line_naming_why(
    tmp_path: Path, name: str, make: Any, args: list[str], said: str
) -> None:
    path = tmp_path / name
    if make is None:
        path.mkdir()
    elif callable(make):
        make(path)
    else:
        path.write_text(make)
    proc = backtest(tmp_path, "--data", str(path), "--strategy", "sma_cross", *args)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert said in proc.stderr


def test_a_csv_excel_wrote_with_a_byte_order_mark_runs_as_without(tmp_path: Path) -> None:
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text(HEADER + TWO_MINUTES)
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    runs = [backtest(tmp_path, "--data", str(p), "--strategy", "sma_cross", "--format", "json")
            for p in (plain, bom)]  # fmt: skip
    assert [r.returncode for r in runs] == [0, 0], runs[1].stderr
    bars = [json.loads(r.stdout)["bars"] for r in runs]
    assert bars == [2, 2]


def test_a_range_without_bars_prints_the_report_and_says_so(tmp_path: Path) -> None:
    """Exit status 0: a day without trading is an empty run, not an error (a script running
    day after day meets holidays); stderr says it, stdout stays the report (JSON here)."""
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + TWO_MINUTES)
    proc = backtest(tmp_path, "--data", str(path), "--strategy", "sma_cross", "--format", "json",
                    "--from", "2021-01-01", "--to", "2021-01-02")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["bars"] == 0
    assert proc.stderr.strip() == ("tradeterm: no bars in bars.csv from 2021-01-01 00:00 UTC to "
                                   "2021-01-02 00:00 UTC: the report is of an empty run")  # fmt: skip


def test_an_event_run_from_after_its_data_runs_no_event_and_says_it_fills_on_the_book(
    tmp_path: Path,
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(EVENTS)
    whole = backtest(tmp_path, "--data", str(path), "--strategy", "sma_cross")
    assert whole.returncode == 0, whole.stderr
    assert ": 3 events in" in whole.stdout and "\nfill on the book, " in whole.stdout
    assert "next-open" not in whole.stdout
    late = backtest(
        tmp_path, "--data", str(path), "--strategy", "sma_cross", "--from", "2025-01-09"
    )
    assert late.returncode == 0, late.stderr
    assert (
        ": 0 events in" in late.stdout and "no events in events.csv from 2025-01-09" in late.stderr
    )


def test_ctrl_c_while_the_figures_are_worked_out_still_prints_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the run, the statistics of a long one take seconds: a Ctrl-C then printed
    nothing at all and exited 130 (found by a user trial). Now the report comes, no journal
    is written, and the exit status says it was interrupted."""
    need_day()
    from tradeterm.cli import backtest as cli
    from tradeterm.cli.main import build_command_parser

    real = cli.statistics

    def interrupted(*args: Any, **kw: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # as the user presses Ctrl-C now
        return real(*args, **kw)

    monkeypatch.setattr(cli, "statistics", interrupted)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "c"))
    args = build_command_parser().parse_args(
        ["backtest", "--data", str(DAY), "--strategy", "sma_cross", "--format", "json"]
    )
    code = cli.command(args)
    out, err = capsys.readouterr()
    assert code == 130
    printed = json.loads(out)
    assert printed["fills"] == 53 and printed["journal"] is None
    assert err.strip().splitlines() == ["tradeterm: journal not written: interrupted"]
    assert not (tmp_path / "d").exists() or not list((tmp_path / "d").rglob("*.sqlite"))
