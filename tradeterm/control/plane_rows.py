"""The shared control plane's rows (schema in ``tradeterm/shared/plane_schema.py``), read and
written here only: the instance's side (:mod:`tradeterm.control.plane`) and the commands'
(``tradeterm status --shared``, ``tradeterm kill --all --shared``).

* ``heartbeats``: one row per instance name (``host/SYMBOL/mode``, ``shared.instance``), its
  status as ``tradeterm status`` says it (JSON, :func:`tradeterm.control.protocol.status_of`),
  when it started and last beat (the database server's clock: one clock for every host, a
  start being the server's now() less the run's monotonic uptime), how often it
  beats, and the last kill command it handled. ``stopped_at`` is set when it stops cleanly.
* ``commands``: a durable kill command: its reason, timeout, who wrote it, and the instances
  it was meant for (those registered and not stopped when it was written). Writing one
  notifies :data:`COMMANDS` with its id.
* ``outcomes``: an instance's answer to a command (the control socket's answer to a kill
  request, the same JSON ``tradeterm kill`` reads); writing one notifies :data:`OUTCOMES`.

Which commands an instance runs (:data:`BEAT`): every one newer than the last it handled,
except those written while it was not running: a new row, or one whose last run stopped
cleanly, starts from the newest command written before this run began. An instance that was
running but away from the database (its link down, or it died without saying) runs, when it
is back, every command written meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, LiteralString

import psycopg
from psycopg.types.json import Jsonb

from tradeterm.control.protocol import Message

COMMANDS = "tradeterm_commands"  # NOTIFY channel: a kill command was written (payload: id)
OUTCOMES = "tradeterm_outcomes"  # NOTIFY channel: an outcome was written (payload: command id)
STALE_BEATS = 3  # a heartbeat older than this many of its intervals is stale

Conn = psycopg.AsyncConnection[Any]

BEAT: LiteralString = """
INSERT INTO tradeterm.heartbeats AS h
    (name, host, symbol, mode, pid, started_at, beat_at, beat_s, status, handled_command)
VALUES (%(name)s, %(host)s, %(symbol)s, %(mode)s, %(pid)s,
        now() - make_interval(secs => %(up_s)s), now(), %(beat_s)s, %(status)s,
        (SELECT coalesce(max(id), 0) FROM tradeterm.commands
         WHERE issued_at < now() - make_interval(secs => %(up_s)s)))
ON CONFLICT (name) DO UPDATE SET
    host = EXCLUDED.host, symbol = EXCLUDED.symbol, mode = EXCLUDED.mode, pid = EXCLUDED.pid,
    started_at = EXCLUDED.started_at, beat_at = now(), beat_s = EXCLUDED.beat_s,
    status = EXCLUDED.status, stopped_at = NULL,
    handled_command = CASE WHEN h.stopped_at IS NOT NULL
                           THEN greatest(h.handled_command, EXCLUDED.handled_command)
                           ELSE h.handled_command END
RETURNING handled_command
"""


@dataclass(frozen=True, slots=True)
class Presence:
    """Who beats: this instance's name and where it runs."""

    name: str
    host: str
    symbol: str
    mode: str
    pid: int
    started: float  # this run's start, time.monotonic(): on the server's clock, now() - uptime
    beat_s: float


@dataclass(frozen=True, slots=True)
class Command:
    id: int
    reason: str
    timeout_s: float
    issued_by: str


async def beat(conn: Conn, me: Presence, status: Message) -> int:
    """Register or beat (one statement: see the module notes); the last command handled."""
    cur = await conn.execute(BEAT, {
        "name": me.name, "host": me.host, "symbol": me.symbol, "mode": me.mode, "pid": me.pid,
        "up_s": max(0.0, time.monotonic() - me.started), "beat_s": me.beat_s,
        "status": Jsonb(status),
    })  # fmt: skip
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def pending(conn: Conn, name: str) -> list[Command]:
    """The commands newer than the last ``name`` handled, oldest first."""
    cur = await conn.execute(
        "SELECT c.id, c.reason, c.timeout_s, c.issued_by FROM tradeterm.commands c "
        "JOIN tradeterm.heartbeats h ON h.name = %s WHERE c.id > h.handled_command "
        "ORDER BY c.id",
        (name,),
    )
    return [Command(int(i), str(r), float(t), str(b)) for i, r, t, b in await cur.fetchall()]


async def answer(conn: Conn, command_id: int, name: str, reply: Message, *, flat: bool) -> None:
    """Write ``name``'s answer to a command (again: the newer one replaces it), mark the
    command handled and notify :data:`OUTCOMES`, in one transaction."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO tradeterm.outcomes (command_id, name, answered_at, flat, answer) "
            "VALUES (%s, %s, now(), %s, %s) ON CONFLICT (command_id, name) DO UPDATE SET "
            "answered_at = now(), flat = EXCLUDED.flat, answer = EXCLUDED.answer",
            (command_id, name, flat, Jsonb(reply)),
        )
        await conn.execute(
            "UPDATE tradeterm.heartbeats SET handled_command = greatest(handled_command, %s) "
            "WHERE name = %s",
            (command_id, name),
        )
        await conn.execute("SELECT pg_notify(%s, %s)", (OUTCOMES, str(command_id)))


async def stopped(conn: Conn, name: str, status: Message) -> None:
    """``name`` stopped cleanly: it is no longer among the live instances."""
    await conn.execute(
        "UPDATE tradeterm.heartbeats SET stopped_at = now(), beat_at = now(), status = %s "
        "WHERE name = %s",
        (Jsonb(status), name),
    )


async def issue_kill(conn: Conn, reason: str, timeout_s: float, issued_by: str
                     ) -> tuple[int, list[str]]:  # fmt: skip
    """Write a kill command for every live instance and notify :data:`COMMANDS`; its id and
    the instances it is meant for."""
    async with conn.transaction():
        cur = await conn.execute(
            "INSERT INTO tradeterm.commands (kind, reason, timeout_s, issued_by, targets) "
            "VALUES ('kill', %s, %s, %s, ARRAY(SELECT name FROM tradeterm.heartbeats "
            "WHERE stopped_at IS NULL ORDER BY name)) RETURNING id, targets",
            (reason, timeout_s, issued_by),
        )
        row = await cur.fetchone()
        assert row is not None
        await conn.execute("SELECT pg_notify(%s, %s)", (COMMANDS, str(row[0])))
    return int(row[0]), list(row[1])


async def outcomes(conn: Conn, command_id: int) -> dict[str, Message]:
    """The answers to a command so far, by instance."""
    cur = await conn.execute(
        "SELECT name, answer FROM tradeterm.outcomes WHERE command_id = %s", (command_id,)
    )
    return {str(name): reply for name, reply in await cur.fetchall()}


@dataclass(frozen=True, slots=True)
class Registered:
    """An instance as the shared database knows it."""

    name: str
    host: str
    status: Message
    beat_age_s: float  # since its last heartbeat, by the database server's clock
    stale: bool  # no heartbeat for STALE_BEATS of its intervals (and not stopped)
    stopped: bool  # it stopped cleanly


async def registered(conn: Conn) -> list[Registered]:
    """Every instance the shared database knows, by name."""
    cur = await conn.execute(
        "SELECT name, host, status, extract(epoch FROM now() - beat_at)::float8, beat_s, "
        "stopped_at IS NOT NULL FROM tradeterm.heartbeats ORDER BY name"
    )
    return [
        Registered(str(n), str(h), s, float(age), not done and age > STALE_BEATS * beat_s, done)
        for n, h, s, age, beat_s, done in await cur.fetchall()
    ]
