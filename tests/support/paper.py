"""Helpers for tests of the paper broker (tradeterm/paper/paper_broker.py)."""

from __future__ import annotations

from tradeterm.broker.port import BrokerEvent, DepthEvent
from tradeterm.domain import DepthLevel
from tradeterm.paper.paper_broker import PaperBroker


def depth(ts: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> DepthEvent:
    """A whole-book event from (price, size) pairs, best first."""
    return DepthEvent(
        ts, tuple(DepthLevel(p, s) for p, s in bids), tuple(DepthLevel(p, s) for p, s in asks)
    )


def drain(broker: PaperBroker) -> list[BrokerEvent]:
    """Every event the paper broker has queued for the engine, without waiting."""
    out: list[BrokerEvent] = []
    while not broker._queue.empty():
        event = broker._queue.get_nowait()
        assert event is not None
        out.append(event)
    return out
