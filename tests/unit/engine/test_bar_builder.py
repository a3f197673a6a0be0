"""BarBuilder: trades and 5-second bars into minute bars, the history/live seam, real CME data."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.real_data import rows, ts_ns
from tests.support.instruments import ES
from tradeterm.broker.port import BarEvent, QuoteEvent, TradeEvent
from tradeterm.domain import Bar, ContractMonth, Instrument, Quote, Timeframe, Trade
from tradeterm.engine.bar_builder import BarBuilder, BarUpdate

NS = 1_000_000_000
M = 60 * NS
T0 = 1_795_000_000 * NS - 1_795_000_000 * NS % M  # a minute boundary


def bars_from(trades: list[Trade], period_ns: int = M) -> list[Bar]:
    """The reference: OHLCV per period from the prints, empty periods skipped."""
    out: dict[int, list[Trade]] = {}
    for t in trades:
        out.setdefault(t.ts_ns - t.ts_ns % period_ns, []).append(t)
    return [
        Bar(s, ts[0].price, max(t.price for t in ts), min(t.price for t in ts), ts[-1].price,
            sum(t.size for t in ts))
        for s, ts in sorted(out.items())
    ]  # fmt: skip


def five_second_events(trades: list[Trade]) -> list[tuple[int, BarEvent]]:
    """(delivery time, event): each 5-s bar is delivered at the end of its slot."""
    return [(b.start_ns + 5 * NS, BarEvent(b, 5, True)) for b in bars_from(trades, 5 * NS)]


def interleave(trades: list[Trade], bars: list[tuple[int, BarEvent]]) -> list[object]:
    """Trades and 5-s bars in delivery order (a bar after every trade up to its end)."""
    events: list[tuple[int, int, object]] = [(t.ts_ns, 0, TradeEvent(t)) for t in trades]
    events += [(ts, 1, e) for ts, e in bars]
    return [e for _, _, e in sorted(events, key=lambda x: (x[0], x[1]))]


def run(builder: BarBuilder, events: list[object]) -> list[BarUpdate]:
    out: list[BarUpdate] = []
    for e in events:
        out += builder.apply(e)  # type: ignore[arg-type]
    return out


trade_lists = st.lists(
    st.tuples(st.integers(0, 240 * NS - 1), st.integers(-8, 8), st.integers(1, 20)),
    min_size=1,
    max_size=60,
).map(lambda xs: [Trade(T0 + ts, 4000 + p, s) for ts, p, s in sorted(xs, key=lambda x: x[0])])


def test_trades_only_and_close_emission() -> None:
    b = BarBuilder(ES)
    assert b.apply(TradeEvent(Trade(T0 + 1, 100, 2))) == [
        BarUpdate(Bar(T0, 100, 100, 100, 100, 2), False)
    ]
    assert b.apply(TradeEvent(Trade(T0 + 2 * NS, 102, 1)))[0].bar == Bar(T0, 100, 102, 100, 102, 3)
    ups = b.apply(TradeEvent(Trade(T0 + M + 5, 101, 4)))
    assert ups == [
        BarUpdate(Bar(T0, 100, 102, 100, 102, 3), True),
        BarUpdate(Bar(T0 + M, 101, 101, 101, 101, 4), False),
    ]
    assert b.closed == (Bar(T0, 100, 102, 100, 102, 3),)
    assert b.on_time(T0 + 2 * M - 1) == []
    assert b.on_time(T0 + 2 * M) == [BarUpdate(Bar(T0 + M, 101, 101, 101, 101, 4), True)]
    assert b.forming is None and len(b.bars()) == 2
    assert b.apply(QuoteEvent(Quote(T0, 1, 1, 2, 1))) == []


def test_empty_minute_is_skipped() -> None:
    b = BarBuilder(ES)
    run(b, [TradeEvent(Trade(T0, 100, 1)), TradeEvent(Trade(T0 + 3 * M, 101, 1))])
    assert [x.start_ns for x in b.bars()] == [T0, T0 + 3 * M]
    # quiet 5-s bars carry no data, only time
    ups = b.apply(BarEvent(Bar(T0 + 4 * M, 101, 101, 101, 101, 0), 5, True))
    assert ups == [BarUpdate(Bar(T0 + 3 * M, 101, 101, 101, 101, 1), True)]
    assert b.forming is None


def test_five_second_bar_replaces_its_trades_volume() -> None:
    b = BarBuilder(ES)
    run(b, [TradeEvent(Trade(T0 + 1 * NS, 100, 2)), TradeEvent(Trade(T0 + 2 * NS, 101, 3))])
    # the bar of the slot saw 6 (a print was missed by the trade feed) and a low of 99
    ups = b.apply(BarEvent(Bar(T0, 100, 101, 99, 101, 6), 5, True))
    assert ups == [BarUpdate(Bar(T0, 100, 101, 99, 101, 6), False)]
    b.apply(TradeEvent(Trade(T0 + 6 * NS, 102, 1)))  # next slot: trades add
    assert b.forming == Bar(T0, 100, 102, 99, 102, 7)
    b.apply(BarEvent(Bar(T0 + 5 * NS, 102, 102, 102, 102, 1), 5, True))  # same: no change
    assert b.forming == Bar(T0, 100, 102, 99, 102, 7)
    b.apply(BarEvent(Bar(T0 + 5 * NS, 102, 102, 102, 102, 1), 5, True))  # repeated: no change
    assert b.forming == Bar(T0, 100, 102, 99, 102, 7)


def test_late_five_second_bar_amends_the_closed_bar() -> None:
    b = BarBuilder(ES)
    run(b, [TradeEvent(Trade(T0 + 57 * NS, 100, 2)), TradeEvent(Trade(T0 + M + 1, 101, 1))])
    ups = b.apply(BarEvent(Bar(T0 + 55 * NS, 100, 100, 100, 100, 3), 5, True))
    assert ups == [BarUpdate(Bar(T0, 100, 100, 100, 100, 3), True)]
    assert [x.start_ns for x in b.bars()] == [T0, T0 + M]
    assert b.closed[-1].volume == 3
    b.apply(TradeEvent(Trade(T0 + 2 * M, 101, 1)))
    assert b.apply(BarEvent(Bar(T0 + 55 * NS, 100, 100, 100, 100, 3), 5, True)) == []
    assert b.late == 1


@settings(max_examples=150, deadline=None)
@given(trade_lists)
def test_trades_and_five_second_bars_never_double_count(trades: list[Trade]) -> None:
    expected = bars_from(trades)
    both, only_trades, only_bars = BarBuilder(ES), BarBuilder(ES), BarBuilder(ES)
    fives = five_second_events(trades)
    run(both, interleave(trades, fives))
    run(only_trades, [TradeEvent(t) for t in trades])
    run(only_bars, [e for _, e in fives])
    for b in (both, only_trades, only_bars):
        assert list(b.bars()) == expected


@settings(max_examples=150, deadline=None)
@given(trade_lists, st.integers(0, 240 * NS), st.sampled_from(["exact", "overlap", "gap"]))
def test_history_live_seam(trades: list[Trade], cut: int, mode: str) -> None:
    """History = the bars of the trades before the cut (its last bar partial), live = trades
    after it; "overlap": the live feed started at the minute of the cut (the usual order:
    subscribe, then ask history); "gap": live starts at the cut itself."""
    cut_ts = T0 + cut
    expected = bars_from(trades)
    history = bars_from([t for t in trades if t.ts_ns < cut_ts])
    live_from = cut_ts - cut_ts % M if mode == "overlap" else cut_ts
    if mode == "exact":
        live_from = cut_ts = cut_ts - cut_ts % M
        history = bars_from([t for t in trades if t.ts_ns < cut_ts])
    b = BarBuilder(ES)
    b.backfill(history)
    ups = run(b, [TradeEvent(t) for t in trades if t.ts_ns >= live_from])
    got = list(b.bars())
    starts = [x.start_ns for x in got]
    assert starts == sorted(set(starts)) == [x.start_ns for x in expected]  # no dup, no gap
    for g, e in zip(got, expected, strict=True):
        seam = g.start_ns == cut_ts - cut_ts % M
        if mode == "gap" and seam:  # the seam minute may miss trades, never counts twice
            assert (g.open, g.high, g.low, g.close) == (e.open, e.high, e.low, e.close)
            assert g.volume <= e.volume
        else:
            assert g == e
    closed_starts = [u.bar.start_ns for u in ups if u.closed]
    assert closed_starts == sorted(set(closed_starts))


def test_history_then_live_seam_replaces_partial_bar() -> None:
    b = BarBuilder(ES)
    b.backfill([Bar(T0 - M, 99, 99, 99, 99, 5), Bar(T0, 100, 103, 100, 101, 10)])
    ups = b.apply(TradeEvent(Trade(T0 + 30 * NS, 98, 2)))
    assert ups == [BarUpdate(Bar(T0, 100, 103, 98, 98, 10), False)]
    assert [x.start_ns for x in b.bars()] == [T0 - M, T0]
    assert b.closed == (Bar(T0 - M, 99, 99, 99, 99, 5),)


def test_history_arriving_after_live_and_keep_up_to_date_bars() -> None:
    b = BarBuilder(ES)
    run(b, [TradeEvent(Trade(T0 + 10 * NS, 100, 1))])
    b.backfill([Bar(T0 - 2 * M, 97, 97, 97, 97, 1), Bar(T0, 101, 101, 99, 99, 4)])
    assert b.bars() == (Bar(T0 - 2 * M, 97, 97, 97, 97, 1), Bar(T0, 101, 101, 99, 100, 4))
    # a keepUpToDate 1-min bar for an older minute slots in, in order
    b.apply(BarEvent(Bar(T0 - M, 98, 98, 98, 98, 2), 60, False))
    assert [x.start_ns for x in b.bars()] == [T0 - 2 * M, T0 - M, T0]
    b.apply(BarEvent(Bar(T0 - M, 98, 99, 98, 99, 3), 60, True))
    assert b.closed[-1] == Bar(T0 - M, 98, 99, 98, 99, 3)
    assert b.apply(BarEvent(Bar(T0, 1, 1, 1, 1, 1), 30, True)) == []  # other sizes: ignored


def test_keep_bounds_the_closed_bars() -> None:
    b = BarBuilder(ES, Timeframe(60), keep=3)
    run(b, [TradeEvent(Trade(T0 + i * M, 100 + i, 1)) for i in range(10)])
    assert [x.open for x in b.closed] == [106, 107, 108]
    with pytest.raises(ValueError):
        BarBuilder(ES, Timeframe(7))


def test_five_minute_bars() -> None:
    trades = [Trade(T0 + i * 37 * NS, 100 + i % 5, 1 + i % 3) for i in range(40)]
    b = BarBuilder(ES, Timeframe.parse("5m"))
    run(b, interleave(trades, five_second_events(trades)))
    assert list(b.bars()) == bars_from(trades, 5 * M)


# ---- real CME data ----------------------------------------------------------------------

ESU4 = Instrument.from_spec("ES", ContractMonth(2024, 9))


def test_real_esu4_trades_rebuild_the_cme_minute_bars() -> None:
    trades = [
        Trade(ts_ns(r["ts_event"]), ESU4.to_ticks(r["price"]), int(r["size"]))
        for r in rows("ESU4_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.csv")
        if r["action"] == "T"
    ]

    def reference_bar(r: dict[str, str]) -> Bar:
        o, h, lo, c = (ESU4.to_ticks(r[k]) for k in ("open", "high", "low", "close"))
        return Bar(ts_ns(r["ts_event"]), o, h, lo, c, int(r["volume"]))

    reference = {
        ts_ns(r["ts_event"]): reference_bar(r)
        for r in rows("ESU4_NQU4_ohlcv-1m_2024-07-01T2340Z_2024-07-02T0010Z.csv")
        if r["symbol"] == "ESU4"
    }
    b = BarBuilder(ESU4)
    closed = [u.bar for u in run(b, [TradeEvent(t) for t in trades]) if u.closed]
    built = [*closed, b.forming]
    first, last = trades[0].ts_ns, trades[-1].ts_ns
    # minutes fully inside the file: 23:58 (no print before 23:58:01) to 00:01
    compared = [x for x in built if x is not None and first - first % M <= x.start_ns <= last]
    assert len(compared) == 4
    for bar in compared:
        assert bar == reference[bar.start_ns]
    # and through 5-s bars + trades together
    both = BarBuilder(ESU4)
    run(both, interleave(trades, five_second_events(trades)))
    assert list(both.bars()) == compared
