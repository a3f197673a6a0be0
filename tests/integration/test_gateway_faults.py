"""Every fault the fake gateway can inject, seen through the real ib_async 2.1.0 ``IB`` client.

Market-data tests run a busy synthetic market (``rate=500``) so that "no ticks during the
outage" and "ticks resume" mean something; order tests run the still market of
``fake_gateway``. Nothing is timed: every wait is on a condition (with a hang guard), and
"nothing arrived while X" is read from the order in which ib_async decoded its messages
(:class:`Wire`), or, for the silent stall, from the gateway clock at which they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
from ib_async import IB, LimitOrder, MarketOrder, Ticker

from tests.integration.desk_helpers import (
    COMMISSION,
    ES_MULTIPLIER,
    Connect,
    Market,
    errors_of,
    status_is,
    statuses,
)
from tests.support.waiting import GUARD, until
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.faults import TEXTS

pytestmark = pytest.mark.integration

StartGateway = Callable[..., Awaitable[FakeGateway]]
ConnectTo = Callable[..., Awaitable[IB]]
BUSY = 500.0  # market events per second: ticks every few milliseconds
DOWN = 0.3  # seconds an outage lasts
TICKS = {"1", "2", "46"}  # tickPrice, tickSize, tickString
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Msg:
    kind: str  # "tick" (value = reqId), "error" (value = code), "time", "bad" (undecodable tick)
    value: int
    at: float  # the gateway's clock when ib_async decoded it


class Wire:
    """The ticks, errors and currentTime answers ib_async decodes, in arrival order (a spy on
    its decoder, which survives reconnects)."""

    def __init__(self, ib: IB, gateway: FakeGateway) -> None:
        self.log: list[Msg] = []
        clock = gateway.config.clock
        interpret = ib.client.decoder.interpret

        def spy(fields: list[str]) -> None:
            seen = _classify(fields)
            if seen is not None:
                self.log.append(Msg(*seen, clock()))
            interpret(fields)

        ib.client.decoder.interpret = spy  # type: ignore[method-assign]

    def index(self, kind: str, value: int = 0, start: int = 0) -> int:
        """Position of the first ``kind``/``value`` message at or after ``start``."""
        for i in range(start, len(self.log)):
            if self.log[i].kind == kind and self.log[i].value == value:
                return i
        raise AssertionError(f"no {kind} {value} after #{start}: {self.log[start:][:20]}")

    def has(self, kind: str, value: int = 0, start: int = 0) -> bool:
        return any(m.kind == kind and m.value == value for m in self.log[start:])

    def ticks(self, start: int = 0, stop: int | None = None, req_id: int | None = None) -> int:
        return sum(
            m.kind == "tick" and (req_id is None or m.value == req_id) for m in self.log[start:stop]
        )

    def first_tick(self, start: int = 0) -> Msg:
        return next(m for m in self.log[start:] if m.kind == "tick")

    async def ticks_after(self, start: int, count: int = 10, req_id: int | None = None) -> None:
        await until(
            lambda: self.ticks(start, req_id=req_id) >= count, f"{count} ticks after #{start}"
        )

    def req_ids(self) -> set[int]:
        return {m.value for m in self.log if m.kind == "tick"}


def _classify(fields: list[str]) -> tuple[str, int] | None:
    head = fields[0] if fields else ""
    if head in TICKS:
        ok = len(fields) > 2 and fields[2].lstrip("-").isdigit()
        return ("tick", int(fields[2])) if ok else ("bad", 0)
    if head == "4" and len(fields) > 3:
        return "error", int(fields[3])
    if head == "49":
        return "time", 0
    return None


def codes(errors: list[tuple[int, int, str]], *wanted: int) -> list[int]:
    return [code for _, code, _ in errors if code in wanted]


def settle(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def updates(ticker: Ticker) -> list[Ticker]:
    seen: list[Ticker] = []
    ticker.updateEvent += seen.append
    return seen


async def streaming(
    connect_to: ConnectTo, gw: FakeGateway, client_id: int = 1
) -> tuple[IB, Wire, list[tuple[int, int, str]], Ticker]:
    """A client watching ES top of book, once ticks flow; its errors from then on."""
    ib = IB()
    wire = Wire(ib, gw)
    await connect_to(gw, client_id, ib=ib)
    errors = errors_of(ib)
    ticker = ib.reqMktData(Market(gw).contract)
    await wire.ticks_after(0)
    return ib, wire, errors, ticker


async def reconnect(ib: IB, gw: FakeGateway, client_id: int) -> None:
    """Connect again (same port) as a client would, retrying while nothing listens."""
    async with asyncio.timeout(GUARD):
        while True:
            try:
                await ib.connectAsync(gw.config.host, gw.config.port, clientId=client_id)
                return
            except ConnectionRefusedError:
                await asyncio.sleep(0.05)


def watch_disconnects(ib: IB) -> list[bool]:
    seen: list[bool] = []
    ib.disconnectedEvent += lambda: seen.append(ib.isConnected())
    return seen


@pytest.fixture
def market(fake_gateway: FakeGateway) -> Market:
    return Market(fake_gateway)


# ------------------------------------------------------------------------ the socket goes


async def test_drop_disconnects_and_a_reconnect_gets_the_working_orders_back(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    price = market.px(market.bid - 4)
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price))
    await until(status_is((trade, "Submitted")), "a working limit")
    disconnects = watch_disconnects(ib)

    assert fake_gateway.faults.drop() == 1
    await until(lambda: disconnects, "disconnectedEvent")
    assert disconnects == [False] and not ib.isConnected()

    await reconnect(ib, fake_gateway, 1)  # the same IB object, as an app reconnects
    assert ib.isConnected()
    (found,) = ib.openTrades()
    assert (found.order.permId, found.order.orderId) == (trade.order.permId, trade.order.orderId)
    assert (found.orderStatus.status, found.order.lmtPrice) == ("Submitted", price)
    ib.cancelOrder(found.order)  # and it is fully usable
    await until(status_is((found, "Cancelled")), "the recovered order's cancel")


async def test_restart_keeps_positions_working_orders_and_executions(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    ask, limit = market.ask, market.bid - 4
    bought = ib.placeOrder(market.contract, MarketOrder("BUY", 2))
    resting = ib.placeOrder(market.contract, LimitOrder("SELL", 1, market.px(limit + 20)))
    await until(
        lambda: bought.fills and bought.fills[0].commissionReport.execId, "the fill's commission"
    )
    await until(status_is((resting, "Submitted")), "a working limit")
    exec_id = bought.fills[0].execution.execId
    disconnects = watch_disconnects(ib)

    restart = asyncio.create_task(fake_gateway.restart(DOWN))
    await until(lambda: disconnects, "disconnectedEvent")
    assert not ib.isConnected()
    port = fake_gateway.config.port
    await reconnect(ib, fake_gateway, 1)
    await restart
    assert fake_gateway.config.port == port

    (position,) = ib.positions()
    assert (position.contract.conId, position.position) == (market.feed.con_id, 2.0)
    assert position.avgCost == pytest.approx(market.px(ask) * ES_MULTIPLIER)
    (working,) = ib.openTrades()
    assert working.order.permId == resting.order.permId
    assert working.orderStatus.status == "Submitted"
    assert working.order.lmtPrice == market.px(limit + 20)
    (fill,) = ib.fills()  # the startup sync's reqExecutions
    assert (fill.execution.execId, fill.execution.shares) == (exec_id, 2.0)
    assert (fill.execution.price, fill.commissionReport.commission) == (
        market.px(ask),
        2 * COMMISSION,
    )
    assert [f.execution.execId for f in await ib.reqExecutionsAsync()] == [exec_id]
    assert sum(f.execution.shares for f in ib.fills()) == position.position

    after = ib.placeOrder(market.contract, MarketOrder("SELL", 2))  # a fresh order id works
    assert after.order.orderId > resting.order.orderId
    await until(status_is((after, "Filled")), "a new order after the restart")
    await until(lambda: not ib.positions(), "the flat position")
    ids = [e.execution.execId for e in await ib.reqExecutionsAsync()]
    assert len(ids) == len(set(ids)) == 2 and ids[0] == exec_id  # a new execId after it


async def test_fill_while_disconnected_is_recovered_once(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    limit = market.bid - 4
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 2, market.px(limit)))
    await until(status_is((trade, "Submitted")), "a working limit")
    disconnects = watch_disconnects(ib)

    assert fake_gateway.faults.fill_while_disconnected() == 1
    await until(lambda: disconnects, "disconnectedEvent")
    assert trade.orderStatus.status == "Submitted" and not trade.fills  # it never heard
    (booked,) = [e for a in fake_gateway.books.accounts.values() for e in a.executions]

    await reconnect(ib, fake_gateway, 1)
    (fill,) = ib.fills()  # recovered by the startup sync
    assert fill.execution.execId == booked.exec_id
    assert fill.execution.permId == trade.order.permId
    assert (fill.execution.shares, fill.execution.price) == (2.0, market.px(limit))
    assert fill.commissionReport.execId == booked.exec_id
    assert fill.commissionReport.commission == 2 * COMMISSION
    again = await ib.reqExecutionsAsync()  # asking again duplicates nothing
    assert [f.execution.execId for f in again] == [booked.exec_id]
    assert [f.execution.execId for f in ib.fills()] == [booked.exec_id]
    assert [(p.position, p.avgCost) for p in ib.positions()] == [
        (2.0, pytest.approx(market.px(limit) * ES_MULTIPLIER))
    ]
    assert ib.openTrades() == []


async def test_duplicate_client_id_is_refused_and_the_first_client_keeps_working(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    first, wire, _, _ = await streaming(connect_to, gw, 1)
    second = IB()
    errors = errors_of(second)
    closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    second.client.apiError += lambda msg: settle(closed, msg)
    # ib_async does not give up on its own after 326: it waits for its timeout
    attempt = asyncio.create_task(
        second.connectAsync(gw.config.host, gw.config.port, clientId=1, timeout=None)
    )
    try:
        assert "Peer closed connection" in await asyncio.wait_for(closed, GUARD)
        assert codes(errors, 326) == [326]
    finally:
        attempt.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await attempt
        second.disconnect()
    assert not second.isConnected()
    assert [s.client_id for s in gw.server.sessions] == [1]
    assert first.isConnected()
    await wire.ticks_after(len(wire.log), 20)  # still streaming
    assert await asyncio.wait_for(first.reqCurrentTimeAsync(), GUARD)


# -------------------------------------------------------------- connectivity and farms


async def test_lost_then_restored_data_lost_freezes_the_ticker_until_resubscribed(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    ib, wire, errors, ticker = await streaming(connect_to, gw)
    (old_req,) = wire.req_ids()

    await gw.faults.connectivity_lost(DOWN, data_lost=True)
    await until(lambda: 1101 in codes(errors, 1101), "1101")
    assert codes(errors, 1100, 1101, 1102) == [1100, 1101]
    lost, restored = wire.index("error", 1100), wire.index("error", 1101)
    assert wire.ticks(lost, restored) == 0  # nothing while the connection was down
    assert ib.isConnected()
    frozen = (ticker.time, ticker.bid, ticker.ask, ticker.last, ticker.volume)

    # the market keeps moving: a fresh subscription (another client) sees it...
    other = await connect_to(gw, 2)
    control = updates(other.reqMktData(Market(gw).contract))
    await until(lambda: len(control) >= 20, "the market to move for another client")
    # ...but the old subscription is dead and the ticker frozen
    assert wire.ticks(restored) == 0
    assert (ticker.time, ticker.bid, ticker.ask, ticker.last, ticker.volume) == frozen

    resubscribed = len(wire.log)
    assert ib.reqMktData(Market(gw).contract) is ticker  # the same Ticker comes alive again
    await wire.ticks_after(resubscribed, 20)
    assert wire.ticks(restored, req_id=old_req) == 0
    await until(lambda: ticker.time != frozen[0], "the ticker to update")


async def test_lost_then_restored_data_kept_resumes_the_same_subscription(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    ib, wire, errors, ticker = await streaming(connect_to, gw)
    (req_id,) = wire.req_ids()
    seen = updates(ticker)

    await gw.faults.connectivity_lost(DOWN, data_lost=False)
    await until(lambda: 1102 in codes(errors, 1102), "1102")
    assert codes(errors, 1100, 1101, 1102) == [1100, 1102]
    lost, restored = wire.index("error", 1100), wire.index("error", 1102)
    assert wire.ticks(lost, restored) == 0
    before = len(seen)
    await wire.ticks_after(restored, 20, req_id=req_id)  # no new request was made
    await until(lambda: len(seen) > before, "the ticker to update")
    session = gw.server.session_for(1)
    assert session is not None
    assert [s.key for s in session.subscriptions_of("mktData")] == [req_id]
    assert ib.isConnected()


async def test_farm_flap_pauses_ticks_and_keeps_the_socket(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    ib, wire, errors, ticker = await streaming(connect_to, gw)
    disconnects = watch_disconnects(ib)
    connected_at: list[tuple[int, bool]] = []
    ib.errorEvent += lambda _r, code, _t, _c: connected_at.append((code, ib.isConnected()))

    await gw.faults.farm_outage(DOWN)
    await until(lambda: 2104 in codes(errors, 2104), "2104")
    assert connected_at == [(2103, True), (2104, True)]
    broken, ok = wire.index("error", 2103), wire.index("error", 2104, wire.index("error", 2103))
    assert wire.ticks(broken, ok) == 0
    seen = updates(ticker)
    await wire.ticks_after(ok, 20)
    await until(lambda: seen, "the ticker to update")
    assert disconnects == [] and ib.isConnected()


async def test_a_client_connecting_during_a_farm_outage_is_told_the_farm_is_broken(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    outage = asyncio.create_task(gw.faults.farm_outage(1.0))  # long enough to connect within
    await until(lambda: (2103, TEXTS[2103]) in gw.server.farm_messages, "the outage to start")
    ib = IB()
    errors = errors_of(ib)
    await connect_to(gw, 1, ib=ib)
    assert not outage.done(), "connected too late to test this"
    assert codes(errors, 2103, 2104, 2106, 2158) == [2103, 2106, 2158]  # not "farm OK"
    await outage
    await until(lambda: 2104 in codes(errors, 2104), "2104 when the farm is back")
    assert codes(errors, 2103, 2104) == [2103, 2104]


async def test_hmds_flap_is_reported_and_keeps_the_socket(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    ib, wire, errors, _ = await streaming(connect_to, gw)
    disconnects = watch_disconnects(ib)
    await gw.faults.hmds_outage(DOWN)
    await until(lambda: 2106 in codes(errors, 2105, 2106), "2106")
    assert codes(errors, 2105, 2106) == [2105, 2106]
    await wire.ticks_after(wire.index("error", 2106), 20)  # market data is not affected
    assert disconnects == [] and ib.isConnected()


async def test_stall_is_silent_and_ticks_come_back_after_it(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY)
    ib, wire, errors, ticker = await streaming(connect_to, gw)
    disconnects = watch_disconnects(ib)
    quiet_since = len(errors)

    gw.faults.stall(DOWN)
    until_s = gw.market.stalled_until
    # a round trip: every tick the gateway queued before the stall is decoded before this
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
    cut = wire.index("time")
    seen = updates(ticker)
    await wire.ticks_after(cut, 20)
    assert wire.first_tick(cut).at >= until_s  # nothing arrived while the market stalled
    await until(lambda: seen, "the ticker to update")
    assert errors[quiet_since:] == []  # no message at all
    assert disconnects == [] and ib.isConnected()


async def test_a_stall_freezes_everything_even_our_own_fills_and_new_subscriptions(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    """A frozen feed sends nothing: not the trade our own order makes, not a snapshot for a
    resubscription. Orders still work. When the data flows again, the book as it is now."""
    gw = await start_gateway(rate=50.0)
    ib, wire, _, ticker = await streaming(connect_to, gw)
    gw.config.rate = 0.0  # from now on the market moves only by our order
    market = Market(gw)
    stall_s = 1.0
    gw.faults.stall(stall_s)
    until_s = gw.market.stalled_until
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
    cut = wire.index("time")
    trade = ib.placeOrder(market.contract, MarketOrder("BUY", 1))
    await until(status_is((trade, "Filled")), "our fill, during the stall")
    again = ib.reqMktData(market.contract, "233")  # a resubscription during the stall
    await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
    assert gw.market.stalled() and wire.ticks(cut) == 0  # nothing, not even our trade
    fill_price = trade.fills[0].execution.price
    await wire.ticks_after(cut, 1)
    assert wire.first_tick(cut).at >= until_s
    await until(lambda: ticker.last == fill_price and again.last == fill_price,
                "the book as it is now, after the stall")  # fmt: skip


# ----------------------------------------------------------------------- orders and pacing


async def test_reject_next_order_cancels_it_and_the_next_order_works(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    errors = errors_of(ib)
    fake_gateway.faults.reject_next()
    price = market.px(market.bid - 4)
    rejected = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price))
    await until(status_is((rejected, "Cancelled")), "the rejection")
    assert [(r, c) for r, c, _ in errors] == [(rejected.order.orderId, 201)]
    assert statuses(rejected) == ["PendingSubmit", "Cancelled"]
    assert fake_gateway.oms.working() == []

    accepted = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price))
    await until(status_is((accepted, "Submitted")), "the next order to work")
    assert codes(errors, 201) == [201]


async def test_hidden_acks_hold_every_trace_of_the_order_while_other_requests_are_answered(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    """``hide``: the worst case, the request is invisible at IB until it is processed."""
    ib = await fake_connect(1)
    delay = DOWN
    await fake_gateway.faults.delay_acks(delay, hide=True)  # for the rest of this run
    loop = asyncio.get_running_loop()
    acked: asyncio.Future[float] = loop.create_future()

    sent = loop.time()
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(market.bid - 4)))
    trade.statusEvent += lambda _: settle(acked, loop.time())
    assert await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
    assert await asyncio.wait_for(ib.reqContractDetailsAsync(market.contract), GUARD)
    assert trade.orderStatus.status == "PendingSubmit"  # answered meanwhile, order still held
    assert fake_gateway.desk.pending_acks == 1
    assert fake_gateway.oms.working() == []  # not even listed

    assert await asyncio.wait_for(acked, GUARD) - sent >= delay
    await until(status_is((trade, "Submitted")), "the late ack")
    assert statuses(trade) == ["PendingSubmit", "PreSubmitted", "Submitted"]

    ib.cancelOrder(trade.order)  # cancels are acknowledged late too
    assert await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
    assert trade.orderStatus.status == "PendingCancel"
    await until(status_is((trade, "Cancelled")), "the late cancel")


async def test_delayed_acks_list_the_order_at_once_as_tws_does(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    """``delay``: TWS lists an order it has read (PendingSubmit) and a cancel it has read
    (PendingCancel) at once; the exchange's answer comes D later."""
    ib = await fake_connect(1)
    watcher = await fake_connect(2)
    delay = 1.0
    await fake_gateway.faults.delay_acks(delay)
    loop = asyncio.get_running_loop()

    sent = loop.time()
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(market.bid - 4)))
    assert await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
    listed = await asyncio.wait_for(watcher.reqAllOpenOrdersAsync(), GUARD)
    (seen,) = [t for t in listed if t.order.orderId == trade.order.orderId]
    assert seen.orderStatus.status == "PendingSubmit" and seen.order.permId
    await until(status_is((trade, "Submitted")), "the exchange's ack")
    assert loop.time() - sent >= delay

    cancelled_at = loop.time()
    ib.cancelOrder(trade.order)
    await until(status_is((trade, "PendingCancel")), "TWS taking the cancel")
    listed = await asyncio.wait_for(watcher.reqAllOpenOrdersAsync(), GUARD)
    (seen,) = [t for t in listed if t.order.orderId == trade.order.orderId]
    assert seen.orderStatus.status == "PendingCancel"
    await until(status_is((trade, "Cancelled")), "the exchange's cancel")
    assert loop.time() - cancelled_at >= delay * 0.9


async def test_pacing_violation_fails_the_next_request_only(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    errors = errors_of(ib)
    fake_gateway.faults.pacing_violation()
    failed = await asyncio.wait_for(ib.reqContractDetailsAsync(market.contract), GUARD)
    assert failed == []
    ((req_id, code, text),) = errors
    assert code == 100 and req_id > 0 and "Max rate of messages" in text
    (details,) = await asyncio.wait_for(ib.reqContractDetailsAsync(market.contract), GUARD)
    assert details.contract is not None and details.contract.conId == market.feed.con_id
    assert codes(errors, 100) == [100]
    assert ib.isConnected()


async def test_malformed_frame_is_logged_and_the_stream_goes_on(
    start_gateway: StartGateway, connect_to: ConnectTo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="ib_async")
    gw = await start_gateway(rate=BUSY)
    ib, wire, _, ticker = await streaming(connect_to, gw)
    disconnects = watch_disconnects(ib)

    gw.faults.malformed_frame()
    await until(lambda: wire.has("bad"), "the malformed frame")
    bad = [r for r in caplog.records if "Error handling fields" in r.getMessage()]
    assert len(bad) == 1 and "not-a-number" in bad[0].getMessage()
    seen = updates(ticker)
    await wire.ticks_after(wire.index("bad"), 20)
    await until(lambda: seen, "the ticker to update")
    assert disconnects == [] and ib.isConnected()


# ------------------------------------------------------------------------- a --faults plan


async def test_faults_plan_fires_on_schedule(
    start_gateway: StartGateway, connect_to: ConnectTo
) -> None:
    gw = await start_gateway(rate=BUSY, faults="farm@0.2:0.5,reject@0")
    ib = IB()
    wire, errors = Wire(ib, gw), errors_of(ib)
    await connect_to(gw, 1, ib=ib)
    market = Market(gw)
    ib.reqMktData(market.contract)
    price = market.px(market.bid - 400)  # far below a busy market
    rejected = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price))
    await until(status_is((rejected, "Cancelled")), "the planned rejection")
    assert (rejected.order.orderId, 201) in [(r, c) for r, c, _ in errors]

    await until(lambda: wire.has("error", 2103), "2103")
    broken = wire.index("error", 2103)
    await until(lambda: wire.has("error", 2104, broken), "2104 after 2103")
    ok = wire.index("error", 2104, broken)
    assert wire.ticks(broken, ok) == 0
    await wire.ticks_after(ok, 20)
    assert [f.kind for f in gw.faults.fired] == ["reject", "farm"]

    accepted = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price))
    await until(status_is((accepted, "Submitted")), "the next order to work")
    assert codes(errors, 201) == [201]
    assert ib.isConnected()
