"""The engine's queue-position estimate held to the fake gateway's matching engine, which knows
where each resting order of ours truly stands, over the recorded CME files.

The client sees what the gateway publishes (depth as 10 levels, trades without their
aggressor, as IB's feed gives them); our orders join at the touch at several moments."""

from __future__ import annotations

import pytest

from tests.real_data import data_file
from tests.support.instruments import ES
from tradeterm.broker.port import DepthEvent, TradeEvent
from tradeterm.domain import DepthLevel, Order, OrderStatus, OrderType, Side, Trade
from tradeterm.engine.queue_position import QueueEstimate
from tradeterm.sim.market_events import BookSide, BookUpdate, TradePrint, exchange_events
from tradeterm.sim.matching import MatchingEngine
from tradeterm.sim.replay import load_replay

pytest.importorskip("databento_dbn")

MBP1 = "ESU4_glbx-mdp3_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.dbn.zst"
MBO = "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"


def _depth(engine: MatchingEngine, ts: int) -> DepthEvent:
    book = engine.book
    return DepthEvent(
        ts,
        tuple(DepthLevel(p, s) for p, s in book.levels(BookSide.BID, 10)),
        tuple(DepthLevel(p, s) for p, s in book.levels(BookSide.ASK, 10)),
    )


def _replay(name: str, every: int, orders: int, exact: bool) -> tuple[int, int, int]:
    """Replay ``name`` into a matching engine (the gateway's truth) and, as the client sees
    it, into the estimate; rest an order of ours at the touch every ``every`` book changes
    (``orders`` in all, bid and ask in turn) and hold the estimate of every resting one to
    the truth after each event. Returns (checks made, checks where both were equal, joined)."""
    engine = MatchingEngine()
    estimate = QueueEstimate(exact=engine.queue_position if exact else None)
    working: dict[int, Order] = {}
    checks = equal = placed = books = 0
    # as the gateway plays it: each exchange event's changes (the single orders' with their
    # levels') applied together, the client sent the depth once per event
    for event in exchange_events(load_replay(data_file(name), orders=exact)):
        if isinstance(event, BookUpdate):
            for change in event.changes:
                engine.on_market(change)
            estimate.on_market(_depth(engine, event.ts_ns))
            books += 1
        else:
            engine.on_market(event)
        if type(event) is TradePrint:
            estimate.on_market(TradeEvent(Trade(event.ts_ns, event.price, event.size)))
        for key in [k for k in working if engine.queue_position(k) is None]:
            del working[key]  # filled at the gateway
        if placed < orders and books >= every * placed and engine.book.spread == 1:
            side = BookSide.BID if placed % 2 == 0 else BookSide.ASK
            price = engine.book.best(side)
            placed += 1
            assert price is not None
            engine.submit(placed, side, 1, "LMT", limit=price, ts_ns=event.ts_ns)
            working[placed] = Order(
                f"q{placed}", ES, Side.BUY if side else Side.SELL, 1, OrderType.LIMIT,
                limit=price, status=OrderStatus.SUBMITTED, perm_id=placed,
            )  # fmt: skip
        estimate.sync(working.values())
        for key, order in working.items():
            true = engine.queue_position(key)
            ahead = estimate.ahead(order.client_id)
            assert true is not None and ahead is not None
            assert ahead >= true, f"order {key}: estimate {ahead} ahead of the truth {true}"
            checks += 1
            equal += ahead == true
    return checks, equal, placed


def test_estimate_is_never_ahead_of_the_truth_on_mbp1() -> None:
    checks, equal, placed = _replay(MBP1, every=150, orders=12, exact=False)
    assert placed == 12
    assert checks > 1_000
    assert equal < checks  # cancels ahead of us: the truth moved on, the estimate did not


def test_mbo_replay_gives_the_exact_fifo_place() -> None:
    checks, equal, placed = _replay(MBO, every=4_000, orders=12, exact=True)
    assert placed == 12
    assert checks > 1_000
    assert equal == checks
