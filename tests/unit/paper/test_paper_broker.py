"""The paper broker behind the broker port: market events pass through, orders never leave the
process, and fills come back as the reports any broker sends."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES
from tests.support.paper import depth, drain
from tradeterm.broker.port import (
    AccountPnL,
    AccountValues,
    CancelRefusal,
    CancelRejected,
    CommissionEvent,
    DepthEvent,
    ExecutionReport,
    OrderReport,
    PositionReport,
    TradeEvent,
)
from tradeterm.domain import (
    Order,
    OrderChange,
    OrderStatus,
    OrderType,
    Side,
    Trade,
)
from tradeterm.paper.paper_broker import PaperBroker


def test_a_resting_limit_fills_through_the_port_after_its_queue_and_reports_like_a_broker() -> None:
    clock = Clock()
    source = FakeBroker(ES)
    broker = PaperBroker(source, ES, clock=clock, commission_per_contract=Decimal("2.25"))
    t = clock.now
    broker.on_source_event(depth(t, [(20000, 300)], [(20001, 40)]))
    order = Order("c1", ES, Side.BUY, 2, OrderType.LIMIT, limit=20000)
    broker_id = asyncio.run(broker.place(order, "ref1"))
    events = drain(broker)
    assert isinstance(events[0], DepthEvent)  # the market passes through first
    assert [e.status for e in events if isinstance(e, OrderReport)] == [OrderStatus.SUBMITTED]
    assert source.placed == []  # nothing reaches the real broker

    broker.on_source_event(TradeEvent(Trade(t + 1, 20000, 10, Side.SELL)))
    assert [type(e) for e in drain(broker)] == [TradeEvent]  # 10 traded: 290 still ahead
    broker.on_source_event(TradeEvent(Trade(t + 2, 20000, 291, Side.SELL)))
    events = drain(broker)
    execs = [e for e in events if isinstance(e, ExecutionReport)]
    assert [(e.broker_id, e.quantity, e.price, e.order_ref) for e in execs] == [
        (broker_id, 1, 20000, "ref1")
    ]
    commissions = [e for e in events if isinstance(e, CommissionEvent)]
    assert commissions[0].exec_id == execs[0].exec_id
    assert commissions[0].commission == Decimal("2.25")
    reports = [e for e in events if isinstance(e, OrderReport)]
    assert (reports[-1].status, reports[-1].filled, reports[-1].remaining) == (
        OrderStatus.SUBMITTED, 1, 1,
    )  # fmt: skip
    positions = [e for e in events if isinstance(e, PositionReport)]
    assert positions[-1].quantity == 1
    assert positions[-1].avg_cost == ES.to_price(20000) * ES.multiplier

    broker.on_source_event(TradeEvent(Trade(t + 3, 20000, 5, Side.SELL)))
    reports = [e for e in drain(broker) if isinstance(e, OrderReport)]
    assert reports[-1].status is OrderStatus.FILLED
    assert reports[-1].avg_fill_price == ES.to_price(20000)


def test_modify_and_cancel_through_the_port() -> None:
    clock = Clock()
    broker = PaperBroker(FakeBroker(ES), ES, clock=clock)
    broker.on_source_event(depth(clock.now, [(20000, 300)], [(20002, 4)]))
    order = Order("c1", ES, Side.BUY, 5, OrderType.LIMIT, limit=20000)
    broker_id = asyncio.run(broker.place(order, "ref"))
    order.broker_id = broker_id
    drain(broker)
    asyncio.run(broker.modify(order, OrderChange(limit=20002), "ref"))  # crosses: takes 4
    events = drain(broker)
    assert [e.quantity for e in events if isinstance(e, ExecutionReport)] == [4]
    asyncio.run(broker.cancel(broker_id))
    reports = [e for e in drain(broker) if isinstance(e, OrderReport)]
    assert (reports[-1].status, reports[-1].filled) == (OrderStatus.CANCELLED, 4)
    asyncio.run(broker.cancel(broker_id))
    refused = drain(broker)
    assert isinstance(refused[0], CancelRejected)
    assert refused[0].kind is CancelRefusal.ALREADY_DONE


def test_order_events_of_the_real_account_are_not_passed_on() -> None:
    broker = PaperBroker(FakeBroker(ES), ES, clock=Clock())
    broker.on_source_event(PositionReport(ES, 1, "DU1", 3, Decimal(0), 0))
    assert drain(broker) == []


def test_carry_starts_from_the_journal_and_ends_earlier_orders_with_a_reason() -> None:
    """A SHADOW restart: the journal's fills are the position, an order an earlier run left
    working is reported cancelled (never adopted, never silently gone), new ids are above."""
    from tradeterm.domain import Fill, TimeInForce
    from tradeterm.engine.order_tracking import SentOrder
    from tradeterm.engine.types import OrderRole
    from tradeterm.paper.paper_broker import ENDED_BY_RESTART

    clock = Clock()
    broker = PaperBroker(FakeBroker(ES), None, clock=clock)  # the contract comes from resolve
    assert asyncio.run(broker.resolve("ES")) == broker.instrument == ES
    fills = [Fill("paper.3.1", "c3", ES, Side.BUY, 2, 20000, 1), Fill("paper.4.2", "c4", ES, Side.SELL, 1, 20004, 2)]  # fmt: skip
    left = SentOrder("c5", Side.BUY, 1, OrderType.LIMIT, 19990, None, TimeInForce.DAY,
                     OrderRole.ENTRY, "cmd", 5, 5, 0, 3)  # fmt: skip
    broker.carry(fills, [left], next_id=6)
    (position,) = asyncio.run(broker.positions())
    assert position.quantity == 1
    assert asyncio.run(broker.open_orders()) == []
    (ended,) = asyncio.run(broker.completed_orders())
    assert (ended.order_ref, ended.broker_id, ended.status, ended.reason) == (
        "c5", 5, OrderStatus.CANCELLED, ENDED_BY_RESTART,
    )  # fmt: skip
    assert not broker.never_received(5, 0)  # it ended here: not "never reached IB"
    assert broker.reserve_order_id() == 6


def test_the_real_accounts_figures_pass_through_its_order_events_do_not() -> None:
    """SHADOW sizes strategy entries by the net liquidation of the account it shadows."""
    clock = Clock()
    source = FakeBroker(ES)
    broker = PaperBroker(source, ES, clock=clock)
    figures = AccountValues("DU1", "USD", Decimal(100_000), None, None, None, clock.now)
    broker.on_source_event(AccountPnL("DU1", Decimal(-50), None, None, clock.now))
    broker.on_source_event(figures)
    assert drain(broker) == [figures]


def test_the_margin_per_contract_is_not_asked_of_ib_since_a_what_if_is_an_order_message() -> None:
    """SHADOW sends no order message to IB, and IB's margin per contract is a what-if order
    (placeOrder with whatIf=1): the account panel's margin stays unknown, never asked."""
    from tradeterm.broker.watch_only import WatchOnlyBroker

    clock = Clock()
    source = FakeBroker(ES)
    for broker in (PaperBroker(source, ES, clock=clock), WatchOnlyBroker(source)):
        margin = asyncio.run(broker.contract_margin(ES, Side.BUY))
        assert (margin.initial, margin.maintenance, margin.currency) == (None, None, "USD")
    assert source.margin_asked == []
