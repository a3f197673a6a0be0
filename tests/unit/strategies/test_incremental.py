"""The built-in strategies keep their indicators one bar at a time: the same signals as when
they are rebuilt from the whole history (at every bar, or once at a random restart), and work
per bar that does not grow with the history."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any, overload

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.clock import ct
from tests.support.instruments import ES
from tests.support.strategy_driver import MINUTE, Driver
from tradeterm.domain import Bar, Side
from tradeterm.strategies import BarHistory, Intent, Strategy, StrategyContext, load
from tradeterm.strategies.indicators import Indicators

# small parameters so short series reach signals; opening_range's 3-minute range
BUILT_INS = {
    "ema_scalp": ["fast=2", "slow=4", "atr_bars=3", "max_bars=4"],
    "trend_pullback": [
        "trend_bars=4",
        "slope_bars=2",
        "pullback_ema=3",
        "pullback_bars=1",
        "atr_bars=3",
        "min_atr_ticks=0",
        "max_atr_ticks=1000",
    ],
    "opening_range": ["range_minutes=3", "flat_minutes=5"],
    "sma_cross": ["fast=2", "slow=5"],
}
START = ct(2026, 11, 17, 8, 26)  # a Tuesday, four minutes before the regular open

# per bar: minutes since the bar before (mostly 1, at times a gap over a session's end), the
# close's move, and whether a bracket exit flattens the position after it
steps = st.lists(
    st.tuples(
        st.sampled_from([1] * 12 + [2, 7, 400]),
        st.integers(-6, 6),
        st.sampled_from([False] * 5 + [True]),
    ),
    min_size=10,
    max_size=90,
)


def bars_of(plan: Sequence[tuple[int, int, bool]]) -> list[Bar]:
    bars, at, close = [], START, 20_000
    for gap, move, _ in plan:
        at += gap * MINUTE
        open_, close = close, close + move
        bars.append(Bar(at, open_, max(open_, close) + 1, min(open_, close) - 1, close, 1))
    return bars


def strategy(name: str) -> Strategy[Any]:
    return load(name, BUILT_INS[name]).strategy


def indicator_sets(built: Strategy[Any]) -> list[Indicators]:
    return [value for value in vars(built).values() if isinstance(value, Indicators)]


def run(name: str, plan: Sequence[tuple[int, int, bool]], restart_at: int | None = None,
        rebuild_each_bar: bool = False) -> list[tuple[int, Intent]]:  # fmt: skip
    """What the strategy emits over the plan's bars (a bracket exit flattening it where the
    plan says), its indicators rebuilt from ``ctx.bars`` before each bar, or once: before bar
    ``restart_at`` it is replaced by a new one (its own state carried over, its indicators
    new) that has seen none of the bars."""
    driver = Driver(strategy(name), ES)
    driver.strategy.on_start(driver.ctx(START))
    for i, (bar, (_, _, exit_after)) in enumerate(zip(bars_of(plan), plan, strict=True)):
        if i == restart_at:
            new = strategy(name)
            for key, value in vars(driver.strategy).items():
                if not isinstance(value, Indicators):
                    setattr(new, key, value)
            driver.strategy = new
        if rebuild_each_bar:
            for lines in indicator_sets(driver.strategy):
                lines.forget()
        driver.bar(bar)
        if exit_after and driver.position:
            side = Side.SELL if driver.position > 0 else Side.BUY
            driver.fill(side, abs(driver.position), bar.close, bar.start_ns + MINUTE)
    return driver.emitted


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_each_built_in_keeps_its_indicators_in_a_set_it_feeds_every_bar(name: str) -> None:
    assert indicator_sets(strategy(name)), f"{name} keeps no Indicators"


@pytest.mark.parametrize("name", sorted(BUILT_INS))
@settings(max_examples=40, deadline=None)
@given(plan=steps, data=st.data())
def test_signals_kept_bar_by_bar_equal_those_rebuilt_from_the_history(
    name: str, plan: list[tuple[int, int, bool]], data: st.DataObject
) -> None:
    kept = run(name, plan)
    assert kept == run(name, plan, rebuild_each_bar=True)
    restart = data.draw(st.integers(1, len(plan) - 1), label="restart before bar")
    assert kept == run(name, plan, restart_at=restart)


class CountedBars(Sequence[Bar]):
    """``ctx.bars`` that counts the bars a strategy reads from it."""

    def __init__(self, bars: Sequence[Bar], counter: list[int]) -> None:
        self._bars, self._counter = bars, counter

    def __len__(self) -> int:
        return len(self._bars)

    @overload
    def __getitem__(self, index: int) -> Bar: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Bar]: ...
    def __getitem__(self, index: int | slice) -> Bar | Sequence[Bar]:
        got = self._bars[index]
        self._counter[0] += len(got) if isinstance(got, Sequence) else 1
        return got

    def __iter__(self) -> Iterator[Bar]:
        for bar in self._bars:
            self._counter[0] += 1
            yield bar


@pytest.mark.parametrize("name", sorted(BUILT_INS))
def test_the_bars_read_per_bar_do_not_grow_with_the_history(name: str) -> None:
    built = load(name, ()).strategy  # its default parameters
    history, counter, rng = BarHistory(), [0], random.Random(16)
    position, close, read = 0, 20_000, []
    built.on_start(StrategyContext(START, ES, 0, CountedBars(history.view(), counter)))
    for i in range(3000):  # two days and more of minute bars: opening_range trades twice
        open_, close = close, close + rng.randint(-4, 4)
        bar = Bar(START + i * MINUTE, open_, max(open_, close) + 1, min(open_, close) - 1, close, 1)
        history.append(bar)
        before = counter[0]
        ctx = StrategyContext(
            bar.start_ns + MINUTE, ES, position, CountedBars(history.view(), counter)
        )
        for intent in built.on_bar(ctx, bar):
            position = getattr(intent, "quantity", 1)  # an entry: long one, whatever the side
        if rng.random() < 0.05:
            position = 0  # a bracket exit
        read.append(counter[0] - before)
    early, late = max(read[1:1500]), max(read[1500:])
    assert late <= early, f"{name} read {late} bars at a bar of the second half, {early} before"
