"""The paper fill model's rules (tradeterm/paper/fill_model.py), one test per rule."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tradeterm.domain import DepthLevel, OrderStatus, OrderType, Quote, Side, Trade
from tradeterm.paper.fill_model import FillModel, Outcome, PaperFill, PaperStatus

T = 1_000


def book(model: FillModel, bids: list[tuple[int, int]], asks: list[tuple[int, int]],
         ts: int = T) -> list[Outcome]:  # fmt: skip
    return model.on_depth(
        ts, [DepthLevel(p, s) for p, s in bids], [DepthLevel(p, s) for p, s in asks]
    )


def fills(out: list[Outcome]) -> list[tuple[int, int]]:
    """(price, quantity) of each fill."""
    return [(o.price, o.quantity) for o in out if isinstance(o, PaperFill)]


def statuses(out: list[Outcome]) -> list[OrderStatus]:
    return [o.status for o in out if isinstance(o, PaperStatus)]


def test_a_limit_behind_300_does_not_fill_when_10_trade_and_fills_beyond_300() -> None:
    m = FillModel()
    book(m, [(100, 300), (99, 50)], [(101, 40)])
    out = m.submit(1, Side.BUY, 5, OrderType.LIMIT, limit=100, ts_ns=T)
    assert statuses(out) == [OrderStatus.SUBMITTED] and not fills(out)
    assert m.working(1) is not None and m.working(1).queue_ahead == 300  # type: ignore[union-attr]
    assert not m.on_trade(Trade(T + 1, 100, 10, Side.SELL))
    book(m, [(100, 290)], [(101, 40)], T + 2)
    assert m.working(1).queue_ahead == 290  # type: ignore[union-attr]
    assert not m.on_trade(Trade(T + 3, 100, 288, Side.SELL))  # 298 traded: 2 still ahead
    out = m.on_trade(Trade(T + 4, 100, 5, Side.SELL))  # 303 traded: 3 beyond the queue
    assert fills(out) == [(100, 3)]
    out = m.on_trade(Trade(T + 5, 100, 4, Side.SELL))
    assert fills(out) == [(100, 2)] and statuses(out) == [OrderStatus.FILLED]
    assert m.working(1) is None


def test_a_fall_of_the_level_before_its_trade_does_not_move_us_forward_twice() -> None:
    m = FillModel()
    book(m, [(100, 300)], [(101, 40)])
    m.submit(1, Side.BUY, 5, OrderType.LIMIT, limit=100, ts_ns=T)
    book(m, [(100, 290)], [(101, 40)], T + 1)  # the feed shows the fall first...
    assert not m.on_trade(Trade(T + 2, 100, 10, Side.SELL))  # ...then the trade: counted once
    assert m.working(1).queue_ahead == 290  # type: ignore[union-attr]


def test_cancels_at_our_price_are_assumed_behind_us_until_the_level_is_smaller() -> None:
    m = FillModel()
    book(m, [(100, 300)], [(101, 40)])
    m.submit(1, Side.BUY, 1, OrderType.LIMIT, limit=100, ts_ns=T)
    book(m, [(100, 120)], [(101, 40)], T + 1)
    assert m.working(1).queue_ahead == 120  # type: ignore[union-attr]
    book(m, [(100, 500)], [(101, 40)], T + 2)  # joiners go behind us
    assert m.working(1).queue_ahead == 120  # type: ignore[union-attr]


def test_trades_of_our_own_side_do_not_eat_our_queue() -> None:
    m = FillModel()
    book(m, [(100, 10)], [(101, 40)])
    m.submit(1, Side.SELL, 2, OrderType.LIMIT, limit=101, ts_ns=T)
    assert not m.on_trade(Trade(T + 1, 101, 30, Side.SELL))  # a seller aggressed: not our queue
    assert m.working(1).queue_ahead == 40  # type: ignore[union-attr]


def test_a_trade_through_our_price_fills_up_to_its_size_at_our_limit() -> None:
    m = FillModel()
    book(m, [(100, 300)], [(101, 40)])
    m.submit(1, Side.BUY, 5, OrderType.LIMIT, limit=100, ts_ns=T)
    out = m.on_trade(Trade(T + 1, 99, 3, Side.SELL))
    assert fills(out) == [(100, 3)]


def test_a_market_order_walks_the_book_level_by_level() -> None:
    m = FillModel()
    book(m, [(100, 5)], [(101, 2), (102, 3), (104, 10)])
    out = m.submit(1, Side.BUY, 7, OrderType.MARKET, ts_ns=T)
    assert fills(out) == [(101, 2), (102, 3), (104, 2)]
    assert statuses(out) == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert all(isinstance(o, PaperStatus) or o.aggressive for o in out)


def test_what_the_book_cannot_fill_keeps_working_and_liquidity_taken_is_not_taken_twice() -> None:
    m = FillModel(protection_ticks=10)
    book(m, [(100, 5)], [(101, 2), (102, 3)])
    out = m.submit(1, Side.BUY, 8, OrderType.MARKET, ts_ns=T)
    assert fills(out) == [(101, 2), (102, 3)]
    w = m.working(1)
    assert w is not None and w.filled == 5 and w.price == 111  # protection: best ask + 10
    assert not fills(book(m, [(100, 5)], [(101, 2), (102, 3)], T + 1))  # the same contracts
    out = book(m, [(100, 5)], [(101, 2), (102, 3), (103, 9)], T + 2)  # new offers at 103
    assert fills(out) == [(103, 3)] and statuses(out) == [OrderStatus.FILLED]


def test_contracts_we_took_come_back_once_the_feed_removes_them() -> None:
    m = FillModel()
    book(m, [(100, 5)], [(101, 4)])
    assert fills(m.submit(1, Side.BUY, 3, OrderType.MARKET, ts_ns=T)) == [(101, 3)]
    assert fills(m.submit(2, Side.BUY, 3, OrderType.MARKET, ts_ns=T)) == [(101, 1)]
    book(m, [(100, 5)], [(101, 0)], T + 1)  # the level empties: the count of what we took ends
    out = book(m, [(100, 5)], [(101, 6)], T + 2)
    assert fills(out) == [(101, 2)]


def test_a_market_order_with_no_price_at_all_is_rejected() -> None:
    out = FillModel().submit(1, Side.BUY, 1, OrderType.MARKET, ts_ns=T)
    assert statuses(out) == [OrderStatus.REJECTED]


def test_a_crossing_limit_fills_as_marketable_and_rests_the_rest_at_its_limit() -> None:
    m = FillModel()
    book(m, [(100, 5)], [(101, 2), (102, 3), (103, 9)])
    out = m.submit(1, Side.BUY, 8, OrderType.LIMIT, limit=102, ts_ns=T)
    assert fills(out) == [(101, 2), (102, 3)]
    w = m.working(1)
    assert w is not None and w.price == 102 and w.queue_ahead == 0 and w.filled == 5


def test_the_opposite_side_reaching_a_resting_limit_fills_it_at_its_limit() -> None:
    m = FillModel()
    book(m, [(100, 50)], [(102, 5)])
    m.submit(1, Side.BUY, 4, OrderType.LIMIT, limit=101, ts_ns=T)
    out = m.on_quote(Quote(T + 1, 100, 50, 100, 3))  # the ask falls through our bid
    assert fills(out) == [(101, 3)]


def test_a_stop_triggers_on_a_trade_at_its_price_and_then_takes_the_book() -> None:
    m = FillModel()
    book(m, [(100, 5)], [(101, 5), (102, 5)])
    m.on_trade(Trade(T, 100, 1))
    out = m.submit(1, Side.BUY, 6, OrderType.STOP, stop=102, ts_ns=T)
    assert statuses(out) == [OrderStatus.SUBMITTED]
    assert not m.on_trade(Trade(T + 1, 101, 1, Side.BUY))
    out = m.on_trade(Trade(T + 2, 102, 1, Side.BUY))
    assert fills(out) == [(101, 5), (102, 1)]


def test_a_sell_stop_limit_triggers_through_its_stop_and_rests_at_its_limit() -> None:
    m = FillModel()
    book(m, [(100, 2), (99, 5)], [(101, 5)])
    m.on_trade(Trade(T, 101, 1))
    m.submit(1, Side.SELL, 4, OrderType.STOP_LIMIT, stop=100, limit=100, ts_ns=T)
    out = m.on_trade(Trade(T + 1, 99, 1, Side.SELL))  # through the stop
    assert fills(out) == [(100, 2)]
    w = m.working(1)
    assert w is not None and w.price == 100 and w.filled == 2


def test_a_stop_the_last_trade_already_reached_triggers_on_arrival() -> None:
    m = FillModel()
    book(m, [(100, 5)], [(101, 5)])
    m.on_trade(Trade(T, 100, 1))
    out = m.submit(1, Side.SELL, 1, OrderType.STOP, stop=100, ts_ns=T)
    assert fills(out) == [(100, 1)]


def test_cancel_ends_a_working_order_and_nothing_else() -> None:
    m = FillModel()
    book(m, [(100, 300)], [(101, 40)])
    m.submit(1, Side.BUY, 5, OrderType.LIMIT, limit=100, ts_ns=T)
    assert statuses(m.cancel(1, ts_ns=T + 1)) == [OrderStatus.CANCELLED]
    assert m.cancel(1, ts_ns=T + 2) == []
    assert not m.on_trade(Trade(T + 3, 99, 500, Side.SELL))


def test_a_new_price_loses_the_queue_and_a_smaller_size_keeps_it() -> None:
    m = FillModel()
    book(m, [(100, 300), (99, 200)], [(101, 40)])
    m.submit(1, Side.BUY, 5, OrderType.LIMIT, limit=100, ts_ns=T)
    m.on_trade(Trade(T + 1, 100, 250, Side.SELL))
    book(m, [(100, 60), (99, 200)], [(101, 40)], T + 2)  # 50 left ahead, 10 joined behind
    assert m.working(1).queue_ahead == 50  # type: ignore[union-attr]
    m.modify(1, quantity=3, ts_ns=T + 3)
    assert m.working(1).queue_ahead == 50 and m.working(1).quantity == 3  # type: ignore[union-attr]
    m.modify(1, quantity=4, ts_ns=T + 4)  # a larger size: the back of the level
    assert m.working(1).queue_ahead == 60  # type: ignore[union-attr]
    m.modify(1, limit=99, ts_ns=T + 5)
    assert m.working(1).queue_ahead == 200  # type: ignore[union-attr]
    m.modify(1, limit=100, ts_ns=T + 6)  # back at 100: behind all 60 shown
    assert m.working(1).queue_ahead == 60  # type: ignore[union-attr]
    assert not m.on_trade(Trade(T + 7, 100, 55, Side.SELL))


def test_a_modify_to_a_crossing_price_fills_as_marketable() -> None:
    m = FillModel()
    book(m, [(100, 300)], [(101, 4)])
    m.submit(1, Side.BUY, 5, OrderType.LIMIT, limit=100, ts_ns=T)
    out = m.modify(1, limit=101, ts_ns=T + 1)
    assert fills(out) == [(101, 4)]


# ---- the property: never more than ordered, never worse than the limit ---------------------

_levels = st.lists(st.tuples(st.integers(1, 5), st.integers(0, 50)), max_size=4)
_event = st.one_of(
    st.tuples(st.just("book"), st.integers(95, 105), _levels, _levels),
    st.tuples(
        st.just("trade"),
        st.integers(90, 110),
        st.integers(1, 80),
        st.sampled_from([Side.BUY, Side.SELL, None]),
    ),
    st.tuples(
        st.just("order"),
        st.sampled_from(list(Side)),
        st.sampled_from(list(OrderType)),
        st.integers(1, 20),
        st.integers(92, 108),
        st.integers(92, 108),
    ),
    st.tuples(st.just("cancel"), st.integers(0, 10)),
    st.tuples(st.just("modify"), st.integers(0, 10), st.integers(1, 25), st.integers(92, 108)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_event, max_size=40))
def test_the_model_never_fills_more_than_ordered_nor_worse_than_the_limit(events: list) -> None:
    m = FillModel(protection_ticks=5)
    ordered: dict[int, tuple[Side, int, int | None]] = {}  # key: side, quantity, limit
    filled: dict[int, int] = {}
    ts = T
    for ev in events:
        ts += 1
        out: list[Outcome] = []
        if ev[0] == "book":
            _, mid, bids, asks = ev
            out = book(m, [(mid - d, s) for d, s in bids], [(mid + d, s) for d, s in asks], ts)
        elif ev[0] == "trade":
            out = m.on_trade(Trade(ts, ev[1], ev[2], ev[3]))
        elif ev[0] == "order":
            _, side, otype, qty, a, b = ev
            key = len(ordered)
            limit = a if otype.needs_limit else None
            ordered[key] = (side, qty, limit)
            trail = abs(a - b) + 1 if otype is OrderType.TRAIL else None  # it follows trades
            out = m.submit(key, side, qty, otype, limit=limit,
                           stop=b if otype.needs_stop else None, ts_ns=ts, trail=trail)  # fmt: skip
        elif ev[0] == "cancel":
            out = m.cancel(ev[1], ts_ns=ts)
        else:
            _, key, qty, price = ev
            w = m.working(key)
            if w is not None and qty > w.filled:
                side, _, limit = ordered[key]
                new_limit = price if w.limit is not None else None
                ordered[key] = (side, qty, new_limit if new_limit is not None else limit)
                out = m.modify(key, quantity=qty, limit=new_limit, ts_ns=ts)
        for o in out:
            if isinstance(o, PaperFill):
                side, qty, limit = ordered[o.key]
                filled[o.key] = filled.get(o.key, 0) + o.quantity
                assert o.quantity > 0 and filled[o.key] <= qty
                assert o.remaining == qty - filled[o.key]
                if limit is not None:
                    assert o.price <= limit if side is Side.BUY else o.price >= limit
