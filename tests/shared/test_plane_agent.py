"""An instance's control-plane agent (``tradeterm/control/plane.py``) on a real PostgreSQL
server: a kill whose run outlasts its first answer writes its end even when the link dropped
in between (on the link after registering again), never leaving "NOT CONFIRMED FLAT"."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from types import SimpleNamespace

import psycopg
import pytest

from tests.shared.test_plane_rows import STATUS
from tests.support.postgres import SharedDb
from tests.support.waiting import until
from tradeterm.config import SharedConfig
from tradeterm.control import plane
from tradeterm.control import plane_rows as rows
from tradeterm.control.plane import PlaneAgent
from tradeterm.control.protocol import Message
from tradeterm.shared.target import Target


class Instance:
    """A kill switch whose run goes on past its first answer, until ``ended`` is set."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()
        self.kills: list[str] = []

    def status(self) -> Message:
        return STATUS

    async def kill(self, reason: str, timeout_s: float, *, by: str) -> Message:
        self.kills.append(reason)
        return {"kill": {"finished": False, "flat": False}, "status": STATUS}

    async def kill_end(self) -> Message:
        await self.ended.wait()
        return {"kill": {"finished": True, "flat": True},
                "status": {**STATUS, "trading_state": "HALTED"}}  # fmt: skip


async def test_a_kill_ending_after_the_link_dropped_writes_its_end_on_the_next_link(
    shared_db: SharedDb,
) -> None:
    instance = Instance()
    me = rows.Presence("a", "h", "ES", "sim", os.getpid(), time.monotonic(), 0.3)
    agent = PlaneAgent(Target(shared_db.writer_url), me, instance, retry_min_s=0.05,
                       retry_max_s=0.2)  # fmt: skip
    agent.start()
    admin = await psycopg.AsyncConnection.connect(shared_db.admin_url, autocommit=True)
    try:
        await until(lambda: agent.up, "registered", 30)
        command, _ = await rows.issue_kill(admin, "test", 5.0, "tester")
        flat: list[bool] = []

        async def answered() -> list[bool]:
            cur = await admin.execute("SELECT flat FROM tradeterm.outcomes WHERE command_id = "
                                      "%s AND name = 'a'", (command,))  # fmt: skip
            return [bool(f) for (f,) in await cur.fetchall()]

        for _ in range(300):  # the first answer: not flat yet, the run goes on
            if flat := await answered():
                break
            await asyncio.sleep(0.05)
        assert flat == [False]
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                            "usename = 'tradeterm_writer'")  # the link drops  # fmt: skip
        instance.ended.set()  # the run ends meanwhile
        for _ in range(300):
            if (flat := await answered()) == [True]:
                break
            await asyncio.sleep(0.05)
        assert flat == [True]  # its end, written after registering again
    finally:
        await admin.close()
        await agent.close()


class _Behind(dt.datetime):
    """This host's wall clock, ten minutes behind the database server's."""

    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _Behind:
        return cls.fromtimestamp((dt.datetime.now(tz) - dt.timedelta(minutes=10)).timestamp(), tz)


async def test_a_host_clock_off_the_servers_runs_no_kill_written_before_it_started(
    shared_db: SharedDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plane, "dt", SimpleNamespace(datetime=_Behind, UTC=dt.UTC), raising=False)
    admin = await psycopg.AsyncConnection.connect(shared_db.admin_url, autocommit=True)
    await rows.issue_kill(admin, "written before it started", 5.0, "tester")
    instance = Instance()
    instance.ended.set()
    config = SharedConfig(url=shared_db.writer_url, heartbeat_s=0.3, retry_min_s=0.05,
                          retry_max_s=0.2)  # fmt: skip
    agent = PlaneAgent.configured(config, "a", "ES", "sim", instance)
    assert agent is not None
    agent.start()
    try:
        await until(lambda: agent.up, "registered", 30)
        await rows.issue_kill(admin, "written while it runs", 5.0, "tester")
        await until(lambda: "written while it runs" in instance.kills, "the kill run", 30)
        assert instance.kills == ["written while it runs"]  # never the one before its start
    finally:
        await admin.close()
        await agent.close()
