"""The real ib_async 2.1.0 ``IB`` client against an in-process ``GatewayServer``.

No timing assertions: every wait has a generous hang guard, and "prompt" is shown by
disabling ib_async's own timeouts, so a test can only pass if the gateway answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from ib_async import IB, Contract, LimitOrder, TagValue

from tests.support.waiting import GUARD
from tradeterm.sim.gateway.protocol.server import GatewayServer
from tradeterm.sim.gateway.protocol.wire import FrameDecoder, encode_frame, encode_handshake

pytestmark = pytest.mark.integration

Connect = Callable[..., Awaitable[IB]]


def es() -> Contract:
    return Contract(
        conId=495512563, symbol="ES", secType="FUT", lastTradeDateOrContractMonth="20251219",
        multiplier="50", exchange="CME", currency="USD", localSymbol="ESZ5", tradingClass="ES",
    )  # fmt: skip


def error_queue(ib: IB) -> asyncio.Queue[tuple[int, int, str]]:
    queue: asyncio.Queue[tuple[int, int, str]] = asyncio.Queue()
    ib.errorEvent += lambda req_id, code, text, _contract: queue.put_nowait((req_id, code, text))
    return queue


async def next_error(queue: asyncio.Queue[tuple[int, int, str]], code: int) -> tuple[int, str]:
    while True:
        req_id, got, text = await asyncio.wait_for(queue.get(), GUARD)
        if got == code:
            return req_id, text


def resolve(future: asyncio.Future[Any], value: Any) -> None:
    """Settle ``future`` once (the event that settles it may fire again)."""
    if not future.done():
        future.set_result(value)


class RawClient:
    """A bare socket speaking the wire protocol, for what ib_async cannot show."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = FrameDecoder()
        self.frames: list[list[str]] = []

    @classmethod
    async def open(cls, gateway: GatewayServer, opening: bytes) -> RawClient:
        reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
        writer.write(opening)
        return cls(reader, writer)

    def send(self, *fields: object) -> None:
        self.writer.write(encode_frame(fields))

    async def frame(self) -> list[str]:
        while not self.frames:
            chunk = await asyncio.wait_for(self.reader.read(65536), GUARD)
            assert chunk, "connection closed"
            self.frames += self.decoder.feed(chunk)
        return self.frames.pop(0)

    async def at_eof(self) -> bool:
        chunk = await asyncio.wait_for(self.reader.read(65536), GUARD)
        self.frames += self.decoder.feed(chunk)
        return chunk == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


# ------------------------------------------------------------------------ connect


async def test_connect_and_sync_without_timeouts(
    gateway: GatewayServer, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ib = await asyncio.wait_for(connect(1, raiseSyncErrors=True), GUARD)
    assert ib.isConnected()
    assert ib.client.serverVersion() == 178
    assert ib.managedAccounts() == ["DU0000001"]
    assert ib.positions() == []
    assert ib.openTrades() == []
    values = {v.tag: v.value for v in ib.accountValues() if not v.modelCode}
    assert values["NetLiquidation"] == "100000.00"
    assert "Synchronization complete" in caplog.text
    assert [r for r in caplog.records if "timed out" in r.getMessage()] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    session = gateway.session_for(1)
    assert session is not None and session.version == 178
    kinds = {kind for kind, _ in session.subscriptions}
    assert kinds == {"positions", "accountUpdates", "accountUpdatesMulti"}


async def test_client_id_zero_binds_manual_orders(gateway: GatewayServer, connect: Connect) -> None:
    await asyncio.wait_for(connect(0), GUARD)
    session = gateway.session_for(0)
    assert session is not None and session.auto_open_orders is True


async def test_req_current_time() -> None:
    gateway = GatewayServer(clock=lambda: 1763683200.75, accounts=["DU7654321"])
    await gateway.start()
    ib = IB()
    try:
        await asyncio.wait_for(ib.connectAsync(gateway.host, gateway.port, clientId=3), GUARD)
        assert ib.managedAccounts() == ["DU7654321"]
        now = await asyncio.wait_for(ib.reqCurrentTimeAsync(), GUARD)
        assert now == datetime(2025, 11, 21, tzinfo=UTC)
    finally:
        ib.disconnect()
        await gateway.stop()


async def test_two_clients_at_once(gateway: GatewayServer, connect: Connect) -> None:
    ib1, ib2 = await asyncio.wait_for(asyncio.gather(connect(1), connect(2)), GUARD)
    assert sorted(s.client_id for s in gateway.sessions if s.client_id is not None) == [1, 2]
    times = await asyncio.wait_for(
        asyncio.gather(ib1.reqCurrentTimeAsync(), ib2.reqCurrentTimeAsync()), GUARD
    )
    assert all(t.tzinfo is not None for t in times)


async def test_duplicate_client_id_is_refused(gateway: GatewayServer, connect: Connect) -> None:
    first = await asyncio.wait_for(connect(5), GUARD)
    second = IB()
    errors = error_queue(second)
    api_error: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    second.client.apiError += lambda msg: resolve(api_error, msg)
    task = asyncio.create_task(
        second.connectAsync(gateway.host, gateway.port, clientId=5, timeout=None)
    )
    try:
        req_id, text = await next_error(errors, 326)
        assert req_id == -1 and "already in use" in text
        closed = await asyncio.wait_for(api_error, GUARD)  # the gateway closed the socket
        assert "Peer closed connection" in closed
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await task
    assert first.isConnected()
    assert [s.client_id for s in gateway.sessions] == [5]


# ------------------------------------------------------------ unsupported things


async def test_unsupported_requests_get_321_promptly(connect: Connect) -> None:
    ib = await asyncio.wait_for(connect(1), GUARD)
    errors = error_queue(ib)
    # ib_async treats 321 as a warning: never resolves
    pending = asyncio.ensure_future(ib.reqNewsProvidersAsync())
    req_id, text = await next_error(errors, 321)
    assert req_id == -1
    assert "reqNewsProviders" in text and "not supported by simulator" in text
    ib.client.reqMatchingSymbols(77, "ES")
    req_id, text = await next_error(errors, 321)
    assert (req_id, "reqMatchingSymbols" in text) == (77, True)
    ib.client.reqScannerParameters()
    _, text = await next_error(errors, 321)
    assert "reqScannerParameters" in text
    assert not pending.done()


async def test_unsupported_order_feature_is_named(connect: Connect) -> None:
    ib = await asyncio.wait_for(connect(1), GUARD)
    errors = error_queue(ib)
    order = LimitOrder("BUY", 1, 4900.0, algoStrategy="Adaptive",
                       algoParams=[TagValue("adaptivePriority", "Normal")])  # fmt: skip
    trade = ib.placeOrder(es(), order)
    req_id, text = await next_error(errors, 321)
    assert req_id == trade.order.orderId
    assert "algo orders (Adaptive) not supported by simulator" in text


# ------------------------------------------------------------- version refusal


@pytest.mark.parametrize(("low", "high"), [(157, 175), (179, 190)])
async def test_no_common_version_fails_ib_async_fast(
    gateway: GatewayServer, low: int, high: int
) -> None:
    ib = IB()
    ib.client.MinClientVersion, ib.client.MaxClientVersion = low, high
    errors = error_queue(ib)
    try:
        # timeout=None: without the gateway's refusal this could only end at GUARD
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(
                ib.connectAsync(gateway.host, gateway.port, clientId=4, timeout=None), GUARD
            )
        _, text = await next_error(errors, 503)
        assert f"v{low}..v{high}" in text and "v176..v178" in text
    finally:
        ib.disconnect()
    assert gateway.sessions == []


async def test_no_common_version_raw_socket_older_client(gateway: GatewayServer) -> None:
    raw = await RawClient.open(gateway, encode_handshake(100, 150))
    try:
        version, _time = await raw.frame()
        assert version == "150"  # the client's own version, so it can read the refusal
        error = await raw.frame()
        assert error[:4] == ["4", "2", "-1", "503"] and len(error) == 5  # < 166: no json
        assert "v100..v150" in error[4]
        raw.send(71, 2, 4, "")
        assert await raw.frame() == ["15", "1", "REFUSED"]
        assert await raw.frame() == ["9", "1", "1"]
        assert await raw.at_eof()
    finally:
        await raw.close()


@pytest.mark.parametrize(("low", "announced", "fields"), [(190, "190", 6), (194, "178", 6)])
async def test_no_common_version_raw_socket_newer_client(
    gateway: GatewayServer, low: int, announced: str, fields: int
) -> None:
    raw = await RawClient.open(gateway, encode_handshake(low, 200, "+PACEAPI"))
    try:
        assert (await raw.frame())[0] == announced
        error = await raw.frame()
        assert error[:4] == ["4", "2", "-1", "503"] and len(error) == fields
        raw.send(71, 2, 4, "")
        assert [await raw.frame(), await raw.frame()] == [["15", "1", "REFUSED"], ["9", "1", "1"]]
        assert await raw.at_eof()
    finally:
        await raw.close()


# -------------------------------------------------------------- raw protocol


async def test_raw_session_small_requests(gateway: GatewayServer) -> None:
    raw = await RawClient.open(gateway, encode_handshake(157, 178))
    try:
        assert (await raw.frame())[0] == "178"
        raw.send(71, 2, 9, "")
        assert await raw.frame() == ["15", "1", "DU0000001"]
        assert await raw.frame() == ["9", "1", "1"]
        farm = [await raw.frame() for _ in range(3)]
        assert [f[3] for f in farm] == ["2104", "2106", "2158"]
        raw.send(15, 1, 1)  # reqAutoOpenOrders: no answer (the next frame is reqIds')
        raw.send(8, 1, 1)
        assert await raw.frame() == ["9", "1", "1"]
        raw.send(17, 1)
        assert await raw.frame() == ["15", "1", "DU0000001"]
        raw.send(12, 1, 1)  # reqNewsBulletins
        error = await raw.frame()
        assert error[3] == "321" and "reqNewsBulletins" in error[4]
        raw.send(49)  # malformed reqCurrentTime (no version field)
        assert (await raw.frame())[3] == "321"
        raw.send(62, 1, 5, "All", "NetLiquidation,BuyingPower")
        rows = [await raw.frame() for _ in range(3)]
        assert [r[0] for r in rows] == ["63", "63", "64"]
        assert {r[4] for r in rows[:2]} == {"NetLiquidation", "BuyingPower"}
    finally:
        await raw.close()


async def test_request_before_start_api_and_bad_magic(gateway: GatewayServer) -> None:
    raw = await RawClient.open(gateway, encode_handshake(176, 178))
    try:
        assert (await raw.frame())[0] == "178"
        raw.send(49, 1)
        assert (await raw.frame())[3] == "321"
    finally:
        await raw.close()
    raw = await RawClient.open(gateway, b"GET / HTTP/1.0\r\n\r\n")
    try:
        assert await raw.at_eof()
    finally:
        await raw.close()


# ------------------------------------------------------------------- shutdown


async def test_stop_disconnects_clients_cleanly(gateway: GatewayServer, connect: Connect) -> None:
    ib = await asyncio.wait_for(connect(1), GUARD)
    disconnected: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ib.disconnectedEvent += lambda: resolve(disconnected, None)
    await asyncio.wait_for(gateway.stop(), GUARD)
    await asyncio.wait_for(disconnected, GUARD)
    assert not ib.isConnected()
    assert gateway.sessions == []
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("tws-")] == []
