"""Fuzzed input for the fake gateway: malformed frames, handshakes and requests.

The pieces: ``FrameDecoder`` (any bytes, any chunking, lying length prefixes) gives frames or
raises ``ProtocolError``; ``parse_handshake`` gives a handshake, waits for more, or raises
``ProtocolError``; ``decode_request`` (real ib_async requests with fields replaced, dropped,
added or cut off, and random field lists) gives a request or raises ``DecodeError``. Never
another exception, never a hang.

A live gateway (in this process, on a socket): a request that does not decode is answered
with error 321 and the connection goes on serving; bytes that break the framing close that
connection; either way no exception escapes the server and a second client, connected
throughout, is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from ib_async.client import Client
from ib_async.contract import Contract, Future
from ib_async.objects import ExecutionFilter
from ib_async.order import LimitOrder, MarketOrder, StopLimitOrder, StopOrder

from tests.fuzz.budget import fuzz
from tests.fuzz.strategies import JUNK, numbers
from tests.integration.test_gateway_connect import RawClient
from tests.unit.sim.test_decode import Capture
from tradeterm.sim import catalog
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.protocol.decode import DecodeError, decode_request
from tradeterm.sim.gateway.protocol.request_types import Request
from tradeterm.sim.gateway.protocol.wire import (
    SUPPORTED_VERSIONS,
    FrameDecoder,
    ProtocolError,
    encode_frame,
    encode_handshake,
    parse_handshake,
)

GUARD = 10.0  # seconds; reached only by a hang
CURRENT_TIME, ERROR, NEXT_VALID_ID = "49", "4", "9"  # incoming message ids


def _front() -> Contract:
    """The ES contract the gateway lists today, as ib_async sends it."""
    entry = catalog.front_month("ES")
    assert entry is not None
    return Contract(
        conId=entry.conId, symbol=entry.symbol, secType="FUT", exchange=entry.exchange,
        lastTradeDateOrContractMonth=entry.lastTradeDateOrContractMonth, currency="USD",
        multiplier=entry.multiplier, localSymbol=entry.localSymbol,
        tradingClass=entry.tradingClass,
    )  # fmt: skip


ES = _front()
CALLS: list[Callable[[Client], object]] = [
    lambda c: c.placeOrder(21, ES, MarketOrder("BUY", 1)),
    lambda c: c.placeOrder(22, ES, LimitOrder("SELL", 2, 5000.25, tif="GTC", orderRef="tt.ES.1.1")),
    lambda c: c.placeOrder(23, ES, StopOrder("BUY", 1, 5100, ocaGroup="g", transmit=False)),
    lambda c: c.placeOrder(24, ES, StopLimitOrder("SELL", 1, 4990, 4991, parentId=21)),
    lambda c: c.cancelOrder(22, ""),
    lambda c: c.reqGlobalCancel(),
    lambda c: c.reqOpenOrders(),
    lambda c: c.reqAllOpenOrders(),
    lambda c: c.reqAutoOpenOrders(True),
    lambda c: c.reqCompletedOrders(False),
    lambda c: c.reqExecutions(9, ExecutionFilter()),
    lambda c: c.reqPositions(),
    lambda c: c.reqAccountUpdates(True, "DU0000001"),
    lambda c: c.reqAccountUpdatesMulti(10, "DU0000001", "", False),
    lambda c: c.reqAccountSummary(13, "All", "NetLiquidation"),
    lambda c: c.reqPnL(11, "DU0000001", ""),
    lambda c: c.reqPnLSingle(12, "DU0000001", "", ES.conId),
    lambda c: c.reqMktData(4, ES, "", False, False, []),
    lambda c: c.cancelMktData(4),
    lambda c: c.reqMktDepth(6, ES, 10, False, []),
    lambda c: c.reqTickByTickData(5, ES, "AllLast", 0, False),
    lambda c: c.reqRealTimeBars(7, ES, 5, "TRADES", False, []),
    lambda c: c.reqHistoricalData(8, ES, "", "1800 S", "1 min", "TRADES", 1, 1, False, []),
    lambda c: c.reqContractDetails(3, Future("ES", exchange="CME")),
    lambda c: c.reqCurrentTime(),
    lambda c: c.reqIds(1),
    lambda c: c.reqManagedAccts(),
    lambda c: c.reqMarketDataType(3),
    lambda c: c.startApi(),
    lambda c: c.reqScannerParameters(),
]
# every request above as ib_async writes it, at each version the gateway speaks
FRAMES = {v: [Capture(v).fields(call) for call in CALLS] for v in SUPPORTED_VERSIONS}
ODD_FIELDS = ("", "Infinite", "-Infinite", "inf", "nan", "1.7976931348623157e308", "2147483647",
              "2147483648", "-1", "0", "1", "2", "1e400", "9" * 5000, "\u00b2", "\u0663", "BAG",
              "FUT", "LMT", "MKT", "PEG BEST", "PEG MID", "PEG BENCH", "IBKRATS", "BUY", "GTC")  # fmt: skip
FIELD = st.one_of(numbers(), st.sampled_from(ODD_FIELDS), JUNK).map(lambda s: s.replace("\0", ""))


@st.composite
def mangled(draw: st.DrawFn, version: int) -> list[str]:
    """A real request with a few fields replaced, dropped, added or cut off."""
    fields = list(draw(st.sampled_from(FRAMES[version])))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(fields)))
        match draw(st.sampled_from(["replace", "replace", "drop", "add", "cut"])):
            case "replace" if at < len(fields):
                fields[at] = draw(FIELD)
            case "drop" if at < len(fields):
                del fields[at]
            case "add":
                fields.insert(at, draw(FIELD))
            case "cut":
                fields = fields[:at]
    return fields


@st.composite
def revalued(draw: st.DrawFn, version: int) -> list[str]:
    """A real request with one or two values replaced: the layout holds, so it often
    decodes and reaches the gateway's handlers (orders, market data, accounts)."""
    fields = list(draw(st.sampled_from(FRAMES[version])))
    for at in draw(st.lists(st.integers(1, len(fields) - 1), min_size=1, max_size=2)):
        if at < len(fields):
            fields[at] = draw(FIELD)
    return fields


def requests() -> st.SearchStrategy[tuple[int, list[str]]]:
    """(version, fields): real requests with values replaced, or fields dropped, added or
    cut off, or any fields at all."""
    return st.sampled_from(SUPPORTED_VERSIONS).flatmap(
        lambda v: st.tuples(st.just(v), st.one_of(revalued(v), mangled(v), st.lists(FIELD)))
    )


def _with(version: int, index: int, at: int, value: str) -> tuple[int, list[str]]:
    fields = list(FRAMES[version][index])
    fields[at] = value
    return version, fields


QUANTITY = 17  # placeOrder: id, orderId, 12 contract fields, secIdType, secId, action, quantity
FOUND: list[tuple[int, list[str]]] = [
    _with(178, 0, QUANTITY, "Infinite"),  # int(inf): OverflowError
    _with(176, 1, QUANTITY, "nan"),  # int(nan): ValueError
    (178, ["\u00b2"]),  # a message id str.isdigit() takes and int() does not
    (178, ["3", "\u00b2"]),  # ... an order id
    (178, ["9" * 5000]),  # more digits than int() reads
]


# ---- the decoder, the framing and the handshake ----------------------------------------------


def _examples(cases: list[tuple[int, list[str]]]) -> Callable[[Any], Any]:
    def add(test: Any) -> Any:
        for case in cases:
            test = example(case=case)(test)
        return test

    return add


@fuzz(1.0)
@given(case=requests())
@_examples(FOUND)
def test_a_mangled_request_decodes_or_raises_decode_error(case: tuple[int, list[str]]) -> None:
    version, fields = case
    try:
        request = decode_request(fields, version)
    except DecodeError as exc:
        event("DecodeError")
        assert str(exc)
    else:
        event(type(request).__name__)
        assert isinstance(request, Request) and request.name


def lying_frames() -> st.SearchStrategy[bytes]:
    """Real frames whose length prefix lies (shorter, longer, huge), or cut short."""
    frame = st.sampled_from([encode_frame(f) for f in FRAMES[178]])
    lie = st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 300))
    return st.one_of(
        st.tuples(frame, lie).map(lambda t: struct.pack(">I", t[1]) + t[0][4:]),
        st.tuples(frame, st.integers(0, 400)).map(lambda t: t[0][: t[1]]),
    )


@fuzz(1.0)
@given(chunks=st.lists(st.one_of(st.binary(max_size=80), lying_frames(),
                                 st.sampled_from([encode_frame(f) for f in FRAMES[176]])),
                       max_size=6))  # fmt: skip
def test_any_bytes_make_frames_or_a_protocol_error(chunks: list[bytes]) -> None:
    decoder, frames = FrameDecoder(), []
    try:
        for chunk in chunks:
            frames += decoder.feed(chunk)
    except ProtocolError:
        event("ProtocolError")
        return
    event("frames" + (", bytes waiting" if decoder.pending else ""))
    whole = FrameDecoder()
    assert whole.feed(b"".join(chunks)) == frames  # the chunking changes nothing
    assert all(isinstance(f, list) and all(isinstance(s, str) for s in f) for f in frames)


@fuzz(0.5)
@given(data=st.one_of(
    st.binary(max_size=40),
    st.tuples(st.integers(0, 2000), st.text(max_size=30)).map(
        lambda t: b"API\0" + struct.pack(">I", t[0]) + t[1].encode()),
    st.text(max_size=30).map(lambda s: b"API\0" + struct.pack(">I", len(s.encode())) + s.encode()),
    st.sampled_from([encode_handshake(176, 178), encode_handshake(100, 200, "+PACEAPI")]),
))  # fmt: skip
def test_any_opening_is_a_handshake_or_waits_or_a_protocol_error(data: bytes) -> None:
    try:
        parsed = parse_handshake(data)
    except ProtocolError:
        event("ProtocolError")
        return
    event("waiting" if parsed is None else "handshake")
    if parsed is not None:
        handshake, used = parsed
        assert handshake.min_version <= handshake.max_version and 0 < used <= len(data)


# ---- a live gateway --------------------------------------------------------------------------


@dataclass
class Live:
    """A fake gateway in this process (a still market), a client connected throughout, and
    what went wrong inside the server: exceptions its loop saw, errors it logged."""

    runner: asyncio.Runner
    gateway: FakeGateway
    bystander: RawClient | None = None
    escaped: list[dict[str, Any]] = field(default_factory=list)
    logged: list[logging.LogRecord] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))

    def run(self, coro: Any) -> Any:
        return self.runner.run(coro)


class _Errors(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    runner = asyncio.Runner()
    gateway = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7))
    state = Live(runner, gateway)
    runner.get_loop().set_exception_handler(lambda loop, context: state.escaped.append(context))
    handler = _Errors(state.logged)
    logging.getLogger("tradeterm.sim").addHandler(handler)
    try:
        state.run(gateway.start())
        state.bystander = state.run(_started(gateway, 999))
        yield state
    finally:
        logging.getLogger("tradeterm.sim").removeHandler(handler)
        if state.bystander is not None:
            state.run(state.bystander.close())
        state.run(gateway.stop())
        runner.close()


async def _started(gateway: FakeGateway, client_id: int) -> RawClient:
    """A client past the handshake and startApi (its nextValidId received)."""
    client = await RawClient.open(gateway.server, encode_handshake(176, 178))
    await client.frame()  # the handshake reply
    client.send(71, 2, client_id, "")
    while (await client.frame())[0] != NEXT_VALID_ID:
        pass
    return client


async def _until(client: RawClient, msg_id: str | None) -> list[list[str]] | None:
    """The frames up to and including the first ``msg_id``; None when the connection ends
    first (always, for None)."""
    seen: list[list[str]] = []
    async with asyncio.timeout(GUARD):
        while True:
            while client.frames:
                seen.append(client.frames.pop(0))
                if seen[-1][0] == msg_id:
                    return seen
            chunk = await client.reader.read(65536)
            if not chunk:
                return None
            client.frames += client.decoder.feed(chunk)


async def _bystander_served(live: Live) -> None:
    assert live.bystander is not None
    live.bystander.frames.clear()
    live.bystander.send(49, 1)  # reqCurrentTime
    assert await _until(live.bystander, CURRENT_TIME) is not None, "the other client lost"


@contextlib.contextmanager
def nothing_escapes(live: Live) -> Iterator[None]:
    """No exception escapes the server's tasks and it logs no error, while the block runs."""
    live.escaped.clear()
    live.logged.clear()
    yield
    assert not live.escaped, live.escaped
    assert not live.logged, [r.getMessage() for r in live.logged]


async def _malformed_request(live: Live, fields: list[str]) -> None:
    client = await _started(live.gateway, next(live.ids))
    try:
        client.writer.write(encode_frame(fields))
        client.send(49, 1)  # then reqCurrentTime: still served?
        answered = await _until(client, CURRENT_TIME)
    finally:
        await client.close()
    try:
        decode_request(fields, 178)
    except DecodeError:
        event("did not decode")
        assert answered is not None, "closed after a frame that did not decode"
        errors = [f for f in answered if f[0] == ERROR and "malformed message" in "".join(f)]
        assert errors, answered  # error 321 names it
    else:
        event("decoded")
        assert answered is not None, "closed after a request that decoded"
    await _bystander_served(live)


@fuzz(0.5)
@given(case=requests())
@_examples(FOUND)
def test_a_live_gateway_answers_a_malformed_request_and_keeps_serving(
    live: Live, case: tuple[int, list[str]]
) -> None:
    _, fields = case
    with nothing_escapes(live):
        live.run(_malformed_request(live, fields))


async def _raw_bytes(live: Live, data: bytes, handshake: bool) -> None:
    if handshake:
        client = await _started(live.gateway, next(live.ids))
    else:
        client = await RawClient.open(live.gateway.server, b"")
    try:
        client.writer.write(data)
        client.writer.write_eof()  # the gateway must close it, whatever it made of the bytes
        assert await _until(client, None) is None
    finally:
        await client.close()
    await _bystander_served(live)


@fuzz(0.5)
@given(
    data=st.lists(st.one_of(st.binary(max_size=60), lying_frames()), max_size=4).map(b"".join),
    handshake=st.booleans(),
)
def test_a_live_gateway_closes_a_connection_of_any_bytes_and_keeps_serving(
    live: Live, data: bytes, handshake: bool
) -> None:
    with nothing_escapes(live):
        live.run(_raw_bytes(live, data, handshake))
