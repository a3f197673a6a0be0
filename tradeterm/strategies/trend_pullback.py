"""``trend_pullback``: buy a pullback inside an uptrend, sell a rally inside a downtrend, only
while the market moves neither too little nor too much.

After each closed bar, with the strategy flat (``ctx.position`` 0) and enough bars closed
(``trend_bars + slope_bars``, ``atr_bars + 1`` and ``pullback_bars + 1``):

- **Trend.** Up when the simple average of the last ``trend_bars`` closes is higher than it
  was ``slope_bars`` bars earlier and the close is above it; down when it is lower than it was
  and the close is below it; otherwise none, and nothing is entered.
- **Pullback.** In an uptrend: the last ``pullback_bars`` closes before this one were each
  below the EMA(``pullback_ema``) of closes at their bar, and this close is above its EMA: buy.
  In a downtrend the mirror: closes above the EMA, then one below it: sell.
- **Volatility filter.** Only while ATR(``atr_bars``) is at least ``min_atr_ticks`` and at
  most ``max_atr_ticks``.
- **Entry.** An :class:`EntrySignal` with a market entry, a protective stop ``stop_atr`` x ATR
  ticks from the fill and a target ``target_r`` x that stop (rounded up to whole ticks, at
  least 1); the runner sends it as one native bracket sized by the risk rules, which then ends
  the trade. While it holds a position it enters nothing.

Everything is compared in integer ticks (``tradeterm.strategies.indicators``): the averages as
sums, the EMA in fixed point with floor division, the ATR exactly. They are kept one bar at a
time (at every bar, in a trade or not), rebuilt from ``ctx.bars`` when the bars do not continue
the ones they saw: the work per bar does not grow with the history.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from fractions import Fraction

from pydantic import Field, model_validator

from tradeterm.domain import Bar, Side
from tradeterm.strategies.api import (
    NO_INTENTS,
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
)
from tradeterm.strategies.indicators import (
    SCALE,
    Atr,
    Ema,
    Indicators,
    WindowSum,
    atr_bracket,
    price_text,
    ticks_text,
)


class TrendPullbackParams(Params):
    trend_bars: int = Field(
        50, ge=2, le=1000, description="bars in the trend's simple average of closes"
    )
    slope_bars: int = Field(10, ge=1, le=500,
                            description="the trend's average is compared with its value this many bars earlier")  # fmt: skip
    pullback_ema: int = Field(
        10, ge=1, le=200, description="bars in the EMA of closes a pullback crosses"
    )
    pullback_bars: int = Field(2, ge=1, le=50,
                               description="closes on the far side of the EMA before the one back across it")  # fmt: skip
    atr_bars: int = Field(
        14, ge=1, le=200, description="bars in the ATR of the filter and the stop"
    )
    min_atr_ticks: int = Field(
        2, ge=0, le=1000, description="no entry while ATR is below this many ticks"
    )
    max_atr_ticks: int = Field(
        12, ge=1, le=1000, description="no entry while ATR is above this many ticks"
    )
    stop_atr: Decimal = Field(Decimal(2), gt=0, le=20,
                              description="protective stop: this many ATRs from the fill")  # fmt: skip
    target_r: Decimal = Field(Decimal(2), gt=0, le=20,
                              description="target: this many times the stop from the fill")  # fmt: skip

    @model_validator(mode="after")
    def _atr_band(self) -> TrendPullbackParams:
        if self.min_atr_ticks > self.max_atr_ticks:
            raise ValueError(
                f"min_atr_ticks ({self.min_atr_ticks}) must not be above "
                f"max_atr_ticks ({self.max_atr_ticks})"
            )
        return self


class _Lines(Indicators):
    """The trend's sum of closes at this bar and the ``slope_bars`` before it, the EMA of
    closes and how far each of the last ``pullback_bars + 1`` closes was from it, the ATR."""

    def __init__(self, params: TrendPullbackParams) -> None:
        super().__init__()
        self.params = params
        self.clear()

    def clear(self) -> None:
        p = self.params
        self.trend = WindowSum(p.trend_bars)
        self.trend_sums: deque[int] = deque(maxlen=p.slope_bars + 1)  # oldest: slope_bars ago
        self.ema, self.ema_now = Ema(p.pullback_ema), 0
        # close - EMA at each of the last bars, in 1/SCALE of a tick
        self.away: deque[int] = deque(maxlen=p.pullback_bars + 1)
        self.atr = Atr(p.atr_bars)

    def add(self, bar: Bar) -> None:
        self.trend_sums.append(self.trend.add(bar.close))
        self.ema_now = self.ema.add(bar.close)
        self.away.append(bar.close * SCALE - self.ema_now)
        self.atr.add(bar)


class TrendPullback(Strategy[TrendPullbackParams]):
    """In a trend (its average's slope), enter on a pullback across a short EMA; ATR-filtered."""

    parameters = TrendPullbackParams

    def __init__(self, params: TrendPullbackParams) -> None:
        super().__init__(params)
        self.lines = _Lines(params)

    def on_start(self, ctx: StrategyContext) -> Intents:
        self.lines.forget()  # the next bar rebuilds them from ctx.bars
        return NO_INTENTS

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        p, lines = self.params, self.lines
        lines.update(ctx.bars)
        average = lines.atr.value
        needed = max(p.trend_bars + p.slope_bars, p.pullback_bars + 1)
        if ctx.position or average is None or len(ctx.bars) < needed:
            return NO_INTENTS
        trend_now, trend_then = lines.trend_sums[-1], lines.trend_sums[0]
        close_vs_trend = bar.close * p.trend_bars - trend_now  # the sign of close - SMA
        if trend_now > trend_then and close_vs_trend > 0:
            side, sign, trend = Side.BUY, 1, "up"
        elif trend_now < trend_then and close_vs_trend < 0:
            side, sign, trend = Side.SELL, -1, "down"
        else:
            return NO_INTENTS
        away = [sign * a for a in lines.away]
        # a pullback: the last pullback_bars closes before this one on the far side of the EMA
        if away[-1] <= 0 or any(a >= 0 for a in away[:-1]):
            return NO_INTENTS
        if not p.min_atr_ticks <= average <= p.max_atr_ticks:
            return NO_INTENTS
        stop, target = atr_bracket(average, p.stop_atr, p.target_r)
        where = "above" if sign > 0 else "below"
        reason = (
            f"trend {trend}: SMA({p.trend_bars}) "
            f"{price_text(ctx.instrument, Fraction(trend_now, p.trend_bars))} from "
            f"{price_text(ctx.instrument, Fraction(trend_then, p.trend_bars))}; close back "
            f"{where} EMA({p.pullback_ema}) {price_text(ctx.instrument, Fraction(lines.ema_now, SCALE))} "
            f"after {p.pullback_bars}; ATR({p.atr_bars}) {ticks_text(average)} ticks: "
            f"stop {stop}, target {target} ticks"
        )
        return (EntrySignal(side, Entry.market(), stop, target, reason),)
