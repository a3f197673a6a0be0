"""``tradeterm report --compare`` on a journal with known CANARY intents and fills: the figures
against hand computations, per strategy per day; an older journal (schema 1) and a journal
without CANARY data say so in one line."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.unit.journal.factories import ES
from tests.unit.journal.test_report import DAY1, DAY2, run, sim_journal
from tradeterm.domain import Side
from tradeterm.engine.events import CanaryIntent, IntentFill
from tradeterm.journal import Journal
from tradeterm.journal.compare import NO_DATA
from tradeterm.journal.schema import APPLICATION_ID, MIGRATIONS

MS = 1_000_000
TICK_VALUE = Decimal("12.5")  # ES: 0.25 x 50


def intent(n: int, ts: int, live: bool, paper_qty: int, live_qty: int) -> CanaryIntent:
    return CanaryIntent("sma", f"i{n}", "TargetPosition", "", live, paper_qty, live_qty,
                        f"cmd-{n}" if live_qty else "", "", ES.con_id, ts)  # fmt: skip


def fill(
    n: int, mode: str, side: Side, qty: int, price: int, ts: int, leg: str = "entry"
) -> IntentFill:
    return IntentFill("sma", f"i{n}", mode, leg, side, qty, price, ts, f"{mode}.{n}.{ts}")


@pytest.fixture
async def journal_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Day 1: i1 paper only (+1); i2 live (paper -2, IB -1, 1 tick worse at IB); i3 not
    picked (paper +1, IB +1 back to flat, never filled at IB); i4 live, filled on paper only.
    Day 2: i5 live, a bracket: IB's entry 1 tick worse, both exits at the same price."""
    directory, j = await sim_journal(tmp_path, monkeypatch)
    events: list[CanaryIntent | IntentFill] = [
        intent(1, DAY1, False, 1, 0),
        fill(1, "paper", Side.BUY, 1, 24000, DAY1 + 5 * MS),
        intent(2, DAY1 + 1000 * MS, True, -2, -1),
        fill(2, "paper", Side.SELL, 2, 23999, DAY1 + 1003 * MS),
        fill(2, "live", Side.SELL, 1, 23998, DAY1 + 1040 * MS),
        intent(3, DAY1 + 2000 * MS, False, 1, 1),
        fill(3, "paper", Side.BUY, 1, 24001, DAY1 + 2002 * MS),
        intent(4, DAY1 + 3000 * MS, True, 1, 1),
        fill(4, "paper", Side.BUY, 1, 24000, DAY1 + 3010 * MS),
        intent(5, DAY2, True, 1, 1),
        fill(5, "paper", Side.BUY, 1, 24000, DAY2 + 1 * MS),
        fill(5, "live", Side.BUY, 1, 24001, DAY2 + 21 * MS),
        fill(5, "paper", Side.SELL, 1, 24016, DAY2 + 60_000 * MS, "exit"),
        fill(5, "live", Side.SELL, 1, 24016, DAY2 + 60_000 * MS, "exit"),
    ]
    for event in events:
        j.record(event)
    await j.close()
    return directory


async def test_compare_shows_both_sides_per_strategy_per_day(journal_dir: Path) -> None:
    doc = json.loads(run("report", "--compare", "--format", "json"))
    assert doc["message"] is None
    day1, day2 = doc["days"]
    assert (day1["day"], day1["strategy"], day1["intents"], day1["live_intents"]) == (
        "2026-11-17", "sma", 4, 2,
    )  # fmt: skip
    assert (day1["paper_sent"], day1["paper_filled"], day1["paper_fill_rate"]) == (4, 4, 1.0)
    assert (day1["live_sent"], day1["live_filled"], day1["live_fill_rate"]) == (3, 1, 0.3333)
    assert day1["compared"] == 1 and day1["slippage_ticks"] == 1.0  # sold 1 tick lower at IB
    assert (day1["paper_fill_ms_median"], day1["paper_fill_ms_avg"]) == (4.0, 5.0)  # 5 3 2 10
    assert (day1["live_fill_ms_median"], day1["live_fill_ms_avg"]) == (40.0, 40.0)
    assert Decimal(day1["pnl_diff"]) == -1 * TICK_VALUE
    assert (day2["day"], day2["live_fill_rate"], day2["slippage_ticks"]) == ("2026-11-18", 1.0, 1.0)
    assert Decimal(day2["pnl_diff"]) == -1 * TICK_VALUE  # the entry's tick; the exits agree
    one_day = json.loads(run("report", "--compare", "--from", "2026-11-18", "--format", "json"))
    assert [d["day"] for d in one_day["days"]] == ["2026-11-18"]


async def test_compare_as_a_table(journal_dir: Path) -> None:
    lines = run("report", "--compare").splitlines()
    assert lines[0].startswith("ES CANARY live against paper")
    assert lines[1].split()[:4] == ["day", "strategy", "intents", "live"]
    assert lines[3].split() == [
        "2026-11-17", "sma", "4", "2", "100%", "33%", "1.00", "4.00/5.00", "40.00/40.00",
        "-12.50",
    ]  # fmt: skip


def schema_1_journal(path: Path) -> None:
    """A journal as a build before CANARY left it (schema 1), with a session."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.close()


def test_a_schema_1_journal_is_read_and_has_no_canary_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.sqlite"
    schema_1_journal(path)
    assert run("report", "--compare", "--journal", str(path)) == f"ES: {NO_DATA}\n"
    assert json.loads(run("report", "--journal", str(path), "--format", "json"))["total"][
        "trades"
    ] == 0  # fmt: skip


async def test_a_schema_1_journal_opens_for_writing_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    schema_1_journal(path)
    async with Journal(path) as j:
        await j.start_session("ES", "sim", "test")
        j.record(intent(1, DAY1, True, 1, 1))
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert conn.execute("SELECT intent_id, live FROM canary_intents").fetchall() == [("i1", 1)]
    conn.close()


async def test_a_journal_without_canary_intents_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, j = await sim_journal(tmp_path, monkeypatch)
    await j.close()
    assert run("report", "--compare") == f"ES: {NO_DATA}\n"
