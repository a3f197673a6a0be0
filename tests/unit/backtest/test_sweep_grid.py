"""``--grid``: reading ``KEY=start:stop:step`` and ``KEY=a,b,c``, the one-line errors, and the
backtests a grid asks for (the combinations sma_cross's parameter model refuses set aside)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeterm.backtest.grid import MAX_COMBINATIONS, Axis, GridError, parse_grid, plan
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.strategies import StrategyError

BASE = BacktestSpec(Path("bars.csv"), "sma_cross", params=(("quantity", "2"),))


@pytest.mark.parametrize(
    ("item", "values"),
    [
        ("fast=5:20:5", ("5", "10", "15", "20")),  # the stop on a step is included
        ("fast=5:22:5", ("5", "10", "15", "20")),  # one off the step is not reached
        ("fast=5:5:1", ("5",)),
        ("fast=-2:2:2", ("-2", "0", "2")),
        ("ratio=0.1:1:0.3", ("0.1", "0.4", "0.7", "1.0")),  # exact decimals, no 0.30000000004
        (" fast = 5 : 7 : 1 ", ("5", "6", "7")),
        ("mode=a,b, c", ("a", "b", "c")),
        ("fast=8", ("8",)),
    ],
)
def test_axis_values(item: str, values: tuple[str, ...]) -> None:
    (axis,) = parse_grid([item])
    assert axis == Axis(item.partition("=")[0].strip(), values)


def test_axes_keep_their_order() -> None:
    axes = parse_grid(["slow=20:60:10", "fast=5,10"])
    assert [a.name for a in axes] == ["slow", "fast"]
    assert axes[0].values == ("20", "30", "40", "50", "60")


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["fast"], "--grid 'fast' is not KEY=VALUES (e.g. fast=5:20:5 or fast=5,10,20)"),
        (["=5:20:5"], "--grid '=5:20:5' is not KEY=VALUES"),
        (["fast="], "--grid 'fast=' is not KEY=VALUES"),
        (["fast=5:20"], "--grid 'fast=5:20': a range is start:stop:step"),
        (["fast=5:20:5:1"], "--grid 'fast=5:20:5:1': a range is start:stop:step"),
        (["fast=a:20:5"], "--grid 'fast=a:20:5': 'a' is not a number"),
        (["fast=5:nan:5"], "--grid 'fast=5:nan:5': 'nan' is not a number"),
        (["fast=5:20:0"], "--grid 'fast=5:20:0': the step must be above 0"),
        (["fast=5:20:-5"], "--grid 'fast=5:20:-5': the step must be above 0"),
        (["fast=20:5:5"], "--grid 'fast=20:5:5': the stop (5) is below the start (20)"),
        (["fast=5,,10"], "--grid 'fast=5,,10': an empty value"),
        (["fast=5,10,5"], "--grid 'fast=5,10,5': 5 given twice"),
        (["fast=5", "fast=6"], "--grid: fast is given twice"),
        (["fast=1:100000:1"], f"--grid 'fast=1:100000:1' has more than {MAX_COMBINATIONS} values"),
        (["a=1:100:1", "b=1:100:1", "c=1,2"], "--grid makes 20000 combinations; at most 10000"),
    ],
)
def test_malformed_grid_is_one_line(items: list[str], message: str) -> None:
    with pytest.raises(GridError) as caught:
        parse_grid(items)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_plan_is_every_combination_in_grid_order_over_the_base_spec() -> None:
    found = plan(BASE, parse_grid(["fast=5,10", "slow=20:40:10"]))
    assert found.refused == ()
    assert [index for index, _ in found.jobs] == list(range(6))
    assert [spec.params for _, spec in found.jobs[:2]] == [
        (("quantity", "2"), ("fast", "5"), ("slow", "20")),
        (("quantity", "2"), ("fast", "5"), ("slow", "30")),
    ]
    assert all(spec.data == BASE.data and spec.strategy == "sma_cross" for _, spec in found.jobs)


def test_combinations_the_model_refuses_are_set_aside_with_its_reason() -> None:
    found = plan(BASE, parse_grid(["fast=10:30:10", "slow=20,30"]))
    assert [(r.index, r.values) for r in found.refused] == [
        (2, ("20", "20")), (4, ("30", "20")), (5, ("30", "30")),
    ]  # fmt: skip
    assert found.refused[0].reason == "sma_cross: fast (20) must be fewer bars than slow (20)"
    assert [dict(spec.params)["fast"] for _, spec in found.jobs] == ["10", "10", "20"]
    assert found.size == 6


def test_a_value_the_model_cannot_read_is_refused_not_raised() -> None:
    found = plan(BASE, parse_grid(["fast=5,x"]))
    (refused,) = found.refused
    assert refused.values == ("x",) and "fast='x'" in refused.reason


def test_a_grid_key_the_strategy_lacks_or_param_repeats_is_an_error() -> None:
    with pytest.raises(GridError, match=r"sma_cross has no parameter 'fats'; parameters: fast"):
        plan(BASE, parse_grid(["fats=5,10"]))
    with pytest.raises(GridError, match="quantity is given by --param too"):
        plan(BASE, parse_grid(["quantity=1,2"]))
    with pytest.raises(StrategyError, match="unknown strategy"):
        plan(BacktestSpec(Path("x"), "no_such"), parse_grid(["fast=5,10"]))
