"""The control plane's rows on a real PostgreSQL server, as the writer role every instance
connects as: which kill commands an instance runs (those written while it ran, even away from
the database; never those written while it was not running), and ``status --shared``
marking a stale heartbeat instead of hiding it. Times are the database server's, moved by
the test (no real date is asserted)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator

import psycopg
import pytest

from tests.support.postgres import SharedDb
from tradeterm.cli.main import main
from tradeterm.control import plane_rows as rows


@pytest.fixture
async def conn(shared_db: SharedDb) -> AsyncIterator[rows.Conn]:
    async with await psycopg.AsyncConnection.connect(shared_db.writer_url, autocommit=True) as c:
        yield c


def presence(name: str) -> rows.Presence:
    """``name``, its run started now (a monotonic reading: its start is the server's now())."""
    return rows.Presence(name, name.split("/")[0], "ES", "sim", 4242, time.monotonic(), 1.0)


async def issued_at(conn: rows.Conn, command_id: int) -> dt.datetime:
    cur = await conn.execute("SELECT issued_at FROM tradeterm.commands WHERE id = %s",
                             (command_id,))  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    return row[0]


STATUS = {"market": "ES", "mode": "sim", "connected": True, "trading_state": "ACTIVE",
          "position": 1, "working_orders": 0, "pnl_today": "12.50",
          "shipping": {"rows_behind": 3, "seconds_behind": 1.5, "connected": True,
                       "problem": None}}  # fmt: skip


async def test_commands_written_while_it_ran_are_run_those_before_it_started_are_not(
    conn: rows.Conn,
) -> None:
    me = presence("desk1/ES/sim")
    assert await rows.beat(conn, me, STATUS) == 0
    first, targets = await rows.issue_kill(conn, "desk stop", 5.0, "ops@desk")
    assert targets == ["desk1/ES/sim"]
    assert [c.id for c in await rows.pending(conn, me.name)] == [first]
    await rows.answer(conn, first, me.name, {"ok": True}, flat=True)
    assert await rows.pending(conn, me.name) == []

    # it died without saying (no clean stop); a command is written while it is away; its
    # next run (a later start) still runs it: it was away, not stopped
    second, _ = await rows.issue_kill(conn, "again", 5.0, "ops@desk")
    assert await rows.beat(conn, presence(me.name), STATUS) == first
    assert [c.id for c in await rows.pending(conn, me.name)] == [second]

    # it stops cleanly; a command is written; a run started after it does not run it
    await rows.stopped(conn, me.name, STATUS)
    third, targets = await rows.issue_kill(conn, "while stopped", 5.0, "ops@desk")
    assert targets == []  # meant for the live instances only
    assert await rows.beat(conn, presence(me.name), STATUS) == third
    assert await rows.pending(conn, me.name) == []


def test_status_shared_marks_a_stale_heartbeat_and_fails(
    shared_db: SharedDb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def beats() -> None:
        async with await psycopg.AsyncConnection.connect(shared_db.writer_url,
                                                         autocommit=True) as conn:  # fmt: skip
            for name in ("desk1/ES/sim", "desk2/NQ/sim"):
                await rows.beat(conn, presence(name), {**STATUS, "market": name[6:8]})

    asyncio.run(beats())
    monkeypatch.setenv("TRADETERM_SHARED__URL", shared_db.writer_url)
    assert main(["status", "--shared"]) == 0
    assert "STALE" not in capsys.readouterr().out

    # NQ's last heartbeat 42 s ago: three of its 1 s intervals missed
    shared_db.query("UPDATE tradeterm.heartbeats SET beat_at = now() - interval '42 s' "
                    "WHERE name = 'desk2/NQ/sim' RETURNING 1")  # fmt: skip
    assert main(["status", "--shared"]) == 1
    lines = capsys.readouterr().out.splitlines()
    (nq,) = [line for line in lines if line.startswith("desk2/NQ/sim")]
    (es,) = [line for line in lines if line.startswith("desk1/ES/sim")]
    assert nq.endswith("STALE 42s ago") and "STALE" not in es
    assert nq.split()[1:10] == [
        "desk2",
        "NQ",
        "SIM",
        "connected",
        "ACTIVE",
        "+1",
        "0",
        "12.50",
        "1.5s",
    ]  # its journal's shipping lag


def test_a_stopped_instance_shows_no_connection_or_shipping_as_if_current() -> None:
    """A trial's STOPPED instance read `shared database down (0 rows, 0.0s behind): not
    connected` beside a database that was up: its shipping as it stood when it stopped. Its
    latched trading state is still said."""
    from tradeterm.cli.shared_plane import table

    last = {**STATUS, "connected": False, "connection": "DISCONNECTED",
            "connection_reason": "the screen quit", "trading_state": "HALTED",
            "trading_reason": "kill switch (trial)",
            "shipping": {"rows_behind": 0, "seconds_behind": 0.0, "connected": False,
                         "problem": None}}  # fmt: skip
    stopped = rows.Registered("desk1/ES/sim", "desk1", last, 5.7, stale=False, stopped=True)
    lines = table([stopped])
    assert any(line.endswith("STOPPED 5.7s ago") for line in lines), lines
    notes = [line.strip() for line in lines if line.startswith("    ")]
    assert notes == ["HALTED: kill switch (trial)"]
    running = rows.Registered("desk1/ES/sim", "desk1", last, 0.5, stale=False, stopped=False)
    said = "\n".join(table([running]))
    assert "shared database down" in said and "connection DISCONNECTED" in said
