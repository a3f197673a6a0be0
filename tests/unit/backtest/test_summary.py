"""The backtest report as text: the table a trader reads (P&L, trades, risk, "n/a" for a
figure that does not exist, "partial" for a run stopped early) and one CSV row that holds
the same figures as JSON."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from decimal import Decimal

from tests.unit.backtest.sample_result import sample
from tradeterm.backtest.stats import statistics
from tradeterm.backtest.summary import format_csv, format_table, summary_fields


def lines_of(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_the_table_reads_like_a_trader_report() -> None:
    result = sample()
    lines = lines_of(format_table(result, statistics(result)))
    assert lines[0] == "sma_cross fast=10 slow=30 on ESZ6, ES_1min.csv: 8 bars in 0.50 s"
    assert lines[1] == "fill at next-open, commission 2.25 per contract per side"
    assert "fills 5 gross P&L 50.00" in lines
    assert "contracts 9 commissions 20.25" in lines
    assert "open position long 1, marked 5000.50 net P&L 29.75" in lines
    assert "start equity 100,000.00 final equity 100,029.75" in lines
    assert "trades 3 win rate 66.7%" in lines
    assert "wins / losses (gross) 2 / 1 profit factor (gross) 1.20" in lines
    assert "avg win ticks 6.00 avg loss ticks -5.00" in lines
    assert "max drawdown 250.00 max drawdown % 0.25%" in lines
    assert "exposure 75.0%" in lines
    assert (
        "Sharpe (daily, 3 days) n/a: under 5 days Sortino (daily, 3 days) n/a: under 5 days"
        in lines
    )
    assert not any("partial" in line.lower() for line in lines)


def test_the_table_says_partial_and_na() -> None:
    result = sample(complete=False)
    result.bars = result.bars[:4]  # one session day: no Sharpe
    result.fills = result.fills[:3]  # no losing trade: no profit factor
    lines = lines_of(format_table(result, statistics(result)))
    assert "PARTIAL: the run was stopped early; these figures cover what it ran" in lines
    assert "wins / losses (gross) 2 / 0 profit factor (gross) n/a" in lines
    assert "avg win ticks 6.00 avg loss ticks n/a" in lines
    assert (
        "Sharpe (daily, 1 day) n/a: under 5 days Sortino (daily, 1 day) n/a: under 5 days" in lines
    )
    assert "open position short 2, marked 5000.50 net P&L 186.50" in lines


def test_csv_is_one_header_and_one_row_of_the_json_figures() -> None:
    result = sample(complete=False)
    result.bars = result.bars[:4]
    stats = statistics(result)
    rows = list(csv.reader(io.StringIO(format_csv(result, stats))))
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    fields = json.loads(json.dumps(summary_fields(result, stats)))
    assert list(row) == list(fields)
    assert row["bars"] == "8" and row["complete"] == "False"
    assert row["net_pnl"] == "29.75" and row["trades"] == "3"
    assert row["sharpe"] == "" and fields["sharpe"] is None
    assert fields["strategy"] == "sma_cross" and fields["params"] == "fast=10 slow=30"


def test_the_table_says_a_ruined_account_has_no_sharpe() -> None:
    result = sample()
    result.spec = dataclasses.replace(result.spec, equity=Decimal(50))  # B4 marks -13.50
    lines = lines_of(format_table(result, statistics(result, min_days=2)))
    assert (
        "Sharpe (daily, 3 days) n/a: account ruined Sortino (daily, 3 days) n/a: account ruined"
        in lines
    )


def test_json_money_is_a_number_to_the_cent_like_the_sweeps() -> None:
    result = sample()
    fields = summary_fields(result, statistics(result))
    assert fields["net_pnl"] == 29.75 and fields["start_equity"] == 100000.0
    assert fields["commission"] == 2.25
