"""``tradeterm report`` and ``tradeterm journal export`` on a journal with known trades: the
figures against hand computations, per day and per source, in every format; the exports;
one mode's journal only, and which file was read; a missing journal is a usage error."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.journal.factories import ES, booked, fill, order
from tradeterm.cli.errors import UserError
from tradeterm.cli.main import build_command_parser
from tradeterm.domain import Bar, Side
from tradeterm.engine.calendar import CHICAGO, NS
from tradeterm.engine.commands import CommandResult, PlaceOrder
from tradeterm.engine.events import CommandDone, RiskUpdate
from tradeterm.engine.types import OrderRole, RiskEventKind, TradingState
from tradeterm.journal import Journal
from tradeterm.journal import rows as R
from tradeterm.journal.report import trading_day
from tradeterm.paths import journal_file

DAY1 = int(dt.datetime(2026, 11, 17, 10, tzinfo=CHICAGO).timestamp()) * NS
DAY2 = int(dt.datetime(2026, 11, 18, 10, tzinfo=CHICAGO).timestamp()) * NS


def run(*argv: str) -> str:
    args = build_command_parser().parse_args(list(argv))
    out = io.StringIO()
    assert args.handler(args, out) == 0
    return out.getvalue()


async def sim_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Journal]:
    """The SIM journal of ES, open, the configured journal dir, with a session and the
    contract (for its tick value)."""
    directory = tmp_path / "journal"
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(directory))
    j = Journal(journal_file("ES", "sim", directory))
    await j.open()
    await j.start_session("ES", "sim", "test")
    j.record_rows([R.instrument_row(ES, DAY1)], critical=True)
    return directory, j


@pytest.fixture
async def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Day 1 (manual): long 1 +4 ticks, long 1 -2 ticks. Day 2 (strategy meanrev): short 2
    +10 ticks. 2.25 per contract per side."""
    directory, j = await sim_journal(tmp_path, monkeypatch)
    j.record_rows([R.bar_row(495512563, Bar(DAY1, 24000, 24004, 23996, 24002, 10))], critical=False)
    j.record(
        RiskUpdate(
            RiskEventKind.TRANSITION,
            "state",
            "daily loss",
            TradingState.HALTED,
            DAY2 + 9 * NS,
            TradingState.ACTIVE,
        )
    )
    plan = [  # (seq, command, source, side, qty, price, ts)
        (1, "cmd-1", "manual", Side.BUY, 1, 24000, DAY1),
        (2, "cmd-2", "manual", Side.SELL, 1, 24004, DAY1 + NS),
        (3, "cmd-3", "manual", Side.BUY, 1, 24004, DAY1 + 2 * NS),
        (4, "cmd-4", "manual", Side.SELL, 1, 24002, DAY1 + 3 * NS),
        (5, "cmd-5", "meanrev", Side.SELL, 2, 24010, DAY2),
        (6, "cmd-6", "meanrev", Side.BUY, 2, 24000, DAY2 + NS),
    ]
    for seq, command_id, source, side, qty, price, ts in plan:
        o = order(seq, side, qty, source=source)
        o.submit()
        await j.commit_intent(o, command_id, OrderRole.PLAIN)
        cmd = PlaceOrder(side, qty, source=source)
        j.record(CommandDone(CommandResult(command_id, cmd, True, order_ids=(o.client_id,))))
        j.record(booked(fill(f"e{seq}", o.client_id, side, qty, price, ts)))
        j.record_rows([R.commission_row(f"e{seq}", Decimal("2.25") * qty, ts)], critical=True)
    j.record(booked(fill("x1", None, Side.BUY, 1, 24000, DAY2 + 5 * NS)))  # a manual TWS fill
    await j.close()
    return directory


def test_trading_days_roll_at_17_chicago() -> None:
    before = int(dt.datetime(2026, 11, 17, 16, 59, tzinfo=CHICAGO).timestamp()) * NS
    after = int(dt.datetime(2026, 11, 17, 17, 0, tzinfo=CHICAGO).timestamp()) * NS
    assert trading_day(before) == dt.date(2026, 11, 17)
    assert trading_day(after) == dt.date(2026, 11, 18)


async def test_the_report_figures_match_a_hand_computation(journal_dir: Path) -> None:
    doc = json.loads(run("report", "--format", "json"))
    total = doc["total"]
    assert total["trades"] == 3 and total["wins"] == 2
    assert Decimal(total["gross"]) == Decimal("275.00")  # 50 - 25 + 250
    assert Decimal(total["commissions"]) == Decimal("18.00")
    assert Decimal(total["net"]) == Decimal("257.00")
    assert total["profit_factor"] == 12.0  # 300 won / 25 lost
    assert Decimal(total["max_drawdown"]) == Decimal("29.50")  # 45.50 then 16.00
    # days: 16.00 and 241.00 -> mean 128.5, sd 159.0990 -> x sqrt(252)
    assert total["daily_sharpe"] == pytest.approx(12.8215, abs=1e-3)
    days = {(d["day"], d["source"]): d for d in doc["days"]}
    assert set(days) == {("2026-11-17", "manual"), ("2026-11-18", "meanrev")}
    assert Decimal(days["2026-11-17", "manual"]["net"]) == Decimal("16.00")
    assert days["2026-11-18", "meanrev"]["win_rate"] == 1.0
    assert doc["by_source"]["manual"]["trades"] == 2
    assert doc["open_position"] == 1  # the manual TWS buy, not counted until closed


async def test_the_date_range_selects_trading_days(journal_dir: Path) -> None:
    doc = json.loads(run("report", "ES", "--from", "2026-11-18", "--to", "2026-11-18",
                         "--format", "json"))  # fmt: skip
    assert doc["total"]["trades"] == 1 and set(doc["by_source"]) == {"meanrev"}


async def test_table_and_csv(journal_dir: Path) -> None:
    table = run("report")
    assert "ES performance" in table and "meanrev" in table and "257.00" in table
    rows = list(csv.DictReader(io.StringIO(run("report", "--format", "csv"))))
    assert rows[-1]["day"] == "all" and rows[-1]["source"] == "all"
    assert rows[-1]["net"] == "257.00"


async def test_export_fills_orders_events_bars(journal_dir: Path) -> None:
    fills = list(csv.DictReader(io.StringIO(run("journal", "export", "--what", "fills"))))
    assert [f["exec_id"] for f in fills] == ["e1", "e2", "e3", "e4", "e5", "e6", "x1"]
    assert fills[1]["price"] == "6001.00" and fills[1]["commission"] == "2.25"
    orders = json.loads(run("journal", "export", "--what", "orders", "--format", "json"))
    assert len(orders) == 6 and orders[0]["state"] == "open"
    day2 = json.loads(run("journal", "export", "--what", "fills", "--format", "json",
                          "--from", "2026-11-18"))  # fmt: skip
    assert [f["exec_id"] for f in day2] == ["e5", "e6", "x1"]
    assert run("journal", "export", "--what", "bars").splitlines()[1:] == [
        "2026-11-17T16:00:00+00:00,1794931200000000000,ESZ6,6000.00,6001.00,5999.00,6000.50,10"
    ]
    events = json.loads(run("journal", "export", "--what", "events", "--format", "json"))
    assert [(e["source"], e["kind"], e["level"], e["text"]) for e in events] == [
        ("risk", "transition", "HALTED", "daily loss")
    ]


async def test_closing_the_journal_caches_the_daily_figures(journal_dir: Path) -> None:
    conn = sqlite3.connect(journal_file("ES", "sim", journal_dir))
    rows = conn.execute("SELECT day, source, trades, wins, gross, commissions, net"
                        " FROM daily_performance ORDER BY day").fetchall()  # fmt: skip
    conn.close()
    assert rows == [
        ("2026-11-17", "manual", 2, 1, "25.00", "9.00", "16.00"),
        ("2026-11-18", "meanrev", 1, 1, "250.00", "9.00", "241.00"),
    ]


def test_no_journal_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(tmp_path / "none"))
    with pytest.raises(UserError, match="no journal"):
        run("report", "NQ")


async def paper_round_trip(directory: Path) -> Path:
    """A PAPER journal beside the fixture's SIM one: long 1, out 8 ticks higher (100.00)."""
    path = journal_file("ES", "paper", directory)
    async with Journal(path) as j:
        await j.start_session("ES", "paper", "test")
        j.record_rows([R.instrument_row(ES, DAY2)], critical=True)
        for seq, side, price, ts in ((7, Side.BUY, 24000, DAY2), (8, Side.SELL, 24008, DAY2 + NS)):
            o = order(seq, side, 1)
            o.submit()
            await j.commit_intent(o, f"cmd-{seq}", OrderRole.PLAIN)
            j.record(booked(fill(f"p{seq}", o.client_id, side, 1, price, ts)))
    return path


async def test_report_and_export_read_one_modes_journal_and_say_which(
    journal_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paper = await paper_round_trip(journal_dir)
    sim = journal_file("ES", "sim", journal_dir)
    assert json.loads(run("report", "--format", "json"))["total"]["trades"] == 3  # sim: default
    assert capsys.readouterr().err == f"tradeterm: reading journal {sim}, SIM mode\n"
    doc = json.loads(run("report", "--mode", "paper", "--format", "json"))
    assert doc["total"]["trades"] == 1 and Decimal(doc["total"]["gross"]) == Decimal("100.00")
    assert capsys.readouterr().err == f"tradeterm: reading journal {paper}, PAPER mode\n"
    monkeypatch.setenv("TRADETERM_MODE", "paper")  # the configured mode is the default
    fills = list(csv.DictReader(io.StringIO(run("journal", "export", "--what", "fills"))))
    assert [f["exec_id"] for f in fills] == ["p7", "p8"]
    assert capsys.readouterr().err == f"tradeterm: reading journal {paper}, PAPER mode\n"
    with pytest.raises(UserError, match=r"no journal at .*/live/ES\.sqlite$"):
        run("report", "--mode", "live")


async def test_an_older_versions_shared_journal_is_named_and_read_with_journal(
    journal_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = journal_dir / "ES.sqlite"  # where tradeterm 0.1 kept every mode's journal
    journal_file("ES", "sim", journal_dir).rename(legacy)
    with pytest.raises(UserError, match=f"is {legacy}: read it with --journal"):
        run("report")
    assert (
        json.loads(run("report", "--journal", str(legacy), "--format", "json"))["total"]["trades"]
        == 3
    )
    assert capsys.readouterr().err == f"tradeterm: reading journal {legacy}\n"


async def test_a_trading_journal_is_not_called_a_backtest(
    journal_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(run("report", "--format", "json"))
    assert doc["backtest"] is None
    assert "backtest" not in run("report")
