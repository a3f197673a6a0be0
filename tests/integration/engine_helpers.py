"""Helpers for tests that drive the headless ``Engine`` (real IbBroker + ib_async) against the
fake gateway."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from tests.integration.broker_helpers import cfg
from tests.integration.desk_helpers import Market
from tests.support.waiting import until
from tradeterm.broker.ib import IbBroker
from tradeterm.config import MarketConfig
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineEvent, FillBooked
from tradeterm.engine.portfolio import PnL
from tradeterm.engine.stream import EventStream
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.oms import SimOrder
from tradeterm.sim.market_events import BookSide, TradePrint

TODAY = date(2026, 11, 20)  # a Friday: ESZ6 is the front month
COMMISSION = Decimal("2.25")
TICK_VALUE = Decimal("12.50")

E = TypeVar("E")


def always_open() -> SessionCalendar:
    """A calendar whose session covers the test run (the real one is closed at weekends)."""
    now = time.time_ns()
    return SessionCalendar([(now - 3600 * 10**9, now + 24 * 3600 * 10**9)])


class Run:
    """An engine with a recorder of everything it published."""

    def __init__(self, engine: Engine, gateway: FakeGateway) -> None:
        self.engine = engine
        self.gateway = gateway
        self.stream: EventStream = engine.listen()
        self.events: list[EngineEvent] = []

    def collect(self) -> list[EngineEvent]:
        self.events.extend(self.stream.drain())
        return self.events

    def of(self, kind: type[E]) -> list[E]:
        return [e for e in self.collect() if isinstance(e, kind)]

    def pnl(self) -> PnL:
        """The engine's position and P&L now."""
        snap = self.engine.snapshot().pnl
        assert snap is not None
        return snap

    async def wait(self, predicate: Callable[[], object], what: str) -> None:
        await until(lambda: (self.collect(), predicate())[1], what)


MakeEngine = Callable[..., Awaitable[Run]]


def working_at_gateway(gateway: FakeGateway) -> list[SimOrder]:
    """Orders working at the gateway (every client)."""
    return [o for o in gateway.oms.orders.values() if not o.done]


def gateway_position(gateway: FakeGateway, market: Market) -> int:
    """The account's position at the gateway, in the market's contract."""
    return gateway.books.account(gateway.config.account).position(market.feed.con_id).qty


async def working_limit(run: Run, side: Side, qty: int, price: int, market: Market) -> str:
    result = await run.engine.submit(PlaceOrder(side, qty, OrderType.LIMIT, limit=market.px(price)))
    assert result.ok, result.reason
    (oid,) = result.order_ids
    order = run.engine.orders.get(oid)  # type: ignore[union-attr]
    assert order is not None
    await until(lambda: order.status is OrderStatus.SUBMITTED and order.perm_id, "working")
    return oid


def public_sell_into(market: Market, perm_id: int, qty: int) -> None:
    """Public sellers hit our resting bid: the queue ahead first, then ``qty`` of ours."""
    public_trade_into(market, perm_id, qty, BookSide.ASK)


def public_trade_into(market: Market, perm_id: int, qty: int, aggressor: BookSide) -> None:
    """A public ``aggressor`` trades into our resting order: the queue ahead first, then
    ``qty`` of ours."""
    info = market.feed.engine.resting(perm_id)
    assert info is not None and info.price is not None and info.queue_ahead is not None
    market.feed.push(
        TradePrint(market.gateway.now_ns(), info.price, info.queue_ahead + qty, aggressor),
        external=True,
    )


def exec_ids(run: Run) -> list[str]:
    return [e.fill.exec_id for e in run.of(FillBooked)]


@pytest.fixture
async def make_engine() -> AsyncIterator[MakeEngine]:
    """``await make_engine(gateway, client_id=1, market=MarketConfig(...), symbol="ES",
    **engine_kw)``: a started engine; all are stopped after the test."""
    runs: list[Run] = []

    async def _make(gateway: FakeGateway, client_id: int = 1, market: MarketConfig | None = None,
                    conn: dict[str, Any] | None = None, symbol: str = "ES", **kw: Any) -> Run:  # fmt: skip
        broker = IbBroker(cfg(client_id=client_id, **(conn or {})), port=gateway.config.port)
        kw.setdefault("calendar", always_open())
        engine = Engine(broker, symbol, market or MarketConfig(), timer_s=0.05, **kw)
        run = Run(engine, gateway)
        runs.append(run)
        await engine.start()
        return run

    yield _make
    for run in runs:
        await run.engine.stop()


@pytest.fixture
async def still(start_gateway: Callable[..., Awaitable[FakeGateway]]) -> FakeGateway:
    """A still market (tests print trades themselves), master client id 99."""
    return await start_gateway(rate=0.0, today=TODAY, master_client_id=99)


@pytest.fixture
async def moving(start_gateway: Callable[..., Awaitable[FakeGateway]]) -> FakeGateway:
    """A live synthetic market at 200 events/s."""
    return await start_gateway(rate=200.0, today=TODAY)
