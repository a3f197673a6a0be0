"""The paper fill model as the queue estimate reads it (``blind``) does not fill a resting limit
from a queue it cannot see: a level beyond the depth shown, or one that left it, is not an
empty queue."""

from __future__ import annotations

from collections.abc import Sequence

from tradeterm.domain import DepthLevel, OrderType, Quote, Side, Trade
from tradeterm.paper.fill_model import FillModel, PaperFill


def snapshot(model: FillModel, ts: int, bids: range, asks: range, size: int = 10) -> None:
    """Ten-ish levels of ``size`` at each price of ``bids`` and ``asks``."""
    model.on_depth(ts, [DepthLevel(p, size) for p in bids], [DepthLevel(p, size) for p in asks])


def fills(outcomes: Sequence[object]) -> list[PaperFill]:
    return [o for o in outcomes if isinstance(o, PaperFill)]


def test_a_limit_beyond_the_depth_waits_behind_the_size_shown_when_it_comes_into_view() -> None:
    model = FillModel(blind=True)  # the queue estimate's reading
    snapshot(model, 1, range(100, 90, -1), range(101, 111))  # bids 100..91
    model.submit(1, Side.BUY, 1, OrderType.LIMIT, limit=85, ts_ns=2)
    working = model.working(1)
    assert working is not None and working.queue_ahead is None  # not 0: never seen
    snapshot(model, 3, range(90, 80, -1), range(91, 101), size=20)  # 85 shown: 20 there
    working = model.working(1)
    assert working is not None and working.queue_ahead == 20
    assert fills(model.on_trade(Trade(4, 85, 5, Side.SELL))) == []  # the 20 ahead first
    assert fills(model.on_trade(Trade(5, 85, 16, Side.SELL))) == [
        PaperFill(1, Side.BUY, 85, 1, 5, 0, False)
    ]


def test_a_level_that_leaves_the_depth_keeps_its_queue() -> None:
    model = FillModel(blind=True)  # the queue estimate's reading
    snapshot(model, 1, range(100, 90, -1), range(101, 111))
    model.submit(1, Side.BUY, 1, OrderType.LIMIT, limit=91, ts_ns=2)  # 10 ahead
    snapshot(model, 3, range(103, 93, -1), range(104, 114))  # 91 leaves the view
    snapshot(model, 4, range(100, 90, -1), range(101, 111))  # and comes back, 10 shown
    assert fills(model.on_trade(Trade(5, 91, 3, Side.SELL))) == []  # still 10 ahead
    working = model.working(1)
    assert working is not None and working.queue_ahead == 7


def test_top_of_book_only_a_limit_under_the_bid_is_not_at_the_front() -> None:
    model = FillModel(blind=True)  # the queue estimate's reading
    model.on_quote(Quote(1, 100, 30, 101, 40))
    model.submit(1, Side.BUY, 1, OrderType.LIMIT, limit=98, ts_ns=2)
    model.on_quote(Quote(3, 98, 25, 99, 5))  # the bid comes down to it: 25 shown
    assert fills(model.on_trade(Trade(4, 98, 10, Side.SELL))) == []
    working = model.working(1)
    assert working is not None and working.queue_ahead == 15
