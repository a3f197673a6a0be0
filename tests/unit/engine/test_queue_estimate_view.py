"""The queue estimate where the depth does not show our level: unknown is unknown (never 0),
a level that leaves the visible depth keeps its estimate, and one that comes back is capped
by the size shown only as far as the conservative model allows (never below the truth, held
to the fake gateway's matching engine)."""

from __future__ import annotations

import pytest

from tests.support.instruments import ES
from tradeterm.broker.port import DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import DepthLevel, Order, OrderStatus, OrderType, Quote, Side, Trade
from tradeterm.domain.orders import OrderChange
from tradeterm.engine.queue_position import QueueEstimate
from tradeterm.sim.market_events import BookDelta, BookSide
from tradeterm.sim.matching import MatchingEngine


def depth(ts: int, bids: dict[int, int], asks: dict[int, int]) -> DepthEvent:
    return DepthEvent(
        ts,
        tuple(DepthLevel(p, s) for p, s in sorted(bids.items(), reverse=True)),
        tuple(DepthLevel(p, s) for p, s in sorted(asks.items())),
    )


def resting(cid: str, side: Side, price: int) -> Order:
    return Order(cid, ES, side, 1, OrderType.LIMIT, limit=price, status=OrderStatus.SUBMITTED)


def test_a_level_never_shown_is_unknown_until_the_depth_shows_it() -> None:
    q = QueueEstimate()
    q.on_market(depth(1, {100: 10, 99: 12, 98: 9}, {101: 5, 102: 6, 103: 7}))
    q.sync([resting("deep", Side.BUY, 95), resting("far", Side.SELL, 110)])
    assert q.ahead("deep") is None and q.ahead("far") is None  # beyond the levels shown
    assert q.positions() == {"deep": None, "far": None}
    q.on_market(TradeEvent(Trade(2, 95, 40)))  # traded there: still nobody knows the queue
    assert q.ahead("deep") is None
    q.on_market(depth(3, {97: 4, 96: 8, 95: 25}, {98: 3, 99: 5}))  # the book came down
    assert q.ahead("deep") == 25  # behind all of what is shown
    q.on_market(TradeEvent(Trade(4, 95, 6, Side.SELL)))
    assert q.ahead("deep") == 19


def test_an_order_before_any_depth_is_unknown_not_at_the_front() -> None:
    q = QueueEstimate()
    q.sync([resting("early", Side.BUY, 100)])
    assert q.positions() == {"early": None}
    q.on_market(depth(1, {100: 7}, {101: 3}))
    assert q.ahead("early") == 7


@pytest.mark.parametrize("feed", ["quote", "mbp-1 depth"])
def test_top_of_book_only_a_limit_under_the_bid_is_unknown(feed: str) -> None:
    q = QueueEstimate()

    def book(ts: int, bid: int, bid_size: int, ask: int, ask_size: int) -> None:
        if feed == "quote":
            q.on_market(QuoteEvent(Quote(ts, bid, bid_size, ask, ask_size)))
        else:
            q.on_market(depth(ts, {bid: bid_size}, {ask: ask_size}))

    book(1, 100, 30, 101, 40)
    q.sync([resting("under", Side.BUY, 98), resting("touch", Side.BUY, 100)])
    assert q.ahead("under") is None  # two ticks under the bid: never shown
    assert q.ahead("touch") == 30
    book(2, 99, 15, 100, 8)  # the bid went down a tick: 100 emptied, 98 still unseen
    assert q.ahead("under") is None and q.ahead("touch") == 0
    book(3, 98, 22, 99, 5)
    assert q.ahead("under") == 22
    book(4, 100, 3, 101, 9)  # back up: 98 out of view again, its estimate kept
    assert q.ahead("under") == 22


def test_a_level_that_leaves_the_depth_and_comes_back_is_never_below_the_truth() -> None:
    """Ten bid levels 100..91; our bid at 91 (the tenth, 10 ahead). Bids step up to 103, so 91
    leaves the visible depth; there 6 of the 10 ahead cancel (the truth: 4 ahead); then the
    book comes back. The estimate must not drop to 0 while 91 is out of view, nor below the
    truth when it returns."""
    truth, q = MatchingEngine(), QueueEstimate()
    ts = 0

    def book(side: BookSide, price: int, size: int) -> None:
        nonlocal ts
        ts += 1
        truth.on_market(BookDelta(ts, side, price, size))
        bids, asks = truth.book.levels(BookSide.BID, 10), truth.book.levels(BookSide.ASK, 10)
        q.on_market(depth(ts, dict(bids), dict(asks)))

    for i in range(10):
        book(BookSide.BID, 100 - i, 10)
        book(BookSide.ASK, 101 + i, 10)
    truth.submit(1, BookSide.BID, 1, "LMT", limit=91, ts_ns=ts)
    order = resting("deep", Side.BUY, 91)
    q.sync([order])
    seen: list[tuple[int | None, int | None]] = []

    def check() -> None:
        q.sync([order])
        seen.append((q.ahead("deep"), truth.queue_position(1)))

    check()
    for price in (101, 102, 103):  # the offers there leave, bids join above 100
        book(BookSide.ASK, price, 0)
        book(BookSide.BID, price, 5)
        check()
    book(BookSide.BID, 91, 4)  # out of view: 6 cancel at 91
    check()
    for price in (103, 102, 101):  # the book comes back down: 91 in view again
        book(BookSide.BID, price, 0)
        book(BookSide.ASK, price, 5)
        check()
    estimates = [e for e, _ in seen]
    assert all(e is not None and t is not None and e >= t for e, t in seen), seen
    assert estimates[1:5] == [10, 10, 10, 10]  # out of view: kept, not reset to 0
    assert seen[-1] == (4, 4)  # back in view: capped by the 4 shown, the truth


def test_an_order_keeps_its_place_while_a_change_is_in_flight_and_after_a_smaller_one() -> None:
    q = QueueEstimate()
    q.on_market(depth(1, {100: 10}, {101: 5}))
    order = Order("a", ES, Side.BUY, 3, OrderType.LIMIT, limit=100, status=OrderStatus.SUBMITTED)
    q.sync([order])
    assert q.ahead("a") == 10
    q.on_market(depth(2, {100: 13}, {101: 5}))  # others join behind us
    order.request_modify(OrderChange(2, None, None))
    q.sync([order])  # another order's report arrives while ours is being changed
    assert q.ahead("a") == 10
    order.modify_accepted()  # IB confirmed the smaller quantity: the place is kept
    q.sync([order])
    assert q.ahead("a") == 10
    order.request_modify(OrderChange(None, 99, None))
    q.sync([order])
    order.modify_rejected()  # refused: still where it was
    q.sync([order])
    assert q.ahead("a") == 10
