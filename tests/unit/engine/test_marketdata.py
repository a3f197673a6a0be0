"""MarketState (quote, depth, trades, session stats, dirty rows) and the staleness watchdog."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from tests.support.clock import Clock, ct
from tests.support.instruments import ES
from tradeterm.broker.port import (
    BarEvent,
    ConnectionChanged,
    ConnectionState,
    DepthEvent,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.domain import Bar, DepthLevel, Quote, Side, Trade
from tradeterm.engine.calendar import NS
from tradeterm.engine.marketdata import Changed, MarketState
from tradeterm.engine.staleness import Feed, StaleChange, StalenessWatchdog

T0 = ct(2026, 11, 18, 9, 30)  # a Wednesday, market open


def trade(price: int, size: int, ts: int = T0, side: Side | None = None) -> TradeEvent:
    return TradeEvent(Trade(ts, price, size, side))


def lv(*pairs: tuple[int, int]) -> tuple[DepthLevel, ...]:
    return tuple(DepthLevel(p, s) for p, s in pairs)


def test_quote_rows() -> None:
    m = MarketState(ES)
    ch = m.apply(QuoteEvent(Quote(T0, 100, 5, 101, 7)))
    assert ch.kinds == Changed.QUOTE and ch.rows == {100, 101}
    ch = m.apply(QuoteEvent(Quote(T0 + 1, 100, 6, 101, 7)))
    assert ch.rows == {100}
    ch = m.apply(QuoteEvent(Quote(T0 + 2, 101, 3, 102, 9)))
    assert ch.rows == {100, 101, 102}
    assert not m.apply(QuoteEvent(Quote(T0 + 3, 101, 3, 102, 9)))
    ch = m.apply(QuoteEvent(Quote(T0 + 4, None, 0, 102, 9)))
    assert ch.rows == {101}
    assert m.quote is not None and m.quote.bid is None


def test_depth_rows() -> None:
    m = MarketState(ES)
    ch = m.apply(DepthEvent(T0, lv((100, 5), (99, 3)), lv((101, 2))))
    assert ch.kinds == Changed.DEPTH and ch.rows == {99, 100, 101}
    ch = m.apply(DepthEvent(T0, lv((100, 5), (99, 4)), lv((102, 2))))
    assert ch.rows == {99, 101, 102}
    assert not m.apply(DepthEvent(T0, lv((100, 5), (99, 4)), lv((102, 2))))
    snap = m.snapshot()
    assert snap.bids == lv((100, 5), (99, 4)) and snap.asks == lv((102, 2))


def test_trades_volume_vwap_high_low_rows() -> None:
    m = MarketState(ES, large_print=10)
    prints = [(100, 2), (101, 5), (99, 12), (101, 1), (100, 3)]
    last = None
    for i, (p, s) in enumerate(prints):
        ch = m.apply(trade(p, s, T0 + i, Side.BUY))
        assert Changed.TRADE in ch.kinds
        assert ch.rows == ({p} if last is None else {p, last})
        assert (Changed.LARGE_PRINT in ch.kinds) == (s >= 10)
        last = p
    assert m.volume == 23
    assert m.volume_at_price == {100: 5, 101: 6, 99: 12}
    # by hand: (200 + 505 + 1188 + 101 + 300) / 23 = 2294 / 23
    assert m.vwap_exact == Fraction(2294, 23)
    assert m.high == 101 and m.low == 99
    snap = m.snapshot(tape=2)
    assert [p.price for p in snap.tape] == [101, 100]
    assert snap.volume_at_price == ((99, 12), (100, 5), (101, 6))
    assert [p.large for p in m.tape] == [False, False, True, False, False]
    assert snap.last is not None and snap.last.price == 100


def test_high_low_flag_only_on_new_extreme() -> None:
    m = MarketState(ES)
    assert Changed.HIGH_LOW in m.apply(trade(100, 1)).kinds
    assert Changed.HIGH_LOW not in m.apply(trade(100, 1)).kinds
    assert Changed.HIGH_LOW in m.apply(trade(98, 1)).kinds
    assert Changed.HIGH_LOW not in m.apply(trade(90, 0)).kinds  # a size-0 tick: no stats
    assert m.low == 98 and m.volume == 3 and m.last is not None and m.last.price == 90


def test_reset_at_session_open() -> None:
    m = MarketState(ES)
    m.apply(trade(100, 4, ct(2026, 11, 18, 15, 59)))
    m.apply(trade(102, 1, ct(2026, 11, 18, 15, 59, 30)))
    first_open = m.session_open_ns
    ch = m.apply(trade(105, 2, ct(2026, 11, 18, 17, 0, 1)))
    assert Changed.SESSION in ch.kinds and ch.all_rows
    assert {100, 102, 105} <= ch.rows
    assert m.volume == 2 and m.volume_at_price == {105: 2}
    assert m.high == m.low == 105 and m.vwap_exact == 105
    assert m.session_open_ns == ct(2026, 11, 18, 17) != first_open
    assert len(m.tape) == 3  # the tape is kept
    # no reset inside the session
    assert Changed.SESSION not in m.apply(trade(104, 1, ct(2026, 11, 19, 15))).kinds


def test_other_events_change_nothing() -> None:
    m = MarketState(ES)
    assert not m.apply(ConnectionChanged(ConnectionState.OK, "", T0))
    assert not m.apply(BarEvent(Bar(T0, 1, 1, 1, 1, 1), 5, True))


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(1, 100)), min_size=1))
def test_vwap_exact_property(prints: list[tuple[int, int]]) -> None:
    m = MarketState(ES)
    for i, (p, s) in enumerate(prints):
        m.apply(trade(4000 + p, s, T0 + i))
    vol = sum(s for _, s in prints)
    assert m.volume == vol == sum(m.volume_at_price.values())
    assert m.vwap_exact == Fraction(sum((4000 + p) * s for p, s in prints), vol)
    assert m.high == 4000 + max(p for p, _ in prints)


# ---- watchdog ---------------------------------------------------------------------------


TH = {Feed.QUOTES: 5.0, Feed.DEPTH: 5.0, Feed.TRADES: 120.0, Feed.BARS: 30.0}


def test_stale_after_threshold_and_recovers() -> None:
    clock = Clock(T0)
    w = StalenessWatchdog(TH, clock=clock)
    assert w.check() == []
    clock.now = T0 + 5 * NS
    assert w.check() == []  # exactly the threshold: not yet
    for feed in (Feed.DEPTH, Feed.TRADES, Feed.BARS):
        w.touch(feed, T0 + 5 * NS)
    clock.now = T0 + 6 * NS
    assert w.check() == [StaleChange(Feed.QUOTES, True, 6.0)]
    assert w.check() == []  # only transitions
    assert w.is_stale(Feed.QUOTES)
    w.touch(Feed.QUOTES)
    assert w.check() == [StaleChange(Feed.QUOTES, False, 0.0)]
    assert w.age(Feed.DEPTH) == 1.0


def test_quiet_feeds_have_longer_thresholds() -> None:
    clock = Clock(T0)
    w = StalenessWatchdog(TH, clock=clock)
    clock.now = T0 + 60 * NS
    w.touch(Feed.QUOTES)
    w.touch(Feed.DEPTH)
    assert {c.feed for c in w.check()} == {Feed.BARS}
    clock.now = T0 + 121 * NS
    w.touch(Feed.QUOTES)
    w.touch(Feed.DEPTH)
    assert [c.feed for c in w.check()] == [Feed.TRADES]


def test_a_closed_market_expects_no_data() -> None:
    brk = ct(2026, 11, 18, 16)
    clock = Clock(brk - 10 * NS)
    w = StalenessWatchdog(TH, clock=clock)
    clock.now = brk - 1
    assert {c.feed for c in w.check()} == {Feed.QUOTES, Feed.DEPTH}
    clock.now = brk + 30 * 60 * NS  # in the break: everything recovers, nothing stale
    changes = w.check()
    assert {c.feed for c in changes} == {Feed.QUOTES, Feed.DEPTH}
    assert not any(c.stale for c in changes)
    # the reopen: age counts from 17:00, not from the last touch before the break
    clock.now = ct(2026, 11, 18, 17, 0, 3)
    assert w.check() == []
    clock.now = ct(2026, 11, 18, 17, 0, 6)
    assert {c.feed for c in w.check()} == {Feed.QUOTES, Feed.DEPTH}
    # the weekend
    clock.now = ct(2026, 11, 21, 12)
    assert all(not c.stale for c in w.check())


def test_rearm_and_unwatched_feed() -> None:
    clock = Clock(T0)
    w = StalenessWatchdog({Feed.QUOTES: 5.0}, clock=clock)
    w.touch(Feed.DEPTH)  # not watched: ignored
    clock.now = T0 + 10 * NS
    assert w.check()[0].stale
    w.rearm()
    assert not w.check()[0].stale
    assert not w.is_stale(Feed.DEPTH)


SUNDAY = int(dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()) * NS  # 06:00 CT, closed


def test_a_feed_delivering_on_a_closed_market_goes_stale_when_it_stops() -> None:
    # the simulated market and replays run at any hour: a frozen feed must not look live
    clock = Clock(SUNDAY)
    w = StalenessWatchdog(TH, clock=clock)
    for second in range(1, 4):
        clock.now = SUNDAY + second * NS
        w.touch(Feed.QUOTES)
        assert w.check() == []
    clock.now = SUNDAY + 8 * NS  # exactly 5 s of silence: not yet
    assert w.check() == []
    clock.now = SUNDAY + 8 * NS + 1
    assert [(c.feed, c.stale) for c in w.check()] == [(Feed.QUOTES, True)]
    w.touch(Feed.QUOTES)  # data again
    assert [(c.feed, c.stale) for c in w.check()] == [(Feed.QUOTES, False)]
    # a feed that never delivered is not expected on a Sunday morning, nor after a rearm
    clock.now = SUNDAY + 600 * NS
    w.rearm()
    assert w.check() == []
    clock.now += 6 * NS
    assert [(c.feed, c.stale) for c in w.check()] == [(Feed.QUOTES, True)]


def test_the_sessions_last_data_is_not_a_feed_running_through_the_break() -> None:
    close = ct(2026, 11, 18, 16)
    clock = Clock(close - 60 * NS)
    w = StalenessWatchdog(TH, clock=clock)
    w.touch(Feed.QUOTES, close - NS)
    w.touch(Feed.DEPTH, close + 5 * NS)  # the close's own tail: within the threshold
    clock.now = close + 20 * 60 * NS
    assert w.check() == []
    w.touch(Feed.DEPTH, close + 20 * 60 * NS)  # later than that: depth runs in the break
    clock.now += 6 * NS
    assert [(c.feed, c.stale) for c in w.check()] == [(Feed.DEPTH, True)]
