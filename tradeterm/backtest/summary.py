"""A backtest's report as text: a table for a trader (:func:`format_table`) and one CSV row
(:func:`format_csv`); :func:`summary_fields` is the run's own fields with its statistics, the
one record both CSV and JSON print (``--format json``: ``json.dumps(summary_fields(...))``).

A missing figure (no losing trade for a profit factor, fewer than
:data:`~tradeterm.backtest.stats.MIN_RATIO_DAYS` session days or a ruined account for Sharpe)
reads "n/a" in the table, with the reason for Sharpe and Sortino, and is empty in CSV (null
in JSON), as ``tradeterm report`` prints its own. A run stopped early (``complete`` False)
says "partial" in each. Wins, losses and profit factor count each trade's gross P&L, as
``tradeterm report`` does (commissions are in net P&L): the table's labels say "gross".
"""

from __future__ import annotations

import csv
import io

from tradeterm.backtest.spec import BacktestResult
from tradeterm.backtest.stats import MIN_RATIO_DAYS, Stats, json_figure

NA = "n/a"


def summary_fields(result: BacktestResult, stats: Stats) -> dict[str, int | float | str | None]:
    """What was run (strategy, parameters, market, data, how many bars or events, seconds,
    complete) followed by :meth:`Stats.as_dict`."""
    spec = result.spec
    fields: dict[str, int | float | str | None] = {
        "strategy": spec.strategy,
        "params": _params(result),
        "symbol": result.instrument.local_symbol,
        "data": str(spec.data),
        result.kind: result.count,
        "seconds": round(result.seconds, 3),
        "complete": result.complete,
        "commission": json_figure(result.commission),
        "start_equity": json_figure(spec.equity),
    }
    return fields | stats.as_dict()


def format_csv(result: BacktestResult, stats: Stats) -> str:
    """One header row and one value row of :func:`summary_fields`."""
    fields = summary_fields(result, stats)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(fields)
    writer.writerow("" if v is None else v for v in fields.values())
    return buffer.getvalue()


def format_table(result: BacktestResult, stats: Stats) -> str:
    """The report as a trader reads it: what was run, then P&L, trades, risk."""
    spec, inst = result.spec, result.instrument
    what = f"{spec.strategy} {_params(result)}".rstrip()
    lines = [
        f"{what} on {inst.local_symbol}, {spec.data.name}: {result.count:,} {result.kind}"
        f" in {result.seconds:.2f} s",
        (f"fill at {spec.fill}" if result.kind == "bars" else "fill on the book")
        + f", commission {_money(result.commission)} per contract per side"
        + (f", slippage {spec.slippage_ticks} ticks" if spec.slippage_ticks else "")
        + (f", latency {spec.latency_ms} ms" if spec.latency_ms else ""),
    ]
    if not result.complete:
        lines.append("PARTIAL: the run was stopped early; these figures cover what it ran")
    position = "flat"
    if stats.position:
        side = "long" if stats.position > 0 else "short"
        position = f"{side} {abs(stats.position)}"
        if result.last_price is not None:
            position += f", marked {inst.format_price(result.last_price)}"
    lines.append("")
    lines += _columns([
        ("fills", str(stats.fills)), ("gross P&L", _money(stats.gross_pnl)),
        ("contracts", str(stats.contracts)), ("commissions", _money(stats.commissions)),
        ("open position", position), ("net P&L", _money(stats.net_pnl)),
        ("start equity", _money(spec.equity)), ("final equity", _money(stats.final_equity)),
        ("", ""), ("", ""),
        ("trades", str(stats.trades)), ("win rate", _pct(stats.win_rate)),
        ("wins / losses (gross)", f"{stats.wins} / {stats.losses}"),
        ("profit factor (gross)", _num(stats.profit_factor)),
        ("avg win ticks", _num(stats.avg_win_ticks)),
        ("avg loss ticks", _num(stats.avg_loss_ticks)),
        ("", ""), ("", ""),
        ("max drawdown", _money(stats.max_drawdown)),
        ("max drawdown %", f"{stats.max_drawdown_fraction * 100:.2f}%"),
        ("exposure", _pct(stats.exposure)), ("", ""),
        (f"Sharpe {ratio_basis(stats)}", _ratio(stats.sharpe, stats)),
        (f"Sortino {ratio_basis(stats)}", _ratio(stats.sortino, stats)),
    ])  # fmt: skip
    return "\n".join(lines) + "\n"


def _columns(pairs: list[tuple[str, str]]) -> list[str]:
    """``label value`` pairs two to a line, labels left and values right in each column."""
    left, right = pairs[0::2], pairs[1::2]
    lw = max(len(a) + len(b) for a, b in left) + 2
    rw = max(len(a) + len(b) for a, b in right) + 2
    lines = []
    for (a, b), (c, d) in zip(left, right, strict=True):
        line = f"{a}{b.rjust(lw - len(a))}    {c}{d.rjust(rw - len(c))}" if a or c else ""
        lines.append(line.rstrip())
    return lines


def ratio_basis(stats: Stats) -> str:
    """What Sharpe and Sortino are computed over: ``(daily, 2 days)``."""
    return f"(daily, {stats.days} day{'' if stats.days == 1 else 's'})"


def _ratio(value: float | None, stats: Stats) -> str:
    """A Sharpe or Sortino, or "n/a" and why."""
    if value is not None:
        return f"{value:.2f}"
    if stats.ruined:
        return f"{NA}: account ruined"
    if stats.days < MIN_RATIO_DAYS:
        return f"{NA}: under {MIN_RATIO_DAYS} days"
    return NA


def _params(result: BacktestResult) -> str:
    return " ".join(f"{k}={v}" for k, v in result.spec.params)


def _money(value: object) -> str:
    return f"{value:,.2f}"


def _num(value: float | None) -> str:
    return NA if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return NA if value is None else f"{value * 100:.1f}%"
