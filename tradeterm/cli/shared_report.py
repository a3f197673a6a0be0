"""``tradeterm report --shared [--from] [--to]``: performance across every instance, from the
journal rows shipped to the shared database (``tradeterm/shared/shipper.py``): per instance,
per market, per strategy, and in total.

The rules are the journal's own report's (``tradeterm/journal/report.py``, the same code):
trades are round trips matched first-in first-out over each journal's fills (one shipped
journal, one ``instance_id``: never across instances), afresh in each market (a new embedded
gateway's), the open position counted from the last position basis (IB's adopted, a new
market's zero), a trade belongs to its opening fill's source and to its closing fill's
trading day, money is exact. One report is of one mode (a fill's, its session's): live and
simulated money are never added up; ``--mode`` chooses when the database holds several, and
``SYMBOL`` keeps one market. A fill's tick comes from its own row (its
price over its price in ticks); the contract's multiplier from the built-in table of its
market's root (the shipped rows do not carry IB's contract details): a market not in that
table is named and left out, never valued at a guess.

Reading the shipped rows needs a role that may read them: the reader role (``tradeterm shared
roles``, ``tradeterm/shared/roles.py``) or the owner's; the writer role every instance ships
with may only add rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import defaultdict
from decimal import Decimal
from typing import Any, LiteralString, TextIO

from tradeterm.cli import report
from tradeterm.cli.errors import UserError
from tradeterm.cli.report import _aligned, _cells
from tradeterm.cli.shared_plane import reach, target
from tradeterm.control import plane_rows as rows
from tradeterm.domain.errors import UnknownInstrumentError
from tradeterm.domain.instruments import spec_for
from tradeterm.journal import report as rp

FILLS: LiteralString = """
WITH oi AS (
    SELECT DISTINCT ON (instance_id, data->>'order_id') instance_id, data->>'order_id' AS id,
           data->>'source' AS source, data->>'command_id' AS command_id,
           data->>'session_id' AS session_id
    FROM tradeterm.journal_rows WHERE kind = 'order_intents'
    ORDER BY instance_id, data->>'order_id', seq DESC),
sg AS (
    SELECT DISTINCT ON (instance_id, data->>'command_id', data->>'session_id') instance_id,
           data->>'command_id' AS command_id, data->>'session_id' AS session_id,
           data->>'source' AS source
    FROM tradeterm.journal_rows WHERE kind = 'signals'
    ORDER BY instance_id, data->>'command_id', data->>'session_id', (data->>'id')::bigint DESC),
c AS (
    SELECT DISTINCT ON (instance_id, data->>'exec_id') instance_id,
           data->>'exec_id' AS exec_id, data->>'amount' AS amount
    FROM tradeterm.journal_rows WHERE kind = 'commissions'
    ORDER BY instance_id, data->>'exec_id', seq DESC),
s AS (
    SELECT DISTINCT ON (instance_id, data->>'id') instance_id, (data->>'id')::bigint AS id,
           data->>'mode' AS mode
    FROM tradeterm.journal_rows WHERE kind = 'sessions'
    ORDER BY instance_id, data->>'id', seq DESC)
SELECT f.instance_id, i.name, i.symbol, f.ts_ns, f.data->>'exec_id', f.data->>'side',
       (f.data->>'quantity')::integer, (f.data->>'price_ticks')::bigint, f.data->>'price',
       c.amount,
       CASE WHEN oi.id IS NULL THEN 'external' ELSE coalesce(oi.source, sg.source, 'manual') END,
       coalesce((f.data->>'booked_ns')::bigint, 0), coalesce(s.mode, i.mode)
FROM tradeterm.journal_rows f
JOIN tradeterm.instances i USING (instance_id)
LEFT JOIN s ON s.instance_id = f.instance_id AND s.id = f.session_id
LEFT JOIN c ON c.instance_id = f.instance_id AND c.exec_id = f.data->>'exec_id'
LEFT JOIN oi ON oi.instance_id = f.instance_id AND oi.id = f.data->>'order_id'
LEFT JOIN sg ON sg.instance_id = f.instance_id AND sg.command_id = oi.command_id
            AND sg.session_id IS NOT DISTINCT FROM oi.session_id
WHERE f.kind = 'fills'
ORDER BY f.instance_id, f.ts_ns, f.seq
"""

BASES: LiteralString = """
SELECT instance_id, (data->>'ts_ns')::bigint, (data->>'quantity')::integer, data->>'cause'
FROM tradeterm.journal_rows
WHERE kind = 'position_snapshots' AND data->>'cause' = ANY(%s)
ORDER BY instance_id, (data->>'ts_ns')::bigint, (data->>'id')::bigint
"""
"""Each journal's position bases (``journal.report.position_bases``), oldest first."""

GROUPS = ("instance", "market", "strategy")


class Shared:
    """The figures per instance, market and strategy (each a ``Stats``), and in total."""

    def __init__(self) -> None:
        self.by: dict[str, dict[str, rp.Stats]] = {g: defaultdict(rp.Stats) for g in GROUPS}
        self.total = rp.Stats()
        self.unvalued: dict[str, str] = {}  # instance: why its fills are left out
        self.open: dict[str, int] = {}  # instance: its position still open


Bases = dict[object, list[tuple[int, int, str]]]


def build(fills: list[tuple[Any, ...]], bases: Bases, start: dt.date | None,
          end: dt.date | None) -> Shared:  # fmt: skip
    """The report of trading days ``start``..``end`` from :data:`FILLS`' rows (of one mode)
    and :data:`BASES`'."""
    shared = Shared()
    journals: dict[object, list[tuple[Any, ...]]] = defaultdict(list)
    for row in fills:
        journals[row[0]].append(row)
    for instance, found in journals.items():
        name, symbol = str(found[0][1]), str(found[0][2])
        try:
            multiplier = spec_for(symbol).multiplier
        except UnknownInstrumentError:
            shared.unvalued[name] = f"{symbol}'s multiplier is not in the built-in table"
            continue
        journal = [_fill(r, multiplier) for r in found]
        position = rp.open_position(journal, bases.get(instance, []))
        if position:
            shared.open[name] = shared.open.get(name, 0) + position
        for trade in rp.trades_of(journal, bases.get(instance, [])):
            if (start is None or trade.day >= start) and (end is None or trade.day <= end):
                for group, key in zip(GROUPS, (name, symbol, trade.source), strict=True):
                    shared.by[group][key].add(trade)
                shared.total.add(trade)
    return shared


def _fill(row: tuple[Any, ...], multiplier: Decimal) -> rp.FillRow:
    _, _, _, ts, exec_id, side, qty, ticks, price, commission, source, booked, _mode = row
    tick = Decimal(price) / ticks if ticks else Decimal(0)
    return rp.FillRow(str(exec_id), int(ts), str(side), int(qty), int(ticks), tick * multiplier,
                      Decimal(commission) if commission else Decimal(0), str(source),
                      int(booked))  # fmt: skip


async def _read(conn: rows.Conn) -> tuple[list[tuple[Any, ...]], Bases]:
    fills = await (await conn.execute(FILLS)).fetchall()
    bases: Bases = defaultdict(list)
    for instance, ts, quantity, cause in await (
        await conn.execute(BASES, (list(rp.POSITION_BASES),))
    ).fetchall():
        bases[instance].append((int(ts), int(quantity), str(cause)))
    return fills, bases


def one_mode(fills: list[tuple[Any, ...]], mode: str | None, symbol: str | None
             ) -> tuple[str | None, list[tuple[Any, ...]]]:  # fmt: skip
    """The fills of ``symbol``'s market (every one's: None) and of ``mode``, or of the one mode
    the rows hold; a :class:`UserError` when they hold several and none was chosen."""
    if symbol is not None:
        fills = [r for r in fills if str(r[2]).upper() == symbol.upper()]
    modes = sorted({str(r[-1]) for r in fills})
    if mode is None and len(modes) > 1:
        raise UserError(f"the shared database holds fills of modes {', '.join(modes)}: give "
                        "--mode (one mode per report: never live and simulated money added up)")  # fmt: skip
    chosen = mode if mode is not None else (modes[0] if modes else None)
    return chosen, [r for r in fills if str(r[-1]) == chosen]


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """``tradeterm report``'s arguments, and ``--shared``."""
    report.add_arguments(parser)
    parser.add_argument("--shared", action="store_true",
                        help="every instance on every host, from the shared database ([shared] "
                        "url): per instance, market and strategy, and in total")  # fmt: skip


def cmd_report(args: argparse.Namespace, out: TextIO | None = None) -> int:
    return command(args, out or sys.stdout) if args.shared else report.cmd_report(args, out)


def command(args: argparse.Namespace, out: TextIO) -> int:
    if args.compare or args.journal or args.format == "csv":
        flag = "--compare" if args.compare else "--journal" if args.journal else "--format csv"
        raise UserError(f"report --shared reads the shared database, as a table or JSON: "
                        f"{flag} is for one journal (report without --shared)")  # fmt: skip
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise UserError(f"--from {args.date_from} is after --to {args.date_to}")
    fills, bases = reach(target(args), _read)
    mode, fills = one_mode(fills, args.mode, args.symbol)
    shared = build(fills, bases, args.date_from, args.date_to)
    span = f"{args.date_from or 'start'} to {args.date_to or 'now'}"
    if args.format == "json":
        json.dump({
            "mode": mode, "symbol": args.symbol.upper() if args.symbol else None,
            "from": args.date_from.isoformat() if args.date_from else None,
            "to": args.date_to.isoformat() if args.date_to else None,
            **{f"by_{g}": {k: s.as_dict() for k, s in sorted(shared.by[g].items())}
               for g in GROUPS},
            "total": shared.total.as_dict(), "open_positions": shared.open,
            "not_valued": shared.unvalued,
        }, out, indent=2)  # fmt: skip
        out.write("\n")
        return 0
    market = f" {args.symbol.upper()}" if args.symbol else ""
    lines = [f"every{market} instance in the shared database, mode {mode or '-'}, "
             f"trading days {span}"]  # fmt: skip
    if not shared.total.trades:
        lines.append("no closed trades in this range")
    else:
        header = ("group", "name", "trades", "win%", "gross", "comm", "net", "PF", "maxDD",
                  "sharpe")  # fmt: skip
        table: list[tuple[str, ...]] = [header]
        for group in GROUPS:
            table += [
                _cells(group, key, st.as_dict()) for key, st in sorted(shared.by[group].items())
            ]
        table.append(_cells("total", "all", shared.total.as_dict()))
        lines += _aligned(table, left=2)
    lines += [f"{name}: open position {qty} (not counted until closed)"
              for name, qty in sorted(shared.open.items())]  # fmt: skip
    lines += [f"{name}: left out: {why}" for name, why in sorted(shared.unvalued.items())]
    out.write("\n".join(lines) + "\n")
    return 0
