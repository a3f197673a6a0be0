"""What a sweep shows: the order (by one statistic, largest first, ties in grid order), CSV,
and the heat map's layout (rows one parameter, columns the other, values printed, coloured red
for the lowest to green for the highest)."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from tests.unit.backtest.sample_result import sample
from tradeterm.backtest.grid import parse_grid, plan
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.backtest.stats import statistics
from tradeterm.backtest.summary import summary_fields
from tradeterm.backtest.sweep import Row, Sweep, counted, row_figures
from tradeterm.backtest.sweep_view import (
    REFUSED,
    as_csv,
    as_json,
    headline,
    heat_map,
    heat_map_table,
    heat_map_title,
    print_table,
    results_table,
    sorted_rows,
    stat_names,
)
from tradeterm.cli import backtest_sweep


def sweep_of(grid: list[str], pnl: dict[tuple[str, ...], Decimal | None]) -> Sweep:
    """A finished sweep whose runs made ``pnl`` (by grid values); no process involved."""
    found = plan(BacktestSpec(Path("bars.csv"), "sma_cross"), parse_grid(grid))
    rows = []
    for index, spec in found.jobs:
        values = tuple(v for k, v in spec.params)
        if values in pnl:
            rows.append(Row(index, values, {"fills": index, "net_pnl": pnl[values]}))
    return Sweep(found, rows=rows[::-1], where="test")  # finished in reverse grid order


def render(table: object, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=160, color_system="truecolor" if color else None,
                      force_terminal=color)  # fmt: skip
    console.print(table)
    return out.getvalue()


PNL: dict[tuple[str, ...], Decimal | None] = {
    ("5", "20"): Decimal("-12.50"),
    ("5", "30"): Decimal("100.00"),
    ("10", "20"): Decimal("40.25"),
    ("10", "30"): None,  # undefined for this run
    ("15", "20"): Decimal("100.00"),  # ties with 5/30, later in the grid
    # 15/30 failed: no row
}


def test_sorted_by_the_statistic_largest_first_ties_in_grid_order_undefined_last() -> None:
    sweep = sweep_of(["fast=5:15:5", "slow=20,30"], PNL)
    order = [r.values for r in sorted_rows(sweep.rows, "net_pnl")]
    assert order == [("5", "30"), ("15", "20"), ("10", "20"), ("5", "20"), ("10", "30")]
    by_fills = [r.values for r in sorted_rows(sweep.rows, "fills")]
    assert by_fills[0] == ("15", "20")  # index 4, the most fills


def test_csv_and_table_follow_the_order() -> None:
    sweep = sweep_of(["fast=5:15:5", "slow=20,30"], PNL)
    assert as_csv(sweep, "net_pnl").splitlines() == [
        "fast,slow,fills,net_pnl",
        "5,30,1,100.0",
        "15,20,4,100.0",
        "10,20,2,40.25",
        "5,20,0,-12.5",
        "10,30,3,",
    ]
    assert headline(sweep, "net_pnl") == (
        "6 combinations: 5 run, 0 refused, 0 failed; sorted by net_pnl, largest first; "
        "0.0 s on test"
    )
    text = render(results_table(sweep, "net_pnl"))
    lines = [line for line in text.splitlines() if re.search(r"\d+\s*│\s*\d+", line)]
    assert [re.findall(r"[-\d.,]+", line)[:2] for line in lines] == [
        ["5", "30"], ["15", "20"], ["10", "20"], ["5", "20"], ["10", "30"],
    ]  # fmt: skip


def test_heat_map_rows_one_parameter_columns_the_other() -> None:
    sweep = sweep_of(["fast=5:20:5", "slow=20,30"], PNL)  # fast=20 slow=20 is refused
    heat = heat_map(sweep, "net_pnl")
    assert heat is not None
    assert (heat.row_axis, heat.col_axis) == ("fast", "slow")
    assert heat.rows == ("5", "10", "15", "20") and heat.cols == ("20", "30")
    assert heat.cells == (
        (Decimal("-12.50"), Decimal("100.00")),
        (Decimal("40.25"), None),
        (Decimal("100.00"), None),
        (REFUSED, None),
    )
    text = render(heat_map_table(heat))
    body = [line for line in text.splitlines() if re.match(r"[│┃]\s+\d+\s+│", line)]
    assert [re.findall(r"-?[\d,]+\.\d\d|refused", line) for line in body] == [
        ["-12.50", "100.00"], ["40.25"], ["100.00"], ["refused"],
    ]  # fmt: skip
    assert heat_map_title(heat) == "net_pnl: rows fast, columns slow (red low, green high)"


def test_heat_map_colours_the_lowest_red_and_the_highest_green() -> None:
    sweep = sweep_of(["fast=5:15:5", "slow=20,30"], PNL)
    heat = heat_map(sweep, "net_pnl")
    assert heat is not None
    text = render(heat_map_table(heat), color=True)

    def background(value: str) -> tuple[int, int, int]:
        match = re.search(r"48;2;(\d+);(\d+);(\d+)m[^\x1b]*" + re.escape(value), text)
        assert match is not None, value
        red, green, blue = map(int, match.groups())
        return red, green, blue

    low, high, middle = background("-12.50"), background("100.00"), background("40.25")
    assert low[0] > low[1] and high[1] > high[0]
    assert low[0] > middle[0] > high[0]


def test_heat_map_over_three_parameters_shows_the_best_of_the_third() -> None:
    found = plan(BacktestSpec(Path("b.csv"), "sma_cross"),
                 parse_grid(["fast=5,10", "slow=20,30", "quantity=1,2"]))  # fmt: skip
    rows = [
        Row(index, tuple(v for _, v in spec.params), {"net_pnl": Decimal(index * (-1) ** index)})
        for index, spec in found.jobs
    ]
    heat = heat_map(Sweep(found, rows=rows), "net_pnl")
    assert heat is not None and (heat.row_axis, heat.col_axis) == ("fast", "slow")
    # quantity 1 is the even index (positive), quantity 2 the odd (negative)
    assert heat.cells == ((Decimal(0), Decimal(2)), (Decimal(4), Decimal(6)))


def test_heat_map_over_three_parameters_says_which_value_of_the_third_each_cell_shows() -> None:
    found = plan(BacktestSpec(Path("b.csv"), "sma_cross"),
                 parse_grid(["fast=5,10", "slow=20,30", "quantity=1,2"]))  # fmt: skip
    # by grid index quantity 2 (odd index) wins, but for fast=10 slow=30, where 1 does
    pnl: dict[tuple[str, ...], Decimal] = {("10", "30", "1"): Decimal(100)}
    rows = [
        Row(index, values, {"net_pnl": pnl.get(values, Decimal(index))})
        for index, spec in found.jobs
        for values in [tuple(v for _, v in spec.params)]
    ]
    heat = heat_map(Sweep(found, rows=rows), "net_pnl")
    assert heat is not None
    assert heat_map_title(heat) == (
        "net_pnl: rows fast, columns slow; each cell the best over quantity (the value under "
        "it) (red low, green high)"
    )
    lines = [" ".join(line.split()) for line in render(heat_map_table(heat)).splitlines()]
    assert lines[3:7] == [
        "│ 5 │ 1.00 │ 3.00 │",
        "│ │ quantity=2 │ quantity=2 │",
        "│ 10 │ 5.00 │ 100.00 │",
        "│ │ quantity=2 │ quantity=1 │",
    ]


def test_json_and_csv_money_are_numbers_to_the_cent_as_a_single_runs() -> None:
    """A single run's JSON prints money as numbers (``summary_fields``); a sweep's the same."""
    sweep = sweep_of(["fast=5:15:5", "slow=20,30"], PNL)
    runs = as_json(sweep, "net_pnl")["runs"]
    assert isinstance(runs, list)
    assert runs[0]["net_pnl"] == 100.0 and isinstance(runs[0]["net_pnl"], float)
    assert runs[3]["net_pnl"] == -12.5
    one = summary_fields(sample(), statistics(sample()))
    assert type(one["net_pnl"]) is type(runs[0]["net_pnl"])


def test_one_combination_and_one_worker_process_are_singular() -> None:
    sweep = sweep_of(["fast=5", "slow=20"], {("5", "20"): Decimal(1)})
    assert headline(sweep, "net_pnl").startswith("1 combination: 1 run, ")
    assert counted(1, "worker process") == "1 worker process"
    assert counted(2, "worker process") == "2 worker processes"


def test_no_heat_map_for_one_parameter() -> None:
    assert heat_map(sweep_of(["fast=5:15:5", "slow=30"], {}), "net_pnl") is None


class Terminal(io.StringIO):
    """Output that says it is a terminal (rich then takes its width from COLUMNS)."""

    def isatty(self) -> bool:
        return True


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def wide_sweep() -> Sweep:
    """A 4 x 5 grid whose runs carry every figure a real run has, with money as wide as a
    ruined account's (the trial's -214,451.25)."""
    found = plan(BacktestSpec(Path("b.csv"), "sma_cross"),
                 parse_grid(["fast=5:20:5", "slow=20:60:10"]))  # fmt: skip
    base = row_figures(sample())
    rows = []
    for index, spec in found.jobs:
        money = Decimal("-214451.25") + index * Decimal("10001.01")
        figures = base | {"net_pnl": money, "gross_pnl": money + 1000,
                          "max_drawdown": -money, "commissions": Decimal("12345.75")}  # fmt: skip
        rows.append(Row(index, tuple(v for _, v in spec.params), figures))
    return Sweep(found, rows=rows, where="test")


@pytest.mark.parametrize("columns", [80, 120, 200, None])
def test_the_table_reads_whole_at_80_120_200_columns_and_in_a_file(
    monkeypatch: pytest.MonkeyPatch, columns: int | None
) -> None:
    """No cell cut (no "…"), the sorted column and every run's money whole; what does not
    fit at a terminal's width is named; a file has every column."""
    sweep = wide_sweep()
    if columns is None:
        out: io.StringIO = io.StringIO()
    else:
        monkeypatch.setenv("COLUMNS", str(columns))
        out = Terminal()
    backtest_sweep._table(sweep, "max_drawdown", out)
    text = ANSI.sub("", out.getvalue())
    assert "…" not in text
    if columns is not None:
        assert max(cell_len(line) for line in text.splitlines()) <= columns
    header = next(line for line in text.splitlines() if "fast" in line and "slow" in line)
    assert "max_drawdown ▼" in header
    for row in sweep.rows:
        for name in ("net_pnl", "max_drawdown"):
            assert f"{row.figures[name]:,.2f}" in text, name
    shown = [name for name in stat_names(sweep) if re.search(rf"\b{name}\b", header)]
    dropped = [name for name in stat_names(sweep) if name not in shown]
    if dropped:
        assert columns is not None and columns < 200
        said = re.search(r"not shown at this width: ([^(]*) \((.*?)\)", " ".join(text.split()))
        assert said is not None
        assert sorted(said[1].split(", ")) == sorted(dropped)
        assert said[2] == "--format csv or json has every figure"
    else:
        assert "not shown" not in text
    if columns == 80:
        assert header.split("┃")[3].strip() == "max_drawdown ▼"  # right after the parameters
        assert "net_pnl" in header and "trades" in header


def test_sorted_by_a_figure_no_run_has_the_table_says_so_and_draws_no_heat_map() -> None:
    """The ES day (two session days): no run has a Sharpe; blank cells and an empty heat map
    read as missing data."""
    sweep = wide_sweep()  # the sample's three days: no Sharpe
    out = io.StringIO()
    print_table(Console(file=out, width=200), sweep, "sharpe", 200)
    text = " ".join(out.getvalue().split())
    assert "no run has a sharpe: the order is the grid's (Sharpe and Sortino need 5 session" in text
    assert "rows fast, columns slow" not in text
    body = [line for line in out.getvalue().splitlines() if re.match(r"│\s+\d+\s+│", line)]
    assert len(body) == len(sweep.rows)
    assert all(line.split("│")[3].strip() == "n/a" for line in body)
