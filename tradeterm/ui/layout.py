"""Which panels the trading screen shows at a terminal width, and how wide each one is.

The screen is three columns: the ladder, the middle (the chart over the log) and the side
(position, risk, orders, time and sales). Width goes, in this order, to: the ladder's book,
own orders, prices and P&L at price with the side panels at their narrowest; the log; the
ladder's remaining columns (last trade's size, volume at price); the chart; the ladder's traded
volume by side and recent trades; the side panels up to their full width; then the chart. A
panel that would be narrower than it is useful folds away instead (80 columns: ladder and side;
120: the log joins; 140: the chart). Every width from ``COMPACT_FROM`` columns shows candles:
where the middle holds only the log, a compact chart shares it with the log (over it,
``LOG_MIN`` wide); where there is no middle, a compact chart sits in the side column, over the
time and sales (``Plan.side_chart``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SIDE_MIN = 34  # position, risk, orders and the tape fit, one item a line at worst
SIDE_MAX = 46
LOG_MIN = 32  # 30 columns of text beside the scroll bar: a log line of a few words
CHART_MIN = 40  # price labels and some fifteen candles
COMPACT_FROM = 100  # the compact chart in the side column (narrower: the side is the tape's)


@dataclass(frozen=True, slots=True)
class Plan:
    """Column widths; ``middle`` 0 when the chart and log fold away; ``side_chart``: the
    compact chart in the side column (the middle has no chart)."""

    ladder: int
    middle: int
    chart: bool
    side: int
    side_chart: bool = False


def plan(
    width: int, ladder: Callable[[int], int], core: Callable[[int], int] | None = None
) -> Plan:
    """The plan for a terminal ``width`` columns wide. ``ladder(budget)`` is the ladder's width
    in at most ``budget`` columns (``Ladder.fit_width``; never below what it must show);
    ``core(budget)`` the same without the columns that come after the chart (default:
    ``ladder``)."""
    required, full = ladder(0), (core or ladder)(width)
    if full + SIDE_MIN + CHART_MIN <= width:
        lad = ladder(width - SIDE_MIN - CHART_MIN)
        side = min(SIDE_MAX, width - lad - CHART_MIN)
        return Plan(lad, width - lad - side, True, side)
    if required + SIDE_MIN + LOG_MIN <= width:
        lad = ladder(width - SIDE_MIN - LOG_MIN)
        side = min(SIDE_MAX, width - lad - LOG_MIN)
        return Plan(lad, width - lad - side, False, side)
    lad = ladder(width - SIDE_MIN)
    return Plan(lad, 0, False, max(width - lad, 0), side_chart=width >= COMPACT_FROM)
