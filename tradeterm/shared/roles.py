"""The least-privilege roles: the writer every instance connects as, the reader reports use;
the administrator owns the schema.

Three roles: the **owner** (the administrator's, e.g. ``tradeterm_admin``) owns the database
and the ``tradeterm`` schema and runs the migrations (``tradeterm shared migrate``); the
**writer** (``tradeterm_writer``), the only one an instance's host is given, may read the
schema version, register its instance and move its high-water mark, and add journal rows: no
UPDATE or DELETE of a row once shipped, no DDL, nothing outside the schema; the **reader**
(``tradeterm_reader``), for ``report --shared`` and ``status --shared`` on a desk's reporting
host, may read every table and change none. :func:`role_sql` is the SQL the administrator runs
(``tradeterm shared roles`` prints both); the tests run the same statements. Append a
migration's grants to :data:`GRANTS` and :data:`READ_GRANTS` with the migration.
"""

from __future__ import annotations

from typing import Any, LiteralString

import psycopg
from psycopg import sql

from tradeterm.shared.plane_schema import PLANE_GRANTS

WRITER = "tradeterm_writer"
READER = "tradeterm_reader"

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

READ_GRANTS: tuple[LiteralString, ...] = (
    "GRANT USAGE ON SCHEMA tradeterm TO {role}",
    "GRANT SELECT ON tradeterm.schema_version, tradeterm.instances, tradeterm.journal_rows, "
    "tradeterm.fills, tradeterm.heartbeats, tradeterm.commands, tradeterm.outcomes TO {role}",
)
"""What the reader may do, on top of CONNECT: read, never write."""


def _statements(role: str, database: str, grants: tuple[LiteralString, ...]) -> list[sql.Composed]:
    names = {"role": sql.Identifier(role), "database": sql.Identifier(database)}
    return [sql.SQL(g).format(**names) for g in ("GRANT CONNECT ON DATABASE {database} TO {role}",
                                                 *grants)]  # fmt: skip


def role_sql(role: str = WRITER, database: str = "tradeterm", grants: tuple[LiteralString, ...]
             = GRANTS) -> str:  # fmt: skip
    """The SQL an administrator runs (as the owner, after ``tradeterm shared migrate``) to
    create ``role`` with ``grants`` (the writer's; :data:`READ_GRANTS` for a reader) in
    ``database``; the password is chosen before it runs."""
    create = sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'choose-one'").format(sql.Identifier(role))
    lines = [create, *_statements(role, database, grants)]
    return "\n".join(line.as_string(None) + ";" for line in lines)


async def grant(
    conn: psycopg.AsyncConnection[Any], role: str = WRITER, grants: tuple[LiteralString, ...]
    = GRANTS,
) -> None:  # fmt: skip
    """Grant ``role`` (which exists) ``grants`` on this connection's database."""
    cur = await conn.execute("SELECT current_database()")
    row = await cur.fetchone()
    database = str(row[0]) if row else ""
    for statement in _statements(role, database, grants):
        await conn.execute(statement)
