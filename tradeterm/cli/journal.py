"""``tradeterm journal export``, and what it shares with ``tradeterm report``: the journal
from the command line.

Both read one mode's journal of the market (``--mode``, default the configured mode:
``<journal dir>/<mode>/<SYMBOL>.sqlite``), or the file given with ``--journal``, through a
read-only connection: they never write, migrate or lock it, so they are safe while an
instance is trading. Which file was read is said on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import io
import json
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from tradeterm.cli.errors import UserError
from tradeterm.config import load_settings
from tradeterm.journal import report as rp
from tradeterm.journal.store import JournalError, open_readonly
from tradeterm.paths import legacy_journal_file

EXPORTS = ("fills", "orders", "events", "bars")
MODES = ("sim", "shadow", "paper", "live", "replay")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``journal export``'s arguments."""
    which_arguments(parser)
    parser.add_argument("--what", choices=EXPORTS, required=True)
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    range_arguments(parser)


def which_arguments(parser: argparse.ArgumentParser) -> None:
    """Which journal: the market, the mode, or a file."""
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    parser.add_argument("--mode", choices=MODES,
                        help="whose journal: the demo's, paper or live trading's, or the "
                        "replay trainer's "
                        "(default: the configured mode; --sim, --paper, --live say the same)")  # fmt: skip
    parser.add_argument("--journal", metavar="FILE", type=Path,
                        help="read this journal file instead (e.g. an older version's "
                        "<journal dir>/<SYMBOL>.sqlite, shared by every mode)")  # fmt: skip


def range_arguments(parser: argparse.ArgumentParser) -> None:
    """Which trading days."""
    parser.add_argument("--from", dest="date_from", type=_date, metavar="DATE",
                        help="first trading day, YYYY-MM-DD")  # fmt: skip
    parser.add_argument("--to", dest="date_to", type=_date, metavar="DATE",
                        help="last trading day, YYYY-MM-DD")  # fmt: skip


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


@contextlib.contextmanager
def reading(args: argparse.Namespace) -> Iterator[tuple[str, sqlite3.Connection]]:
    """The market's symbol and a read-only connection to the journal asked for (its path
    and mode said on stderr), closed after the block; an SQLite error reading it is a
    :class:`UserError`."""
    symbol, conn = _open(args)
    try:
        yield symbol, conn
    except sqlite3.Error as exc:
        raise UserError(f"cannot read the journal: {exc}") from None
    finally:
        conn.close()


def _open(args: argparse.Namespace) -> tuple[str, sqlite3.Connection]:
    """The market's symbol and a read-only connection to the journal asked for (its path
    and mode said on stderr)."""
    cli = {key: value for key in ("symbol", "mode") if (value := getattr(args, key, None))}
    settings = load_settings(getattr(args, "config", None), cli).settings
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise UserError(f"--from {args.date_from} is after --to {args.date_to}")
    path = args.journal or settings.journal_path()
    try:
        conn = open_readonly(path)
    except JournalError as exc:
        legacy = legacy_journal_file(settings.symbol, settings.journal.dir)
        hint = (
            f" (an earlier version's journal, shared by every mode, is {legacy}: "
            "read it with --journal)"
            if args.journal is None and legacy.exists()
            else ""
        )
        raise UserError(f"{exc}{hint}") from None
    whose = "" if args.journal else f", {settings.mode.upper()} mode"
    print(f"tradeterm: reading journal {path}{whose}", file=sys.stderr)
    return settings.symbol, conn


# ---- export ------------------------------------------------------------------------------------

_EXPORT_SQL = {
    "fills": (
        "SELECT f.exec_id, f.ts_ns, f.order_id, f.perm_id, i.local_symbol, f.side, f.quantity,"
        " f.price, f.price_ticks, c.amount AS commission, f.own, f.historical"
        " FROM fills f LEFT JOIN instruments i ON i.con_id = f.con_id"
        " LEFT JOIN commissions c ON c.exec_id = f.exec_id"
        " WHERE f.ts_ns BETWEEN ? AND ? ORDER BY f.ts_ns, f.rowid"
    ),
    "orders": (
        "SELECT order_id, created_ns AS ts_ns, session_id, command_id, role, side, quantity,"
        " order_type, limit_ticks, stop_ticks, tif, parent_id, oca_group, state, status,"
        " broker_id, perm_id, updated_ns, note FROM order_intents"
        " WHERE created_ns BETWEEN ? AND ? ORDER BY created_ns, order_id"
    ),
    "events": (
        "SELECT ts_ns, 'risk' AS source, kind, state AS level, rule AS code,"
        " reason AS text FROM risk_events WHERE ts_ns BETWEEN ?1 AND ?2"
        " UNION ALL SELECT ts_ns, 'system', kind, level, code, text FROM system_events"
        " WHERE ts_ns BETWEEN ?1 AND ?2"
        " UNION ALL SELECT ts_ns, 'kill', step, CASE WHEN ok THEN 'ok' ELSE '' END, position,"
        " detail FROM kill_events WHERE ts_ns BETWEEN ?1 AND ?2"
        " UNION ALL SELECT ts_ns, 'order', status, CASE WHEN own THEN 'own' ELSE 'foreign' END,"
        " order_id, reason FROM order_events WHERE ts_ns BETWEEN ?1 AND ?2"
        " ORDER BY ts_ns"
    ),
    "bars": (
        "SELECT b.start_ns AS ts_ns, i.local_symbol, i.tick, b.open_ticks, b.high_ticks,"
        " b.low_ticks, b.close_ticks, b.volume FROM bars b"
        " LEFT JOIN instruments i ON i.con_id = b.con_id"
        " WHERE b.start_ns BETWEEN ? AND ? ORDER BY b.start_ns"
    ),
}


def _bounds(date_from: dt.date | None, date_to: dt.date | None) -> tuple[int, int]:
    """Nanosecond bounds of trading days ``date_from``..``date_to`` (17:00 Chicago the day
    before to 17:00 Chicago on the last day)."""

    def open_of(day: dt.date) -> int:
        start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(17), rp.CHICAGO)
        return int(start.timestamp()) * rp.NS

    lo = open_of(date_from) if date_from else 0
    hi = open_of(date_to + dt.timedelta(days=1)) - 1 if date_to else (1 << 63) - 1
    return lo, hi


def export_rows(conn: sqlite3.Connection, what: str, date_from: dt.date | None = None,
                date_to: dt.date | None = None) -> tuple[list[str], list[dict[str, Any]]]:  # fmt: skip
    """The rows of one export, as field names and dictionaries (times also as ISO UTC)."""
    cur = conn.execute(_EXPORT_SQL[what], _bounds(date_from, date_to))
    names = [d[0] for d in cur.description]
    rows = []
    for values in cur:
        row = dict(zip(names, values, strict=True))
        row["time"] = dt.datetime.fromtimestamp(row["ts_ns"] / rp.NS, dt.UTC).isoformat()
        if what == "bars":
            tick = Decimal(row.pop("tick") or 0)
            for key in ("open", "high", "low", "close"):
                row[key] = str(Decimal(row.pop(f"{key}_ticks")) * tick)
        rows.append(row)
    fields = ["time", *[n for n in names if n != "tick" and not _is_bar_tick(what, n)]]
    if what == "bars":
        fields[-1:-1] = ["open", "high", "low", "close"]
    return fields, rows


def _is_bar_tick(what: str, name: str) -> bool:
    return what == "bars" and name.endswith("_ticks")


def cmd_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    with reading(args) as (_, conn):
        fields, rows = export_rows(conn, args.what, args.date_from, args.date_to)
    if args.format == "json":
        json.dump([{k: r.get(k) for k in fields} for r in rows], out, indent=1)
        out.write("\n")
    else:
        write_csv(out, fields, rows)
    return 0


def write_csv(out: TextIO, fields: Sequence[str], rows: Any) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), extrasaction="ignore",
                            lineterminator="\n")  # fmt: skip
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    out.write(buffer.getvalue())
