"""The chart: 1-minute candles and the position's average price, from the engine snapshot."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from rich.text import Text

from tradeterm.domain import Bar, Instrument
from tradeterm.engine.calendar import CHICAGO
from tradeterm.engine.events import EngineSnapshot
from tradeterm.ui.widgets.panel import NS, Panel

_ROUND_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))


def axis_prices(tick: Decimal, low: int, high: int, most: int) -> list[int]:
    """Prices (in ticks) for at most ``most`` axis labels from ``low`` to ``high``, a round
    step apart: 1, 2, 2.5 or 5 times a power of ten in price units that is a whole number of
    ticks (ES 1.00 or 2.50, CL 0.05, GC 0.50), else one tick. Every label is a price a market
    can trade at."""
    steps = {1}
    for power in range(-8, 9):
        for m in _ROUND_STEPS:
            in_ticks = m * Decimal(10) ** power / tick
            if in_ticks >= 1 and in_ticks == in_ticks.to_integral_value():
                steps.add(int(in_ticks))
    span = max(high - low, 0)
    step = next((s for s in sorted(steps) if span // s + 1 <= max(most, 1)), max(steps))
    first = -(-low // step) * step
    return list(range(first, high + 1, step))


def chart_text(inst: Instrument, bars: Sequence[Bar], width: int, height: int,
               avg: Fraction | None, dark: bool) -> Text:  # fmt: skip
    """1-minute candles with plotext (costly: the app calls this on bar close, ≤ 2 Hz); the
    price axis labelled on the tick in the market's format (:func:`axis_prices`)."""
    import plotext as plt

    if width < 20 or height < 6 or not bars:
        return Text("1-min candles: waiting for bars" if not bars else "")
    shown = list(bars[-max((width - 12) // 2, 5) :])
    tick = float(inst.tick)
    xs = list(range(len(shown)))
    plt.clf()
    plt.limitsize(False, False)  # the panel's size, not the size of the terminal plotext sees
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.frame(False)
    data = {
        "Open": [b.open * tick for b in shown],
        "Close": [b.close * tick for b in shown],
        "High": [b.high * tick for b in shown],
        "Low": [b.low * tick for b in shown],
    }
    plt.candlestick(xs, data)
    low, high = min(b.low for b in shown), max(b.high for b in shown)
    if avg is not None:
        plt.hline(float(avg) * tick, "magenta")
        low, high = min(low, math.floor(avg)), max(high, math.ceil(avg))
    prices = axis_prices(inst.tick, low, high, (height - 3) // 3)
    plt.yticks([p * tick for p in prices], [f"{inst.format_price(p)} " for p in prices])
    labels = [dt.datetime.fromtimestamp(b.start_ns / NS, CHICAGO).strftime("%H:%M") for b in shown]
    step = max(len(xs) // 6, 1)
    plt.xticks(xs[::step], labels[::step])
    plt.title(f"{inst.local_symbol} 1 min")
    return Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")


class ChartPanel(Panel):
    """The chart (``#chart``); nothing while folded away."""

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        inst = snap.instrument
        if self.display and self.size.width and inst is not None:
            pnl = snap.pnl
            avg = pnl.avg_price if pnl and pnl.quantity else None
            dark = self.app.current_theme.dark
            self.set(chart_text(inst, snap.bars, self.size.width, self.size.height, avg, dark))
