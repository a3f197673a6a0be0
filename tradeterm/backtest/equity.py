"""The equity curve of a backtest (the account marked at each bar close, ``stats.marked_equity``):
drawn in the terminal (:func:`equity_text`, plotext) and written to a file (:func:`write_equity`).

A file is drawn by matplotlib, the optional extra ``tradeterm[plot]``, in the format its name
says: ``.svg`` and ``.png`` as matplotlib writes them, ``.html`` a page with the SVG inside it
(one drawing for the three: the axes, dates and money labels come from one place). Another
extension, or matplotlib missing, is an :class:`EquityFileError` worded for the user
(:func:`check_equity_path` tells before a run). A long run is thinned to the lowest and
highest value of each slice of time before it is drawn, so a drawdown is never smoothed
away and a file stays small.

Both drawings read as the report does: the account's value with thousands separators and
cents on the y axis (``100,425.80``), dates on the CME's clock with the year when the run
spans more than one (:func:`date_format`); a file's title says what ran (strategy,
parameters, market, data: ``EquityCurve.title``).
"""

from __future__ import annotations

import datetime as dt
import html
import io
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from tradeterm.backtest.stats import EquityCurve
from tradeterm.engine.calendar import CHICAGO, NS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FORMATS = (".svg", ".png", ".html")
INSTALL_HINT = "pip install 'tradeterm[plot]'"
FILE_POINTS = 4000  # slices of time a file's curve is thinned to (two points each)


class EquityFileError(Exception):
    """The equity curve cannot be written to the file asked for; worded for the user."""


def equity_text(curve: EquityCurve, width: int, height: int, title: str = "equity") -> str:
    """The curve drawn in ``width`` x ``height`` characters (``height`` lines of ``width``
    columns, no colour codes); one line saying so when there is nothing to draw."""
    import plotext as plt

    if not curve.values:
        return "equity: no bar to mark"
    if width < 20 or height < 6:
        return "equity: too small to draw"
    times, values = thinned(curve, max(width * 2, 2))
    xs = list(range(len(values)))
    plt.main()  # plotext is one process-wide figure: the screen's chart may leave a pane of
    plt.clf()  # its candles-and-volume subplots addressed; clear the whole figure
    plt.limitsize(False, False)  # the size asked for, not the terminal's plotext sees
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.plot(xs, [float(v) for v in values], marker="braille")
    step = max(len(xs) // 4, 1)
    shown = date_format(curve)
    plt.xticks(xs[::step], [_local(t).strftime(shown) for t in times[::step]])
    low, high = float(min(values)), float(max(values))
    ticks = [low + (high - low) * k / 4 for k in range(5)] if high > low else [low]
    plt.yticks(ticks, [money_label(v) for v in ticks])
    plt.title(title)
    return str(plt.uncolorize(plt.build())).rstrip("\n")


def check_equity_path(path: Path) -> None:
    """Raise :class:`EquityFileError` unless an equity curve can be written to ``path``: a
    known extension, and matplotlib installed."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise EquityFileError(
            f"cannot write an equity curve to {path}: give a file ending in "
            f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}"
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise EquityFileError(
            f"writing the equity curve to {path} needs matplotlib: {INSTALL_HINT}"
        ) from None


def write_equity(curve: EquityCurve, path: Path, title: str | None = None) -> None:
    """Write the curve to ``path`` in the format of its extension (see the module notes),
    titled ``title`` (default: "equity: " and what ran). Raises :class:`EquityFileError`
    (one line for the user) when it cannot."""
    check_equity_path(path)
    title = title if title is not None else f"equity: {curve.title}"
    suffix = path.suffix.lower()
    try:
        if suffix == ".html":
            svg = io.StringIO()
            _figure(curve, title).savefig(svg, format="svg")
            path.write_text(_page(title, svg.getvalue()), encoding="utf-8")
        else:
            _figure(curve, title).savefig(path, format=suffix[1:])
    except OSError as exc:
        raise EquityFileError(f"cannot write {path}: {exc.strerror or exc}") from None


def thinned(curve: EquityCurve, slices: int) -> tuple[list[int], list[Decimal]]:
    """The curve's points, at most two per slice of the run (its lowest and highest value,
    in time order): every point when there are fewer than ``2 * slices``."""
    times, values = curve.times_ns, curve.values
    if len(values) <= 2 * slices:
        return list(times), list(values)
    out_t: list[int] = []
    out_v: list[Decimal] = []
    size = len(values) / slices
    for k in range(slices):
        lo, hi = int(k * size), int((k + 1) * size)
        chunk = range(lo, hi)
        low = min(chunk, key=values.__getitem__)
        high = max(chunk, key=values.__getitem__)
        for i in sorted({low, high}):
            out_t.append(times[i])
            out_v.append(values[i])
    return out_t, out_v


def money_label(value: float) -> str:
    """An axis label in the report's money format: ``100,425.80``."""
    return f"{value:,.2f}"


def date_format(curve: EquityCurve) -> str:
    """``strftime`` of the axis dates: month, day and time; the year too when the run
    spans more than one."""
    times = curve.times_ns
    several = bool(times) and _local(times[0]).year != _local(times[-1]).year
    return ("%Y-" if several else "") + "%m-%d %H:%M"


def _local(ts_ns: int) -> dt.datetime:
    """A time on the CME's clock (Chicago), as the exchange's sessions are read."""
    return dt.datetime.fromtimestamp(ts_ns / NS, CHICAGO)


def _figure(curve: EquityCurve, title: str) -> Figure:
    """The matplotlib figure of the curve (no pyplot: no global state, no window)."""
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    times, values = thinned(curve, FILE_POINTS)
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    ax.plot(date2num([_local(t) for t in times]), [float(v) for v in values], linewidth=1)
    ax.xaxis_date(CHICAGO)  # dates on the CME's clock
    ax.set_title(title)
    ax.set_ylabel("account value")
    ax.set_xlabel("US/Central")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: money_label(value)))
    ax.xaxis.set_major_formatter(DateFormatter(date_format(curve), tz=CHICAGO))
    ax.grid(True, alpha=0.3)
    fig.autofmt_xdate()
    return fig


def _page(title: str, svg: str) -> str:
    """An HTML page holding the SVG as it is (matplotlib's begins with an XML prolog, which
    an HTML page does not take)."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg
    name = html.escape(title)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>{name}</title>'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
