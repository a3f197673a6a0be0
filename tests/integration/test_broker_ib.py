"""IbBroker (real ib_async 2.1.0) against the in-process fake IB Gateway.

Every wait is on a condition with a hang guard; nothing is timed.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator
from datetime import date
from typing import Any, TypeVar

import pytest
from ib_async import IB, LimitOrder
from ib_async.client import Client

from tests.integration.broker_helpers import Make, Recorder, cfg
from tests.integration.desk_helpers import qualified
from tests.support.waiting import until
from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import (
    BarEvent,
    BrokerError,
    CommissionEvent,
    ConnectError,
    ConnectionChanged,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    Notice,
    OrderReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.domain import Order, OrderChange, OrderStatus, OrderType, Side
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.request_types import (
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    Request,
)

pytestmark = pytest.mark.integration

TODAY = date(2026, 11, 21)
E = TypeVar("E")


@pytest.fixture
async def gw() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway(GatewayConfig(port=0, rate=300.0, seed=7, today=TODAY))
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


@pytest.fixture
async def still_gw() -> AsyncIterator[FakeGateway]:
    gateway = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=TODAY))
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


async def streaming(make: Make, gateway: FakeGateway, **kw: Any) -> tuple[IbBroker, Recorder]:
    broker, rec = await make(gateway, **kw)
    es = await broker.resolve("ES")
    await broker.subscribe_market_data(es)
    await until(lambda: len(rec.of(QuoteEvent)) > 5, "quotes")
    return broker, rec


# ---- connect --------------------------------------------------------------------------------


async def test_connects_and_goes_live(make: Make, still_gw: FakeGateway) -> None:
    broker, rec = await make(still_gw)
    assert broker.state is ConnectionState.OK and broker.client_id == 1
    assert broker.account == "DU0000001" or broker.account
    assert rec.states()[:0] == []
    await until(lambda: ConnectionState.OK in rec.states(), "OK event")
    assert rec.states()[:3] == [
        ConnectionState.CONNECTING,
        ConnectionState.SYNCING,
        ConnectionState.OK,
    ]


async def test_account_requests_refused_in_the_startup_sync_are_named_while_it_waits(
    make: Make, still_gw: FakeGateway
) -> None:
    """IB answers the startup sync's account requests with an error instead of the account
    (as the fake gateway did on a KeyError): ib_async waits out its timeout for them before
    the connection is up. The wait is said, naming each refused request, and once connected,
    that the account's figures are unknown."""

    async def refuse(session: ClientSession, req: Request) -> None:
        session.send_validation_error(req, "account unavailable")

    still_gw.server.register(ReqAccountUpdates, refuse)
    still_gw.server.register(ReqAccountUpdatesMulti, refuse)
    broker, rec = await make(still_gw, connect_timeout_s=1)
    assert broker.state is ConnectionState.OK

    def texts() -> list[str]:
        return [n.text for n in rec.of(Notice)]

    unknown = "IB sent none of account DU0000001's values in the startup sync"
    await until(lambda: any(t.startswith(unknown) for t in texts()), "the account unknown")
    waits = [t for t in texts() if t.startswith("IB refused a request of the startup sync")]
    named = sorted(t.split("'")[1] for t in waits)
    assert named == ["reqAccountUpdates", "reqAccountUpdatesMulti"], texts()
    assert all("waiting up to 1s for it" in t for t in waits)


async def test_nothing_listening_names_the_address_and_settings() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    broker = IbBroker(cfg(), port=port)
    with pytest.raises(ConnectError) as info:
        await broker.start()
    msg = str(info.value)
    assert f"127.0.0.1:{port}" in msg and "API" in msg and "4002" in msg and "7497" in msg
    assert broker.state is ConnectionState.DISCONNECTED


async def test_a_connection_closed_as_it_opens_is_a_connect_error(
    still_gw: FakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gateway restarting just as the API handshake completes (found by the soak): the
    first read after connecting raised ib_async's ConnectionError('Not connected') past the
    adapter, and the console ended with 'unexpected error' instead of 'cannot start'."""
    read = Client.getAccounts
    reads: list[int] = []

    def closed_meanwhile(client: Client) -> list[str]:
        reads.append(1)
        if len(reads) == 2:  # ib_async's connect read first; the adapter's read is next
            client.disconnect()
        return read(client)

    monkeypatch.setattr(Client, "getAccounts", closed_meanwhile)
    broker = IbBroker(cfg(), port=still_gw.config.port)
    with pytest.raises(ConnectError, match="closed as it opened") as info:
        await broker.start()
    assert "\n" not in str(info.value) and f":{still_gw.config.port}" in str(info.value)
    assert broker.state is ConnectionState.DISCONNECTED


async def test_client_id_in_use(make: Make, still_gw: FakeGateway) -> None:
    await make(still_gw, client_id=5)
    clash = IbBroker(cfg(client_id=5), port=still_gw.config.port)
    with pytest.raises(ConnectError, match="326"):
        await clash.start()
    other, _ = await make(still_gw, client_id=5, auto_client_id=True)
    assert other.state is ConnectionState.OK and other.client_id == 6


# ---- contracts ------------------------------------------------------------------------------


async def test_resolve(make: Make, still_gw: FakeGateway) -> None:
    broker, _ = await make(still_gw)
    front = await broker.resolve("ES")
    assert front.local_symbol == "ESZ6" and str(front.tick) == "0.25"
    assert front.multiplier == 50 and front.exchange == "CME" and front.con_id
    assert (await broker.resolve("ES", roll_days=30)).local_symbol == "ESH7"
    assert (await broker.resolve("ESH7")).local_symbol == "ESH7"
    with pytest.raises(BrokerError, match="ZZQ"):
        await broker.resolve("ZZQ")


# ---- market data ----------------------------------------------------------------------------


async def test_market_data_in_ticks(make: Make, gw: FakeGateway) -> None:
    broker, rec = await streaming(make, gw)
    await until(
        lambda: rec.of(TradeEvent) and any(d.bids and d.asks for d in rec.of(DepthEvent)),
        "trades and depth",
    )
    for q in rec.of(QuoteEvent):
        assert isinstance(q.quote.bid, int) and isinstance(q.quote.ask, int)
        assert q.quote.bid < q.quote.ask
    for t in rec.of(TradeEvent):
        assert isinstance(t.trade.price, int) and t.trade.size > 0
    book = [d for d in rec.of(DepthEvent) if d.bids and d.asks][-1]
    assert [lv.price for lv in book.bids] == sorted((lv.price for lv in book.bids), reverse=True)
    assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
    assert book.bids[0].price < book.asks[0].price
    await until(lambda: rec.of(BarEvent), "a 5-second bar")
    bar = rec.of(BarEvent)[0]
    assert bar.size_s == 5 and bar.final and isinstance(bar.bar.open, int)
    history = await broker.history(await broker.resolve("ES"), 30)
    assert 0 < len(history) <= 30
    assert all(a.start_ns < b.start_ns for a, b in itertools.pairwise(history))


async def test_farm_outage_degrades_without_dropping_the_socket(
    make: Make, gw: FakeGateway
) -> None:
    broker, rec = await streaming(make, gw)
    mark = rec.mark()
    await gw.faults.farm_outage(0.3)
    await until(lambda: broker.state is ConnectionState.OK, "OK again")
    assert rec.states(mark) == [ConnectionState.DEGRADED, ConnectionState.OK]
    assert broker.reconnect_tasks_started == 0


async def test_1101_resubscribes_and_data_resumes(make: Make, gw: FakeGateway) -> None:
    broker, rec = await streaming(make, gw)
    mark = rec.mark()
    await gw.faults.connectivity_lost(0.3, data_lost=True)
    after = rec.mark()
    await until(lambda: len(rec.of(QuoteEvent, after)) > 5, "quotes after 1101")
    assert rec.states(mark) == [ConnectionState.DEGRADED, ConnectionState.OK]
    assert broker.reconnect_tasks_started == 0


async def test_1100_1102_back_to_live(make: Make, gw: FakeGateway) -> None:
    _broker, rec = await streaming(make, gw)
    mark = rec.mark()
    await gw.faults.connectivity_lost(0.3, data_lost=False)
    after = rec.mark()
    await until(lambda: len(rec.of(QuoteEvent, after)) > 5, "quotes after 1102")
    assert rec.states(mark) == [ConnectionState.DEGRADED, ConnectionState.OK]


async def test_socket_drop_reconnects_and_resubscribes(make: Make, gw: FakeGateway) -> None:
    broker, rec = await streaming(make, gw)
    mark = rec.mark()
    gw.faults.drop()
    await until(lambda: broker.state is ConnectionState.OK and rec.mark() > mark, "OK")
    await until(lambda: ConnectionState.OK in rec.states(mark), "OK event")
    after = rec.mark()
    await until(lambda: len(rec.of(QuoteEvent, after)) > 5, "quotes after the reconnect")
    states = rec.states(mark)
    assert states[0] is ConnectionState.RECONNECTING and states[-1] is ConnectionState.OK
    assert rec.of(ConnectionChanged, mark)[0].retry_in_s is not None
    assert broker.reconnect_tasks_started == 1


async def test_gateway_restart_reconnects(make: Make, gw: FakeGateway) -> None:
    broker, rec = await streaming(make, gw)
    mark = rec.mark()
    await gw.restart(1.0)
    await until(lambda: ConnectionState.OK in rec.states(mark), "OK after restart")
    after = rec.mark()
    await until(lambda: len(rec.of(QuoteEvent, after)) > 5, "quotes after the restart")
    assert broker.reconnect_tasks_started == 1


async def test_several_drops_one_reconnect_task(make: Make, gw: FakeGateway) -> None:
    broker, rec = await streaming(make, gw)
    mark = rec.mark()
    gw.faults.drop()
    await until(lambda: broker.state is ConnectionState.RECONNECTING, "RECONNECTING")
    for _ in range(3):  # more disconnect signals while the task runs
        broker._on_disconnected()
        gw.faults.drop()
        await asyncio.sleep(0)
    assert broker.reconnect_tasks_started == 1
    await until(lambda: ConnectionState.OK in rec.states(mark), "OK")
    after = rec.mark()
    await until(lambda: len(rec.of(QuoteEvent, after)) > 5, "quotes after the reconnect")
    assert broker.reconnect_tasks_started == 1


# ---- orders ---------------------------------------------------------------------------------


def reports(rec: Recorder, broker_id: int) -> list[OrderReport]:
    return [r for r in rec.of(OrderReport) if r.broker_id == broker_id]


def status(rec: Recorder, broker_id: int) -> OrderStatus | None:
    found = reports(rec, broker_id)
    return found[-1].status if found else None


async def test_orders_lifecycle(make: Make, still_gw: FakeGateway) -> None:
    broker, rec = await make(still_gw)
    es = await broker.resolve("ES")
    await broker.subscribe_market_data(es)
    await until(lambda: any(q.quote.bid and q.quote.ask for q in rec.of(QuoteEvent)), "quote")
    q = [e for e in rec.of(QuoteEvent) if e.quote.bid and e.quote.ask][-1].quote
    assert q.bid is not None and q.ask is not None

    mkt = Order("m1", es, Side.BUY, 1, OrderType.MARKET)
    mid = await broker.place(mkt, "ref-m1")
    await until(lambda: status(rec, mid) is OrderStatus.FILLED, "MKT filled")
    await until(lambda: [e for e in rec.of(ExecutionReport) if e.broker_id == mid], "exec")
    ex = next(e for e in rec.of(ExecutionReport) if e.broker_id == mid)
    assert not ex.historical and ex.side is Side.BUY and ex.quantity == 1
    assert ex.order_ref == "ref-m1" and isinstance(ex.price, int)
    await until(lambda: [c for c in rec.of(CommissionEvent) if c.exec_id == ex.exec_id], "comm")

    lmt = Order("l1", es, Side.BUY, 1, OrderType.LIMIT, limit=q.bid - 20)
    lid = await broker.place(lmt, "ref-l1")
    await until(lambda: status(rec, lid) is OrderStatus.SUBMITTED, "LMT working")
    lmt.bind(lid)
    await broker.modify(lmt, OrderChange(limit=q.bid - 21), "ref-l1")
    await until(lambda: reports(rec, lid)[-1].limit == q.bid - 21, "modified")
    await broker.cancel(lid)
    await until(lambda: status(rec, lid) is OrderStatus.CANCELLED, "cancelled")
    assert OrderStatus.PENDING_CANCEL in [r.status for r in reports(rec, lid)]

    stp = Order("s1", es, Side.SELL, 1, OrderType.STOP, stop=q.bid - 40)
    sid = await broker.place(stp, "ref-s1")
    stl = Order("s2", es, Side.SELL, 1, OrderType.STOP_LIMIT, limit=q.bid - 42, stop=q.bid - 40)
    slid = await broker.place(stl, "ref-s2")
    await until(
        lambda: (
            status(rec, sid) is OrderStatus.SUBMITTED and status(rec, slid) is OrderStatus.SUBMITTED
        ),
        "stops working",
    )
    assert reports(rec, slid)[-1].stop == q.bid - 40 and reports(rec, slid)[-1].limit == q.bid - 42
    assert reports(rec, slid)[-1].order_type == "STP LMT"
    await broker.cancel(sid)
    await broker.cancel(slid)
    await until(lambda: status(rec, slid) is OrderStatus.CANCELLED, "stop cancelled")

    still_gw.faults.reject_next()
    rid = await broker.place(Order("r1", es, Side.BUY, 1, OrderType.MARKET), "ref-r1")
    await until(lambda: status(rec, rid) is OrderStatus.REJECTED, "rejected")
    assert reports(rec, rid)[-1].reason


async def test_bracket_and_open_orders_and_foreign(make: Make, still_gw: FakeGateway) -> None:
    broker, rec = await make(still_gw)
    es = await broker.resolve("ES")
    await broker.subscribe_market_data(es)
    await until(lambda: any(q.quote.bid and q.quote.ask for q in rec.of(QuoteEvent)), "quote")
    q = [e for e in rec.of(QuoteEvent) if e.quote.bid and e.quote.ask][-1].quote
    assert q.bid is not None
    parent = Order("p", es, Side.BUY, 1, OrderType.LIMIT, limit=q.bid - 10)
    pid = await broker.place(parent, "ref-p", transmit=False)
    tp = Order("tp", es, Side.SELL, 1, OrderType.LIMIT, limit=q.bid + 10, parent_id="p")
    sl = Order("sl", es, Side.SELL, 1, OrderType.STOP, stop=q.bid - 20, parent_id="p")
    tid = await broker.place(tp, "ref-tp", transmit=False, parent_broker_id=pid)
    slid = await broker.place(sl, "ref-sl", transmit=True, parent_broker_id=pid)
    await until(lambda: status(rec, pid) is OrderStatus.SUBMITTED, "parent working")

    other = IB()
    await other.connectAsync("127.0.0.1", still_gw.config.port, clientId=42, timeout=3)
    try:
        [contract] = await qualified(other, broker._contract(es))
        other.placeOrder(contract, LimitOrder("BUY", 1, float(es.to_price(q.bid - 30))))
        await until(lambda: other.openTrades(), "foreign order placed")
        await asyncio.sleep(0.2)
        found = await broker.open_orders()
    finally:
        other.disconnect()
    ids = {(r.client_id, r.broker_id): r for r in found}
    assert (1, pid) in ids and (1, tid) in ids and (1, slid) in ids
    assert ids[(1, tid)].parent_id == pid and ids[(1, slid)].parent_id == pid
    assert any(r.client_id == 42 for r in found)
    foreign = next(r for r in found if r.client_id == 42)
    assert foreign.instrument == es and foreign.limit == q.bid - 30


async def test_fill_while_disconnected_recovered(make: Make, still_gw: FakeGateway) -> None:
    broker, rec = await make(still_gw)
    es = await broker.resolve("ES")
    await broker.subscribe_market_data(es)
    await until(lambda: any(q.quote.bid and q.quote.ask for q in rec.of(QuoteEvent)), "quote")
    q = [e for e in rec.of(QuoteEvent) if e.quote.bid and e.quote.ask][-1].quote
    assert q.bid is not None
    since = broker._ns()
    oid = await broker.place(Order("w", es, Side.BUY, 2, OrderType.LIMIT, limit=q.bid - 8), "w")
    await until(lambda: status(rec, oid) is OrderStatus.SUBMITTED, "working")
    mark = rec.mark()
    assert still_gw.faults.fill_while_disconnected() == 1
    await until(lambda: ConnectionState.OK in rec.states(mark), "OK again")
    found = await broker.executions(since - 2_000_000_000)
    mine = [e for e in found if e.broker_id == oid]
    assert mine and all(e.historical for e in mine) and sum(e.quantity for e in mine) == 2
    ids = {e.exec_id for e in mine}
    await until(lambda: ids <= {c.exec_id for c in rec.of(CommissionEvent)}, "commissions")
