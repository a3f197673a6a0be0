"""``tradeterm report --shared [--from] [--to]``: performance across every instance, from the
journal rows shipped to the shared database (``tradeterm/shared/shipper.py``): per instance,
per market, per strategy, and in total.

The rules are the journal's own report's (``tradeterm/journal/report.py``): trades are round
trips matched first-in first-out over each journal's fills (one shipped journal, one
``instance_id``: never across instances), a trade belongs to its opening fill's source and to
its closing fill's trading day, money is exact. A fill's tick comes from its own row (its
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
    ORDER BY instance_id, data->>'exec_id', seq DESC)
SELECT f.instance_id, i.name, i.symbol, f.ts_ns, f.data->>'exec_id', f.data->>'side',
       (f.data->>'quantity')::integer, (f.data->>'price_ticks')::bigint, f.data->>'price',
       c.amount,
       CASE WHEN oi.id IS NULL THEN 'external' ELSE coalesce(oi.source, sg.source, 'manual') END
FROM tradeterm.journal_rows f
JOIN tradeterm.instances i USING (instance_id)
LEFT JOIN c ON c.instance_id = f.instance_id AND c.exec_id = f.data->>'exec_id'
LEFT JOIN oi ON oi.instance_id = f.instance_id AND oi.id = f.data->>'order_id'
LEFT JOIN sg ON sg.instance_id = f.instance_id AND sg.command_id = oi.command_id
            AND sg.session_id IS NOT DISTINCT FROM oi.session_id
WHERE f.kind = 'fills'
ORDER BY f.instance_id, f.ts_ns, f.seq
"""

GROUPS = ("instance", "market", "strategy")


class Shared:
    """The figures per instance, market and strategy (each a ``Stats``), and in total."""

    def __init__(self) -> None:
        self.by: dict[str, dict[str, rp.Stats]] = {g: defaultdict(rp.Stats) for g in GROUPS}
        self.total = rp.Stats()
        self.unvalued: dict[str, str] = {}  # instance: why its fills are left out
        self.open: dict[str, int] = {}  # instance: its position still open


def build(fills: list[tuple[Any, ...]], start: dt.date | None, end: dt.date | None) -> Shared:
    """The report of trading days ``start``..``end`` from :data:`FILLS`' rows."""
    shared = Shared()
    journals: dict[object, list[tuple[Any, ...]]] = defaultdict(list)
    for row in fills:
        journals[row[0]].append(row)
    for found in journals.values():
        name, symbol = str(found[0][1]), str(found[0][2])
        try:
            multiplier = spec_for(symbol).multiplier
        except UnknownInstrumentError:
            shared.unvalued[name] = f"{symbol}'s multiplier is not in the built-in table"
            continue
        trades, still_open = rp.match_trades(_fill(r, multiplier) for r in found)
        position = sum(f.quantity if f.side == "BUY" else -f.quantity for f in still_open)
        if position:
            shared.open[name] = shared.open.get(name, 0) + position
        for trade in trades:
            if (start is None or trade.day >= start) and (end is None or trade.day <= end):
                for group, key in zip(GROUPS, (name, symbol, trade.source), strict=True):
                    shared.by[group][key].add(trade)
                shared.total.add(trade)
    return shared


def _fill(row: tuple[Any, ...], multiplier: Decimal) -> rp.FillRow:
    _, _, _, ts, exec_id, side, qty, ticks, price, commission, source = row
    tick = Decimal(price) / ticks if ticks else Decimal(0)
    return rp.FillRow(str(exec_id), int(ts), str(side), int(qty), int(ticks), tick * multiplier,
                      Decimal(commission) if commission else Decimal(0), str(source))  # fmt: skip


async def _fills(conn: rows.Conn) -> list[tuple[Any, ...]]:
    cur = await conn.execute(FILLS)
    return await cur.fetchall()


def report_arguments(parser: argparse.ArgumentParser) -> None:
    """``tradeterm report``'s arguments, and ``--shared``."""
    report.add_arguments(parser)
    parser.add_argument("--shared", action="store_true",
                        help="every instance on every host, from the shared database ([shared] "
                        "url): per instance, market and strategy, and in total")  # fmt: skip


def cmd_report(args: argparse.Namespace, out: TextIO | None = None) -> int:
    return command(args, out or sys.stdout) if args.shared else report.cmd_report(args, out)


def command(args: argparse.Namespace, out: TextIO) -> int:
    if args.date_from and args.date_to and args.date_from > args.date_to:
        raise UserError(f"--from {args.date_from} is after --to {args.date_to}")
    shared = build(reach(target(args), _fills), args.date_from, args.date_to)
    span = f"{args.date_from or 'start'} to {args.date_to or 'now'}"
    if args.format == "json":
        json.dump({
            "from": args.date_from.isoformat() if args.date_from else None,
            "to": args.date_to.isoformat() if args.date_to else None,
            **{f"by_{g}": {k: s.as_dict() for k, s in sorted(shared.by[g].items())}
               for g in GROUPS},
            "total": shared.total.as_dict(), "open_positions": shared.open,
            "not_valued": shared.unvalued,
        }, out, indent=2)  # fmt: skip
        out.write("\n")
        return 0
    lines = [f"every instance in the shared database, trading days {span}"]
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
