"""What a sweep shows: its runs sorted by one statistic (largest first), as a table, JSON or
CSV, and a heat map of two parameters in the terminal (rich).

The order is total and the same wherever the runs ran: by the statistic, largest first, runs
without it (undefined) last, ties in grid order. The heat map's rows are the grid's first
parameter, its columns the second (of those with more than one value); each cell prints the
statistic and is coloured by it, red for the smallest to green for the largest. With more than
two parameters a cell shows the best run over the others, and under its figure the values of
the others that run had.

The table fits the width it is given (:func:`results_table`): the parameters and the sorted
statistic first, then the figures a trader reads first (:data:`PRIORITY`), each column as
wide as its widest cell (money is never cut or wrapped); the columns that do not fit are left
out and named (:func:`dropped_line`; ``--format csv`` and ``json`` have them all). Without a
width (a file or a pipe) every column is shown. JSON and CSV print figures as a single run's
report does (:func:`~tradeterm.backtest.stats.json_figure`: money as numbers to the cent).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.cells import cell_len
from rich.color import Color
from rich.console import Console
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
from rich.text import Text

from tradeterm.backtest.stats import MIN_RATIO_DAYS, json_figure
from tradeterm.backtest.sweep import Figure, Row, Sweep, counted

DEFAULT_SORT = "net_pnl"
DIRECTION = "largest first"
REFUSED = "refused"
NA = "n/a"
SORTED = " ▼"  # after the sorted column's name
UNBOUNDED = 100_000  # columns: a width no table reaches
RATIO_NA = (f" (Sharpe and Sortino need {MIN_RATIO_DAYS} session days with bars and an account "
            "never marked at zero or below)")  # fmt: skip

PRIORITY = ("net_pnl", "trades", "win_rate", "profit_factor", "max_drawdown", "sharpe",
            "sortino", "gross_pnl", "commissions", "exposure", "fills", "contracts",
            "position", "bars", "events")  # fmt: skip
"""The figures in the order a narrow table keeps them (after the sorted one)."""


def sorted_rows(rows: Sequence[Row], stat: str) -> list[Row]:
    """``rows`` by ``stat``, largest first; undefined last; ties in grid order."""

    def key(row: Row) -> tuple[bool, Figure, int]:
        value = row.figures.get(stat)
        return (value is None, -value if value is not None else 0, row.index)

    return sorted(rows, key=key)


def figure_text(value: Figure) -> str:
    """A figure as the table prints it: money to the cent, ratios to 3 places, "n/a" where
    the run has none (as a single run's report says it)."""
    if value is None:
        return NA
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def stat_names(sweep: Sweep) -> list[str]:
    """The figures the runs have, in the order the first run gives them."""
    names: dict[str, None] = {}
    for row in sorted(sweep.rows, key=lambda r: r.index):
        names.update(dict.fromkeys(row.figures))
    return list(names)


def headline(sweep: Sweep, stat: str) -> str:
    plan = sweep.plan
    state = "" if sweep.complete else f", stopped: {sweep.stopped} not run to the end"
    return (
        f"{counted(plan.size, 'combination')}: {len(sweep.rows)} run, {len(plan.refused)} refused, "
        f"{len(sweep.failed)} failed{state}; sorted by {stat}, {DIRECTION}; "
        f"{sweep.seconds:.1f} s on {sweep.where or 'no workers'}"
    )


def results_table(sweep: Sweep, stat: str, width: int | None = None) -> Table:
    """The runs, sorted, in the columns that fit ``width`` (:func:`shown_stats`; all of them
    without a width)."""
    names = [axis.name for axis in sweep.plan.axes]
    stats, _ = shown_stats(sweep, stat, width)
    table = Table()
    for name in names:
        table.add_column(name, justify="right", style="bold", no_wrap=True)
    for name in stats:
        table.add_column(name + (SORTED if name == stat else ""), justify="right", no_wrap=True)
    for row in sorted_rows(sweep.rows, stat):
        table.add_row(*row.values, *(figure_text(row.figures.get(s)) for s in stats))
    return table


def shown_stats(sweep: Sweep, stat: str, width: int | None) -> tuple[list[str], list[str]]:
    """The figures the table shows within ``width`` columns, and those it leaves out: the
    sorted one always, then by :data:`PRIORITY` while the columns fit whole."""
    names = [axis.name for axis in sweep.plan.axes]
    have = stat_names(sweep)
    ranked = [stat] if stat in have else []
    ranked += [n for n in PRIORITY if n in have and n != stat]
    ranked += [n for n in have if n not in ranked]
    if width is None:
        return ranked, []
    rows = sweep.rows

    def column(header: str, cells: Sequence[str]) -> int:
        return max(cell_len(header), *(cell_len(c) for c in cells)) + 3  # padding, rule

    used = 1 + sum(column(n, [r.values[i] for r in rows]) for i, n in enumerate(names))
    shown: list[str] = []
    dropped: list[str] = []
    for name in ranked:
        need = column(name + (SORTED if name == stat else ""),
                      [figure_text(r.figures.get(name)) for r in rows])  # fmt: skip
        if name == stat or (not dropped and used + need <= width):
            shown.append(name)
            used += need
        else:
            dropped.append(name)
    return shown, dropped


def dropped_line(sweep: Sweep, stat: str, width: int | None) -> str | None:
    """What the table leaves out at ``width``, and where it is (None: nothing left out)."""
    _, dropped = shown_stats(sweep, stat, width)
    if not dropped:
        return None
    return f"not shown at this width: {', '.join(dropped)} (--format csv or json has every figure)"


def problems(sweep: Sweep) -> list[str]:
    """One line per refused or failed combination, in grid order."""
    names = [axis.name for axis in sweep.plan.axes]
    lines = [
        (r.index, _values(names, r.values), f"refused: {r.reason}") for r in sweep.plan.refused
    ]
    lines += [(f.index, _values(names, f.values), f"failed: {f.error}") for f in sweep.failed]
    return [f"{values}: {why}" for _, values, why in sorted(lines)]


def _values(names: Sequence[str], values: Sequence[str]) -> str:
    return " ".join(f"{n}={v}" for n, v in zip(names, values, strict=True))


def as_json(sweep: Sweep, stat: str) -> dict[str, object]:
    names = [axis.name for axis in sweep.plan.axes]

    def params(values: Sequence[str]) -> dict[str, str]:
        return dict(zip(names, values, strict=True))

    return {
        "sort": stat,
        "order": "descending",
        "complete": sweep.complete,
        "combinations": sweep.plan.size,
        "stopped": sweep.stopped,
        "seconds": round(sweep.seconds, 3),
        "runs": [
            {**params(r.values), **{k: json_figure(v) for k, v in r.figures.items()}}
            for r in sorted_rows(sweep.rows, stat)
        ],
        "refused": [{**params(r.values), "reason": r.reason} for r in sweep.plan.refused],
        "failed": [{**params(f.values), "error": f.error} for f in sweep.failed],
    }


def as_csv(sweep: Sweep, stat: str) -> str:
    """The runs, sorted, one line each (refused and failed ones are not runs: see JSON)."""
    names = [axis.name for axis in sweep.plan.axes]
    stats = stat_names(sweep)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*names, *stats])
    for row in sorted_rows(sweep.rows, stat):
        writer.writerow([*row.values, *(json_figure(row.figures.get(s)) for s in stats)])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class HeatMap:
    """The statistic over two parameters: ``cells[i][j]`` is the run at ``rows[i]`` of
    ``row_axis`` and ``cols[j]`` of ``col_axis`` (the best one over the ``others``, the
    grid's other parameters with more than one value): a figure, :data:`REFUSED`, or None
    (not run: failed or stopped); ``picks[i][j]``: the values of the ``others`` that run had
    (empty where there is no run, or no other parameter)."""

    stat: str
    row_axis: str
    col_axis: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: tuple[tuple[Figure | str, ...], ...]
    others: tuple[str, ...] = ()
    picks: tuple[tuple[tuple[str, ...], ...], ...] = ()


def heat_map(sweep: Sweep, stat: str) -> HeatMap | None:
    """The heat map of the grid's first two parameters with more than one value (None when
    there are not two)."""
    axes = [(i, axis) for i, axis in enumerate(sweep.plan.axes) if len(axis.values) > 1]
    if len(axes) < 2:
        return None
    (ri, row_axis), (ci, col_axis) = axes[:2]
    others = axes[2:]
    cells: dict[tuple[str, str], Figure | str] = {}
    picks: dict[tuple[str, str], tuple[str, ...]] = {}
    for refused in sweep.plan.refused:
        cells.setdefault((refused.values[ri], refused.values[ci]), REFUSED)
    for row in reversed(sorted_rows(sweep.rows, stat)):  # the best written last
        cells[(row.values[ri], row.values[ci])] = row.figures.get(stat)
        picks[(row.values[ri], row.values[ci])] = tuple(row.values[i] for i, _ in others)
    return HeatMap(
        stat,
        row_axis.name,
        col_axis.name,
        row_axis.values,
        col_axis.values,
        tuple(tuple(cells.get((r, c)) for c in col_axis.values) for r in row_axis.values),
        tuple(axis.name for _, axis in others),
        tuple(tuple(picks.get((r, c), ()) for c in col_axis.values) for r in row_axis.values),
    )


def heat_map_title(heat: HeatMap) -> str:
    title = f"{heat.stat}: rows {heat.row_axis}, columns {heat.col_axis}"
    if heat.others:
        title += f"; each cell the best over {', '.join(heat.others)} (the value under it)"
    return title + " (red low, green high)"


def heat_map_table(heat: HeatMap) -> Table:
    numbers = [
        float(v) for line in heat.cells for v in line if isinstance(v, int | float | Decimal)
    ]
    low, high = (min(numbers), max(numbers)) if numbers else (0.0, 0.0)
    table = Table()
    table.add_column(f"{heat.row_axis} \\ {heat.col_axis}", justify="right", style="bold")
    for col in heat.cols:
        table.add_column(col, justify="right")
    picks = heat.picks or tuple(tuple(() for _ in line) for line in heat.cells)
    for name, line, chosen in zip(heat.rows, heat.cells, picks, strict=True):
        table.add_row(name, *(_cell(v, low, high, _pick(heat.others, p))
                              for v, p in zip(line, chosen, strict=True)))  # fmt: skip
    return table


def _pick(names: Sequence[str], values: Sequence[str]) -> str:
    return _values(names, values) if values else ""


def _cell(value: Figure | str, low: float, high: float, pick: str = "") -> Text:
    """A cell coloured from red (``low``) to green (``high``), the other parameters' values
    of its run (``pick``) under the figure; dim text where no run is."""
    if value is None or isinstance(value, str):
        return Text(value or "", style="dim")
    share = (float(value) - low) / (high - low) if high > low else 0.5
    red, green = int(200 * (1 - share)), int(200 * share)
    background = Color.from_rgb(red + 40, green + 40, 40)
    text = figure_text(value) + (f"\n{pick}" if pick else "")
    return Text(text, style=Style(color="white", bgcolor=background))


def print_table(console: Console, sweep: Sweep, stat: str, width: int | None) -> None:
    """The sweep as a trader reads it on ``console``: the headline, the runs in the columns
    that fit ``width`` (None: all, the console widened to hold them), what was left out, the
    heat map when it fits, the refused and failed combinations."""
    console.print(headline(sweep, stat), highlight=False)
    table = results_table(sweep, stat, width) if sweep.rows else None
    defined = any(row.figures.get(stat) is not None for row in sweep.rows)
    heat = heat_map(sweep, stat) if defined else None
    drawn = heat_map_table(heat) if heat is not None else None
    if width is None:  # a file: as wide as its widest table
        widths = [_width(console, t) for t in (table, drawn) if t is not None]
        console.width = max([console.width, *widths])
    if table is not None:
        console.print(table)
        dropped = dropped_line(sweep, stat, width)
        if dropped is not None:
            console.print(dropped, highlight=False, markup=False)
        if not defined:
            console.print(f"no run has a {stat}: the order is the grid's"
                          + (RATIO_NA if stat in ("sharpe", "sortino") else ""), highlight=False)  # fmt: skip
    if heat is not None and drawn is not None:
        need = _width(console, drawn)
        if width is not None and need > width:
            console.print(f"heat map of {heat.stat} not shown: it needs {need} columns, "
                          f"this terminal has {width}", highlight=False)  # fmt: skip
        else:
            console.print(heat_map_title(heat), highlight=False)
            console.print(drawn)
    for line in problems(sweep):
        console.print(line, highlight=False, markup=False)


def _width(console: Console, table: Table) -> int:
    """The columns ``table`` takes when nothing squeezes it (whatever the console's width)."""
    return Measurement.get(console, console.options.update_width(UNBOUNDED), table).maximum
