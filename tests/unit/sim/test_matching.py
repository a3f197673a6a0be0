"""MatchingEngine: aggressive walks, queue position, stops, modify, own-vs-own, invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeterm.sim.market_events import BookClear, BookDelta, BookSide, TradePrint
from tradeterm.sim.matching import MatchingEngine, OrderRejected, OrderType, SimFill

BID, ASK = BookSide.BID, BookSide.ASK
T0 = 1_700_000_000_000_000_000


def engine(bids=((100, 10), (99, 20), (98, 30)), asks=((101, 10), (102, 20), (103, 30))):
    e = MatchingEngine(market_protection_ticks=40)
    for p, s in bids:
        e.on_market(BookDelta(T0, BID, p, s))
    for p, s in asks:
        e.on_market(BookDelta(T0, ASK, p, s))
    return e


def qty(fills: list[SimFill], key) -> int:
    return sum(f.qty for f in fills if f.key == key)


# ---------------------------------------------------------------- aggressive orders


def test_market_buy_walks_the_book_with_slippage_and_prints() -> None:
    e = engine()
    fills = e.submit("m", BID, 25, "MKT", ts_ns=T0 + 1)
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(101, 10, 2), (102, 15, 2)]
    assert fills[-1].remaining == 0
    assert e.resting("m") is None
    assert e.book.size(ASK, 101) == 0 and e.book.size(ASK, 102) == 5
    assert e.best_ask == 102
    pub = e.drain_public()
    assert pub == [
        TradePrint(T0 + 1, 101, 10, BID),
        BookDelta(T0 + 1, ASK, 101, 0),
        TradePrint(T0 + 1, 102, 15, BID),
        BookDelta(T0 + 1, ASK, 102, 5),
    ]
    assert e.drain_public() == []


def test_market_sell_remainder_rests_at_protection_when_book_exhausted() -> None:
    e = engine()
    fills = e.submit("m", ASK, 70, OrderType.MARKET, ts_ns=T0 + 1)
    assert qty(fills, "m") == 60
    info = e.resting("m")
    assert info is not None and info.remaining == 10 and info.price == 100 - 40
    # liquidity arriving on the bid fills the working remainder at the public price
    fills = e.on_market(BookDelta(T0 + 2, BID, 97, 4))
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(97, 4, 2)]
    assert e.book.size(BID, 97) == 0
    fills = e.on_market(BookDelta(T0 + 3, BID, 96, 50))
    assert qty(fills, "m") == 6 and e.resting("m") is None
    assert e.book.size(BID, 96) == 44


def test_market_order_on_empty_opposite_side_works_off_last_trade() -> None:
    e = engine(asks=())
    e.on_market(TradePrint(T0, 100, 1, ASK))
    assert e.submit("m", BID, 5, "MKT") == []
    info = e.resting("m")
    assert info is not None and info.price == 140  # last trade 100 + protection 40
    fills = e.on_market(BookDelta(T0 + 5, ASK, 102, 3))
    assert [(f.price, f.qty) for f in fills] == [(102, 3)]


def test_market_order_without_any_reference_price_is_rejected() -> None:
    e = MatchingEngine()
    with pytest.raises(OrderRejected):
        e.submit("m", BID, 1, "MKT", ts_ns=T0)
    assert e.resting("m") is None


def test_marketable_limit_crosses_up_to_limit_then_rests() -> None:
    e = engine()
    fills = e.submit("l", BID, 50, "LMT", limit=102, ts_ns=T0 + 1)
    assert [(f.price, f.qty) for f in fills] == [(101, 10), (102, 20)]
    assert all(f.price <= 102 for f in fills)
    info = e.resting("l")
    assert info is not None and info.remaining == 20 and info.queue_ahead == 0
    assert e.best_ask == 103


# ---------------------------------------------------------------- resting orders


def test_limit_joins_queue_and_fills_by_queue_consumption() -> None:
    e = engine()
    assert e.submit("b", BID, 5, "LMT", limit=100, ts_ns=T0 + 1) == []
    assert e.resting("b").queue_ahead == 10
    # 6 traded at 100: queue ahead 10 -> 4, the level drops by 6 (explained, not a cancel)
    assert e.on_market(TradePrint(T0 + 2, 100, 6, ASK)) == []
    e.on_market(BookDelta(T0 + 2, BID, 100, 4))
    assert e.resting("b").queue_ahead == 4
    # 7 more: 4 ahead consumed, 3 fill us (partial), liquidity added
    fills = e.on_market(TradePrint(T0 + 3, 100, 7, ASK))
    assert [(f.price, f.qty, f.liquidity, f.remaining) for f in fills] == [(100, 3, 1, 2)]
    assert e.resting("b").queue_ahead == 0
    fills = e.on_market(TradePrint(T0 + 4, 100, 9, ASK))
    assert [(f.qty, f.remaining) for f in fills] == [(2, 0)]
    assert e.resting("b") is None


def test_same_side_aggressor_does_not_consume_our_queue() -> None:
    e = engine()
    e.submit("b", BID, 5, "LMT", limit=100)
    assert e.on_market(TradePrint(T0 + 2, 100, 50, BID)) == []  # a buyer: not our queue
    assert e.resting("b").queue_ahead == 10


def test_trade_through_fills_the_whole_remainder_at_the_limit() -> None:
    e = engine()
    e.submit("b", BID, 40, "LMT", limit=100)
    fills = e.on_market(TradePrint(T0 + 2, 99, 1, ASK))
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(100, 40, 1)]
    assert e.resting("b") is None
    e.submit("s", ASK, 3, "LMT", limit=103)
    fills = e.on_market(TradePrint(T0 + 3, 104, 1, BID))
    assert [(f.price, f.qty) for f in fills] == [(103, 3)]


def test_cancels_shrink_queue_ahead_proportionally() -> None:
    e = engine()
    e.submit("b", BID, 5, "LMT", limit=100)  # 10 ahead, 0 behind
    e.on_market(BookDelta(T0 + 1, BID, 100, 30))  # 20 join behind us
    assert e.resting("b").queue_ahead == 10
    e.on_market(BookDelta(T0 + 2, BID, 100, 15))  # 15 cancelled: 15*10//30 = 5 of them ahead
    assert e.resting("b").queue_ahead == 5
    e.on_market(BookDelta(T0 + 3, BID, 100, 2))  # 13 of 15 cancelled: 5 - 13*5//15 = 1
    assert e.resting("b").queue_ahead == 1


def test_conservative_queue_model_only_clamps() -> None:
    e = MatchingEngine(queue_model="conservative")
    e.on_market(BookDelta(T0, BID, 100, 10))
    e.submit("b", BID, 5, "LMT", limit=100)
    e.on_market(BookDelta(T0 + 1, BID, 100, 30))
    e.on_market(BookDelta(T0 + 2, BID, 100, 15))
    assert e.resting("b").queue_ahead == 10  # type: ignore[union-attr]
    e.on_market(BookDelta(T0 + 3, BID, 100, 4))  # never more ahead than the level holds
    assert e.resting("b").queue_ahead == 4  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        MatchingEngine(queue_model="optimistic")


def test_quote_crossing_our_resting_order_fills_it() -> None:
    e = engine()
    e.submit("b", BID, 8, "LMT", limit=100)
    e.on_market(BookDelta(T0 + 1, ASK, 100, 5))  # an offer appears at our bid
    pub = e.drain_public()
    assert pub == [TradePrint(T0 + 1, 100, 5, BID), BookDelta(T0 + 1, ASK, 100, 0)]
    assert e.resting("b").remaining == 3
    assert e.best_ask == 101


def test_partial_fills_conserve_quantity() -> None:
    e = engine()
    fills = e.submit("b", BID, 15, "LMT", limit=101)
    assert qty(fills, "b") == 10 and fills[-1].remaining == 5
    info = e.resting("b")
    assert info is not None and info.filled + info.remaining == info.qty == 15


# ---------------------------------------------------------------- stops


def test_stop_triggers_on_trade_and_becomes_market() -> None:
    e = engine()
    assert e.submit("s", BID, 12, "STP", stop=102) == []
    assert e.resting("s").price is None
    assert e.on_market(TradePrint(T0 + 1, 101, 1, BID)) == []
    fills = e.on_market(TradePrint(T0 + 2, 102, 1, BID))
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(101, 10, 2), (102, 2, 2)]
    assert e.resting("s") is None


def test_sell_stop_limit_triggers_and_rests_at_limit() -> None:
    e = engine()
    e.submit("s", ASK, 50, "STP LMT", limit=99, stop=100)
    assert e.on_market(TradePrint(T0 + 1, 101, 1, BID)) == []
    fills = e.on_market(TradePrint(T0 + 2, 100, 1, ASK))
    assert [(f.price, f.qty) for f in fills] == [(100, 10), (99, 20)]
    info = e.resting("s")
    assert info is not None and info.triggered and info.price == 99 and info.remaining == 20
    assert all(f.price >= 99 for f in fills)


def test_stop_already_through_triggers_at_once_and_our_prints_cascade() -> None:
    e = engine()
    e.on_market(TradePrint(T0, 101, 1, BID))
    e.submit("s2", BID, 5, "STP", stop=102)  # waits
    fills = e.submit("s1", BID, 15, "STP", stop=100)  # last 101 >= 100: triggers now
    # s1 sweeps 101 and part of 102: its print at 102 triggers s2
    assert qty(fills, "s1") == 15 and qty(fills, "s2") == 5
    assert e.resting("s2") is None


# ---------------------------------------------------------------- cancel / modify


def test_cancel() -> None:
    e = engine()
    e.submit("b", BID, 5, "LMT", limit=99)
    e.submit("s", BID, 5, "STP", stop=110)
    assert e.cancel("b") and e.cancel("s")
    assert not e.cancel("b") and not e.cancel("nope")
    assert e.on_market(TradePrint(T0 + 1, 98, 100, ASK)) == []
    assert e.on_market(TradePrint(T0 + 1, 111, 100, BID)) == []


def test_modify_quantity_down_keeps_priority_up_and_price_lose_it() -> None:
    e = engine()
    e.submit("a", BID, 10, "LMT", limit=100)
    e.on_market(BookDelta(T0 + 1, BID, 100, 25))
    e.submit("b", BID, 10, "LMT", limit=100)
    assert e.resting("b").queue_ahead == 25
    e.modify("a", qty=4)
    assert e.resting("a").queue_ahead == 10
    assert e.resting("a").remaining == 4
    e.modify("a", qty=6)  # up: back of the queue
    assert e.resting("a").queue_ahead == 25
    # b is now first: a trade of 30 eats 25 public, then 5 of b
    fills = e.on_market(TradePrint(T0 + 2, 100, 30, ASK))
    assert [(f.key, f.qty) for f in fills] == [("b", 5)]
    # moving the price and back loses priority as well
    e.modify("b", limit=99)
    e.modify("b", limit=100)
    assert e.resting("b").queue_ahead == e.book.size(BID, 100)


def test_modify_limit_into_the_market_crosses() -> None:
    e = engine()
    e.submit("b", BID, 15, "LMT", limit=99)
    fills = e.modify("b", limit=101, ts_ns=T0 + 1)
    assert [(f.price, f.qty, f.liquidity) for f in fills] == [(101, 10, 2)]
    assert e.resting("b").remaining == 5


def test_modify_stop_and_validation() -> None:
    e = engine()
    e.submit("s", ASK, 5, "STP", stop=95)
    fills = e.modify("s", stop=100, ts_ns=T0 + 1)
    assert fills == []
    fills = e.on_market(TradePrint(T0 + 2, 100, 1, ASK))
    assert qty(fills, "s") == 5
    e.submit("l", BID, 5, "LMT", limit=90)
    with pytest.raises(ValueError):
        e.modify("l", qty=0)
    with pytest.raises(ValueError):
        e.modify("l", stop=3)
    with pytest.raises(KeyError):
        e.modify("zz", qty=1)
    with pytest.raises(ValueError):
        e.submit("l", BID, 5, "LMT", limit=90)  # duplicate key
    with pytest.raises(ValueError):
        e.submit("x", BID, 5, "LMT")  # no limit


# ---------------------------------------------------------------- our orders among themselves


def test_two_sim_orders_cross() -> None:
    e = MatchingEngine()
    e.submit("A", ASK, 5, "LMT", limit=100, ts_ns=T0)
    fills = e.submit("B", BID, 3, "LMT", limit=101, ts_ns=T0 + 1)
    assert sorted((f.key, f.price, f.qty, f.liquidity) for f in fills) == [
        ("A", 100, 3, 1),
        ("B", 100, 3, 2),
    ]
    assert e.drain_public() == [TradePrint(T0 + 1, 100, 3, BID)]
    assert e.resting("A").remaining == 2  # type: ignore[union-attr]


def test_own_order_keeps_its_place_among_public_size() -> None:
    e = engine()
    e.submit("A", BID, 5, "LMT", limit=100)  # 10 public ahead
    fills = e.submit("B", ASK, 12, "MKT")
    assert [(f.key, f.price, f.qty) for f in fills] == [("A", 100, 2), ("B", 100, 12)]
    assert e.book.size(BID, 100) == 0
    fills = e.submit("C", ASK, 5, "MKT")
    assert [(f.key, f.price, f.qty) for f in fills] == [("A", 100, 3), ("C", 100, 3), ("C", 99, 2)]


def test_book_clear_keeps_orders() -> None:
    e = engine()
    e.submit("b", BID, 5, "LMT", limit=100)
    e.on_market(BookClear(T0 + 1))
    assert e.best_bid is None and e.resting("b") is not None


# ---------------------------------------------------------------- properties

prices = st.integers(95, 106)
actions = st.lists(
    st.one_of(
        st.tuples(st.just("delta"), st.sampled_from([BID, ASK]), prices, st.integers(0, 40)),
        st.tuples(st.just("trade"), st.sampled_from([BID, ASK, None]), prices, st.integers(1, 30)),
        st.tuples(
            st.just("order"),
            st.sampled_from([BID, ASK]),
            st.sampled_from(["MKT", "LMT", "STP", "STP LMT"]),
            prices,
            st.integers(1, 40),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("modify"), st.integers(0, 30), st.integers(1, 40), prices),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(actions)
def test_invariants(script) -> None:
    e = engine()
    orders: dict[int, tuple[BookSide, str, int]] = {}  # key -> side, type, total qty
    filled: dict[int, int] = {}
    limits: dict[int, int | None] = {}
    done: set[int] = set()
    n = 0
    ts = T0

    def check(fills: list[SimFill], trade: int | None = None) -> None:
        # Prints in this step: the public one and those our own orders caused (a stop it
        # triggers can trade at another price and cross our resting orders there).
        prints = [trade] if trade is not None else []
        prints += [ev.price for ev in e.drain_public() if isinstance(ev, TradePrint)]
        for f in fills:
            key = f.key
            assert isinstance(key, int)
            assert key not in done, "filled after being done"
            assert f.qty > 0
            filled[key] = filled.get(key, 0) + f.qty
            side, _, total = orders[key]
            assert filled[key] + f.remaining == total  # conservation
            lim = limits[key]
            if lim is not None:  # never worse than the limit
                assert f.price <= lim if side is BID else f.price >= lim
            if trade is not None and f.liquidity == 1:  # never better than any print
                assert f.price >= min(prints) if side is BID else f.price <= max(prints)
            if f.remaining == 0:
                done.add(key)

    for act in script:
        ts += 1
        if act[0] == "delta":
            _, side, p, s = act
            check(e.on_market(BookDelta(ts, side, p, s)))
        elif act[0] == "trade":
            _, agg, p, s = act
            check(e.on_market(TradePrint(ts, p, s, agg)), trade=p)
        elif act[0] == "order":
            _, side, typ, p, q = act
            limit = p if "LMT" in typ else None
            stop = p if "STP" in typ else None
            orders[n] = (side, typ, q)
            limits[n] = limit
            own = [
                i.price
                for i in map(e.resting, orders)
                if i is not None and i.price is not None and i.side is not side
            ]
            pub = e.best_ask if side is BID else e.best_bid
            cands = own + ([pub] if pub is not None else [])
            best = (min(cands) if side is BID else max(cands)) if cands else None
            try:
                fills = e.submit(n, side, q, typ, limit, stop, ts)
            except OrderRejected:
                done.add(n)
                fills = []
            check(fills)
            if typ in ("MKT", "LMT") and best is not None:  # never better than the touch
                for f in fills:
                    if f.key == n:
                        assert f.price >= best if side is BID else f.price <= best
            n += 1
        elif act[0] == "cancel":
            if e.cancel(act[1]):
                done.add(act[1])
        else:
            _, k, q, p = act
            info = e.resting(k)
            if info is None:
                continue
            side, typ, _ = orders[k]
            lim = p if info.limit is not None else None
            orders[k] = (side, typ, info.filled + q)
            if lim is not None:
                limits[k] = lim
            check(e.modify(k, q, lim, None, ts))
        # the engine's view agrees with ours
        for k, (_, _, total) in orders.items():
            info = e.resting(k)
            if info is not None:
                assert k not in done
                assert info.filled == filled.get(k, 0)
                assert info.filled + info.remaining == info.qty == total
                assert info.queue_ahead is None or info.queue_ahead >= 0
    # our resting orders never cross the public book or each other
    bids = [e.resting(k).price for k in orders if e.resting(k) and orders[k][0] is BID]
    asks = [e.resting(k).price for k in orders if e.resting(k) and orders[k][0] is ASK]
    bids = [p for p in bids if p is not None]
    asks = [p for p in asks if p is not None]
    if bids and asks:
        assert max(bids) < min(asks)


# ---------------------------------------------------------------- trailing stops


def test_sell_trailing_stop_follows_trades_up_never_down_then_triggers_as_market() -> None:
    e = engine()
    e.on_market(TradePrint(T0, 100, 1, None))
    assert e.submit("t", ASK, 3, "TRAIL", trail=4, ts_ns=T0 + 1) == []
    assert e.stop_of("t") == 96  # 4 ticks from the last trade
    e.on_market(TradePrint(T0 + 2, 101, 1, None))
    assert e.stop_of("t") == 97 and e.drain_trail_moves() == [("t", 97)]
    e.on_market(TradePrint(T0 + 3, 99, 1, None))  # against: it stays
    assert e.stop_of("t") == 97 and not e.trail_moved
    fills = e.on_market(TradePrint(T0 + 4, 97, 1, None))
    assert qty(fills, "t") == 3 and e.resting("t") is None


def test_buy_trailing_stop_starts_where_given_and_follows_down() -> None:
    e = engine()
    e.on_market(TradePrint(T0, 100, 1, None))
    e.submit("t", BID, 1, "TRAIL", stop=110, trail=5, ts_ns=T0 + 1)
    e.on_market(TradePrint(T0 + 2, 104, 1, None))
    assert e.stop_of("t") == 109 and e.resting("t").trail == 5
    e.modify("t", trail=2, ts_ns=T0 + 3)
    e.on_market(TradePrint(T0 + 4, 104, 1, None))
    assert e.stop_of("t") == 106


def test_trailing_stop_needs_a_trail_and_a_reference() -> None:
    with pytest.raises(ValueError, match="trail"):
        engine().submit("t", ASK, 1, "TRAIL")
    with pytest.raises(OrderRejected):
        MatchingEngine().submit("t", ASK, 1, "TRAIL", trail=2)
