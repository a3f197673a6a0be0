"""HALTED is never lost (issue 12, item 4): a journal that cannot write is why trading halts,
so the halt is also kept in a latch file beside the journal. A restart after the disk was
freed is still HALTED; a re-arm removes the latch, or is refused when it cannot; a latch that
cannot be written is said loudly and written as soon as it can be; a quit that leaves critical
rows unwritten says how many of which kinds."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from tests.integration.desk_helpers import session_gone
from tests.integration.journal_helpers import query, settings_for
from tradeterm.domain import Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.events import EngineNotice
from tradeterm.runtime import Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


class BrokenLatch:
    """The engine's latch until ``broken`` is False; while broken, writing or removing it
    fails as on a full or read-only disk."""

    def __init__(self, latch: Any) -> None:
        self.latch = latch
        self.broken = True

    def __str__(self) -> str:
        return str(self.latch)

    def set(self, transition: Any) -> None:
        if self.broken:
            raise OSError(28, "No space left on device")
        self.latch.set(transition)

    def clear(self) -> None:
        if self.broken:
            raise OSError(30, "Read-only file system")
        self.latch.clear()


class FullDisk:
    """The journal's connection on a full disk: every write fails as SQLite reports it
    (``database or disk is full``); reads still work. Until the connection is closed."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: Any = ()) -> Any:
        if sql.split()[0].upper() in ("SELECT", "ROLLBACK", "PRAGMA"):
            return self.db.execute(sql, params)
        return self._full()

    def executemany(self, sql: str, params: Any) -> Any:
        return self._full()

    async def _full(self) -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


async def start_on_a_full_disk(rt: Runtime) -> None:
    """Start the engine, then fill the disk under its journal."""
    await rt.engine.start()
    assert rt.journal is not None
    rt.journal._db = FullDisk(rt.journal._conn())  # type: ignore[assignment]


def latch_of(journal_dir: Path) -> Path:
    """Where the README says the latch is: ``<journal>.halted``."""
    return journal_dir / "sim" / "ES.sqlite.halted"


async def test_a_disk_full_halt_survives_the_restart_after_the_disk_is_freed(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        await start_on_a_full_disk(rt)
        refused = await rt.engine.submit(PlaceOrder(Side.BUY, 1))
        assert not refused.ok and "disk is full" in refused.reason
        assert rt.engine.snapshot().trading_state == "HALTED"
        await rt.engine.kill("going home")  # its rows cannot be written either
    assert query(tmp_path, "SELECT * FROM risk_events") == []  # the journal lost the halt
    await session_gone(still, 1)
    async with open_runtime(settings) as rt:  # a new connection: the disk has room again
        await rt.engine.start()
        snap = rt.engine.snapshot()
        assert snap.trading_state == "HALTED" and "disk is full" in snap.trading_reason
        result = await rt.engine.submit(PlaceOrder(Side.BUY, 1))
        assert not result.ok and "trading is HALTED" in result.reason
    assert [o.req.order_ref for o in still.oms.orders.values()] == []


async def test_the_latch_file_and_the_line_naming_what_was_lost(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        await start_on_a_full_disk(rt)
        rt.engine.halt("the test halts")
        await rt.engine.kill("going home")
    line = rt.unwritten
    assert line is not None and "disk is full" in line
    assert re.search(r"\d+ critical row\(s\) were never written and are lost \(.*"
                     r"3 kill_events, .*1 risk_events", line), line  # fmt: skip
    latch = json.loads(latch_of(tmp_path).read_text())
    assert latch["state"] == "HALTED" and latch["reason"] == "the test halts"
    assert os.stat(latch_of(tmp_path)).st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    await session_gone(still, 1)
    async with open_runtime(settings) as rt:  # nothing lost this time
        await rt.engine.start()
        assert rt.engine.snapshot().trading_reason == "the test halts"
    assert rt.unwritten is None


async def test_a_rearm_removes_the_latch_and_is_refused_when_it_cannot(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path, risk={"rearm_cooldown_s": 0})
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        rt.engine.halt("stopped by the test")
        assert json.loads(latch_of(tmp_path).read_text())["reason"] == "stopped by the test"
        latch = BrokenLatch(rt.engine.latch)
        rt.engine.latch = latch
        refusal = rt.engine.rearm("the disk is fine again")
        assert refusal is not None and "cannot remove the halt latch" in refusal
        assert "Read-only file system" in refusal and "trading stays HALTED" in refusal
        assert rt.engine.snapshot().trading_state == "HALTED" and latch_of(tmp_path).exists()
        latch.broken = False
        assert rt.engine.rearm("the disk is fine again") is None
        assert rt.engine.snapshot().trading_state == "ACTIVE"
        assert not latch_of(tmp_path).exists()
    await session_gone(still, 1)
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        assert rt.engine.snapshot().trading_state == "ACTIVE"


async def test_a_latch_that_cannot_be_written_is_said_and_written_once_it_can(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        engine = rt.engine
        stream = engine.listen()
        await engine.start()
        latch = BrokenLatch(rt.engine.latch)
        engine.latch = latch
        engine.halt("disk full everywhere")
        assert engine.snapshot().trading_state == "HALTED"  # in memory all the same
        errors = [e.text for e in stream.drain() if isinstance(e, EngineNotice)]
        assert any("cannot write the halt latch" in t and "No space left" in t for t in errors)
        assert not latch_of(tmp_path).exists()
        latch.broken = False
        await engine.tick()  # the timer tries again
        assert json.loads(latch_of(tmp_path).read_text())["reason"] == "disk full everywhere"
        assert engine.latch_error is None


async def test_a_halt_before_the_engine_started_is_kept(still: FakeGateway, tmp_path: Path) -> None:
    """The journal can fail while the engine is still connecting: the halt must not be lost
    because the risk manager does not exist yet."""
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        rt.engine.halt("journal failed while connecting")
        assert rt.engine.snapshot().trading_state == "HALTED"
        await rt.engine.start()
        snap = rt.engine.snapshot()
        assert snap.trading_state == "HALTED"
        assert snap.trading_reason == "journal failed while connecting"
        assert not (await rt.engine.submit(PlaceOrder(Side.BUY, 1))).ok
        assert latch_of(tmp_path).exists()
    assert query(tmp_path, "SELECT state, reason FROM risk_events WHERE kind = 'transition'") == [
        ("HALTED", "journal failed while connecting")
    ]
