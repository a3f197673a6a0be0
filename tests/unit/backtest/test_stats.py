"""The backtest statistics against a hand computation (``sample_result.py`` shows it): round
trips with a partial exit and a reversal, profit factor, win rate, average win / loss in ticks,
P&L with the open position, max drawdown and exposure on the bar marks, and daily Sharpe /
Sortino over three CME session days across a daily break and a weekend."""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal

import pytest

from tests.support.clock import ct
from tests.unit.backtest.sample_result import MARKS, sample
from tradeterm.backtest.stats import (
    MIN_RATIO_DAYS,
    EquityCurve,
    daily_returns,
    marked_equity,
    statistics,
)


def test_round_trips_split_a_partial_exit_and_a_reversal() -> None:
    s = statistics(sample())
    # +8 ticks (1 contract), +4 (the reversal's closing contract), -5 (2 contracts)
    assert (s.trades, s.wins, s.losses) == (3, 2, 1)
    assert s.win_rate == pytest.approx(2 / 3)
    assert s.profit_factor == pytest.approx(150 / 125)  # won 100 + 50, lost 125
    assert s.avg_win_ticks == 6.0
    assert s.avg_loss_ticks == -5.0


def test_money_counts_the_open_position_at_the_last_price() -> None:
    s = statistics(sample())
    assert (s.fills, s.contracts, s.position) == (5, 9, 1)
    # realised +2 tick-contracts (25.00) + long 1 from 20000 marked at 20002 (25.00)
    assert s.gross_pnl == Decimal("50.00")
    assert s.commissions == Decimal("20.25")  # 9 contracts x 2.25
    assert s.net_pnl == Decimal("29.75")
    assert s.final_equity == Decimal("100029.75")


def test_equity_is_marked_at_each_bar_close_after_the_fills_before_it() -> None:
    curve = marked_equity(sample())
    assert list(curve.values) == MARKS
    assert curve.times_ns[0] == ct(2026, 11, 19, 10, 1)  # the first bar's close


def test_max_drawdown_and_exposure_on_the_marks() -> None:
    s = statistics(sample())
    assert s.max_drawdown == Decimal("250.00")  # 100,186.50 down to 99,936.50
    assert s.max_drawdown_fraction == pytest.approx(250 / 100186.50)
    assert s.exposure == 6 / 8  # flat at the close of B6 and B7 only


def test_daily_returns_follow_cme_session_days() -> None:
    """Thursday 17:00 is Friday's session; Sunday 17:00 is Monday's."""
    result = sample()
    returns = daily_returns(result.spec.equity, marked_equity(result))
    expected = [-63.50 / 100000, 70.50 / 99936.50, 35.25 / 100007.00]
    assert returns == pytest.approx(expected)


def test_sharpe_and_sortino_are_daily_and_annualised() -> None:
    s = statistics(sample(), min_days=3)  # the formula, on the sample's three days
    r = [-63.50 / 100000, 70.50 / 99936.50, 35.25 / 100007.00]
    mean = sum(r) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in r) / 2)
    downside = math.sqrt(r[0] ** 2 / 3)  # only the first day lost
    assert s.days == 3
    assert s.sharpe == pytest.approx(mean / sd * math.sqrt(252))
    assert s.sharpe == pytest.approx(3.2209, abs=1e-4)
    assert s.sortino == pytest.approx(mean / downside * math.sqrt(252))
    assert s.sortino == pytest.approx(6.1042, abs=1e-4)


def test_fewer_than_two_days_have_no_sharpe() -> None:
    result = sample()
    result.bars = result.bars[:4]  # Thursday's session only
    result.fills = result.fills[:3]
    s = statistics(result)
    assert s.days == 1
    assert s.sharpe is None and s.sortino is None


def test_fewer_than_five_days_have_no_sharpe() -> None:
    """The trial's recorded ES day is one day and an hour of the next: returns (x, 0) give
    +-sqrt(126) = 11.225 whatever x is. Under a trading week of days no ratio is given."""
    result = sample()
    result.bars = result.bars[:6]  # Thursday and Friday
    result.fills = result.fills[:4]
    s = statistics(result)
    assert s.days == 2
    assert s.sharpe is None and s.sortino is None
    assert statistics(sample()).sharpe is None  # three days: still under five
    assert MIN_RATIO_DAYS == 5


def curve_of(start_ns: int, values: list[int]) -> EquityCurve:
    """One mark a day (each its own session day), from ``start_ns``."""
    day = 86_400 * 1_000_000_000
    times = tuple(start_ns + i * day for i in range(len(values)))
    return EquityCurve(times, tuple(Decimal(v) for v in values), 0, times)


def test_five_days_have_a_sharpe() -> None:
    result = dataclasses.replace(
        sample(), spec=dataclasses.replace(sample().spec, equity=Decimal(1000))
    )
    s = statistics(result, curve=curve_of(0, [1010, 1000, 1030, 1020, 1050]))
    assert s.days == 5 and not s.ruined
    assert s.sharpe is not None and s.sharpe > 0 and s.sortino is not None


def test_a_ruined_account_has_no_sharpe_or_sortino() -> None:
    """Losses on a negative equity divided by it read as gains: the trial's run lost 214,451
    of a 100,000 account and showed Sharpe 0.57, Sortino 18.34. Once the account is marked at
    zero or below, no ratio is given for the run."""
    spec = dataclasses.replace(sample().spec, equity=Decimal(1000))
    result = dataclasses.replace(sample(), spec=spec)
    losing = [500, -500, -1000, -1500, -2000, -2500, -3000, -3500, -4000, -4500]
    s = statistics(result, curve=curve_of(0, losing))
    assert s.days == 10
    assert s.sharpe is None and s.sortino is None
    assert s.ruined
    assert s.as_dict()["ruined"] is True


def test_no_fill_and_no_bar() -> None:
    result = dataclasses.replace(sample(), fills=[], bars=[], last_price=None)
    s = statistics(result)
    assert (s.trades, s.net_pnl, s.exposure, s.win_rate, s.profit_factor) == (
        0, Decimal(0), None, None, None,
    )  # fmt: skip
    assert s.max_drawdown == 0 and s.days == 0


def test_as_dict_is_json_with_money_to_the_cent() -> None:
    d = statistics(sample()).as_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["net_pnl"] == 29.75 and d["commissions"] == 20.25 and d["trades"] == 3
    assert d["win_rate"] == 0.6667 and d["exposure"] == 0.75


def test_json_ratios_are_fractions_named_so() -> None:
    """win_rate and exposure are fractions; the drawdown is one too, and says so."""
    d = statistics(sample()).as_dict()
    assert "max_drawdown_pct" not in d
    assert d["max_drawdown_fraction"] == round(250 / 100186.50, 4)
