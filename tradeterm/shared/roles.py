"""The least-privilege role every instance connects as; the administrator owns the schema.

Two roles: the **owner** (the administrator's, e.g. ``tradeterm_admin``) owns the database and
the ``tradeterm`` schema and runs the migrations (``tradeterm shared migrate``); the **writer**
(``tradeterm_writer``), the only one an instance's host is given, may read the schema version,
register its instance and move its high-water mark, and add journal rows: no UPDATE or DELETE
of a row once shipped, no DDL, nothing outside the schema. :func:`writer_sql` is the SQL the
administrator runs (``tradeterm shared roles`` prints it); the tests run the same statements.
Append a migration's grants to :data:`GRANTS` with the migration.
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql

from tradeterm.shared.plane_schema import PLANE_GRANTS

WRITER = "tradeterm_writer"

GRANTS: tuple[LiteralString, ...] = (
    "GRANT USAGE ON SCHEMA tradeterm TO {role}",
    "GRANT SELECT ON tradeterm.schema_version TO {role}",
    "GRANT SELECT, INSERT ON tradeterm.instances TO {role}",
    "GRANT UPDATE (name, host, symbol, mode, last_seen, shipped_seq, shipped_ts_ns) "
    "ON tradeterm.instances TO {role}",
    "GRANT INSERT ON tradeterm.journal_rows TO {role}",
    *PLANE_GRANTS,
)
"""What the writer may do, on top of CONNECT to the database (schema version 1 onward)."""


def _statements(role: str, database: str) -> list[sql.Composed]:
    names = {"role": sql.Identifier(role), "database": sql.Identifier(database)}
    grants = ["GRANT CONNECT ON DATABASE {database} TO {role}", *GRANTS]
    return [sql.SQL(grant).format(**names) for grant in grants]


def writer_sql(role: str = WRITER, database: str = "tradeterm") -> str:
    """The SQL an administrator runs (as the owner, after ``tradeterm shared migrate``) to let
    ``role`` ship into ``database``; the role itself is created first with a password."""
    create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'choose-one'").format(sql.Identifier(role))
    lines = [create, *_statements(role, database)]
    return "\n".join(line.as_string(None) + ";" for line in lines)


async def grant_writer(conn: psycopg.AsyncConnection[Any], role: str = WRITER) -> None:
    """Grant ``role`` (which exists) the writer's privileges on this connection's database."""
    cur = await conn.execute("SELECT current_database()")
    row = await cur.fetchone()
    database = str(row[0]) if row else ""
    for statement in _statements(role, database):
        await conn.execute(statement)
