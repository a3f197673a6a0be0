"""The writer: intents committed before the call returns, events as rows, the bounded bulk
lane (drops counted, critical rows never dropped), restart reads, and every failure path
(disk full, read-only, locked) reported once through on_failure with the rows kept."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.instruments import NQ
from tests.unit.journal.factories import ES, T0, booked, fill, order, position, updated
from tradeterm.broker.port import NoticeLevel
from tradeterm.domain import ExitTag, Order, OrderStatus, OrderType, Side
from tradeterm.engine.events import (
    EngineNotice,
    KillProgress,
    RiskUpdate,
    StrategySignal,
    StrategyStateChanged,
)
from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import (
    KillStep,
    OrderRole,
    RiskEventKind,
    StrategyState,
    TradingState,
)
from tradeterm.journal import Journal, JournalError
from tradeterm.journal.rows import commission_row


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


@pytest.fixture
async def journal(tmp_path: Path) -> Any:
    failures: list[str] = []
    j = Journal(tmp_path / "ES.sqlite", on_failure=failures.append, busy_timeout_ms=50,
                retry_s=0.05, flush_interval_ms=10)  # fmt: skip
    j.failures_seen = failures  # type: ignore[attr-defined]
    await j.open()
    await j.start_session("ES", "sim", "0.1.0")
    yield j
    await j.close()


async def test_an_intent_is_committed_when_commit_intent_returns(journal: Journal) -> None:
    o = order(1)
    o.submit()
    await journal.commit_intent(o, "cmd-1", OrderRole.ENTRY)
    # another connection (another process after a kill -9) sees it at once
    assert rows(journal.path, "SELECT order_id, command_id, role, side, state FROM order_intents") == [
        (o.client_id, "cmd-1", "entry", "BUY", "open")
    ]  # fmt: skip


async def test_order_events_update_the_intent_and_close_it_when_finished(journal: Journal) -> None:
    o = order(1)
    o.submit()
    await journal.commit_intent(o, "cmd-1", OrderRole.PLAIN)
    journal.record(updated(o, OrderStatus.SUBMITTED, broker_id=7, perm_id=700))
    await journal.flush()
    assert [i.order_id for i in await journal.open_intents()] == [o.client_id]
    assert (await journal.open_intents())[0].perm_id == 700
    journal.record(updated(o, OrderStatus.FILLED))
    await journal.flush()
    assert await journal.open_intents() == []
    events = rows(journal.path, "SELECT status, broker_id, perm_id FROM order_events ORDER BY id")
    assert events == [("SUBMITTED", 7, 700), ("FILLED", 7, 700)]


async def test_a_fill_is_journaled_once_with_its_exact_price(journal: Journal) -> None:
    f = fill("e1", price=24001)
    journal.record(booked(f))
    journal.record(booked(f, historical=True))  # recovered again after a reconnect
    await journal.flush()
    assert rows(journal.path, "SELECT exec_id, price_ticks, price, historical FROM fills") == [
        ("e1", 24001, "6000.25", 0)
    ]


async def test_a_fill_journaled_by_an_earlier_run_is_a_no_op_when_it_agrees(
    tmp_path: Path,
) -> None:
    conflicts: list[str] = []
    for run in range(2):  # the same execution reaches two runs (IB reports it again)
        async with Journal(tmp_path / "ES.sqlite") as j:
            j.on_conflict = conflicts.append
            j.record(booked(fill("e1", order_id=None if run else "tt.ES.1.1"),
                            historical=bool(run)))  # fmt: skip
            await j.flush()
            assert j.failure is None
    assert rows(tmp_path / "ES.sqlite", "SELECT exec_id, order_id, historical FROM fills") == [
        ("e1", "tt.ES.1.1", 0)
    ]
    assert conflicts == []
    assert rows(tmp_path / "ES.sqlite", "SELECT * FROM system_events") == []


async def test_a_fill_contradicting_a_journaled_one_is_kept_as_an_error_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ES.sqlite"
    async with Journal(path) as first:
        first.record(booked(fill("e1", side=Side.BUY, price=24000)))
    conflicts: list[str] = []
    async with Journal(path) as second:
        second.on_conflict = conflicts.append
        second.record(booked(fill("e1", side=Side.SELL, price=24004)))  # the same execId
        second.record(booked(fill("e2", side=Side.SELL, price=24004)))
        await second.flush()
        assert second.failure is None and second.pending == 0  # nothing left behind
    # the first version stays; the other is in the journal as an error, never dropped silently
    assert rows(path, "SELECT exec_id, side, price_ticks FROM fills ORDER BY rowid") == [
        ("e1", "BUY", 24000), ("e2", "SELL", 24004),
    ]  # fmt: skip
    ((kind, level, text),) = rows(path, "SELECT kind, level, text FROM system_events")
    assert (kind, level) == ("fill conflict", "ERROR")
    assert "e1 reported again" in text and "BUY 1 @ 24000" in text and "SELL 1 @ 24004" in text
    assert conflicts == [text]
    assert text in caplog.text


async def test_the_fills_of_a_contract_are_read_back_with_their_commissions(
    journal: Journal,
) -> None:
    first, second = fill("e1", price=24000, ts=T0), fill("e2", side=Side.SELL, ts=T0 + 1)
    journal.record(booked(second))
    journal.record(booked(first))
    journal.record_rows([commission_row("e1", Decimal("2.25"), T0)], critical=True)
    await journal.flush()
    assert await journal.fills(ES) == [(first, Decimal("2.25")), (second, None)]
    assert await journal.fills(NQ) == []


async def test_fills_that_cannot_be_read_are_reported_as_a_failure(journal: Journal) -> None:
    conn = sqlite3.connect(journal.path)
    conn.execute("DROP TABLE fills")  # whatever made the file unreadable
    conn.close()
    assert await journal.fills(ES) == []
    (failure,) = journal.failures_seen  # type: ignore[attr-defined]
    assert "cannot read journal" in failure and "no such table" in failure


async def test_money_is_exact_text(journal: Journal) -> None:
    journal.record(position())
    await journal.flush()
    assert rows(journal.path, "SELECT avg_price_ticks, unrealized, daily FROM position_snapshots") == [
        ("24001/4", "-3.125", "5.875")
    ]  # fmt: skip


async def test_the_last_transition_is_restored(journal: Journal) -> None:
    assert await journal.last_transition() is None
    journal.record(
        RiskUpdate(
            RiskEventKind.TRANSITION,
            "state",
            "daily loss",
            TradingState.REDUCING,
            T0,
            TradingState.ACTIVE,
        )
    )
    journal.record(
        RiskUpdate(RiskEventKind.WARNING, "daily_loss", "80% used", TradingState.REDUCING, T0 + 1)
    )
    journal.record(
        RiskUpdate(
            RiskEventKind.TRANSITION,
            "state",
            "journal failed",
            TradingState.HALTED,
            T0 + 2,
            TradingState.REDUCING,
        )
    )
    journal.record(KillProgress(KillStep.HALTED, "flat", "user", 0, 0, T0 + 3, True, True))
    await journal.flush()
    assert await journal.last_transition() == RiskTransition(
        TradingState.REDUCING, TradingState.HALTED, "journal failed", T0 + 2
    )
    assert rows(journal.path, "SELECT step, ok FROM kill_events") == [("halted", 1)]


async def test_a_full_bulk_lane_drops_and_counts_but_never_critical_rows(tmp_path: Path) -> None:
    j = Journal(tmp_path / "ES.sqlite", queue_max=100, batch_size=1000, flush_interval_ms=10_000)
    await j.open()
    try:
        for i in range(150):  # no await in between: the writer cannot run
            j.record(EngineNotice(NoticeLevel.INFO, f"n{i}", T0 + i))
        for i in range(1000):
            j.record(booked(fill(f"e{i}", ts=T0 + i)))
        assert j.dropped == 50
        await j.flush()
    finally:
        await j.close()
    assert rows(j.path, "SELECT count(*) FROM system_events")[0][0] == 100
    assert rows(j.path, "SELECT count(*) FROM fills")[0][0] == 1000


async def test_a_session_without_a_stop_is_marked_as_crashed(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    first = Journal(path)
    await first.open()
    await first.start_session("ES", "sim", "0.1.0")
    first._writer_lock.release()  # as a kill -9 would: no stop recorded
    second = Journal(path)
    await second.open()
    await second.start_session("ES", "sim", "0.1.0")
    second.end_session("quit")
    await second.close()
    assert rows(path, "SELECT stop_reason FROM sessions ORDER BY id") == [
        ("no clean stop recorded (crashed or killed)",),
        ("quit",),
    ]


# ---- failure paths ------------------------------------------------------------------------------


async def test_disk_full_halts_once_refuses_intents_and_keeps_critical_rows(
    journal: Journal,
) -> None:
    failures: list[str] = journal.failures_seen  # type: ignore[attr-defined]
    db = journal._conn()
    pages = (await (await db.execute("PRAGMA page_count")).fetchone())[0]  # type: ignore[index]
    await db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now
    for i in range(300):
        journal.record(booked(fill(f"e{i}", ts=T0 + i)))
    with pytest.raises(JournalError, match="disk is full"):
        for i in range(200):  # intents until the last free page is used up
            await journal.commit_intent(order(100 + i), "cmd-2", OrderRole.PLAIN)
    await asyncio.sleep(0.3)  # the writer retries meanwhile
    assert len(failures) == 1 and "disk is full" in failures[0]
    assert journal.failure is not None and journal.pending >= 300
    await db.execute("PRAGMA max_page_count = 1073741823")  # space again
    await journal.flush()
    assert journal.failure is None
    assert rows(journal.path, "SELECT count(*) FROM fills")[0][0] == 300


async def test_a_read_only_file_halts_and_refuses_intents(journal: Journal) -> None:
    failures: list[str] = journal.failures_seen  # type: ignore[attr-defined]
    await journal._conn().execute("PRAGMA query_only = ON")  # as if remounted read-only
    o = order(1)
    o.submit()
    with pytest.raises(JournalError, match="read-only"):
        await journal.commit_intent(o, "cmd-1", OrderRole.PLAIN)
    journal.record(booked(fill("e1")))
    await asyncio.sleep(0.2)
    assert len(failures) == 1 and "read-only" in failures[0]
    assert journal.pending == 1


async def test_a_locked_file_halts_and_writes_once_unlocked(journal: Journal) -> None:
    failures: list[str] = journal.failures_seen  # type: ignore[attr-defined]
    other = sqlite3.connect(journal.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        o = order(1)
        o.submit()
        with pytest.raises(JournalError, match="locked"):
            await journal.commit_intent(o, "cmd-1", OrderRole.PLAIN)
        journal.record(booked(fill("e1")))
        await asyncio.sleep(0.2)
        assert len(failures) == 1 and "locked" in failures[0]
    finally:
        other.execute("ROLLBACK")
        other.close()
    await journal.flush()
    assert rows(journal.path, "SELECT exec_id FROM fills") == [("e1",)]
    assert journal.failure is None


async def test_open_reports_a_corrupt_file_as_a_journal_error(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(JournalError, match="not an SQLite database"):
        await Journal(path).open()
    await Journal(tmp_path / "NQ.sqlite").open()  # the lock of the refused one was released
    assert not Path(str(path) + "-wal").exists()


async def test_an_earlier_runs_open_intent_comes_back_as_an_order_to_look_for(
    tmp_path: Path,
) -> None:
    """Issue 12: an intent whose order's fate is unknown is handed to the next run, with the
    broker id it was sent under and the API client that sent it, never closed on a guess."""
    path = tmp_path / "ES.sqlite"
    first = Journal(path, flush_interval_ms=10)
    await first.open()
    await first.start_session("ES", "sim", "0.1.0", client_id=3)
    o = order(1)
    o.submit()
    o.bind(broker_id=41)  # reserved before the intent, as the order manager does
    await first.commit_intent(o, "kill-1.1", OrderRole.KILL)
    await first.close()  # as if killed: no order event ever came

    second = Journal(path, flush_interval_ms=10)
    await second.open()
    await second.start_session("ES", "sim", "0.1.0", client_id=3)
    try:
        (sent,) = await second.sent_orders()
        assert (sent.order_id, sent.role, sent.broker_id, sent.api_client_id) == (
            o.client_id, "kill", 41, 3,
        )  # fmt: skip
        assert (sent.side, sent.quantity, sent.order_type) == (o.side, o.quantity, o.order_type)
        assert [i.order_id for i in await second.open_intents()] == [o.client_id]  # still open
    finally:
        await second.close()


async def test_a_trailing_exit_comes_back_with_its_trail_and_its_exit_strategy(
    tmp_path: Path,
) -> None:
    """Issue 18: a TRAIL order restored from the journal keeps its trailing amount (not None
    until IB reports it), and an exit strategy's order what it was sent for (breakeven)."""
    path = tmp_path / "ES.sqlite"
    first = Journal(path, flush_interval_ms=10)
    await first.open()
    await first.start_session("ES", "sim", "0.1.0", client_id=3)
    tag = ExitTag("runner", fill=20_000, breakeven_after=4, breakeven_offset=1)
    stop = Order("tt.ES.1.7", ES, Side.SELL, 1, OrderType.TRAIL, stop=19_992, trail=6, exit=tag)
    entry = Order("tt.ES.1.6", ES, Side.BUY, 1, OrderType.LIMIT, limit=19_990,
                  exit=ExitTag("runner"))  # fmt: skip
    for o in (entry, stop):
        o.submit()
        await first.commit_intent(o, "cmd-1", OrderRole.STOP if o is stop else OrderRole.PLAIN)
    await first.close()

    second = Journal(path, flush_interval_ms=10)
    await second.open()
    await second.start_session("ES", "sim", "0.1.0", client_id=3)
    try:
        sent = {s.order_id: s for s in await second.sent_orders()}
        assert (sent[stop.client_id].trail, sent[stop.client_id].exit) == (6, tag)
        assert (sent[entry.client_id].trail, sent[entry.client_id].exit) == (
            None, ExitTag("runner"),
        )  # fmt: skip
    finally:
        await second.close()


async def test_a_strategys_signals_and_states_are_journaled(journal: Journal) -> None:
    params = (("fast", "2"), ("slow", "3"), ("quantity", "1"))
    journal.record(StrategyStateChanged("sma_cross", StrategyState.RUNNING, "started", T0, params))
    journal.record(StrategySignal("sma_cross", "TargetPosition", "quantity=1", "SMA(2) > SMA(3)",
                                  True, "tt.ES.2.1", T0 + 1, "cmd-3"))  # fmt: skip
    journal.record(StrategySignal("sma_cross", "TargetPosition", "quantity=-1", "SMA(2) < SMA(3)",
                                  False, "standing aside", T0 + 2))  # fmt: skip
    journal.record(
        StrategyStateChanged("sma_cross", StrategyState.FAULTED, "on_bar raised", T0 + 3)
    )
    await journal.flush()
    assert rows(journal.path, "SELECT command_id, source, kind, detail, ok, reason FROM signals") == [
        ("cmd-3", "sma_cross", "TargetPosition", "quantity=1 reason=SMA(2) > SMA(3)", 1, "tt.ES.2.1"),
        ("", "sma_cross", "TargetPosition", "quantity=-1 reason=SMA(2) < SMA(3)", 0,
         "standing aside"),
    ]  # fmt: skip
    assert rows(journal.path, "SELECT kind, level, text FROM system_events WHERE kind = 'strategy'") == [
        ("strategy", "INFO", "sma_cross running: started (fast=2 slow=3 quantity=1)"),
        ("strategy", "ERROR", "sma_cross faulted: on_bar raised"),
    ]  # fmt: skip
