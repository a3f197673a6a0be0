"""``tradeterm shared migrate``: bring the shared database's schema to this tradeterm's version
(run by its owner: the URL in ``[shared] url`` / ``TRADETERM_SHARED__URL`` or ``--url``).
``tradeterm shared roles``: print the SQL that creates the writer role every instance uses and
the reader role for ``report --shared``."""

from __future__ import annotations

import argparse
import asyncio

import psycopg

from tradeterm import logs
from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, UserError
from tradeterm.cli.options import load
from tradeterm.shared.migrations import SchemaMismatch, migrate
from tradeterm.shared.roles import READ_GRANTS, READER, WRITER, role_sql
from tradeterm.shared.target import SharedError, Target


def add_migrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="the owner's postgresql:// URL (default: [shared] url)")


def add_roles_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", default=WRITER, help=f"the writer role's name ({WRITER})")
    parser.add_argument("--reader", default=READER, help=f"the reader role's name ({READER})")
    parser.add_argument("--database", default="tradeterm", help="the database (tradeterm)")


def cmd_migrate(args: argparse.Namespace) -> int:
    config = load(args).settings.shared
    target = Target(args.url) if args.url else Target.of(config)
    if target is None:
        raise UserError("no shared database: set [shared] url or TRADETERM_SHARED__URL, or --url")
    target.hide()
    try:
        version = asyncio.run(_migrate(target))
    except (psycopg.Error, OSError, SharedError, SchemaMismatch) as exc:
        print(f"cannot migrate {target.shown}: {logs.redact(' '.join(str(exc).split()))}")
        return EXIT_ERROR
    print(f"{target.shown}: schema version {version}")
    return EXIT_OK


async def _migrate(target: Target) -> int:
    async with await target.connect() as conn:
        return await migrate(conn)


def cmd_roles(args: argparse.Namespace) -> int:
    print("-- the writer: every instance connects as it")
    print(role_sql(args.role, args.database))
    print("-- the reader: report --shared and status --shared (reads, never writes)")
    print(role_sql(args.reader, args.database, READ_GRANTS))
    return EXIT_OK
