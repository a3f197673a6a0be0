"""What a sweep shows: its runs sorted by one statistic (largest first), as a table, JSON or
CSV, and a heat map of two parameters in the terminal (rich).

The order is total and the same wherever the runs ran: by the statistic, largest first, runs
without it (undefined) last, ties in grid order. The heat map's rows are the grid's first
parameter, its columns the second (of those with more than one value); each cell prints the
statistic and is coloured by it, red for the smallest to green for the largest. With more than
two parameters a cell shows the best run over the others.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rich.color import Color
from rich.style import Style
from rich.table import Table
from rich.text import Text

from tradeterm.backtest.sweep import Figure, Row, Sweep

DEFAULT_SORT = "net_pnl"
DIRECTION = "largest first"
REFUSED = "refused"


def sorted_rows(rows: Sequence[Row], stat: str) -> list[Row]:
    """``rows`` by ``stat``, largest first; undefined last; ties in grid order."""

    def key(row: Row) -> tuple[bool, Figure, int]:
        value = row.figures.get(stat)
        return (value is None, -value if value is not None else 0, row.index)

    return sorted(rows, key=key)


def figure_text(value: Figure) -> str:
    """A figure as the table prints it: money to the cent, ratios to 3 places."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.3f}"
    return str(value)


def figure_json(value: Figure) -> object:
    """A figure in JSON: money as exact text (as ``tradeterm report`` writes it), ratios
    rounded to 4 places."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return round(value, 4)
    return value


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
        f"{plan.size} combinations: {len(sweep.rows)} run, {len(plan.refused)} refused, "
        f"{len(sweep.failed)} failed{state}; sorted by {stat}, {DIRECTION}; "
        f"{sweep.seconds:.1f} s on {sweep.where or 'no workers'}"
    )


def results_table(sweep: Sweep, stat: str) -> Table:
    names = [axis.name for axis in sweep.plan.axes]
    stats = stat_names(sweep)
    table = Table()
    for name in names:
        table.add_column(name, justify="right", style="bold")
    for name in stats:
        table.add_column(name + (" ▼" if name == stat else ""), justify="right")
    for row in sorted_rows(sweep.rows, stat):
        table.add_row(*row.values, *(figure_text(row.figures.get(s)) for s in stats))
    return table


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
            {**params(r.values), **{k: figure_json(v) for k, v in r.figures.items()}}
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
        writer.writerow([*row.values, *(figure_json(row.figures.get(s)) for s in stats)])
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class HeatMap:
    """The statistic over two parameters: ``cells[i][j]`` is the run at ``rows[i]`` of
    ``row_axis`` and ``cols[j]`` of ``col_axis`` (the best one over any other parameter):
    a figure, :data:`REFUSED`, or None (not run: failed or stopped)."""

    stat: str
    row_axis: str
    col_axis: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: tuple[tuple[Figure | str, ...], ...]


def heat_map(sweep: Sweep, stat: str) -> HeatMap | None:
    """The heat map of the grid's first two parameters with more than one value (None when
    there are not two)."""
    axes = [(i, axis) for i, axis in enumerate(sweep.plan.axes) if len(axis.values) > 1]
    if len(axes) < 2:
        return None
    (ri, row_axis), (ci, col_axis) = axes[:2]
    cells: dict[tuple[str, str], Figure | str] = {}
    for refused in sweep.plan.refused:
        cells.setdefault((refused.values[ri], refused.values[ci]), REFUSED)
    for row in reversed(sorted_rows(sweep.rows, stat)):  # the best written last
        cells[(row.values[ri], row.values[ci])] = row.figures.get(stat)
    return HeatMap(
        stat,
        row_axis.name,
        col_axis.name,
        row_axis.values,
        col_axis.values,
        tuple(tuple(cells.get((r, c)) for c in col_axis.values) for r in row_axis.values),
    )


def heat_map_title(heat: HeatMap) -> str:
    return f"{heat.stat}: rows {heat.row_axis}, columns {heat.col_axis} (red low, green high)"


def heat_map_table(heat: HeatMap) -> Table:
    numbers = [
        float(v) for line in heat.cells for v in line if isinstance(v, int | float | Decimal)
    ]
    low, high = (min(numbers), max(numbers)) if numbers else (0.0, 0.0)
    table = Table()
    table.add_column(f"{heat.row_axis} \\ {heat.col_axis}", justify="right", style="bold")
    for col in heat.cols:
        table.add_column(col, justify="right")
    for name, line in zip(heat.rows, heat.cells, strict=True):
        table.add_row(name, *(_cell(v, low, high) for v in line))
    return table


def _cell(value: Figure | str, low: float, high: float) -> Text:
    """A cell coloured from red (``low``) to green (``high``); dim text where no run is."""
    if value is None or isinstance(value, str):
        return Text(value or "", style="dim")
    share = (float(value) - low) / (high - low) if high > low else 0.5
    red, green = int(200 * (1 - share)), int(200 * share)
    background = Color.from_rgb(red + 40, green + 40, 40)
    return Text(figure_text(value), style=Style(color="white", bgcolor=background))
