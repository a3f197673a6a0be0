"""One exchange event's book changes travel together (:func:`exchange_events`): the book
deltas the clients see and, from an order-by-order (MBO) source, the single orders' changes
the matching engine's FIFO needs. An OrderDelta never splits an event's BookUpdate."""

from __future__ import annotations

import pytest

from tests.real_data import data_file
from tradeterm.sim.market_events import (
    BookChange,
    BookClear,
    BookDelta,
    BookSide,
    BookUpdate,
    OrderDelta,
    TradePrint,
    exchange_events,
)
from tradeterm.sim.matching import MatchingEngine
from tradeterm.sim.replay import load_replay

MBO = "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"
BID, ASK = BookSide.BID, BookSide.ASK


def test_an_events_order_deltas_go_in_its_book_update() -> None:
    first: list[BookChange] = [
        BookClear(1),
        OrderDelta(1, BID, 100, 1, 2, last=False),
        OrderDelta(1, ASK, 101, 2, 3, last=False),
        BookDelta(1, BID, 100, 2, last=False),
        BookDelta(1, ASK, 101, 3),
    ]
    trade = TradePrint(2, 101, 1, BID)
    second: list[BookChange] = [
        OrderDelta(2, ASK, 101, 2, 2, last=False),
        BookDelta(2, ASK, 101, 2),
    ]
    third: list[BookChange] = [  # one order left, one joined: the level's size unchanged
        OrderDelta(3, BID, 100, 1, 0, last=False),
        OrderDelta(3, BID, 100, 3, 2),
    ]
    out = list(exchange_events([*first, trade, *second, *third]))
    assert out == [
        BookUpdate(1, tuple(first)),
        trade,
        BookUpdate(2, tuple(second)),
        BookUpdate(3, tuple(third)),
    ]


def test_a_book_update_gives_the_fifo_its_orders_with_the_level() -> None:
    """Our bid joins behind order 1; the event that cancels it (its OrderDelta with the
    level's BookDelta) leaves nobody ahead of us."""
    engine = MatchingEngine()
    for event in exchange_events(
        [
            OrderDelta(1, BID, 100, 1, 5, last=False),
            BookDelta(1, BID, 100, 5, last=False),
            BookDelta(1, ASK, 101, 4),
        ]
    ):
        assert isinstance(event, BookUpdate)
        for change in event.changes:
            engine.on_market(change)
    engine.submit("ours", BID, 1, "LMT", limit=100, ts_ns=2)
    assert engine.queue_position("ours") == 5
    (update,) = exchange_events(
        [OrderDelta(3, BID, 100, 1, 0, last=False), BookDelta(3, BID, 100, 1)]
    )
    assert isinstance(update, BookUpdate)
    for change in update.changes:
        engine.on_market(change)
    assert engine.queue_position("ours") == 0


def test_the_mbo_files_events_are_the_same_with_or_without_single_orders() -> None:
    """The gateway replays MBO with the single orders (for the FIFO): clients must see the
    very same exchange events, each applied whole, as without them."""
    pytest.importorskip("databento_dbn")
    path = data_file(MBO)
    plain = list(exchange_events(load_replay(path)))
    with_orders = list(exchange_events(load_replay(path, orders=True)))
    orders = sum(
        isinstance(c, OrderDelta)
        for e in with_orders
        if isinstance(e, BookUpdate)
        for c in e.changes
    )
    assert orders > 10_000
    assert not any(isinstance(e, OrderDelta) for e in with_orders)  # all inside an event
    seen = [
        BookUpdate(e.ts_ns, tuple(c for c in e.changes if not isinstance(c, OrderDelta)))
        if isinstance(e, BookUpdate)
        else e
        for e in with_orders
    ]
    # an event whose orders left the levels' totals as they were has no book change
    seen = [e for e in seen if not isinstance(e, BookUpdate) or e.changes]
    assert len(seen) == len(plain)
    assert seen == plain


def test_a_clear_never_moves_our_order_ahead_of_the_re_sent_book() -> None:
    """A mid-stream clear re-sends the book with new priorities: which re-added order was
    ahead of ours is unknowable, so all of them count as ahead (never a better place than the
    exchange's FIFO, never an early fill); an order joining after the rebuild is behind us."""
    engine = MatchingEngine()

    def book(ts: int, first_priority: int) -> None:
        changes: list[BookChange] = [
            OrderDelta(ts, BID, 100, first_priority, 10, last=False),
            OrderDelta(ts, BID, 100, first_priority + 1, 10, last=False),
            BookDelta(ts, BID, 100, 20, last=False),
            BookDelta(ts, ASK, 101, 5),
        ]
        for change in changes:
            engine.on_market(change)

    book(1, 1)
    engine.submit("ours", BID, 1, "LMT", limit=100, ts_ns=1)
    assert engine.queue_position("ours") == 20
    engine.on_market(BookClear(2))
    book(2, 3)
    assert engine.queue_position("ours") == 20
    engine.on_market(OrderDelta(3, BID, 100, 5, 7, last=False))  # joins after the rebuild
    engine.on_market(BookDelta(3, BID, 100, 27))
    assert engine.queue_position("ours") == 20
    assert engine.on_market(TradePrint(4, 100, 10, ASK)) == []  # half the queue ahead traded
    assert engine.queue_position("ours") == 10
