"""``tradeterm report``: performance per day and strategy from one mode's journal (which
journal, and how it is read, as for ``tradeterm journal export``: :mod:`tradeterm.cli.journal`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import TextIO

from tradeterm.cli.journal import range_arguments, reading, which_arguments, write_csv
from tradeterm.journal import compare as cp
from tradeterm.journal import report as rp


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which_arguments(parser)
    range_arguments(parser)
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--compare", action="store_true",
                        help="CANARY: each strategy's live fills against its paper fills of "
                        "the same intents (fill rate, slippage, time to fill, P&L difference)")  # fmt: skip


def cmd_report(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.compare:
        return _compare(args, out)
    with reading(args) as (symbol, conn):
        report = rp.build(conn, args.date_from, args.date_to)
    if args.format == "json":
        json.dump(_report_json(symbol, args, report), out, indent=2)
        out.write("\n")
    elif args.format == "csv":
        write_csv(out, REPORT_FIELDS, _report_rows(report))
    else:
        out.write(_report_table(symbol, args, report))
    return 0


def _compare(args: argparse.Namespace, out: TextIO) -> int:
    """``report --compare`` (``journal/compare.py``); one line when there is nothing to
    compare."""
    with reading(args) as (symbol, conn):
        rows = [r.as_dict() for r in cp.build(conn, args.date_from, args.date_to)]
        any_data = cp.has_data(conn)
    message = None if rows else (cp.NO_DATA if not any_data else "no CANARY intents in this range")
    if args.format == "json":
        json.dump({
            "symbol": symbol,
            "from": args.date_from.isoformat() if args.date_from else None,
            "to": args.date_to.isoformat() if args.date_to else None,
            "days": rows, "message": message,
        }, out, indent=2)  # fmt: skip
        out.write("\n")
    elif message is not None:
        out.write(f"{symbol}: {message}\n")
    elif args.format == "csv":
        write_csv(out, tuple(rows[0]), iter(rows))
    else:
        out.write(_compare_table(symbol, args, rows))
    return 0


COMPARE_COLUMNS = (
    ("day", "day"), ("strategy", "strategy"), ("intents", "intents"), ("live", "live_intents"),
    ("paper fill", "paper_fill_rate"), ("live fill", "live_fill_rate"),
    ("slip ticks", "slippage_ticks"), ("paper ms med/avg", "paper_fill_ms"),
    ("live ms med/avg", "live_fill_ms"), ("P&L live-paper", "pnl_diff"),
)  # fmt: skip


def _compare_table(symbol: str, args: argparse.Namespace, rows: list[dict[str, object]]) -> str:
    span = f"{args.date_from or 'start'} to {args.date_to or 'now'}"
    lines = [f"{symbol} CANARY live against paper, trading days {span}"]
    table = [tuple(title for title, _ in COMPARE_COLUMNS)]
    for r in rows:
        cells = {**r, **{
            f"{m}_fill_ms": f"{_num(r[f'{m}_fill_ms_median'])}/{_num(r[f'{m}_fill_ms_avg'])}"
            for m in cp.MODES
        }}  # fmt: skip
        for m in cp.MODES:
            rate = r[f"{m}_fill_rate"]
            cells[f"{m}_fill_rate"] = "-" if rate is None else f"{float(str(rate)) * 100:.0f}%"
        cells["slippage_ticks"] = _num(r["slippage_ticks"])
        table.append(tuple(str(cells[key]) for _, key in COMPARE_COLUMNS))
    lines += _aligned(table, left=2)
    return "\n".join(lines) + "\n"


def _num(value: object) -> str:
    return "-" if value is None else f"{float(str(value)):.2f}"


def _aligned(table: list[tuple[str, ...]], left: int) -> list[str]:
    """Rows of cells in columns (the first ``left`` to the left, the rest to the right), a
    rule under the header."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for n, row in enumerate(table):
        lines.append("  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ))  # fmt: skip
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


REPORT_FIELDS = (
    "day", "source", "trades", "wins", "win_rate", "gross", "commissions", "net",
    "profit_factor", "max_drawdown", "daily_sharpe",
)  # fmt: skip


def _report_rows(report: rp.Report) -> Iterator[dict[str, object]]:
    for day, source, stats in report.rows:
        yield {"day": day.isoformat(), "source": source, **stats.as_dict()}
    for source, stats in report.by_source.items():
        yield {"day": "all", "source": source, **stats.as_dict()}
    yield {"day": "all", "source": "all", **report.total.as_dict()}


def _report_json(symbol: str, args: argparse.Namespace, report: rp.Report) -> dict[str, object]:
    return {
        "symbol": symbol,
        "from": args.date_from.isoformat() if args.date_from else None,
        "to": args.date_to.isoformat() if args.date_to else None,
        "days": [{"day": d.isoformat(), "source": s, **st.as_dict()} for d, s, st in report.rows],
        "by_source": {s: st.as_dict() for s, st in report.by_source.items()},
        "total": report.total.as_dict(),
        "open_position": report.open_position,
        "backtest": report.backtest,
        "modes": list(report.modes),
    }


REPLAY_LINE = "REPLAY: trades made on recorded market data (tradeterm --replay), not at the market"


def _report_table(symbol: str, args: argparse.Namespace, report: rp.Report) -> str:
    span = f"{args.date_from or 'start'} to {args.date_to or 'now'}"
    lines = [f"{symbol} performance, trading days {span}"]
    if "replay" in report.modes:
        lines.append(REPLAY_LINE)
    if report.backtest is not None:
        lines.append(report.backtest)
    if not report.total.trades:
        lines.append("no closed trades in this range")
    else:
        header = ("day", "source", "trades", "win%", "gross", "comm", "net", "PF", "maxDD",
                  "sharpe")  # fmt: skip
        table = [header] + [_cells(r["day"], r["source"], r) for r in _report_rows(report)]
        lines += _aligned(table, left=2)
    if report.open_position:
        lines.append(f"open position {report.open_position} (not counted until closed)")
    return "\n".join(lines) + "\n"


def _cells(day: object, source: object, r: dict[str, object]) -> tuple[str, ...]:
    def pct(v: object) -> str:
        return "-" if v is None else f"{float(v) * 100:.0f}%"  # type: ignore[arg-type]

    def num(v: object) -> str:
        return "-" if v is None else f"{float(v):.2f}"  # type: ignore[arg-type]

    def money(v: object) -> str:
        return f"{Decimal(str(v)):,.2f}"

    return (
        str(day), str(source), str(r["trades"]), pct(r["win_rate"]), money(r["gross"]),
        money(r["commissions"]), money(r["net"]), num(r["profit_factor"]),
        money(r["max_drawdown"]), num(r["daily_sharpe"]),
    )  # fmt: skip
