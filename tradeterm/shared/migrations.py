"""The shared database's schema and its migration runner.

Everything lives in the schema ``tradeterm``. ``tradeterm.schema_version`` holds one row per
migration applied (version, when, what). ``MIGRATIONS[i]`` takes the database from version
``i`` to ``i + 1``; :func:`migrate` applies the missing ones in order, each in one transaction
with its version row, under a transaction-scoped advisory lock so that two hosts (or an
administrator and an instance) migrating at once apply each migration once. Append only; never
edit one that has shipped. Run by the database's owner (the administrator, ``roles.py``); an
instance connects as the writer role and only checks the version (:func:`check_version`).

Conventions as in the SQLite journal: times are UTC nanoseconds (``*_ns``); a journal row
keeps its SQLite columns as JSON (``data``), money as exact decimal text.
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg

from tradeterm.shared.plane_schema import PLANE

SCHEMA = "tradeterm"
_LOCK_KEY = 0x54545348  # "TTSH": the advisory lock migrations take

_VERSION_TABLE: LiteralString = """
CREATE SCHEMA IF NOT EXISTS tradeterm;
CREATE TABLE IF NOT EXISTS tradeterm.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    description text NOT NULL
);
"""

_V1: LiteralString = """
CREATE TABLE tradeterm.instances (
    instance_id uuid PRIMARY KEY,
    name text NOT NULL,
    host text NOT NULL,
    symbol text NOT NULL,
    mode text NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now(),
    shipped_seq bigint NOT NULL DEFAULT 0,
    shipped_ts_ns bigint
);
CREATE TABLE tradeterm.journal_rows (
    instance_id uuid NOT NULL REFERENCES tradeterm.instances,
    session_id bigint NOT NULL,
    seq bigint NOT NULL,
    kind text NOT NULL,
    ts_ns bigint NOT NULL,
    data jsonb NOT NULL,
    shipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (instance_id, session_id, seq)
);
CREATE INDEX journal_rows_kind_ts ON tradeterm.journal_rows (kind, ts_ns);
CREATE VIEW tradeterm.fills AS
SELECT r.instance_id, i.name AS instance, i.host, i.symbol, i.mode, r.session_id, r.seq,
       r.ts_ns, r.data->>'exec_id' AS exec_id, r.data->>'order_id' AS order_id,
       r.data->>'side' AS side, (r.data->>'quantity')::integer AS quantity,
       (r.data->>'price_ticks')::bigint AS price_ticks, (r.data->>'price')::numeric AS price,
       (r.data->>'own')::integer = 1 AS own
FROM tradeterm.journal_rows r JOIN tradeterm.instances i USING (instance_id)
WHERE r.kind = 'fills';
"""
"""Instances (one per SQLite journal: ``instance_id`` is the journal's own id) and the rows
they shipped, keyed by instance, session and sequence (the journal's ``ship_log.seq``, which
never goes back). ``instances.shipped_seq`` is the high-water mark, written in the same
transaction as the rows: an instance reads it back on connect and ships from there."""

MIGRATIONS: tuple[tuple[str, LiteralString], ...] = (
    ("instances and their shipped journal rows", _V1),
    ("the control plane: heartbeats, kill commands and their outcomes", PLANE),
)
"""``(description, SQL)``; ``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaMismatch(Exception):
    """The shared database is at another schema version than this tradeterm's; worded."""


async def schema_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """The database's version: 0 when no migration ever ran."""
    cur = await conn.execute("SELECT to_regclass('tradeterm.schema_version') IS NOT NULL")
    row = await cur.fetchone()
    if not (row and row[0]):
        return 0
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM tradeterm.schema_version")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def migrate(conn: psycopg.AsyncConnection[Any]) -> int:
    """Apply the missing migrations (as the schema's owner); return the version reached.
    Refuses (:class:`SchemaMismatch`) a database a newer tradeterm migrated."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        await conn.execute(_VERSION_TABLE)
    version = await schema_version(conn)
    _refuse_newer(version)
    for number, (description, sql) in enumerate(MIGRATIONS[version:], version + 1):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            if await schema_version(conn) >= number:  # another host applied it meanwhile
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO tradeterm.schema_version (version, description) VALUES (%s, %s)",
                (number, description),
            )
    return await schema_version(conn)


async def check_version(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raise :class:`SchemaMismatch` unless the database is at this tradeterm's version."""
    version = await schema_version(conn)
    _refuse_newer(version)
    if version < SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the shared database is at schema version {version}, this tradeterm needs "
            f"{SCHEMA_VERSION}: its administrator runs `tradeterm shared migrate`"
        )


def _refuse_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaMismatch(
            f"the shared database is at schema version {version}, newer than this "
            f"tradeterm's {SCHEMA_VERSION}: upgrade tradeterm"
        )
