"""Candles of 5 and 15 minutes from 1-minute bars: across the daily break (close 16:00 CT,
open 17:00 CT) and a gap of quiet minutes, no candle holds bars of two periods or sessions,
and no candle is made up for a period without bars."""

from __future__ import annotations

import datetime as dt

from tradeterm.domain import Bar, Timeframe
from tradeterm.engine.calendar import CHICAGO, NS
from tradeterm.engine.candles import candles


def at(hour: int, minute: int) -> int:
    return int(dt.datetime(2026, 11, 19, hour, minute, tzinfo=CHICAGO).timestamp()) * NS


def minute(hour: int, m: int, price: int, volume: int) -> Bar:
    """A 1-minute bar opening at ``price``, closing one tick up, a tick of range each side."""
    return Bar(at(hour, m), price, price + 2, price - 1, price + 1, volume)


# 15:52 to 15:59 (the session closes at 16:00), then 17:00 to 17:19 without 17:07-17:09
BEFORE = [minute(15, m, 100 + m, m) for m in range(52, 60)]
AFTER = [minute(17, m, 200 + m, 1) for m in range(20) if m not in (7, 8, 9)]
BARS = BEFORE + AFTER


def starts(result: list[Bar]) -> list[str]:
    return [dt.datetime.fromtimestamp(b.start_ns // NS, CHICAGO).strftime("%H:%M") for b in result]


def test_five_minute_candles_across_the_break_and_a_gap() -> None:
    five = candles(BARS, Timeframe(300))
    # 17:05 holds 17:05 and 17:06 only; 17:10 starts anew after the gap; no 16:00 candle
    assert starts(five) == ["15:50", "15:55", "17:00", "17:05", "17:10", "17:15"]
    first, last_before, after_open, short = five[0], five[1], five[2], five[3]
    assert (first.open, first.close, first.volume) == (152, 155, 52 + 53 + 54)
    assert (first.high, first.low) == (156, 151)
    assert (last_before.open, last_before.close) == (155, 160)  # 15:55 .. 15:59
    assert last_before.volume == sum(range(55, 60))
    assert (after_open.open, after_open.high, after_open.low) == (200, 206, 199)
    assert after_open.volume == 5
    assert (short.open, short.close, short.volume) == (205, 207, 2)


def test_fifteen_minute_candles_across_the_break_and_a_gap() -> None:
    fifteen = candles(BARS, Timeframe(900))
    assert starts(fifteen) == ["15:45", "17:00", "17:15"]
    before, open_, rest = fifteen
    assert (before.open, before.close, before.volume) == (152, 160, sum(range(52, 60)))
    assert (open_.open, open_.close, open_.volume) == (200, 215, 12)  # 17:07-17:09 missing
    assert (open_.high, open_.low) == (216, 199)
    assert (rest.open, rest.close, rest.volume) == (215, 220, 5)


def test_one_minute_candles_are_the_bars_and_last_reads_only_the_newest() -> None:
    assert candles(BARS, Timeframe(60)) == BARS
    assert starts(candles(BARS, Timeframe(900), last=2)) == ["17:00", "17:15"]
    assert candles(BARS, Timeframe(900), last=2) == candles(BARS, Timeframe(900))[-2:]
    assert candles((), Timeframe(300)) == []
    assert candles(BARS, Timeframe(300), last=0) == []
