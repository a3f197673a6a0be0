"""Exit strategies in the configuration: a market's ``[markets.ES.exits.NAME]`` sections,
validated with one clear line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeterm.config import ConfigError, ExitStrategyConfig, load_settings

SCALP = """
[markets.ES.exits.scalp]
stop_ticks = 8
targets = [{ticks = 4, fraction = 0.5}, {ticks = 12, fraction = 0.5}]
breakeven_after_ticks = 4
breakeven_offset_ticks = 1

[markets.ES.exits.runner]
stop_ticks = 10
trail_ticks = 6
targets = [{ticks = 8, qty = 1}]
"""


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return str(info.value)


def test_exit_strategies_load_per_market_in_their_order(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(SCALP, encoding="utf-8")
    exits = load_settings(path).settings.market("ES").exits
    assert list(exits) == ["scalp", "runner"]
    scalp = exits["scalp"]
    assert scalp.stop_ticks == 8 and [t.ticks for t in scalp.targets] == [4, 12]
    assert scalp.breakeven_after_ticks == 4 and scalp.breakeven_offset_ticks == 1
    assert exits["runner"].trail_ticks == 6


@pytest.mark.parametrize(
    ("quantity", "sizes"), [(1, [1, 0]), (2, [1, 1]), (3, [2, 1]), (4, [2, 2]), (5, [3, 2])]
)
def test_fractions_split_the_entry_and_the_rounding_goes_to_the_first_targets(
    quantity: int, sizes: list[int]
) -> None:
    plan = ExitStrategyConfig.model_validate(
        {"stop_ticks": 8, "targets": [{"ticks": 4, "fraction": 0.5}, {"ticks": 8, "fraction": 0.5}]}
    )
    assert plan.target_sizes(quantity) == sizes


def test_fixed_quantities_leave_a_runner_under_the_stop() -> None:
    plan = ExitStrategyConfig.model_validate(
        {"stop_ticks": 8, "targets": [{"ticks": 4, "qty": 1}, {"ticks": 8, "qty": 1}]}
    )
    assert plan.target_sizes(3) == [1, 1]  # the third contract: the stop alone
    assert plan.target_sizes(1) == [1, 0]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("stop_ticks = 0", "markets.ES.exits.bad.stop_ticks = 0"),
        ("stop_ticks = 8\ntargets = [{ticks = 4}]", "either qty (contracts) or fraction"),
        (
            "stop_ticks = 8\ntargets = [{ticks = 4, fraction = 0.7}, {ticks = 8, fraction = 0.7}]",
            "the fractions add up to 1.4: at most 1",
        ),
        (
            "stop_ticks = 8\ntargets = [{ticks = 4, qty = 1}, {ticks = 8, fraction = 0.5}]",
            "not both",
        ),
        (
            "stop_ticks = 8\nbreakeven_after_ticks = 2\nbreakeven_offset_ticks = 2",
            "below breakeven_after_ticks",
        ),
        ("stop_ticks = 8\ntrail_tick = 4", "did you mean 'trail_ticks'"),
        (  # a misspelt required key: the one line names it and the keys a strategy knows
            "stop_tics = 8",
            (
                "unknown key 'markets.ES.exits.bad.stop_tics'",
                "t.toml) (did you mean "
                "'stop_ticks'?); known: stop_ticks, targets, breakeven_after_ticks, "
                "breakeven_offset_ticks, trail_ticks",
            ),
        ),
        ("stop_ticks = 8\ntargets = [{tics = 4, qty = 1}]", "known: ticks, qty, fraction"),
        (  # the market's max_order_qty is 2 (the default): no entry is larger
            "stop_ticks = 8\ntargets = [{ticks = 4, qty = 1}, {ticks = 8, qty = 5}]",
            (
                "markets.ES.exits.bad.targets = [{'ticks': 4, 'qty': 1}, {'ticks': 8, 'qty': 5}]",
                "expected each target's qty at most risk.max_order_qty = 2 (no entry is larger): "
                "5 could never be filled",
            ),
        ),
        (
            "stop_ticks = 8\ntrail_ticks = 4\nbreakeven_after_ticks = 6",
            ("markets.ES.exits.bad.trail_ticks = 4", "expected not with breakeven_after_ticks"),
        ),
    ],
)
def test_a_bad_exit_strategy_is_one_clear_line(
    tmp_path: Path, body: str, expected: str | tuple[str, ...]
) -> None:
    msg = error_of(tmp_path, f"[markets.ES.exits.bad]\n{body}\n")
    for part in expected if isinstance(expected, tuple) else (expected,):
        assert part in msg
    assert "Traceback" not in msg
    problems = msg.splitlines()[1:]
    assert len(problems) == 1 and "markets.ES.exits.bad" in problems[0]
