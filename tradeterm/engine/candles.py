"""Candles of a longer period (5, 15 minutes) from the engine's 1-minute bars.

The engine builds 1-minute bars (``bar_builder.py``: history, IB's 5-second bars, trades);
the chart shows them as 1, 5 or 15-minute candles. A candle of period P holds the bars whose
start falls in the same P-long period, aligned on the epoch like the bars themselves (so on
the hour and the quarter hour in every time zone that is a whole number of quarter hours off
UTC, as the exchanges' session opens are): open of the first bar, close of the last, the
widest high and low, the volumes added. A period without any bar has no candle (a closed
market, a session break, a quiet minute: a gap in time, never a flat fake candle), and no
candle ever holds bars of two periods, so none straddles a session's close and the next
open. The last bar may be the one still forming: its candle is the one in progress.
"""

from __future__ import annotations

from collections.abc import Sequence

from tradeterm.domain import Bar, Timeframe


def candles(bars: Sequence[Bar], period: Timeframe, *, last: int | None = None) -> list[Bar]:
    """``bars`` (oldest first) as candles of ``period`` (a whole multiple of the bars'
    period); only the ``last`` newest candles when given, reading only the bars they need
    (the chart asks for what fits its width, at every bar close)."""
    if last is not None and last <= 0:
        return []
    out: list[Bar] = []
    period_ns = period.ns
    now: list[int] | None = None  # the candle being put together: start, open, high, low, ...
    for bar in reversed(bars):  # newest first: stop once ``last`` candles are complete
        at = bar.start_ns - bar.start_ns % period_ns
        if now is not None and at == now[0]:
            now[1] = bar.open
            now[2] = max(now[2], bar.high)
            now[3] = min(now[3], bar.low)
            now[5] += bar.volume
            continue
        if now is not None:
            out.append(Bar(*now))
            if last is not None and len(out) == last:
                now = None
                break
        now = [at, bar.open, bar.high, bar.low, bar.close, bar.volume]
    if now is not None:
        out.append(Bar(*now))
    out.reverse()
    return out
