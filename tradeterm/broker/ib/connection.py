"""The connection half of the IB adapter: one state machine for the socket and IB's own link.

::

    CONNECTING -> SYNCING -> OK <-> DEGRADED        (farm 2103/2105/2157, or 1100)
         ^                     |
         +---- RECONNECTING <--+  socket dropped / gateway restarted (backoff + jitter)

* farm messages and 1100/1101/1102 never touch the socket; 1101 (data lost) resubscribes
  every market-data request; a socket drop starts the ONE reconnect task (guarded), which
  reconnects with exponential backoff + jitter and then resubscribes everything (ib_async
  does not: its state is reset on disconnect).
* the market-data farm going down (2103) or coming back (2104, or a new connection that is
  not told it is broken) is also sent as ``FarmChanged``; every IB message is sent as the
  port's event that :func:`tradeterm.broker.ib.codes.translate` makes of it: the engine acts
  on them without knowing IB's codes.
* ib_async callbacks are wrapped (``guarded``): an exception is logged and becomes a
  ``Notice`` (code 0), it never kills the adapter.
* the event queue is unbounded (one consumer, the engine, which drains it continuously).

:class:`IbConnection` is the base of :class:`tradeterm.broker.ib.IbBroker` (through
:class:`~tradeterm.broker.ib.contracts.IbContracts`, the contracts it resolved), which adds
market data, orders, account and requests through three hooks: :meth:`IbConnection._after_sync`
(re-send the requests after a (re)connect), :meth:`IbConnection.resubscribe_all` (after 1101)
and :meth:`IbConnection._on_request_error` (every other IB error).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from ib_async import IB

from tradeterm.broker.ib import codes
from tradeterm.broker.ib.convert import keep_trail_stop_price
from tradeterm.broker.ib.lanes import SendLanes
from tradeterm.broker.port import (
    CONNECTED,
    BrokerError,
    BrokerEvent,
    ConnectError,
    ConnectionChanged,
    ConnectionState,
    FarmChanged,
    GatewayUnreachable,
    LinkLost,
    LinkRestored,
)
from tradeterm.config import ConnectionConfig

log = logging.getLogger(__name__)

AUTO_CLIENT_IDS = 5  # with auto_client_id: the configured id and the next four
IB_GATEWAY_HELP = (
    "Check that IB Gateway or TWS is running and logged in, that the API is enabled in its "
    "settings (Configure > Settings > API > Settings: 'Enable ActiveX and Socket Clients', "
    "and this host among the trusted IPs), and the port: IB Gateway 4001 live / 4002 paper, "
    "TWS 7496 live / 7497 paper."
)
"""What to check when IB Gateway or TWS cannot be reached (the default ``gateway_help``)."""

F = TypeVar("F", bound=Callable[..., Any])


class _ClientIdInUse(Exception):
    pass


class ClientIdsInUse(ConnectError):
    """Every client id tried is taken by another API connection (IB error 326)."""

    def __init__(self, message: str, client_ids: list[int]) -> None:
        super().__init__(message)
        self.client_ids = client_ids


def guarded(method: F) -> F:
    """An ib_async callback that never raises into ib_async: log + Notice (code 0)."""

    @functools.wraps(method)
    def wrapper(self: IbConnection, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Exception as exc:  # a callback must never kill the adapter
            log.exception("error in IB callback %s", method.__name__)
            self._emit(codes.notice(0, f"internal error in {method.__name__}: {exc!r}", self._ns()))
            return None

    return wrapper  # type: ignore[return-value]


class IbConnection:
    """Connect, keep connected, and say so: the connection state machine of the IB adapter.
    ``gateway_help``: what to check when the gateway cannot be reached, said after what
    happened (IB Gateway's and TWS's settings and ports unless the caller knows better: in
    SIM the gateway is tradeterm's own)."""

    def __init__(
        self, config: ConnectionConfig, *, port: int, clock: Callable[[], float] = time.time,
        gateway_help: str = IB_GATEWAY_HELP,
    ) -> None:  # fmt: skip
        if config.client_id is None:  # the market's default is the caller's to choose
            raise ValueError("connection.client_id is unset: pass Settings.client_id()")
        self._config = config
        self._first_client_id: int = config.client_id
        self._host = config.host
        self._port = port
        self._clock = clock
        self._gateway_help = gateway_help
        self._ib = IB()
        keep_trail_stop_price(self._ib.wrapper)  # ib_async's orders as IB reports them
        self._lanes = SendLanes(self._ib.client)  # every request to IB goes through them
        self._queue: asyncio.Queue[BrokerEvent] = asyncio.Queue()  # unbounded, one consumer
        self._state = ConnectionState.DISCONNECTED
        self._client_id: int | None = None
        self._account: str | None = config.account
        self._stopping = False
        self._connecting = False
        self._clash: asyncio.Future[int] | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self.reconnect_tasks_started = 0  # exactly one reconnect task at a time (tested)
        self._broken_farms: set[str] = set()
        self._market_farm_down = False  # as last told to the engine (FarmChanged)
        self._link_down = False
        self._first_order_id: int | None = None  # nextValidId of the current connection
        self._ids_taken: set[int] = set()  # order ids reserved on the current connection
        self._startup_sync = False  # handshake done, ib_async's startup sync not yet over
        self._ib.disconnectedEvent += self._on_disconnected
        self._ib.errorEvent += self._on_error
        self._ib.client.apiStart += self._on_api_start

    # ---- order ids ------------------------------------------------------------------------

    def _on_api_start(self) -> None:
        """The handshake is done and ib_async has just taken IB's nextValidId as its next
        id; nothing can have used an id yet (ib_async hands none out before this), so the
        first id taken now is exactly IB's: every order IB has received from this client id
        is below it."""
        self._ids_taken.clear()
        self._first_order_id = self._ib.client.getReqId()
        self._startup_sync = self._connecting

    def reserve_order_id(self) -> int:
        if not self._ib.isConnected() or self._first_order_id is None:
            raise BrokerError("not connected to IB: no order id")
        try:
            order_id = int(self._ib.client.getReqId())
        except ConnectionError as exc:
            raise BrokerError(f"not connected to IB: {exc}") from None
        self._ids_taken.add(order_id)
        return order_id

    def never_received(self, broker_id: int, client_id: int) -> bool:
        first = self._first_order_id
        return (
            first is not None
            and client_id == self._client_id
            and self._ib.isConnected()
            and broker_id >= first
            and broker_id not in self._ids_taken
        )

    # ---- hooks for the adapter ----------------------------------------------------------

    def _after_sync(self) -> None:
        """Connected (first time or again): send every standing request."""

    def resubscribe_all(self) -> None:
        """Cancel and redo every market-data request (after 1101: the gateway dropped them)."""

    def _on_request_error(self, req_id: int, code: int) -> None:
        """An IB error that is not about the connection (already sent to the engine)."""

    # ---- properties ---------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def client_id(self) -> int | None:
        return self._client_id

    @property
    def account(self) -> str | None:
        return self._account

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    def events(self) -> AsyncIterator[BrokerEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BrokerEvent]:
        while True:
            yield await self._queue.get()

    # ---- events out ---------------------------------------------------------------------

    def _ns(self) -> int:
        return int(self._clock() * 1e9)

    def _emit(self, event: BrokerEvent) -> None:
        self._queue.put_nowait(event)

    def _set_state(
        self, state: ConnectionState, reason: str, retry_in_s: float | None = None
    ) -> None:
        if state is self._state and retry_in_s is None:
            return
        log.info("IB connection %s -> %s: %s", self._state, state, reason)
        self._state = state
        self._emit(ConnectionChanged(state, reason, self._ns(), retry_in_s, self._client_id))

    def _settle(self, reason: str) -> None:
        """OK or DEGRADED from what is known, once connected and synced."""
        if self._state not in (ConnectionState.OK, ConnectionState.DEGRADED):
            return
        if self._link_down:
            self._set_state(ConnectionState.DEGRADED, reason)
        elif self._broken_farms:
            farms = ", ".join(sorted(self._broken_farms))
            self._set_state(ConnectionState.DEGRADED, f"{reason} (broken: {farms})")
        else:
            self._set_state(ConnectionState.OK, reason)

    def _require_connected(self) -> None:
        if self._state not in CONNECTED or not self._ib.isConnected():
            raise BrokerError(f"not connected to IB at {self.address} ({self._state})")

    async def _request(self, what: str, awaitable: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self._config.request_timeout_s)
        except TimeoutError:
            raise BrokerError(
                f"IB did not answer {what} within {self._config.request_timeout_s:g}s"
            ) from None
        except ConnectionError as exc:
            raise BrokerError(f"connection lost during {what}: {exc}") from exc

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._state in CONNECTED:
            return
        self._stopping = False
        self._set_state(ConnectionState.CONNECTING, f"connecting to {self.address}")
        try:
            await self._connect(first=True)
        except ConnectError as exc:
            self._set_state(ConnectionState.DISCONNECTED, str(exc))
            raise
        await self._synced("connected")

    async def stop(self) -> None:
        self._stopping = True
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._ib.disconnect()
        self._set_state(ConnectionState.DISCONNECTED, "stopped")

    async def _connect(self, *, first: bool) -> None:
        """Open the API connection (with the client id fallback of ``auto_client_id``);
        ConnectError when it cannot."""
        base = self._client_id if self._client_id is not None else self._first_client_id
        count = AUTO_CLIENT_IDS if self._config.auto_client_id else 1
        ids = [base + i for i in range(count)]
        for cid in ids:
            try:
                await self._connect_as(cid)
                return
            except _ClientIdInUse:
                log.warning("client id %d in use at %s", cid, self.address)
                in_use = f"client id {cid} is in use"
                self._emit(codes.notice(codes.CLIENT_ID_IN_USE, in_use, self._ns()))
        tried = ", ".join(map(str, ids))
        hint = (
            "set connection.auto_client_id = true or choose another connection.client_id"
            if not self._config.auto_client_id
            else "close the other API connections or choose another connection.client_id"
        )
        raise ClientIdsInUse(
            f"client id {tried} already in use by another API connection to "
            f"{self.address} (error 326); {hint}",
            ids,
        )

    async def _connect_as(self, cid: int) -> None:
        loop = asyncio.get_running_loop()
        self._clash = loop.create_future()
        self._broken_farms.clear()
        self._link_down = False
        self._lanes.clear()  # nothing queued for an earlier connection goes out on this one
        self._connecting = True
        timeout = self._config.connect_timeout_s
        connect = asyncio.ensure_future(
            self._ib.connectAsync(
                self._host, self._port, clientId=cid, timeout=timeout,
                account=self._config.account or "",
            )
        )  # fmt: skip
        try:
            done, _ = await asyncio.wait(
                {connect, self._clash}, timeout=timeout * 3, return_when=asyncio.FIRST_COMPLETED
            )
            if self._clash in done:
                connect.cancel()
                with contextlib.suppress(BaseException):
                    await connect
                self._ib.disconnect()
                raise _ClientIdInUse()
            if connect not in done:
                connect.cancel()
                with contextlib.suppress(BaseException):
                    await connect
                raise TimeoutError()
            connect.result()
            accounts = self._ib.client.getAccounts()  # raises if it dropped meanwhile
        except _ClientIdInUse:
            raise
        except (OSError, TimeoutError, ConnectionError) as exc:
            self._ib.disconnect()
            raise self._unreachable(exc) from exc
        finally:
            self._connecting = False
            self._startup_sync = False
            self._clash = None
        self._client_id = cid
        if self._config.account:
            self._account = self._config.account
        elif len(accounts) == 1:
            self._account = accounts[0]

    def _sync_wait(self, refusal: str) -> str:
        """What the connection waits for when IB answers a request of ib_async's startup sync
        (positions, orders, account updates, executions) with an error instead of its data:
        ib_async waits out its timeout for that request, then goes on without it."""
        return (
            f"IB refused a request of the startup sync ({refusal}); waiting up to "
            f"{self._config.connect_timeout_s:g}s for it before going on without it"
        )

    def _unreachable(self, exc: BaseException) -> GatewayUnreachable:
        """The gateway could not be reached (``exc``): what happened and what to check."""
        what = (
            "nothing is listening there"
            if isinstance(exc, ConnectionRefusedError)
            else f"timed out after {self._config.connect_timeout_s:g}s"
            if isinstance(exc, TimeoutError)
            else "the connection closed as it opened (the gateway restarting?)"
            if not self._ib.isConnected() and type(exc) is ConnectionError
            else f"{type(exc).__name__}: {exc}"
        )
        return GatewayUnreachable(
            f"cannot connect to IB at {self.address}: {what}. {self._gateway_help}", what
        )

    async def _synced(self, reason: str) -> None:
        """Connected: startup sync done by ib_async; resubscribe, then OK (or DEGRADED)."""
        self._set_state(ConnectionState.SYNCING, reason)
        self._report_market_farm(reason)  # the farms this connection was told about
        self._after_sync()
        self._state = ConnectionState.OK if not self._degraded() else ConnectionState.DEGRADED
        self._emit(ConnectionChanged(self._state, reason, self._ns(), client_id=self._client_id))

    def _degraded(self) -> bool:
        return self._link_down or bool(self._broken_farms)

    def _report_market_farm(self, why: str) -> None:
        """Tell the engine when IB's market data farm goes down or comes back. Any broken
        market-data farm counts: IB does not say which one serves the contract."""
        broken = sorted(codes.market_farms(self._broken_farms))
        if bool(broken) == self._market_farm_down:
            return
        self._market_farm_down = bool(broken)
        if broken:
            reason = f"IB's market data farm is down ({', '.join(broken)}; {why})"
        else:
            reason = f"IB's market data farm is back ({why})"
        self._emit(FarmChanged(not broken, reason, self._ns()))

    # ---- reconnect ----------------------------------------------------------------------

    def _ensure_reconnect(self, reason: str) -> None:
        """Start THE reconnect task unless it is already running."""
        if self._stopping or self._connecting:
            return
        if self._reconnect_task is not None and not self._reconnect_task.done():
            return
        self.reconnect_tasks_started += 1
        self._reconnect_task = asyncio.ensure_future(self._reconnect(reason))

    async def _reconnect(self, reason: str) -> None:
        attempt = 0
        while not self._stopping:
            delay = self._config.backoff_s(attempt)
            self._set_state(ConnectionState.RECONNECTING, reason, retry_in_s=delay)
            await asyncio.sleep(delay)
            self._set_state(ConnectionState.CONNECTING, f"reconnecting to {self.address}")
            try:
                await self._connect(first=False)
            except ConnectError as exc:
                reason = str(exc)
                attempt += 1
                continue
            except Exception as exc:  # keep trying whatever went wrong
                log.exception("reconnect attempt failed")
                reason = f"reconnect failed: {exc!r}"
                attempt += 1
                continue
            try:
                await self._synced("reconnected")
            except Exception as exc:  # a drop mid-sync: go round again
                log.exception("resubscribing after the reconnect failed")
                reason = f"sync after reconnect failed: {exc!r}"
            if self._ib.isConnected():
                return
            attempt += 1

    # ---- ib_async callbacks -------------------------------------------------------------

    @guarded
    def _on_disconnected(self) -> None:
        if self._stopping or self._connecting:
            return
        self._ensure_reconnect(f"connection to {self.address} lost")

    @guarded
    def _on_error(self, req_id: int, code: int, text: str, _contract: Any) -> None:
        if code == codes.CLIENT_ID_IN_USE and self._clash is not None and not self._clash.done():
            self._clash.set_result(code)
            return
        # the state first, then the message: an engine reading the message must not see the
        # state it ends (a farm back, a link restored) as still current
        notice = codes.translate(code, text, self._ns(), req_id)
        farm = codes.farm_status(code, text)
        if farm is not None:
            if farm.broken:
                self._broken_farms.add(farm.key)
            else:
                self._broken_farms.discard(farm.key)
                if farm.key.endswith(":"):  # no farm name: the whole family is OK
                    family = farm.key
                    self._broken_farms = {k for k in self._broken_farms if not k.startswith(family)}
            self._report_market_farm(notice.text)
            self._settle(notice.text)
        elif isinstance(notice, LinkLost):
            self._link_down = True
            self._settle(notice.text)
        elif isinstance(notice, LinkRestored):
            self._link_down = False
            if not notice.data_kept:
                self.resubscribe_all()
            self._settle(notice.text + ("" if notice.data_kept else " (resubscribed)"))
        else:  # about a request or an order: the adapter's business, then the engine's
            self._emit(notice)
            if self._startup_sync:
                self._emit(codes.notice(0, self._sync_wait(notice.text), self._ns()))
            self._on_request_error(req_id, code)
            return
        self._emit(notice)
