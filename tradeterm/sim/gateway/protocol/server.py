"""The fake IB Gateway's TCP server: connections, handshake, dispatch and startup sync.

Extension points (market data, orders and accounts are added on top of this):

* **Handlers.** ``GatewayServer.handlers`` maps a request type (see
  :mod:`request_types`) to ``async def handler(session, request) -> None``. Add or replace
  one with :meth:`GatewayServer.register` (or override the ``handle_*`` method in a
  subclass). A request without a handler is answered with error 321 naming it; a request
  carrying ``unsupported`` features (placeOrder, reqMktData, reqHistoricalData) is
  answered with 321 naming them and never reaches its handler. Handlers of one connection
  run one at a time in arrival order; long-running work goes to :meth:`ClientSession.spawn`.
* **Sending.** (:class:`~tradeterm.sim.gateway.protocol.client_session.ClientSession`, one per connection)
  ``session.send(encode.tick_price(...))`` queues one message (any list of
  fields; encoders return ready ones); ``session.send_error(id, code, text)`` sends an
  error in the session's version layout. Both are synchronous and safe to call from any
  task; after the session closed they do nothing.
* **Subscriptions.** ``session.subscribe(kind, key, request, task=None)`` records what a
  client asked to stream (``kind`` e.g. "mktData", ``key`` its reqId); ``unsubscribe``
  cancels the attached task. ``server.subscribers(kind)`` finds them across sessions.
  The startup sync already subscribes "positions", "accountUpdates" and
  "accountUpdatesMulti" (ib_async never cancels those).
* **Snapshots.** :meth:`GatewayServer.account_values` and the empty position / order /
  execution answers are where account and order state plug in;
  :meth:`GatewayServer.note_order_id` keeps ``nextValidId``/``reqIds`` above used ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence, Set
from datetime import UTC, datetime
from typing import Any, TypeVar

from tradeterm.sim.gateway.protocol import encode, encode_orders
from tradeterm.sim.gateway.protocol.client_session import (
    VALIDATION_ERROR,
    ClientSession,
    Subscription,
)
from tradeterm.sim.gateway.protocol.decode import DecodeError, decode_request, malformed_ids
from tradeterm.sim.gateway.protocol.request_types import (
    CancelAccountSummary,
    CancelAccountUpdatesMulti,
    CancelPositions,
    ReqAccountSummary,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqAllOpenOrders,
    ReqAutoOpenOrders,
    ReqCompletedOrders,
    ReqCurrentTime,
    ReqExecutions,
    ReqIds,
    ReqManagedAccts,
    ReqMarketDataType,
    ReqOpenOrders,
    ReqPositions,
    Request,
    StartApi,
)
from tradeterm.sim.gateway.protocol.wire import (
    REFUSED_ACCOUNT,
    SUPPORTED_VERSIONS,
    VERSION_REFUSAL_CODE,
    FrameDecoder,
    ProtocolError,
    handshake_reply,
    negotiate,
    parse_handshake,
    refusal_message,
    refusal_version,
)

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT = "DU0000001"
R = TypeVar("R", bound=Request)
Handler = Callable[["ClientSession", Any], Awaitable[None]]

FARM_MESSAGES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
CLIENT_ID_IN_USE = 326
PACING_VIOLATION = 100


class GatewayServer:
    """A fake IB Gateway on a TCP port. ``await start()``, ``await stop()``."""

    def __init__(
        self,
        *,
        accounts: Sequence[str] = (DEFAULT_ACCOUNT,),
        supported_versions: Sequence[int] = SUPPORTED_VERSIONS,
        clock: Callable[[], float] = time.time,
        starting_cash: float = 100_000.0,
        handshake_timeout: float = 10.0,
        refusal_wait: float = 1.0,
    ) -> None:
        if not accounts:
            raise ValueError("at least one account is needed (TWS clients require one)")
        self.accounts = list(accounts)
        self.supported_versions = tuple(supported_versions)
        self.clock = clock
        self.starting_cash = starting_cash
        self.handshake_timeout = handshake_timeout
        self.refusal_wait = refusal_wait
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._sessions: list[ClientSession] = []
        self._connections: set[asyncio.Task[Any]] = set()
        self._next_ids: dict[int, int] = {}
        self.pacing_violations = 0  # fault injection: answer this many requests with error 100
        # what a new connection is told about the data farms (faults swap in "broken")
        self.farm_messages: list[tuple[int, str]] = list(FARM_MESSAGES)
        # benchmarks' latency probe (probe.WireProbe): wraps each new connection's writer
        self.wrap_writer: Callable[[asyncio.StreamWriter], asyncio.StreamWriter] | None = None
        self.handlers: dict[type[Request], Handler] = {
            StartApi: self.handle_start_api,
            ReqPositions: self.handle_req_positions,
            CancelPositions: self.handle_cancel_positions,
            ReqOpenOrders: self.handle_req_open_orders,
            ReqAllOpenOrders: self.handle_req_open_orders,
            ReqAutoOpenOrders: self.handle_req_auto_open_orders,
            ReqCompletedOrders: self.handle_req_completed_orders,
            ReqAccountUpdates: self.handle_req_account_updates,
            ReqAccountUpdatesMulti: self.handle_req_account_updates_multi,
            CancelAccountUpdatesMulti: self.handle_cancel_account_updates_multi,
            ReqAccountSummary: self.handle_req_account_summary,
            CancelAccountSummary: self.handle_cancel_account_summary,
            ReqExecutions: self.handle_req_executions,
            ReqCurrentTime: self.handle_req_current_time,
            ReqIds: self.handle_req_ids,
            ReqManagedAccts: self.handle_req_managed_accts,
            ReqMarketDataType: self.handle_req_market_data_type,
        }

    def register(
        self, request_type: type[R], handler: Callable[[ClientSession, R], Awaitable[None]]
    ) -> None:
        """Install (or replace) the handler of one request type."""
        self.handlers[request_type] = handler

    # ----------------------------------------------------------------- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on ``host:port`` (0 = any free port); returns the bound address."""
        if self._server is not None:
            raise RuntimeError("gateway already started")
        self._server = await asyncio.start_server(self._on_connection, host, port)
        bound = self._server.sockets[0].getsockname()
        self._address = (bound[0], bound[1])
        log.info("fake IB Gateway listening on %s:%s", *self._address)
        return self._address

    async def stop(self) -> None:
        """Stop listening, close every connection and wait for all their tasks."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for session in list(self._sessions):
            session.close()
        if self._connections:
            _, pending = await asyncio.wait(list(self._connections), timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    @property
    def host(self) -> str:
        if self._address is None:
            raise RuntimeError("gateway not started")
        return self._address[0]

    @property
    def port(self) -> int:
        if self._address is None:
            raise RuntimeError("gateway not started")
        return self._address[1]

    @property
    def sessions(self) -> list[ClientSession]:
        """Open connections that completed startApi."""
        return [s for s in self._sessions if s.started and not s.closed]

    def session_for(self, client_id: int) -> ClientSession | None:
        return next((s for s in self.sessions if s.client_id == client_id), None)

    def broadcast(self, fields: Sequence[object]) -> None:
        """Send one message to every open connection."""
        for session in self.sessions:
            session.send(fields)

    def broadcast_error(self, code: int, text: str) -> None:
        """Send an error/notice without an id (-1) to every open connection."""
        for session in self.sessions:
            session.send_error(-1, code, text)

    def drop(self, client_ids: Set[int] | None = None) -> int:
        """Close client sockets (all, or those of ``client_ids``); returns how many."""
        dropped = 0
        for session in self.sessions:
            if client_ids is None or session.client_id in client_ids:
                session.close()
                dropped += 1
        return dropped

    def replace_farm_message(self, old: int, new: int, text: str) -> None:
        """What a new connection is told about a data farm: message ``new`` (``text``)
        instead of ``old``."""
        self.farm_messages[:] = [
            (new, text) if code == old else (code, t) for code, t in self.farm_messages
        ]

    def add_pacing_violations(self, count: int) -> None:
        """Answer the next ``count`` requests with error 100 (a pacing violation)."""
        self.pacing_violations += count

    def subscribers(self, kind: str) -> list[tuple[ClientSession, Subscription]]:
        """Every (session, subscription) of ``kind`` across open sessions."""
        return [(s, sub) for s in self.sessions for sub in s.subscriptions_of(kind)]

    def next_valid_id(self, client_id: int) -> int:
        """Next order id for a client (ids a client used stay used across reconnects)."""
        return self._next_ids.get(client_id, 1)

    def note_order_id(self, client_id: int, order_id: int) -> None:
        """Record that ``client_id`` used ``order_id``."""
        self._next_ids[client_id] = max(self.next_valid_id(client_id), order_id + 1)

    # ---------------------------------------------------------------- connection

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        if self.wrap_writer is not None:
            writer = self.wrap_writer(writer)
        session = ClientSession(writer)
        self._sessions.append(session)
        try:
            await self._serve(session, reader)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        except ProtocolError as exc:
            log.warning("%r: protocol error, closing: %s", session, exc)
        except TimeoutError:
            log.warning("%r: no handshake within %ss, closing", session, self.handshake_timeout)
        finally:
            self._sessions.remove(session)
            await session.shutdown()
            self.on_session_closed(session)
            if task is not None:
                self._connections.discard(task)

    async def _serve(self, session: ClientSession, reader: asyncio.StreamReader) -> None:
        buffer = bytearray()
        async with asyncio.timeout(self.handshake_timeout):
            while (parsed := parse_handshake(buffer)) is None:
                chunk = await reader.read(4096)
                if not chunk:
                    return
                buffer += chunk
        handshake, used = parsed
        session.handshake = handshake
        frames = FrameDecoder()
        pending = frames.feed(bytes(buffer[used:]))
        version = negotiate(handshake, self.supported_versions)
        if version is None:
            await self._refuse(session, reader, frames, pending)
            return
        session.version = version
        session.send_raw(handshake_reply(version))
        while not session.closed:
            for fields in pending:
                await self._dispatch(session, fields)
                if session.closed:
                    return
            chunk = await reader.read(65536)
            if not chunk:
                return
            pending = frames.feed(chunk)

    async def _refuse(
        self,
        session: ClientSession,
        reader: asyncio.StreamReader,
        frames: FrameDecoder,
        pending: list[list[str]],
    ) -> None:
        """No common version: tell the client and make it fail fast (see wire.py)."""
        assert session.handshake is not None
        version = refusal_version(session.handshake, self.supported_versions)
        message = refusal_message(session.handshake, self.supported_versions)
        log.warning("%r: %s", session, message)
        session.version = version
        session.send_raw(handshake_reply(version))
        session.send_error(-1, VERSION_REFUSAL_CODE, message)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.refusal_wait):
                while not pending:  # wait for startApi so the close does not reset it
                    chunk = await reader.read(4096)
                    if not chunk:
                        break
                    pending = frames.feed(chunk)
        session.send(encode.managed_accounts([REFUSED_ACCOUNT]))
        session.send(encode.next_valid_id(1))
        session.close()

    async def _dispatch(self, session: ClientSession, fields: list[str]) -> None:
        try:
            request = decode_request(fields, session.version)
        except DecodeError as exc:
            name, error_id = malformed_ids(fields)
            log.warning("%r: malformed %s: %s", session, name, exc)
            session.send_error(
                error_id,
                VALIDATION_ERROR,
                f"Error validating request.-'{name}' : cause - malformed message: {exc}",
            )
            return
        if not session.started and not isinstance(request, StartApi):
            session.send_validation_error(request, "startApi has not been received")
            return
        if self.pacing_violations > 0 and not isinstance(request, StartApi):
            self.pacing_violations -= 1  # fault injection: IB's answer to a burst
            session.send_error(
                request.error_id,
                PACING_VIOLATION,
                "Max rate of messages per second has been exceeded:max=50 rec=51 (1)",
            )
            return
        features = getattr(request, "unsupported", ())
        if features:
            session.send_validation_error(
                request, f"{', '.join(features)} not supported by simulator"
            )
            return
        handler = self.handlers.get(type(request))
        if handler is None:
            session.send_validation_error(request, f"{request.name} not supported by simulator")
            return
        try:
            await handler(session, request)
        except Exception as exc:
            log.exception("%r: handler for %s failed", session, request.name)
            session.send_validation_error(request, f"simulator internal error: {exc!r}")

    def on_session_closed(self, session: ClientSession) -> None:
        """Hook: a connection ended (its subscriptions and tasks are already stopped)."""

    # --------------------------------------------------------- account snapshot

    def account_values(self, account: str) -> list[tuple[str, str, str]]:
        """(key, value, currency) of an account, for 6 / 73 / 63. Override to plug in
        real balances."""
        cash = f"{self.starting_cash:.2f}"
        values = [("AccountCode", account, ""), ("AccountType", "INDIVIDUAL", "")]
        values += [("Currency", "USD", "USD"), ("RealCurrency", "USD", "USD")]
        for key in (
            "NetLiquidation", "TotalCashValue", "TotalCashBalance", "CashBalance",
            "EquityWithLoanValue", "AvailableFunds", "ExcessLiquidity", "BuyingPower",
        ):  # fmt: skip
            values.append((key, cash, "USD"))
        for key in ("InitMarginReq", "MaintMarginReq", "UnrealizedPnL", "RealizedPnL"):
            values.append((key, "0.00", "USD"))
        return values

    def _hh_mm(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%H:%M")

    # ------------------------------------------------------------------ handlers

    async def handle_start_api(self, session: ClientSession, req: StartApi) -> None:
        if session.started:
            return
        if self.session_for(req.clientId) is not None:
            log.warning("%r: client id %s already in use", session, req.clientId)
            session.send_error(
                -1,
                CLIENT_ID_IN_USE,
                "Unable to connect as the client id is already in use. "
                "Retry with a unique client id.",
            )
            session.close()
            return
        session.client_id = req.clientId
        session.started = True
        log.info("%r: API started", session)
        session.send(encode.managed_accounts(self.accounts))
        session.send(encode.next_valid_id(self.next_valid_id(req.clientId)))
        for code, text in self.farm_messages:
            session.send_error(-1, code, text)

    async def handle_req_positions(self, session: ClientSession, req: ReqPositions) -> None:
        session.subscribe("positions", 0, req)
        session.send(encode.position_end())

    async def handle_cancel_positions(self, session: ClientSession, req: CancelPositions) -> None:
        session.unsubscribe("positions", 0)

    async def handle_req_open_orders(self, session: ClientSession, req: Request) -> None:
        session.send(encode_orders.open_order_end())

    async def handle_req_auto_open_orders(
        self, session: ClientSession, req: ReqAutoOpenOrders
    ) -> None:
        session.auto_open_orders = req.autoBind

    async def handle_req_completed_orders(
        self, session: ClientSession, req: ReqCompletedOrders
    ) -> None:
        session.send(encode_orders.completed_orders_end())

    async def handle_req_account_updates(
        self, session: ClientSession, req: ReqAccountUpdates
    ) -> None:
        if not req.subscribe:
            session.unsubscribe("accountUpdates", req.acctCode)
            return
        if req.acctCode in self.accounts:
            session.subscribe("accountUpdates", req.acctCode, req)
            for key, value, currency in self.account_values(req.acctCode):
                session.send(encode.update_account_value(key, value, currency, req.acctCode))
            session.send(encode.update_account_time(self._hh_mm()))
        else:
            session.send_validation_error(req, f"unknown account {req.acctCode!r}")
        session.send(encode.account_download_end(req.acctCode))

    async def handle_req_account_updates_multi(
        self, session: ClientSession, req: ReqAccountUpdatesMulti
    ) -> None:
        session.subscribe("accountUpdatesMulti", req.reqId, req)
        accounts = self.accounts if req.account in ("", "All") else [req.account]
        for account in (a for a in accounts if a in self.accounts):
            for key, value, currency in self.account_values(account):
                session.send(
                    encode.account_update_multi(
                        req.reqId, account, req.modelCode, key, value, currency
                    )
                )
        session.send(encode.account_update_multi_end(req.reqId))

    async def handle_cancel_account_updates_multi(
        self, session: ClientSession, req: CancelAccountUpdatesMulti
    ) -> None:
        session.unsubscribe("accountUpdatesMulti", req.reqId)

    async def handle_req_account_summary(
        self, session: ClientSession, req: ReqAccountSummary
    ) -> None:
        session.subscribe("accountSummary", req.reqId, req)
        tags = {t.strip() for t in req.tags.split(",") if t.strip()}
        everything = bool(tags & {"$LEDGER", "$LEDGER:ALL"})
        for account in self.accounts:
            for key, value, currency in self.account_values(account):
                if everything or key in tags:
                    session.send(encode.account_summary(req.reqId, account, key, value, currency))
        session.send(encode.account_summary_end(req.reqId))

    async def handle_cancel_account_summary(
        self, session: ClientSession, req: CancelAccountSummary
    ) -> None:
        session.unsubscribe("accountSummary", req.reqId)

    async def handle_req_executions(self, session: ClientSession, req: ReqExecutions) -> None:
        session.send(encode_orders.exec_details_end(req.reqId))

    async def handle_req_current_time(self, session: ClientSession, req: ReqCurrentTime) -> None:
        session.send(encode.current_time(int(self.clock())))

    async def handle_req_ids(self, session: ClientSession, req: ReqIds) -> None:
        assert session.client_id is not None
        session.send(encode.next_valid_id(self.next_valid_id(session.client_id)))

    async def handle_req_managed_accts(self, session: ClientSession, req: ReqManagedAccts) -> None:
        session.send(encode.managed_accounts(self.accounts))

    async def handle_req_market_data_type(
        self, session: ClientSession, req: ReqMarketDataType
    ) -> None:
        session.market_data_type = req.marketDataType
