"""Real-time bars, historical bars at every IB bar size, durations, and the keepUpToDate seam
between backfilled history and live trades."""

from __future__ import annotations

import calendar
import itertools
import random
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tradeterm.sim.bar_builders import (
    NS,
    Bar,
    BarAggregator,
    BarHistory,
    format_bar_time,
    parse_bar_size,
    parse_duration,
)
from tradeterm.sim.market_events import BarPrint, BookSide, TradePrint

CHI = ZoneInfo("America/Chicago")
BAR_SIZES = ["1 secs", "5 secs", "10 secs", "15 secs", "30 secs", "1 min", "2 mins", "3 mins",
             "5 mins", "10 mins", "15 mins", "20 mins", "30 mins", "1 hour", "2 hours",
             "4 hours", "1 day"]  # fmt: skip
DST_END = 1762066800  # 2025-11-02 07:00 UTC: US/Central falls back from CDT to CST


def tp(t_s: float, price: int, size: int = 1) -> TradePrint:
    return TradePrint(round(t_s * NS), price, size, BookSide.BID)


def walk(start_s: int, seconds: int, seed: int = 7) -> list[TradePrint]:
    """One or two trades in every second, random-walk prices."""
    rng = random.Random(seed)
    price, out = 20_000, []
    for s in range(start_s, start_s + seconds):
        for k in range(rng.choice((1, 1, 2))):
            price += rng.choice((-1, 0, 1))
            out.append(tp(s + 0.1 + 0.4 * k, price, rng.randint(1, 5)))
    return out


def ref_bucket(t: int, size: int) -> int:
    if size >= 86_400:  # CME trading date: the session 17:00 CT -> 17:00 CT ends on it
        day = (datetime.fromtimestamp(t, CHI).replace(tzinfo=None) + timedelta(hours=7)).date()
        return calendar.timegm(day.timetuple())
    if size <= 3600:
        return t - t % size
    local = datetime.fromtimestamp(t, CHI)  # multi-hour bars: Chicago wall clock
    hour = local.hour // (size // 3600) * (size // 3600)
    return int(datetime.combine(local.date(), time(hour), tzinfo=CHI).timestamp())


def reference(trades: list[TradePrint], size: int) -> list[Bar]:
    """Bars computed from scratch, straight from the trades."""
    groups: dict[int, list[TradePrint]] = {}
    for t in trades:
        groups.setdefault(ref_bucket(t.ts_ns // NS, size), []).append(t)
    out = []
    for start in sorted(groups):
        g = groups[start]
        vol = sum(t.size for t in g)
        out.append(Bar(start, g[0].price, max(t.price for t in g), min(t.price for t in g),
                       g[-1].price, vol, sum(t.price * t.size for t in g) / vol, len(g)))  # fmt: skip
    return out


# --- parsing -------------------------------------------------------------------------------


def test_parse_sizes_and_durations() -> None:
    assert [parse_bar_size(s) for s in BAR_SIZES] == [
        1, 5, 10, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600, 7200, 14400, 86400
    ]  # fmt: skip
    assert parse_bar_size("1 sec") == 1 and parse_bar_size("3 hours") == 10800
    for bad in ("7 secs", "1 week", "", "2 days", "45 mins"):
        with pytest.raises(ValueError):
            parse_bar_size(bad)
    assert parse_duration("1800 S") == 1800
    assert parse_duration("2 D") == 2 * 86400
    assert parse_duration("1 W") == 7 * 86400
    assert parse_duration("1 M") == 30 * 86400
    assert parse_duration("1 Y") == 365 * 86400
    for bad in ("0 D", "1 H", "D", "1.5 D"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_format_bar_time() -> None:
    t = 1_762_200_000  # 2025-11-03 20:00 UTC = 14:00 CST
    assert format_bar_time(t, 60) == "20251103 14:00:00 US/Central"
    assert format_bar_time(t, 60, format_date=2) == str(t)
    assert format_bar_time(calendar.timegm((2025, 11, 3, 0, 0, 0)), 86400) == "20251103"


# --- real-time bars --------------------------------------------------------------------------


def test_realtime_bars_from_trades() -> None:
    agg = BarAggregator(5)
    assert agg.on_time(1000 * NS) == []  # nothing known yet: no bar
    assert agg.on_trade(tp(1000.2, 100, 2)) == []
    assert agg.on_trade(tp(1001.0, 103, 1)) == []
    assert agg.on_trade(tp(1004.9, 99, 1)) == []
    assert agg.current == Bar(1000, 100, 103, 99, 99, 4, (200 + 103 + 99) / 4, 3)
    # the bar is emitted when time reaches its end, by a clock tick...
    first = agg.on_time(1005 * NS)
    assert first == [Bar(1000, 100, 103, 99, 99, 4, 100.5, 3)]
    assert agg.on_time(1007 * NS) == []
    # ...then quiet periods give bars at the last price, volume 0, every 5 s
    assert agg.on_time(1015 * NS) == [
        Bar(1005, 99, 99, 99, 99, 0, 99.0, 0),
        Bar(1010, 99, 99, 99, 99, 0, 99.0, 0),
    ]
    # a trade after a quiet stretch closes the pending periods first
    assert agg.on_trade(tp(1021.0, 101, 3)) == [Bar(1015, 99, 99, 99, 99, 0, 99.0, 0)]
    assert agg.on_time(1025 * NS) == [Bar(1020, 101, 101, 101, 101, 3, 101.0, 1)]


def test_realtime_bars_skip_long_closures_and_accept_a_seed_price() -> None:
    agg = BarAggregator(5, max_fill=10)
    agg.on_trade(tp(0.5, 50))
    out = agg.on_time(3600 * NS)  # an hour later: the market was closed, no 719 flat bars
    assert out == [Bar(0, 50, 50, 50, 50, 1, 50.0, 1)]
    seeded = BarAggregator(5, last_price=42)
    seeded.on_time(10 * NS)
    assert seeded.on_time(15 * NS) == [Bar(10, 42, 42, 42, 42, 0, 42.0, 0)]


def test_realtime_bars_match_five_second_history() -> None:
    trades = walk(1_762_000_000, 600)
    agg, hist = BarAggregator(5), BarHistory()
    live = []
    for t in trades:
        live += agg.on_trade(t)
        hist.on_trade(t)
    live += agg.on_time(trades[-1].ts_ns + 5 * NS)
    assert live == hist.request("5 secs", "600 S") == reference(trades, 5)


# --- history ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def across_dst() -> tuple[BarHistory, list[TradePrint]]:
    """36 hours of trades around the end of daylight saving time."""
    trades = walk(DST_END - 18 * 3600, 36 * 3600)
    hist = BarHistory()
    assert hist.backfill(trades) == len(trades)
    return hist, trades


@pytest.mark.parametrize("bar_size", BAR_SIZES)
def test_every_bar_size_matches_a_from_scratch_reference(
    across_dst: tuple[BarHistory, list[TradePrint]], bar_size: str
) -> None:
    hist, trades = across_dst
    size = parse_bar_size(bar_size)
    duration = "3600 S" if size < 60 else "2 D"  # 1-s bars are kept for the last 4 hours
    got = hist.request(bar_size, duration)
    begin = trades[-1].ts_ns // NS + 1 - parse_duration(duration)
    want = [b for b in reference(trades, size) if b.time >= begin]
    assert got == want
    assert got, bar_size
    if size <= 3600:  # trades every second: no gaps, no duplicates
        assert all(b.time - a.time == size for a, b in itertools.pairwise(got))


def test_four_hour_bars_align_on_chicago_midnight_across_dst(
    across_dst: tuple[BarHistory, list[TradePrint]],
) -> None:
    hist, _ = across_dst
    starts = [datetime.fromtimestamp(b.time, CHI).hour for b in hist.request("4 hours", "2 D")]
    assert set(starts) <= {0, 4, 8, 12, 16, 20}
    days = [format_bar_time(b.time, 86400) for b in hist.request("1 day", "2 D")]
    assert days == ["20251101", "20251102", "20251103"][-len(days) :]


def test_durations_and_end_time(across_dst: tuple[BarHistory, list[TradePrint]]) -> None:
    hist, trades = across_dst
    assert len(hist.request("1 min", "1800 S")) == 30
    assert len(hist.request("30 secs", "1800 S")) == 60
    assert len(hist.request("1 hour", "1 D")) == 24
    end = hist.bucket(DST_END + 3 * 3600, 14_400)  # a 4-hour boundary after the DST change
    for bar_size in ("1 min", "5 mins", "1 hour", "4 hours"):
        size = parse_bar_size(bar_size)
        got = hist.request(bar_size, "8 D", end_ns=end * NS)
        want = reference([t for t in trades if t.ts_ns < end * NS], size)
        assert got == want
        assert got[-1].time + size == end or size == 14_400
    assert hist.request("1 min", "60 S", end_ns=trades[0].ts_ns - 3600 * NS) == []


def test_old_fine_bars_are_dropped_but_minutes_remain() -> None:
    hist = BarHistory(fine_keep=600)
    trades = walk(1_762_000_000 - 1_762_000_000 % 3600, 3600)
    hist.backfill(trades)
    secs = hist.request("1 secs", "1 D")
    assert 600 <= len(secs) <= 600 + 600 // 8 + 1  # trimmed in chunks
    assert len(hist.request("1 min", "1 D")) == 60


def test_backfill_from_ohlcv_bar_prints() -> None:
    t0 = 1_719_877_200
    prints = [BarPrint((t0 + 60 * i) * NS, 100 + i, 103 + i, 99 + i, 101 + i, 10 * (i + 1))
              for i in range(10)]  # fmt: skip
    hist = BarHistory()
    hist.backfill(prints)
    mins = hist.request("1 min", "1 D")
    assert [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in mins] == [
        (p.ts_ns // NS, p.open, p.high, p.low, p.close, p.volume) for p in prints
    ]
    assert all(b.count == -1 for b in mins)  # trade count unknown in OHLCV
    five = hist.request("5 mins", "1 D")
    assert [(b.time, b.open, b.high, b.low, b.close, b.volume) for b in five] == [
        (t0, 100, 107, 99, 105, 150),
        (t0 + 300, 105, 112, 104, 110, 400),
    ]
    assert hist.request("5 secs", "1 D") == []  # no sub-minute data in OHLCV
    assert hist.last_price == 110
    # live bars from the same replay continue the series; subscribers get them
    hist.subscribe("rq", "5 mins")
    updates = hist.on_bar(BarPrint((t0 + 600) * NS, 110, 111, 109, 111, 7))
    assert updates == [("rq", Bar(t0 + 600, 110, 111, 109, 111, 7, 110.33333333333333, -1))]


@pytest.mark.skipif(
    not (Path(__file__).resolve().parents[4] / "shared" / "data").is_dir(),
    reason="recorded data not found",
)
def test_backfill_from_replayed_ohlcv_file() -> None:
    from tradeterm.sim.replay import load_replay

    path = (Path(__file__).resolve().parents[4] / "shared" / "data"
            / "ESU4_NQU4_glbx-mdp3_ohlcv-1m_2024-07-01T2340Z_2024-07-02T0010Z.dbn.zst")  # fmt: skip
    hist = BarHistory()
    assert hist.backfill(load_replay(path, symbol="ESU4")) == 30
    assert len(hist.request("1 min", "1 D")) == 30
    assert len(hist.request("10 mins", "1 D")) == 3


# --- keepUpToDate ----------------------------------------------------------------------------


def apply_update(bars: list[Bar], bar: Bar) -> None:
    """What ib_async does with historicalDataUpdate (wrapper.historicalDataUpdate)."""
    if bars and bar.time < bars[-1].time:
        return
    if bars and bar.time == bars[-1].time:
        bars[-1] = bar
    else:
        bars.append(bar)


@pytest.mark.parametrize("split_offset", [0.05, 0.5, 29.9, 59.95])
def test_keep_up_to_date_seam_has_no_gap_and_no_duplicate(split_offset: float) -> None:
    start = DST_END - 2 * 3600
    trades = walk(start, 3 * 3600, seed=11)
    # Cut inside a minute (and a 5-s bar), so backfill and live share the seam bars.
    cut_s = start + 5400 + split_offset
    k = next(i for i, t in enumerate(trades) if t.ts_ns >= cut_s * NS)
    backfill, live = trades[:k], trades[k:]
    hist = BarHistory()
    hist.backfill(backfill)
    sizes = ["5 secs", "1 min", "3 mins", "1 hour", "4 hours", "1 day"]
    clients = {}
    for s in sizes:
        duration = "1800 S" if parse_bar_size(s) < 60 else "1 D"
        clients[s] = hist.request(s, duration)
        current = hist.subscribe(s, s)
        assert current == clients[s][-1]  # the bar in progress is the last historical bar
    for t in live:
        updates = hist.on_trade(t)
        assert {key for key, _ in updates} == set(sizes)
        for key, bar in updates:
            apply_update(clients[str(key)], bar)
    for key, bar in hist.on_time(live[-1].ts_ns + NS):  # clock ticks re-send the current bar
        apply_update(clients[str(key)], bar)
    for s in sizes:
        size = parse_bar_size(s)
        got = clients[s]
        want = [b for b in reference(trades, size) if b.time >= got[0].time]
        assert got == want, s
        assert [b.time for b in got] == sorted({b.time for b in got})  # no duplicate
        if size <= 3600:
            assert all(b.time - a.time == size for a, b in itertools.pairwise(got))  # no gap
        # a fresh request after the session agrees with what the client built
        fresh = hist.request(s, "1800 S" if size < 60 else "2 D")
        assert fresh == [b for b in want if b.time >= fresh[0].time]


def test_subscriptions_come_and_go() -> None:
    hist = BarHistory()
    assert hist.subscribe(1, "1 min") is None  # nothing yet
    assert hist.on_time(10 * NS) == []
    assert hist.on_trade(tp(60.5, 7, 2)) == [(1, Bar(60, 7, 7, 7, 7, 2, 7.0, 1))]
    assert hist.on_time(70 * NS) == [(1, Bar(60, 7, 7, 7, 7, 2, 7.0, 1))]
    hist.unsubscribe(1)
    assert hist.on_trade(tp(61.0, 8)) == []
    assert hist.subscribe(2, "1 min") == Bar(60, 7, 8, 7, 8, 3, 22 / 3, 2)
    # a late trade for an older bar is recorded but not pushed (ib_async would drop it)
    hist.on_trade(tp(125.0, 9))
    assert hist.on_trade(tp(59.0, 1)) == []
    assert hist.request("1 min", "1 D")[0] == Bar(0, 1, 1, 1, 1, 1, 1.0, 1)
