"""The chart's price axis: labels are prices the market can trade at, in its format."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rich.cells import cell_len

from tradeterm.domain import Bar, Instrument
from tradeterm.domain.expiry import ContractMonth
from tradeterm.ui.widgets import chart


@pytest.mark.parametrize(("root", "price"), [("ES", "6000.00"), ("CL", "70.00"), ("GC", "2700.0")])
def test_chart_price_labels_are_on_the_tick(root: str, price: str) -> None:
    inst = Instrument.from_spec(root, ContractMonth(2026, 12))
    base = inst.to_ticks(Decimal(price))
    bars, p = [], base
    for i in range(40):  # a walk, 7 ticks up, 5 down: plotext's own labels fall off the tick
        o, c = p, p + (7 if i % 3 else -5)
        bars.append(Bar(i * 60_000_000_000, o, max(o, c) + 3, min(o, c) - 3, c, 10))
        p = c
    text = chart.chart_text(inst, bars, 60, 24, None, True).plain
    found = [line.split()[0] for line in text.splitlines() if line[:1].isdigit()]
    assert len(found) >= 3
    for label in found:
        assert inst.format_price(inst.to_ticks(Decimal(label))) == label  # raises off the tick
    assert max(cell_len(line) for line in text.splitlines()) <= 60


def test_axis_prices_take_a_round_step_on_the_tick() -> None:
    # CL: 0.05 apart (5 ticks); GC: a short range, every tick
    es = chart.axis_prices(Decimal("0.25"), 23_991, 24_030, 6)
    assert es == [23_992, 24_000, 24_008, 24_016, 24_024]  # 2.00 apart (8 ticks)
    assert chart.axis_prices(Decimal("0.01"), 6_990, 7_013, 5) == [6_990, 6_995, 7_000, 7_005,
                                                                    7_010]  # fmt: skip
    assert chart.axis_prices(Decimal("0.1"), 26_998, 27_001, 9) == [26_998, 26_999, 27_000,
                                                                     27_001]  # fmt: skip


def test_candle_times_are_on_the_markets_clock() -> None:
    """The time axis reads the market's own clock (its calendar's time zone), not Chicago's."""
    from zoneinfo import ZoneInfo

    inst = Instrument.from_spec("ES", ContractMonth(2026, 12))
    start = 1_795_190_400_000_000_000  # 2026-11-20 10:00 CT = 17:00 in Berlin
    bars = [Bar(start + i * 60_000_000_000, 24_000, 24_002, 23_999, 24_001, 5) for i in range(30)]
    chicago = chart.chart_text(inst, bars, 80, 20, None, True).plain
    berlin = chart.chart_text(inst, bars, 80, 20, None, True, tz=ZoneInfo("Europe/Berlin")).plain
    assert "10:00" in chicago and "17:00" not in chicago
    assert "17:00" in berlin and "10:00" not in berlin
