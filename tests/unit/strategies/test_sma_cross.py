"""``sma_cross``: hand-checked cases, and the recorded ESH0 day against a hand-written loop."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import pytest

from tests.real_data import rows
from tests.support.instruments import ES
from tests.support.strategy_driver import ESH0, ESH0_DAY, MINUTE, esh0_bars
from tests.support.strategy_driver import flat_bars as bars_from_closes
from tradeterm.domain import Bar, Instrument
from tradeterm.strategies import (
    BarHistory,
    Intent,
    StrategyContext,
    StrategyError,
    TargetPosition,
    load,
)
from tradeterm.strategies.indicators import price_text
from tradeterm.strategies.sma_cross import SmaCross, SmaCrossParams, average_text


def run(strategy: SmaCross, instrument: Instrument, bars: Sequence[Bar]) -> list[list[Intent]]:
    """Feed ``bars`` as a runner would (the context's position follows the targets, as if
    filled at once): what each ``on_bar`` emitted, bar by bar."""
    history = BarHistory()
    position = 0
    start = StrategyContext(bars[0].start_ns, instrument, position, history.view())
    assert list(strategy.on_start(start)) == []
    emitted: list[list[Intent]] = []
    for bar in bars:
        history.append(bar)
        ctx = StrategyContext(bar.start_ns + MINUTE, instrument, position, history.view())
        intents = list(strategy.on_bar(ctx, bar))
        for intent in intents:
            assert isinstance(intent, TargetPosition)
            position = intent.quantity
        emitted.append(intents)
    return emitted


def targets(emitted: list[list[Intent]]) -> list[int]:
    """The target after each bar (0 before the first intent)."""
    out, target = [], 0
    for intents in emitted:
        for intent in intents:
            assert isinstance(intent, TargetPosition)
            target = intent.quantity
        out.append(target)
    return out


def sma_cross(fast: int = 2, slow: int = 3, quantity: int = 1) -> SmaCross:
    return SmaCross(SmaCrossParams(fast=fast, slow=slow, quantity=quantity))


def test_flat_until_the_averages_first_differ_then_unchanged_on_a_tie() -> None:
    # closes (ticks):   10  10  10  11        9         8          10
    # SMA(2) / SMA(3):   -   -  10  10.5/10.33 10/10     8.5/9.33   9/9
    bars = bars_from_closes([10, 10, 10, 11, 9, 8, 10])
    emitted = run(sma_cross(quantity=3), ES, bars)
    assert targets(emitted) == [0, 0, 0, 3, 3, -3, -3]
    # a target is emitted only when it changes; a reversal is one intent for the other side
    assert [len(i) for i in emitted] == [0, 0, 0, 1, 0, 1, 0]
    assert emitted[3] == [TargetPosition(3, "SMA(2) 2.6250 > SMA(3) 2.5833")]
    assert emitted[5] == [TargetPosition(-3, "SMA(2) 2.1250 < SMA(3) 2.3333")]


def test_nothing_before_slow_bars_have_closed() -> None:
    bars = bars_from_closes([1, 2, 3, 4, 5, 6])
    assert targets(run(sma_cross(fast=2, slow=5), ES, bars)) == [0, 0, 0, 0, 1, 1]


def test_a_tie_from_the_start_stays_flat() -> None:
    assert targets(run(sma_cross(), ES, bars_from_closes([7] * 10))) == [0] * 10


def test_a_restart_starts_from_the_position_it_is_given() -> None:
    strategy = sma_cross()
    bars = bars_from_closes([10, 10, 10, 11, 9, 8])  # long from the 4th, short from the 6th
    history = BarHistory()
    assert list(strategy.on_start(StrategyContext(0, ES, 1, history.view()))) == []
    emitted = []
    for bar in bars:
        history.append(bar)
        emitted.append(list(strategy.on_bar(StrategyContext(0, ES, 1, history.view()), bar)))
    # already long 1 (what an earlier run left): no intent until the target changes
    assert [[i.quantity for i in e if isinstance(i, TargetPosition)] for e in emitted] == [
        [], [], [], [], [], [-1],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("pairs", "line"),
    [
        (["fast=0"], "sma_cross: fast='0': Input should be greater than or equal to 1"),
        (["fast=30", "slow=30"], "sma_cross: fast (30) must be fewer bars than slow (30)"),
        (["quantity=1.5"], "sma_cross: quantity='1.5': Input should be a valid integer"),
    ],
)
def test_bad_parameters_are_refused_naming_them(pairs: list[str], line: str) -> None:
    with pytest.raises(StrategyError) as caught:
        load("sma_cross", pairs)
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value)


def hand_targets(closes: Sequence[Fraction], fast: int, slow: int, quantity: int) -> list[int]:
    """The issue's rule, written out plainly over exact prices."""
    out, target = [], 0
    for i in range(len(closes)):
        if i + 1 >= slow:
            sma_fast = sum(closes[i + 1 - fast : i + 1]) / fast
            sma_slow = sum(closes[i + 1 - slow : i + 1]) / slow
            if sma_fast > sma_slow:
                target = quantity
            elif sma_fast < sma_slow:
                target = -quantity
        out.append(target)
    return out


@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (1, 2), (5, 20)])
def test_esh0_day_gives_the_hand_written_loops_targets_bar_by_bar(fast: int, slow: int) -> None:
    records = list(rows(ESH0_DAY))
    closes = [Fraction(Decimal(r["close"])) for r in records]
    bars = esh0_bars()
    loaded = load("sma_cross", [f"fast={fast}", f"slow={slow}", "quantity=2"])
    assert isinstance(loaded.strategy, SmaCross)
    got = targets(run(loaded.strategy, ESH0, bars))
    want = hand_targets(closes, fast, slow, quantity=2)
    assert len(got) == len(bars) == len(records) > 1000
    assert got == want
    changes = sum(1 for a, b in pairwise(got) if a != b)
    assert changes > 10 and {2, -2} <= set(got)  # a real test: it trades both ways, often


@pytest.mark.parametrize("tick", ["0.25", "1.00", "0.10", "0.01", "0.005", "0.00005", "1"])
def test_average_text_is_price_text(tick: str) -> None:
    """The reason's averages in integer arithmetic give ``price_text``'s text exactly: random
    sums and counts on several tick sizes, with the ties and near-ties of halving at the last
    place, negative and zero sums, small and very large values (where it hands over)."""
    instrument = Instrument("X", "CME", Decimal(tick), Decimal(50))
    rng = random.Random(tick)
    cases = [(0, 3), (1, 1), (-7, 4), (-1, 300), (10**25 + 1, 7), (2, 8), (6, 8), (10, 8)]
    for _ in range(3000):
        count = rng.choice((1, 2, 3, 4, 8, 10, 16, 30, 64, 100, 200, rng.randint(1, 10**9)))
        average = rng.choice(
            (rng.randint(-50, 50), rng.randint(1, 10**7), 10 ** rng.randint(1, 18))
        )
        cases.append((average * count + rng.randint(-count, count), count))
    for total, count in cases:
        assert average_text(instrument, total, count) == price_text(
            instrument, Fraction(total, count)
        ), (total, count)
