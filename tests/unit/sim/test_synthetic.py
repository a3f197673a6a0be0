"""SyntheticMarket: determinism, ES-like microstructure, clock control, client feedback, backfill."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter

import pytest

from tradeterm.sim.book import L2Book
from tradeterm.sim.market_events import BookDelta, BookSide, TradePrint
from tradeterm.sim.matching import MatchingEngine
from tradeterm.sim.synthetic import SyntheticMarket

BID, ASK = BookSide.BID, BookSide.ASK
START = 1_700_000_040 * 1_000_000_000  # on a minute boundary
PX = 20_000


def market(seed: int = 7, **kw) -> SyntheticMarket:
    return SyntheticMarket(start_price_ticks=PX, seed=seed, start_ns=START, **kw)


def test_deterministic_for_a_seed_and_different_for_another() -> None:
    a, b, c = market(1), market(1), market(2)
    ea = [a.next_event() for _ in range(5000)]
    assert ea == [b.next_event() for _ in range(5000)]
    assert ea != [c.next_event() for _ in range(5000)]
    assert a.history(30) == b.history(30) != c.history(30)


def test_initial_snapshot() -> None:
    m = market(levels=10)
    snap = [m.next_event() for _ in range(20)]
    assert all(type(e) is BookDelta and e.ts_ns == START and e.size > 0 for e in snap)
    book = L2Book()
    for e in snap:
        book.apply(e)
    assert book.best_bid == PX and book.best_ask == PX + 1
    assert book.depth(BID) == book.depth(ASK) == 10


def test_microstructure_over_200k_events() -> None:
    m = market(3)
    book = L2Book()
    spreads: Counter[int] = Counter()
    regimes: Counter[str] = Counter()
    by_level = [[0, 0] for _ in range(10)]  # sum, count of sizes per distance from the touch
    trades = 0
    last_ts = 0
    trade_times: list[int] = []
    for i in range(200_000):
        ev = m.next_event()
        assert ev.ts_ns >= last_ts
        last_ts = ev.ts_ns
        if type(ev) is TradePrint:
            trades += 1
            if not trade_times or trade_times[-1] != ev.ts_ns:
                trade_times.append(ev.ts_ns)
            assert type(ev.price) is int and type(ev.size) is int and ev.size > 0
            # the aggressor takes the touch as the book shows it
            if ev.aggressor is BID:
                assert ev.price == book.best_ask and ev.size <= book.size(ASK, ev.price)
            else:
                assert ev.aggressor is ASK
                assert ev.price == book.best_bid and ev.size <= book.size(BID, ev.price)
        else:
            assert type(ev) is BookDelta
            assert type(ev.price) is int and type(ev.size) is int and ev.size >= 0
        book.apply(ev)
        regimes[m.regime] += 1
        if i >= 20:
            bid, ask = book.best_bid, book.best_ask
            assert bid is not None and ask is not None and bid < ask
            spreads[ask - bid] += 1
            if i % 97 == 0:
                for j, (_, s) in enumerate(book.levels(BID, 10)):
                    assert s > 0
                    by_level[j][0] += s
                    by_level[j][1] += 1
    n = sum(spreads.values())
    assert spreads[1] / n > 0.80
    assert regimes["calm"] > 10_000 and regimes["active"] > 10_000
    assert 0.005 < trades / 200_000 < 0.2
    # clustered arrivals: inter-trade times are over-dispersed (a Poisson stream has CV 1)
    gaps = [b - a for a, b in itertools.pairwise(trade_times)]
    assert statistics.pstdev(gaps) / statistics.mean(gaps) > 1.3
    mean = [s / c for s, c in by_level]
    assert 5 < mean[0] < 150 and mean[-1] > 2 * mean[0]  # thicker away from the touch
    assert max(mean) < 1000
    assert abs(book.last_price - PX) < 400  # type: ignore[operator]


def test_clock_override_and_events_until() -> None:
    m = market()
    for _ in range(20):
        m.next_event()
    wall = START + 5_000_000_000
    for k in range(100):
        ev = m.next_event(now_ns=wall + k)
        assert ev.ts_ns == wall + k
    assert m.now_ns >= wall + 99
    nxt = m.next_ts()
    batch = m.events_until(nxt + 2_000_000_000)
    assert batch and batch[0].ts_ns == nxt
    assert all(e.ts_ns <= nxt + 2_000_000_000 for e in batch)
    assert m.next_ts() > nxt + 2_000_000_000


def _sync_run(feed_all: bool, own_resting: bool) -> int:
    """Random client orders against the generator; count times the books disagree."""
    m = market(5)
    eng = MatchingEngine()
    rng = random.Random(9)
    mismatches = key = 0
    for i in range(40_000):
        eng.on_market(m.next_event())
        if i > 50 and rng.random() < 0.003:
            side = rng.choice([BID, ASK])
            q = rng.choice([1, 5, 50, 300, 2000])
            if rng.random() < 0.5:
                eng.submit(key, side, q, "MKT")
            else:
                lim = eng.best_ask + 2 if side is BID else eng.best_bid - 2  # type: ignore[operator]
                eng.submit(key, side, q, "LMT", lim)
            key += 1
            if not own_resting:
                for k in eng.working_keys():
                    eng.cancel(k)
        for ev in eng.drain_public():
            if feed_all:
                m.on_external(ev)
            elif type(ev) is TradePrint:
                m.on_external_trade(ev.price, ev.size, ev.aggressor)
        if not m._pending:  # everything the generator did is published
            for side in (BID, ASK):
                if eng.book.levels(side, 50) != m.levels(side):
                    mismatches += 1
    return mismatches


def test_client_liquidity_keeps_generator_and_engine_books_identical() -> None:
    assert _sync_run(feed_all=True, own_resting=True) == 0
    # feeding back only the prints is exact as long as our orders do not trade with each other
    assert _sync_run(feed_all=False, own_resting=False) == 0


def test_external_trade_moves_the_generator() -> None:
    m = market()
    for _ in range(20):
        m.next_event()
    top = m.levels(ASK)
    taken = top[0][1] + top[1][1] + 1
    m.on_external_trade(top[0][0], top[0][1], BID)
    m.on_external_trade(top[1][0], top[1][1], BID)
    m.on_external_trade(top[2][0], 1, BID)
    assert m.best_ask == top[2][0] and m.last == top[2][0]
    assert m.levels(ASK)[0] == (top[2][0], top[2][1] - 1)
    assert len(m.levels(ASK)) == 10  # the far end was refilled ...
    refills = [m.next_event() for _ in range(2)]  # ... and that refill is published
    assert all(type(e) is BookDelta and e.side is ASK and e.size > 0 for e in refills)
    assert taken > 0 and m.fair > PX + 0.5


@pytest.mark.parametrize("minutes", [1, 90])
def test_history_ends_at_the_start_price_and_time(minutes: int) -> None:
    m = market()
    hist = m.history(minutes)
    assert hist[-1].price == PX and hist[-1].ts_ns == START - 1
    assert hist[0].ts_ns >= START - minutes * 60_000_000_000
    assert all(a.ts_ns < b.ts_ns for a, b in itertools.pairwise(hist))
    assert all(type(t.price) is int and t.size > 0 for t in hist)
    assert max(abs(a.price - b.price) for a, b in itertools.pairwise(hist)) < 20
    bars = m.history_bars(minutes)
    assert len(bars) == minutes
    assert bars[-1].close == PX and bars[-1].ts_ns == START - 60_000_000_000
    assert sum(b.volume for b in bars) == sum(t.size for t in hist)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    assert all(b.ts_ns % 60_000_000_000 == 0 for b in bars)
    # the live stream starts where history ended
    first = [m.next_event() for _ in range(20)]
    assert max(e.price for e in first if e.side is BID) == PX  # type: ignore[union-attr]
    assert m.history(0) == []


def test_history_is_independent_of_the_live_stream() -> None:
    a, b = market(11), market(11)
    a.history(60)
    assert [a.next_event() for _ in range(1000)] == [b.next_event() for _ in range(1000)]


def test_rejects_bad_levels() -> None:
    with pytest.raises(ValueError):
        SyntheticMarket(start_price_ticks=PX, seed=1, levels=0, start_ns=START)
