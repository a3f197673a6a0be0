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
from tradeterm.backtest.stats import daily_returns, marked_equity, statistics


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
    assert s.max_drawdown_pct == pytest.approx(250 / 100186.50 * 100)
    assert s.exposure == 6 / 8  # flat at the close of B6 and B7 only


def test_daily_returns_follow_cme_session_days() -> None:
    """Thursday 17:00 is Friday's session; Sunday 17:00 is Monday's."""
    result = sample()
    returns = daily_returns(result.spec.equity, marked_equity(result))
    expected = [-63.50 / 100000, 70.50 / 99936.50, 35.25 / 100007.00]
    assert returns == pytest.approx(expected)


def test_sharpe_and_sortino_are_daily_and_annualised() -> None:
    s = statistics(sample())
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
