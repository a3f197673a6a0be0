"""The halt latch file: written whole or not at all (0600, no temporary left), read back as
the halt it records, removed durably; a latch that cannot be read still halts. And the
journal's count, per table, of the critical rows it could not write."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path

import pytest

from tests.unit.journal.factories import T0, booked, fill
from tradeterm.engine.events import KillProgress
from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import KillStep, TradingState
from tradeterm.journal import Journal
from tradeterm.journal.latch import LatchFile, latch_file
from tradeterm.journal.rows import BAR, INSERT_INTENT, INSTRUMENT, table_of

HALT = RiskTransition(TradingState.REDUCING, TradingState.HALTED, "disk full: é", T0)


def test_the_latch_lives_beside_the_journal(tmp_path: Path) -> None:
    assert latch_file(tmp_path / "ES.sqlite") == tmp_path / "ES.sqlite.halted"


def test_set_read_clear(tmp_path: Path) -> None:
    latch = LatchFile(tmp_path / "journal" / "ES.sqlite.halted")
    assert latch.read() is None
    latch.set(HALT)
    assert latch.read() == HALT
    assert os.stat(latch.path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in latch.path.parent.iterdir()) == ["ES.sqlite.halted"]
    later = RiskTransition(TradingState.ACTIVE, TradingState.HALTED, "again", T0 + 1)
    latch.set(later)  # replaced whole
    assert latch.read() == later
    latch.clear()
    assert latch.read() is None and not latch.path.exists()
    latch.clear()  # no latch: nothing to do


@pytest.mark.parametrize("text", ["", "{", '{"state": "HALTED"}', "[1, 2]", '{"reason": 1'])
def test_a_latch_that_cannot_be_read_halts(tmp_path: Path, text: str) -> None:
    latch = LatchFile(tmp_path / "ES.sqlite.halted")
    latch.path.write_text(text)
    got = latch.read()
    assert got is not None and got.to_state is TradingState.HALTED
    assert "cannot be read" in got.reason and "delete it" in got.reason


def test_a_failed_write_leaves_the_old_latch_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latch = LatchFile(tmp_path / "ES.sqlite.halted")
    latch.set(HALT)

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        latch.set(RiskTransition(TradingState.ACTIVE, TradingState.HALTED, "new", T0 + 5))
    monkeypatch.undo()
    assert latch.read() == HALT
    assert [p.name for p in tmp_path.iterdir()] == ["ES.sqlite.halted"]


def test_table_of_every_statement() -> None:
    assert table_of(INSERT_INTENT) == "order_intents"
    assert table_of(BAR) == "bars" and table_of(INSTRUMENT) == "instruments"
    assert table_of("UPDATE sessions SET stopped_ns = ? WHERE id = ?") == "sessions"


async def test_the_journal_counts_what_it_could_not_write_per_table(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "ES.sqlite", retry_s=0.05, flush_interval_ms=10)
    await journal.open()
    await journal.start_session("ES", "sim", "0.1.0")
    await journal._conn().execute("PRAGMA query_only = ON")  # cannot write from now on
    journal.record(booked(fill("e1")))
    journal.record(booked(fill("e2")))
    journal.record(KillProgress(KillStep.HALTED, "flat", "test", 0, 0, T0, done=True, ok=True))
    journal.end_session("quit")
    await asyncio.sleep(0.1)
    await journal.close()
    assert journal.unwritten() == {"fills": 2, "kill_events": 1, "sessions": 1}
    conn = sqlite3.connect(journal.path)
    assert conn.execute("SELECT count(*) FROM fills").fetchone() == (0,)
    conn.close()


def test_the_latch_names_the_account_it_was_written_for(tmp_path: Path) -> None:
    latch = LatchFile(tmp_path / "ES.sqlite.halted")
    assert latch.owner() is None  # no latch
    latch.set(HALT)
    assert latch.owner() is None  # halted before the account was known
    latch.account = "DU0000001"
    latch.set(HALT)
    assert LatchFile(latch.path).owner() == "DU0000001" and latch.read() == HALT
    latch.path.write_text("{")
    assert latch.owner() is None and latch.read() is not None  # unreadable: still halts
