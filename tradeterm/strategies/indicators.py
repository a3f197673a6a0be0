"""The indicators the built-in strategies share, in integer ticks so no rounding of a float can
decide a signal, each kept one bar at a time so a strategy's work per bar does not grow with
the history.

- :class:`Ema` (and :func:`ema`, its values over a whole series): the exponential moving
  average of closes, EMA(n) with weight 2/(n+1), in fixed point: millionths of a tick
  (:data:`SCALE`), seeded with the first close, each step
  ``e += 2 * (close * SCALE - e) // (n + 1)`` (floor division: the same bars always give the
  same values, on every machine).
- :class:`WindowSum`: the sum of the last n values (a simple average is the sum over n,
  compared without dividing).
- :class:`Atr` (and :func:`atr`, over the last bars of a series): the average true range of the
  last n bars, exact (a :class:`~fractions.Fraction` of ticks): the plain mean of the n true
  ranges, each ``max(high, previous close) - min(low, previous close)``, not Wilder's smoothing.
- :class:`Indicators`: the base of a strategy's set of these, fed ``ctx.bars`` at each bar: it
  adds the new bar when the bars continue the ones it saw, and rebuilds itself from all of
  them otherwise (the first bar, a restart, a runner handing a history), so the values are
  always those of the whole history.
- :func:`atr_bracket`: a stop ``k`` x ATR and a target ``r`` x the stop, whole ticks rounded up,
  at least 1.
- :func:`ticks_text`, :func:`price_text`: exact values worded for a signal's reason.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from decimal import Decimal
from fractions import Fraction

from tradeterm.domain import Bar, Instrument

SCALE = 1_000_000
"""Fixed-point EMAs are in 1/SCALE of a tick."""


class Ema:
    """EMA(n) of closes (ticks), one close at a time, in 1/:data:`SCALE` of a tick."""

    __slots__ = ("n", "value")

    def __init__(self, n: int) -> None:
        self.n = n
        self.value: int | None = None  # None until the first close

    def add(self, close: int) -> int:
        """The EMA after ``close``."""
        scaled, value = close * SCALE, self.value
        self.value = scaled if value is None else value + 2 * (scaled - value) // (self.n + 1)
        return self.value


def ema(closes: Iterable[int], n: int) -> list[int]:
    """EMA(n) of ``closes`` (ticks) after each close, in 1/:data:`SCALE` of a tick."""
    average = Ema(n)
    return [average.add(close) for close in closes]


class WindowSum:
    """The sum of the last ``n`` values added (of all of them while fewer than ``n``)."""

    __slots__ = ("_values", "total")

    def __init__(self, n: int) -> None:
        self._values: deque[int] = deque(maxlen=n)
        self.total = 0

    def add(self, value: int) -> int:
        """The sum after ``value``."""
        values = self._values
        if len(values) == values.maxlen:
            self.total -= values[0]
        values.append(value)
        self.total += value
        return self.total

    def __len__(self) -> int:
        """How many values the sum holds (at most ``n``)."""
        return len(self._values)


class Atr:
    """ATR(n) in ticks, one bar at a time: the mean of the last ``n`` true ranges."""

    __slots__ = ("_close", "_n", "_ranges")

    def __init__(self, n: int) -> None:
        self._n = n
        self._ranges = WindowSum(n)
        self._close: int | None = None  # the close before the next bar's true range

    def add(self, bar: Bar) -> None:
        before, self._close = self._close, bar.close
        if before is not None:
            self._ranges.add(max(bar.high, before) - min(bar.low, before))

    @property
    def value(self) -> Fraction | None:
        """None until ``n + 1`` bars (``n`` true ranges)."""
        if len(self._ranges) < self._n:
            return None
        return Fraction(self._ranges.total, self._n)


def atr(bars: Sequence[Bar], n: int) -> Fraction | None:
    """ATR(n) of the last ``n`` bars in ticks; None until ``n + 1`` bars (each true range needs
    the close before it)."""
    average = Atr(n)
    for bar in bars[-n - 1 :]:
        average.add(bar)
    return average.value


class Indicators:
    """A strategy's indicators, kept in step with ``ctx.bars``: subclass it with :meth:`add`
    (one bar into every indicator) and :meth:`clear` (back to none seen), and call
    :meth:`update` with ``ctx.bars`` at each ``on_bar``. While each call's bars are the ones it
    saw plus one later bar it adds that bar (constant work per bar); otherwise (the first bar,
    bars it missed, another history) it clears and adds every bar, so the values are always
    those of the whole of ``ctx.bars``."""

    def __init__(self) -> None:
        self._seen = -1  # len(ctx.bars) at the last update; -1: rebuild at the next
        self._last_ns = -1  # the start of the last bar it added

    def add(self, bar: Bar) -> None:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def update(self, bars: Sequence[Bar]) -> None:
        bar = bars[-1]
        if len(bars) == self._seen + 1 and bar.start_ns > self._last_ns:
            self.add(bar)
        else:
            self.clear()
            for each in bars:
                self.add(each)
        self._seen, self._last_ns = len(bars), bar.start_ns

    def forget(self) -> None:
        """Rebuild from the bars at the next :meth:`update` (a restart)."""
        self._seen = -1


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
