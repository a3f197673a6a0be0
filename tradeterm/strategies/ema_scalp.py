"""``ema_scalp``: a 1-minute scalper, an EMA cross with an ATR stop and a time stop.

After each closed bar, with the strategy flat (``ctx.position`` 0) and at least ``slow`` and
``atr_bars + 1`` bars closed:

- EMA(``fast``) of closes crossing above EMA(``slow``) on this bar (above now, at or below on
  the bar before) enters long, crossing below enters short: an :class:`EntrySignal` with a
  market entry, a protective stop ``stop_atr`` x ATR(``atr_bars``) ticks from the fill and a
  target ``target_r`` x that stop (each rounded up to whole ticks, at least 1). The runner
  sends it as one native bracket, sized by the risk rules.
- While it holds a position it enters nothing (a cross the other way does not reverse it:
  the bracket or the time stop ends the trade).
- **Time stop**: at the close of the ``max_bars``-th bar during which it held a position
  (counted from its own position, ``ctx.position``, so an entry that has not filled yet is
  not counted) it emits ``TargetPosition(0)``, and again at each later close while it still
  holds one.

The runner turns ``TargetPosition(0)`` into one market order closing the position and does
not cancel the bracket's stop and target, which stay working (GTC, one OCA group). Should one
of them fill after the time stop, the strategy finds itself holding a position it did not
enter (``on_fill``, ``ctx.position`` not 0) and asks to be flat again at once.

The EMAs and the ATR are in integer ticks (``tradeterm.strategies.indicators``): fixed-point
EMAs with floor division and an exact ATR, so the same bars always give the same signals. They
are kept one bar at a time (at every bar, in a trade or not), rebuilt from ``ctx.bars`` when the
bars do not continue the ones they saw: the work per bar does not grow with the history.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from pydantic import Field, model_validator

from tradeterm.domain import Bar, Fill, Side
from tradeterm.strategies.api import (
    NO_INTENTS,
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)
from tradeterm.strategies.indicators import (
    SCALE,
    Atr,
    Ema,
    Indicators,
    atr_bracket,
    price_text,
    ticks_text,
)


class EmaScalpParams(Params):
    fast: int = Field(5, ge=1, le=200, description="bars in the fast EMA of closes")
    slow: int = Field(
        13, ge=2, le=500, description="bars in the slow EMA of closes (more than fast)"
    )
    atr_bars: int = Field(14, ge=1, le=200, description="bars in the ATR the stop is sized by")
    stop_atr: Decimal = Field(Decimal("1.5"), gt=0, le=20,
                              description="protective stop: this many ATRs from the fill")  # fmt: skip
    target_r: Decimal = Field(Decimal("1.5"), gt=0, le=20,
                              description="target: this many times the stop from the fill")  # fmt: skip
    max_bars: int = Field(10, ge=1, le=1440,
                          description="time stop: flat after this many bars in the trade")  # fmt: skip

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EmaScalpParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be fewer bars than slow ({self.slow})")
        return self


class _Lines(Indicators):
    """EMA(fast) and EMA(slow) of closes (their values at this bar, their gap at this bar and
    the one before) and ATR(atr_bars)."""

    def __init__(self, params: EmaScalpParams) -> None:
        super().__init__()
        self.params = params
        self.clear()

    def clear(self) -> None:
        p = self.params
        self.fast, self.slow, self.atr = Ema(p.fast), Ema(p.slow), Atr(p.atr_bars)
        self.fast_now = self.slow_now = 0  # in 1/SCALE of a tick
        self.gap = self.gap_before = 0  # EMA(fast) - EMA(slow), at this bar and the one before

    def add(self, bar: Bar) -> None:
        self.fast_now, self.slow_now = self.fast.add(bar.close), self.slow.add(bar.close)
        self.gap_before, self.gap = self.gap, self.fast_now - self.slow_now
        self.atr.add(bar)


class EmaScalp(Strategy[EmaScalpParams]):
    """EMA(fast)/EMA(slow) cross entries with a k x ATR stop, an r x stop target, a time stop."""

    parameters = EmaScalpParams

    def __init__(self, params: EmaScalpParams) -> None:
        super().__init__(params)
        self.held_bars = 0  # closed bars during which it held a position, this trade
        self.timed_out = False  # the time stop asked to be flat; no entry since
        self.lines = _Lines(params)

    def on_start(self, ctx: StrategyContext) -> Intents:
        self.lines.forget()  # the next bar rebuilds them from ctx.bars
        return NO_INTENTS

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        p, lines = self.params, self.lines
        lines.update(ctx.bars)
        if ctx.position:
            self.held_bars += 1
            if self.held_bars < p.max_bars:
                return NO_INTENTS
            self.timed_out = True
            return (TargetPosition(0, f"time stop: {self.held_bars} bars in the trade"),)
        self.held_bars = 0
        average = lines.atr.value
        if len(ctx.bars) < p.slow or average is None:
            return NO_INTENTS
        now, before = lines.gap, lines.gap_before
        if now > 0 >= before:
            side, word = Side.BUY, "above"
        elif now < 0 <= before:
            side, word = Side.SELL, "below"
        else:
            return NO_INTENTS
        stop, target = atr_bracket(average, p.stop_atr, p.target_r)
        self.timed_out = False
        reason = (
            f"EMA({p.fast}) {price_text(ctx.instrument, Fraction(lines.fast_now, SCALE))} crossed "
            f"{word} EMA({p.slow}) {price_text(ctx.instrument, Fraction(lines.slow_now, SCALE))}; "
            f"ATR({p.atr_bars}) {ticks_text(average)} ticks: stop {stop}, target {target} ticks"
        )
        return (EntrySignal(side, Entry.market(), stop, target, reason),)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        if self.timed_out and ctx.position:
            return (TargetPosition(0, "a bracket exit filled after the time stop: flat again"),)
        return NO_INTENTS
