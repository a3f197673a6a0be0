"""The indicators the built-in strategies share, in integer ticks so no rounding of a float can
decide a signal.

- :func:`ema`: the exponential moving average of closes, EMA(n) with weight 2/(n+1), in
  fixed point: millionths of a tick (:data:`SCALE`), seeded with the first close, each step
  ``e += 2 * (close * SCALE - e) // (n + 1)`` (floor division: the same bars always give the
  same values, on every machine).
- :func:`atr`: the average true range of the last n bars, exact (a :class:`~fractions.Fraction`
  of ticks): the plain mean of the n true ranges, each ``max(high, previous close) -
  min(low, previous close)``, not Wilder's smoothing.
- :func:`atr_bracket`: a stop ``k`` x ATR and a target ``r`` x the stop, whole ticks rounded up,
  at least 1.
- :func:`ticks_text`, :func:`price_text`: exact values worded for a signal's reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from tradeterm.domain import Bar, Instrument

SCALE = 1_000_000
"""Fixed-point EMAs are in 1/SCALE of a tick."""


def ema(closes: Sequence[int], n: int) -> list[int]:
    """EMA(n) of ``closes`` (ticks) after each close, in 1/:data:`SCALE` of a tick."""
    out: list[int] = []
    for close in closes:
        scaled = close * SCALE
        out.append(scaled if not out else out[-1] + 2 * (scaled - out[-1]) // (n + 1))
    return out


def atr(bars: Sequence[Bar], n: int) -> Fraction | None:
    """ATR(n) of the last ``n`` bars in ticks; None until ``n + 1`` bars (each true range needs
    the close before it)."""
    if len(bars) < n + 1:
        return None
    window = bars[-n - 1 :]
    ranges = (
        max(bar.high, before.close) - min(bar.low, before.close) for before, bar in pairwise(window)
    )
    return Fraction(sum(ranges), n)


def atr_bracket(average: Fraction, stop_atr: Decimal, target_r: Decimal) -> tuple[int, int]:
    """``(stop, target)`` in ticks: ``stop_atr`` x ``average``, then ``target_r`` x that stop,
    each rounded up, at least 1."""
    stop = max(1, math.ceil(Fraction(stop_atr) * average))
    return stop, max(1, math.ceil(Fraction(target_r) * stop))


def ticks_text(ticks: Fraction) -> str:
    """A number of ticks to a hundredth (for reasons), without a float."""
    exact = Decimal(ticks.numerator) / ticks.denominator
    return f"{exact.quantize(Decimal('0.01'))}"


def price_text(instrument: Instrument, ticks: Fraction) -> str:
    """A price in ticks (a fraction of one, e.g. an average) as a price, to a hundredth of a
    tick (for reasons)."""
    places = instrument.price_decimals + 2
    value = Decimal(ticks.numerator) * instrument.tick / ticks.denominator
    return f"{value.quantize(Decimal(1).scaleb(-places))}"
