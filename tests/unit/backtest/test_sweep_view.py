"""What a sweep shows: the order (by one statistic, largest first, ties in grid order), CSV,
and the heat map's layout (rows one parameter, columns the other, values printed, coloured red
for the lowest to green for the highest)."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from pathlib import Path

from rich.console import Console

from tradeterm.backtest.grid import parse_grid, plan
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.backtest.sweep import Row, Sweep
from tradeterm.backtest.sweep_view import (
    REFUSED,
    as_csv,
    headline,
    heat_map,
    heat_map_table,
    heat_map_title,
    results_table,
    sorted_rows,
)


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
        "5,30,1,100.00",
        "15,20,4,100.00",
        "10,20,2,40.25",
        "5,20,0,-12.50",
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


def test_no_heat_map_for_one_parameter() -> None:
    assert heat_map(sweep_of(["fast=5:15:5", "slow=30"], {}), "net_pnl") is None
