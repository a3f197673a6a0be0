"""``sma_cross``: the textbook moving-average crossover, the strategy used to compare engines.

After each closed bar the target is +N contracts when the simple moving average of the last
``fast`` closes is above that of the last ``slow`` closes, -N when it is below, unchanged when
they are equal, and flat until the first bar where they differ (and while fewer than ``slow``
bars have closed); after a restart, the position it starts with (``ctx.position`` in
``on_start``, what its earlier runs left) until then. It emits a :class:`TargetPosition` when the target changes; the runner
turns a change into one market order for the difference (a reversal is one order of 2N).

The sums are kept running (one close in, one out per bar) while each bar continues the ones
it saw, and recomputed from ``ctx.bars`` otherwise (the first bar, a restart). The averages
are compared exactly, in integer ticks: SMA(fast) > SMA(slow) is
``sum_fast * slow > sum_slow * fast``, so no rounding can turn a tie into a signal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from fractions import Fraction

from pydantic import Field, model_validator

from tradeterm.domain import Bar, Instrument
from tradeterm.strategies.api import (
    NO_INTENTS,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)
from tradeterm.strategies.indicators import Indicators, price_text


def average_text(instrument: Instrument, total: int, count: int) -> str:
    """``price_text(instrument, Fraction(total, count))`` (the average of ``count`` prices
    summing to ``total`` ticks), the same text in integer arithmetic: the value in units of the
    text's last place, rounded half to even once. ``price_text`` divides in ``Decimal``s (28
    digits) and then rounds, so the two agree while that division is exact enough to keep a tie
    a tie (a denominator below 10^8, a value below 10^20 of those units) and the value prints
    without an exponent (at least 1, not negative); otherwise it is ``price_text`` itself."""
    places = instrument.price_decimals + 2
    tick, over = instrument.tick.as_integer_ratio()
    denominator = count * over
    whole, rest = divmod(total * tick * 10**places, denominator)
    if 2 * rest > denominator or (2 * rest == denominator and whole % 2):
        whole += 1
    unit = 10**places
    if total < 0 or denominator >= 10**8 or not unit <= whole < 10**20:
        return price_text(instrument, Fraction(total, count))
    integer, decimals = divmod(whole, unit)
    return f"{integer}.{decimals:0{places}d}"


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
    """The sums of the last ``fast`` and the last ``slow`` closes, kept running. Its
    :meth:`update` is the base class's rule written out inline: sma_cross is the strategy
    engines are compared on, and a call per indicator per bar costs it a quarter of its speed."""

    def __init__(self, fast: int, slow: int) -> None:
        super().__init__()
        self.n_fast, self.n_slow = fast, slow
        self.clear()

    def clear(self) -> None:
        self.closes: deque[int] = deque(maxlen=self.n_slow)  # the last ``slow`` closes
        self.fast = self.slow = 0

    def add(self, bar: Bar) -> None:
        closes, close = self.closes, bar.close
        held = len(closes)
        self.fast += close - closes[-self.n_fast] if held >= self.n_fast else close
        self.slow += close - closes[0] if held == self.n_slow else close
        closes.append(close)

    def update(self, bars: Sequence[Bar], last: Bar | None = None) -> None:
        bar = bars[-1] if last is None else last
        count = len(bars)
        if count == self._seen + 1 and bar.start_ns > self._last_ns:
            closes, close = self.closes, bar.close
            held = len(closes)
            self.fast += close - closes[-self.n_fast] if held >= self.n_fast else close
            self.slow += close - closes[0] if held == self.n_slow else close
            closes.append(close)
        else:
            self.clear()
            for each in bars[-self.n_slow :]:  # older closes are in neither sum
                self.add(each)
        self._seen, self._last_ns = count, bar.start_ns


class SmaCross(Strategy[SmaCrossParams]):
    """Long N while SMA(fast) of closes is above SMA(slow), short N while below."""

    parameters = SmaCrossParams

    def __init__(self, params: SmaCrossParams) -> None:
        super().__init__(params)
        self.target = 0
        self._fast, self._slow, self._quantity = params.fast, params.slow, params.quantity
        self.sums = _Sums(params.fast, params.slow)

    def on_start(self, ctx: StrategyContext) -> Intents:
        self.target = ctx.position  # a restart: what earlier runs left is the target so far
        self.sums.forget()  # the next bar recomputes the sums from ctx.bars
        return NO_INTENTS

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        fast, slow = self._fast, self._slow
        sums = self.sums
        sums.update(ctx.bars, bar)
        if len(ctx.bars) < slow:
            return NO_INTENTS
        sum_fast, sum_slow = sums.fast, sums.slow
        order = sum_fast * slow - sum_slow * fast  # the sign of SMA(fast) - SMA(slow)
        if order == 0:
            return NO_INTENTS
        target = self._quantity if order > 0 else -self._quantity
        if target == self.target:
            return NO_INTENTS
        self.target = target
        word = ">" if order > 0 else "<"
        instrument = ctx.instrument
        reason = (
            f"SMA({fast}) {average_text(instrument, sum_fast, fast)} {word} "
            f"SMA({slow}) {average_text(instrument, sum_slow, slow)}"
        )
        return (TargetPosition(target, reason),)
