"""``sma_cross``: the textbook moving-average crossover, the strategy used to compare engines.

After each closed bar the target is +N contracts when the simple moving average of the last
``fast`` closes is above that of the last ``slow`` closes, -N when it is below, unchanged when
they are equal, and flat until the first bar where they differ (and while fewer than ``slow``
bars have closed); after a restart, the position it starts with (``ctx.position`` in
``on_start``, what its earlier runs left) until then. It emits a :class:`TargetPosition` when the target changes; the runner
turns a change into one market order for the difference (a reversal is one order of 2N).

The sums are kept running (``indicators.WindowSum``: one close in, one out per bar) while each
bar continues the ones it saw, and recomputed from ``ctx.bars`` otherwise (the first bar, a
restart). The averages are compared exactly, in integer ticks: SMA(fast) > SMA(slow) is
``sum_fast * slow > sum_slow * fast``, so no rounding can turn a tie into a signal.
"""

from __future__ import annotations

from fractions import Fraction

from pydantic import Field, model_validator

from tradeterm.domain import Bar
from tradeterm.strategies.api import (
    NO_INTENTS,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)
from tradeterm.strategies.indicators import Indicators, WindowSum, price_text


class SmaCrossParams(Params):
    fast: int = Field(10, ge=1, description="bars in the fast average of closes")
    slow: int = Field(30, ge=2, description="bars in the slow average of closes (more than fast)")
    quantity: int = Field(1, ge=1, description="N: contracts held long or short")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be fewer bars than slow ({self.slow})")
        return self


class _Sums(Indicators):
    """The sums of the last ``fast`` and the last ``slow`` closes."""

    def __init__(self, params: SmaCrossParams) -> None:
        super().__init__()
        self.params = params
        self.clear()

    def clear(self) -> None:
        self.fast, self.slow = WindowSum(self.params.fast), WindowSum(self.params.slow)

    def add(self, bar: Bar) -> None:
        self.fast.add(bar.close)
        self.slow.add(bar.close)


class SmaCross(Strategy[SmaCrossParams]):
    """Long N while SMA(fast) of closes is above SMA(slow), short N while below."""

    parameters = SmaCrossParams

    def __init__(self, params: SmaCrossParams) -> None:
        super().__init__(params)
        self.target = 0
        self.sums = _Sums(params)

    def on_start(self, ctx: StrategyContext) -> Intents:
        self.target = ctx.position  # a restart: what earlier runs left is the target so far
        self.sums.forget()  # the next bar recomputes the sums from ctx.bars
        return NO_INTENTS

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        fast, slow = self.params.fast, self.params.slow
        self.sums.update(ctx.bars)
        if len(ctx.bars) < slow:
            return NO_INTENTS
        sum_fast, sum_slow = self.sums.fast.total, self.sums.slow.total
        order = sum_fast * slow - sum_slow * fast  # the sign of SMA(fast) - SMA(slow)
        if order == 0:
            return NO_INTENTS
        target = self.params.quantity if order > 0 else -self.params.quantity
        if target == self.target:
            return NO_INTENTS
        self.target = target
        word = ">" if order > 0 else "<"
        reason = (
            f"SMA({fast}) {price_text(ctx.instrument, Fraction(sum_fast, fast))} {word} "
            f"SMA({slow}) {price_text(ctx.instrument, Fraction(sum_slow, slow))}"
        )
        return (TargetPosition(target, reason),)
