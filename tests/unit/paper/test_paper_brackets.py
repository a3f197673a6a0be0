"""Native brackets on paper (tradeterm/paper/order_graph.py through the paper broker): sent as
the engine's order manager sends them to IB (entry and target held, the stop transmits the
family, the exits children of the entry in one OCA group), reported as IB reports them."""

from __future__ import annotations

import asyncio

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES
from tests.support.paper import depth, drain
from tradeterm.broker.port import (
    BrokerEvent,
    CancelRejected,
    ExecutionReport,
    Notice,
    NoticeLevel,
    OrderReport,
    TradeEvent,
)
from tradeterm.domain import Fill, Order, OrderStatus, OrderType, Side, Trade
from tradeterm.paper.order_graph import OCA_CANCELLED, PARENT_CANCELLED
from tradeterm.paper.paper_broker import PaperBroker

BID, ASK = 20000, 20001
TARGET, STOP = 20008, 19995


def reports(events: list[BrokerEvent]) -> list[tuple[int, OrderStatus, int, int, str]]:
    """(broker id, status, quantity, filled, reason) of each order report."""
    return [
        (e.broker_id, e.status, e.quantity, e.filled, e.reason)
        for e in events
        if isinstance(e, OrderReport)
    ]


def executions(events: list[BrokerEvent]) -> list[tuple[int, int, int]]:
    """(broker id, quantity, price) of each execution."""
    return [(e.broker_id, e.quantity, e.price) for e in events if isinstance(e, ExecutionReport)]


class Desk:
    """A paper broker with a book (bid 300 at 20000, ask 40 at 20001) and a clock."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.source = FakeBroker(ES)
        self.broker = PaperBroker(self.source, ES, clock=self.clock)
        self.book([(BID, 300)], [(ASK, 40)])
        drain(self.broker)

    def book(self, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> None:
        self.clock.now += 1
        self.broker.on_source_event(depth(self.clock.now, bids, asks))

    def trade(self, price: int, size: int, aggressor: Side | None = None) -> list[BrokerEvent]:
        self.clock.now += 1
        self.broker.on_source_event(TradeEvent(Trade(self.clock.now, price, size, aggressor)))
        return drain(self.broker)

    def place(self, order: Order, *, transmit: bool = True, parent: int | None = None) -> int:
        return asyncio.run(
            self.broker.place(order, order.client_id, transmit=transmit, parent_broker_id=parent)
        )

    def bracket(self, quantity: int = 2, entry_limit: int | None = None) -> tuple[int, int, int]:
        """Entry, target, stop as the order manager sends them; their broker ids."""
        kind = OrderType.MARKET if entry_limit is None else OrderType.LIMIT
        entry = Order("e", ES, Side.BUY, quantity, kind, limit=entry_limit)
        target = Order("t", ES, Side.SELL, quantity, OrderType.LIMIT, limit=TARGET,
                       parent_id="e", oca_group="e.oca")  # fmt: skip
        stop = Order("s", ES, Side.SELL, quantity, OrderType.STOP, stop=STOP,
                     parent_id="e", oca_group="e.oca")  # fmt: skip
        e = self.place(entry, transmit=False)
        t = self.place(target, transmit=False, parent=e)
        return e, t, self.place(stop, parent=e)

    def open_ids(self) -> set[int]:
        return {r.broker_id for r in asyncio.run(self.broker.open_orders())}

    def position(self) -> int:
        return sum(p.quantity for p in asyncio.run(self.broker.positions()))


def test_held_legs_say_nothing_until_the_stop_transmits_and_exits_wait_for_the_fill() -> None:
    held = Desk()
    held.place(Order("e", ES, Side.BUY, 2, OrderType.LIMIT, limit=BID), transmit=False)
    assert drain(held.broker) == [] and held.open_ids() == set()  # held: IB shows nothing

    desk = Desk()
    e, t, s = desk.bracket(entry_limit=BID)
    events = drain(desk.broker)
    assert [(i, st) for i, st, *_ in reports(events)] == [
        (e, OrderStatus.SUBMITTED), (t, OrderStatus.SUBMITTED), (s, OrderStatus.SUBMITTED),
    ]  # fmt: skip
    assert {r.broker_id: r.parent_id for r in asyncio.run(desk.broker.open_orders())} == {
        e: 0, t: e, s: e,
    }  # fmt: skip
    assert executions(desk.trade(TARGET + 1, 50, Side.BUY)) == []  # the exits wait for it
    events = desk.trade(BID, 302, Side.SELL)  # the 300 ahead, then our 2
    assert executions(events) == [(e, 2, BID)]
    target = desk.broker.model.working(t)
    assert target is not None and not target.dormant
    assert target.price == TARGET and target.queue_ahead == 0  # a limit in the queue
    stop = desk.broker.model.working(s)
    assert stop is not None and not stop.dormant and stop.price is None  # waits for a trade
    assert desk.position() == 2


def test_the_exits_work_only_once_the_entry_is_completely_filled() -> None:
    desk = Desk()
    e, t, s = desk.bracket(entry_limit=BID)
    drain(desk.broker)
    events = desk.trade(BID, 301, Side.SELL)  # 1 of the 2
    assert executions(events) == [(e, 1, BID)]
    assert desk.broker.model.working(t).dormant  # type: ignore[union-attr]
    assert desk.broker.model.working(s).dormant  # type: ignore[union-attr]
    assert executions(desk.trade(TARGET + 1, 50, Side.BUY)) == []  # no exit works yet
    events = desk.trade(BID, 1, Side.SELL)
    assert executions(events) == [(e, 1, BID)]
    assert not desk.broker.model.working(t).dormant  # type: ignore[union-attr]


def test_the_target_filling_cancels_the_stop_and_leaves_the_position_flat() -> None:
    desk = Desk()
    e, t, s = desk.bracket()  # market entry: takes 2 of the 40 offered
    events = drain(desk.broker)
    assert executions(events) == [(e, 2, ASK)]
    assert desk.position() == 2
    desk.book([(BID, 300)], [(TARGET, 10)])
    drain(desk.broker)
    events = desk.trade(TARGET + 1, 5, Side.BUY)  # through our offer: filled at our limit
    assert executions(events) == [(t, 2, TARGET)]
    assert [(i, st, r) for i, st, _, _, r in reports(events)] == [
        (t, OrderStatus.FILLED, ""), (s, OrderStatus.CANCELLED, OCA_CANCELLED),
    ]  # fmt: skip
    assert desk.position() == 0 and desk.open_ids() == set()


def test_the_stop_triggers_on_a_trade_at_its_price_walks_the_book_and_cancels_the_target() -> None:
    desk = Desk()
    _, t, s = desk.bracket()
    drain(desk.broker)
    desk.book([(STOP - 1, 1), (STOP - 2, 5)], [(STOP + 1, 10)])  # the bid falls past the stop
    assert executions(drain(desk.broker)) == []  # the book alone triggers nothing
    assert executions(desk.trade(STOP + 1, 4, Side.BUY)) == []  # a trade above: nothing
    events = desk.trade(STOP, 2, Side.SELL)  # a trade at the stop: a market sell
    assert executions(events) == [(s, 1, STOP - 1), (s, 1, STOP - 2)]  # walks the bids
    assert [(i, st, r) for i, st, _, _, r in reports(events)][-2:] == [
        (s, OrderStatus.FILLED, ""), (t, OrderStatus.CANCELLED, OCA_CANCELLED),
    ]  # fmt: skip
    assert desk.position() == 0 and desk.open_ids() == set()


def test_a_partial_fill_of_the_target_reduces_the_stop() -> None:
    desk = Desk()
    _, t, s = desk.bracket(quantity=3)
    drain(desk.broker)
    events = desk.trade(TARGET + 1, 1, Side.BUY)
    assert executions(events) == [(t, 1, TARGET)]
    assert (s, OrderStatus.SUBMITTED, 2, 0, "") in reports(events)
    assert desk.broker.model.working(s).quantity == 2  # type: ignore[union-attr]
    events = desk.trade(STOP, 1, Side.SELL)  # the stop: 2 left, the book's bid takes them
    assert executions(events) == [(s, 2, BID)]
    assert desk.position() == 0 and desk.open_ids() == set()


def test_cancelling_the_entry_cancels_its_exits_held_or_transmitted() -> None:
    desk = Desk()
    e, t, s = desk.bracket(entry_limit=BID - 2)
    drain(desk.broker)
    asyncio.run(desk.broker.cancel(e))
    assert [(i, st, r) for i, st, _, _, r in reports(drain(desk.broker))] == [
        (e, OrderStatus.CANCELLED, ""),
        (t, OrderStatus.CANCELLED, PARENT_CANCELLED),
        (s, OrderStatus.CANCELLED, PARENT_CANCELLED),
    ]
    held = desk.place(Order("h", ES, Side.BUY, 1, OrderType.LIMIT, limit=BID - 3), transmit=False)
    child = desk.place(
        Order("c", ES, Side.SELL, 1, OrderType.STOP, stop=STOP, parent_id="h"),
        transmit=False, parent=held,
    )  # fmt: skip
    asyncio.run(desk.broker.cancel(held))
    assert [(i, st) for i, st, *_ in reports(drain(desk.broker))] == [
        (held, OrderStatus.CANCELLED), (child, OrderStatus.CANCELLED),
    ]  # fmt: skip
    assert desk.open_ids() == set()


def test_cancel_all_then_flatten_leaves_nothing_working_and_flat() -> None:
    """The kill switch's path: every order of the account cancelled, then a market close."""
    desk = Desk()
    desk.bracket()
    second = desk.bracket(entry_limit=BID - 4)
    assert desk.position() == 2 and len(desk.open_ids()) == 5
    drain(desk.broker)
    asyncio.run(desk.broker.cancel_all_account_orders())
    events = drain(desk.broker)
    assert not [e for e in events if isinstance(e, CancelRejected)]  # children ended once
    assert {i for i, st, *_ in reports(events) if st is OrderStatus.CANCELLED} >= set(second)
    desk.place(Order("x", ES, Side.SELL, 2, OrderType.MARKET))
    assert desk.position() == 0 and desk.open_ids() == set()


def test_a_child_of_an_order_that_is_not_working_is_refused() -> None:
    import pytest

    from tradeterm.broker.port import BrokerError

    desk = Desk()
    with pytest.raises(BrokerError, match="parent order 77 is not working"):
        desk.place(Order("c", ES, Side.SELL, 1, OrderType.STOP, stop=STOP), parent=77)


def test_a_position_carried_into_a_restart_is_reported_unprotected() -> None:
    """Its bracket's stop ended with the earlier run (as every paper order does): no stop is
    invented, a warning says the position is naked."""
    clock = Clock()
    broker = PaperBroker(FakeBroker(ES), ES, clock=clock)
    broker.carry([Fill("paper.1.1", "e", ES, Side.BUY, 2, BID, 1)], [], next_id=5)
    (notice,) = [e for e in drain(broker) if isinstance(e, Notice)]
    assert notice.level is NoticeLevel.WARNING
    assert "+2 carried in without a protective stop" in notice.text
    assert asyncio.run(broker.open_orders()) == []
    flat = PaperBroker(FakeBroker(ES), ES, clock=clock)
    flat.carry([], [], next_id=5)
    assert drain(flat) == []
