"""The incremental indicators equal the same indicators computed over the whole history (the
formulas written out here, as the strategies computed them bar by bar before they kept state),
after every bar of random series."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeterm.domain import Bar
from tradeterm.strategies.indicators import SCALE, Atr, Ema, WindowSum, atr, ema

MINUTE = 60 * 1_000_000_000

# (close move, how far the high is above the bar's body, how far the low is below it)
moves = st.lists(
    st.tuples(st.integers(-12, 12), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=80
)


def walk(steps: Sequence[tuple[int, int, int]], start: int = 20_000) -> list[Bar]:
    """A random walk of bars a minute apart, each opening at the close before."""
    bars, close = [], start
    for i, (move, up, down) in enumerate(steps):
        open_, close = close, close + move
        high, low = max(open_, close) + up, min(open_, close) - down
        bars.append(Bar(i * MINUTE, open_, high, low, close, 1))
    return bars


def whole_ema(closes: Sequence[int], n: int) -> int:
    """EMA(n) after the last close, from the first close on."""
    value = closes[0] * SCALE
    for close in closes[1:]:
        value += 2 * (close * SCALE - value) // (n + 1)
    return value


def whole_atr(bars: Sequence[Bar], n: int) -> Fraction | None:
    """The mean of the last n true ranges, None before n + 1 bars."""
    if len(bars) < n + 1:
        return None
    ranges = [
        max(bars[i].high, bars[i - 1].close) - min(bars[i].low, bars[i - 1].close)
        for i in range(len(bars) - n, len(bars))
    ]
    return Fraction(sum(ranges), n)


@settings(max_examples=200, deadline=None)
@given(moves, st.integers(1, 30))
def test_ema_after_each_close_equals_the_ema_over_the_whole_history(
    steps: list[tuple[int, int, int]], n: int
) -> None:
    closes = [bar.close for bar in walk(steps)]
    average = Ema(n)
    for i, close in enumerate(closes):
        assert average.add(close) == average.value == whole_ema(closes[: i + 1], n)
    assert ema(closes, n) == [whole_ema(closes[: i + 1], n) for i in range(len(closes))]


@settings(max_examples=200, deadline=None)
@given(moves, st.integers(1, 30))
def test_window_sum_after_each_value_equals_the_sum_of_the_last_n(
    steps: list[tuple[int, int, int]], n: int
) -> None:
    closes = [bar.close for bar in walk(steps)]
    window = WindowSum(n)
    for i, close in enumerate(closes):
        assert window.add(close) == window.total == sum(closes[max(0, i + 1 - n) : i + 1])
        assert len(window) == min(n, i + 1)


@settings(max_examples=200, deadline=None)
@given(moves, st.integers(1, 20))
def test_atr_after_each_bar_equals_the_mean_of_the_last_n_true_ranges(
    steps: list[tuple[int, int, int]], n: int
) -> None:
    bars = walk(steps)
    average = Atr(n)
    for i, bar in enumerate(bars):
        average.add(bar)
        assert average.value == whole_atr(bars[: i + 1], n) == atr(bars[: i + 1], n)
