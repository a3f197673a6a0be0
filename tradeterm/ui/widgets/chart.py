"""The chart: 1, 5 or 15-minute candles (the chart key switches) with their volume, and the
position's average price, from the engine snapshot."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.widget import Widget

from tradeterm.domain import Bar, Instrument, Timeframe
from tradeterm.engine.calendar import CHICAGO
from tradeterm.engine.candles import candles
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


PERIODS = (Timeframe(60), Timeframe(300), Timeframe(900))  # the chart key cycles them
VOLUME_FROM = 10  # rows: from this height the candles have a volume pane under them


def chart_text(inst: Instrument, bars: Sequence[Bar], width: int, height: int,
               avg: Fraction | None, dark: bool, *, period: Timeframe = PERIODS[0],
               tz: ZoneInfo = CHICAGO) -> Text:  # fmt: skip
    """Candles of ``period`` built from the engine's 1-minute ``bars`` (``engine.candles``),
    with their volume under them from ``VOLUME_FROM`` rows, drawn by plotext (costly: the app
    calls this on bar close, at most at 2 Hz, for the candles that fit the width); the price
    axis labelled on the tick in the market's format (:func:`axis_prices`), the times on the
    market's clock (``tz``, its time zone)."""
    import plotext as plt

    name = f"{period.label} candles"
    if width < 20 or height < 6 or not bars:
        return Text(f"{name}: waiting for bars" if not bars else "")
    shown = candles(bars, period, last=max((width - 12) // 2, 5))
    tick = float(inst.tick)
    xs = list(range(len(shown)))
    low, high = min(b.low for b in shown), max(b.high for b in shown)
    if avg is not None:
        low, high = min(low, math.floor(avg)), max(high, math.ceil(avg))
    volume_rows = max(height // 5, 3) if height >= VOLUME_FROM else 0
    price_rows = height - volume_rows
    prices = axis_prices(inst.tick, low, high, (price_rows - 3) // 3)
    labels = [f"{inst.format_price(p)} " for p in prices]
    label_width = max(len(label) for label in labels) if labels else 0
    plt.main()  # the whole figure, not the pane the last chart left addressed
    plt.clf()
    plt.limitsize(False, False)  # the panel's size, not the size of the terminal plotext sees
    if volume_rows:
        plt.subplots(2, 1)
        plt.plotsize(width, height)  # the figure's, then each pane's
        plt.subplot(1, 1)
    plt.plotsize(width, price_rows)
    plt.theme("clear")
    plt.frame(False)
    data = {
        "Open": [b.open * tick for b in shown],
        "Close": [b.close * tick for b in shown],
        "High": [b.high * tick for b in shown],
        "Low": [b.low * tick for b in shown],
    }
    plt.candlestick(xs, data)
    if avg is not None:
        plt.hline(float(avg) * tick, "magenta")
    plt.yticks([p * tick for p in prices], labels)
    times = [dt.datetime.fromtimestamp(b.start_ns / NS, tz).strftime("%H:%M") for b in shown]
    step = max(len(xs) // max(width // 10, 1), 1)
    plt.title(f"{inst.local_symbol} {period.label}")
    if volume_rows:
        plt.xticks([])
        plt.subplot(2, 1)
        plt.plotsize(width, volume_rows)
        plt.theme("clear")
        plt.frame(False)
        volumes = [b.volume for b in shown]
        plt.bar(xs, volumes, width=0.2, color="blue")
        top = max(volumes)
        plt.yticks([top], [f"{_short(top)} ".rjust(label_width)])  # the price axis's width
        plt.xlim(-0.5, len(xs) - 0.5)
    plt.xticks(xs[::step], times[::step])
    text = Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")
    if text.plain.endswith("\n"):  # plotext ends its last row with one: not a row of its own
        text.right_crop(1)
    return text


def _short(volume: int) -> str:
    """A volume in a few characters: 950, 12.3k, 1.2M."""
    if volume < 10_000:
        return str(volume)
    if volume < 1_000_000:
        return f"{volume / 1000:.1f}k"
    return f"{volume / 1_000_000:.1f}M"


class ChartPanel(Panel):
    """A chart (``#chart`` in the middle, ``#side-chart`` the compact one in the side column);
    draws nothing while folded away. ``period``: its candles' (the chart key cycles
    ``PERIODS``)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.period = PERIODS[0]

    def next_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        inst = snap.instrument
        shown = all(w.display for w in self.ancestors_with_self if isinstance(w, Widget))
        size = self.content_size
        if shown and size.width and inst is not None:
            pnl = snap.pnl
            avg = pnl.avg_price if pnl and pnl.quantity else None
            dark = self.app.current_theme.dark
            self.set(chart_text(inst, snap.bars, size.width, size.height, avg, dark,
                                period=self.period, tz=snap.calendar.tz))  # fmt: skip
