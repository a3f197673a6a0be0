"""The Interactive Brokers adapter: the only module (with ``ib_convert``) that touches ib_async.

One connection state machine (``ConnectionState``)::

    CONNECTING -> SYNCING -> LIVE <-> DEGRADED        (farm 2103/2105/2157, or 1100)
         ^                     |
         +---- RECONNECTING <--+  socket dropped / gateway restarted (backoff + jitter)

* farm messages and 1100/1101/1102 never touch the socket; 1101 (data lost) resubscribes
  every market-data request; a socket drop starts the ONE reconnect task (guarded), which
  reconnects with exponential backoff + jitter and then resubscribes everything (ib_async
  does not: its state is reset on disconnect).
* ib_async callbacks are wrapped: an exception is logged and becomes a ``BrokerNotice``
  (code 0), it never kills the adapter.
* the event queue is unbounded (one consumer, the engine, which drains it continuously).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ib_async import (
    IB,
    Contract,
    ExecutionFilter,
    Future,
    RealTimeBarList,
    TickByTickAllLast,
    Ticker,
)
from ib_async import Order as IbOrder
from ib_async import Trade as IbTrade

from tradeterm.broker import ib_convert as cv
from tradeterm.broker.base import (
    AccountPnL,
    BarEvent,
    BrokerError,
    BrokerEvent,
    BrokerNotice,
    CommissionEvent,
    ConnectError,
    ConnectionChanged,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.config import ConnectionConfig
from tradeterm.domain import (
    Bar,
    DomainError,
    Instrument,
    Order,
    OrderChange,
    Quote,
    Trade,
    nearest_tick,
    parse_local_symbol,
    spec_for,
)

log = logging.getLogger(__name__)

CHICAGO = ZoneInfo("America/Chicago")
AUTO_CLIENT_IDS = 5  # with auto_client_id: the configured id and the next four
GENERIC_TICKS = "233"  # RTVolume (trade fallback when tick-by-tick is unavailable)
DEPTH_ROWS = 10
INFO_CODES = frozenset({2104, 2106, 2107, 2108, 2158, 2119})
LINK_LOST, LINK_RESTORED_DATA_LOST, LINK_RESTORED = 1100, 1101, 1102
CLIENT_ID_IN_USE = 326
CONNECTED = (ConnectionState.SYNCING, ConnectionState.LIVE, ConnectionState.DEGRADED)

F = TypeVar("F", bound=Callable[..., Any])


class _ClientIdInUse(Exception):
    pass


@dataclass(slots=True, eq=False)
class _Subscription:
    instrument: Instrument
    contract: Contract
    ticker: Ticker | None = None
    bars: RealTimeBarList | None = None
    tbt_ok: bool = True  # tick-by-tick trades work; else RTVolume is the trade source
    last_quote: Quote | None = None
    requests: int = 0  # how many times the subscription was (re)sent (tests, logs)
    extra: dict[str, Any] = field(default_factory=dict)


def _guarded(method: F) -> F:
    """An ib_async callback that never raises into ib_async: log + BrokerNotice(code 0)."""

    @functools.wraps(method)
    def wrapper(self: IbBroker, *args: Any) -> Any:
        try:
            return method(self, *args)
        except Exception as exc:  # a callback must never kill the adapter
            log.exception("error in IB callback %s", method.__name__)
            self._emit(BrokerNotice(0, f"internal error in {method.__name__}: {exc!r}", self._ns()))
            return None

    return wrapper  # type: ignore[return-value]


class IbBroker:
    """``Broker`` for IB Gateway / TWS through ib_async."""

    def __init__(
        self, config: ConnectionConfig, *, port: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._config = config
        self._host = config.host
        self._port = port
        self._clock = clock
        self._ib = IB()
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
        self._link_down = False
        self._subs: dict[int, _Subscription] = {}  # conId ->
        self._instruments: dict[int, Instrument] = {}
        self._contracts: dict[int, Contract] = {}
        self._wire()

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
        """LIVE or DEGRADED from what is known, once connected and synced."""
        if self._state not in (ConnectionState.LIVE, ConnectionState.DEGRADED):
            return
        if self._link_down:
            self._set_state(ConnectionState.DEGRADED, reason)
        elif self._broken_farms:
            farms = ", ".join(sorted(self._broken_farms))
            self._set_state(ConnectionState.DEGRADED, f"{reason} (broken: {farms})")
        else:
            self._set_state(ConnectionState.LIVE, reason)

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
        base = self._client_id if self._client_id is not None else self._config.client_id
        count = AUTO_CLIENT_IDS if self._config.auto_client_id else 1
        ids = [base + i for i in range(count)]
        for cid in ids:
            try:
                await self._connect_as(cid)
                return
            except _ClientIdInUse:
                log.warning("client id %d in use at %s", cid, self.address)
                self._emit(BrokerNotice(CLIENT_ID_IN_USE, f"client id {cid} is in use", self._ns()))
        tried = ", ".join(map(str, ids))
        hint = (
            "set connection.auto_client_id = true or choose another connection.client_id"
            if not self._config.auto_client_id
            else "close the other API connections or choose another connection.client_id"
        )
        raise ConnectError(
            f"client id {tried} already in use by another API connection to "
            f"{self.address} (error 326); {hint}"
        )

    async def _connect_as(self, cid: int) -> None:
        loop = asyncio.get_running_loop()
        self._clash = loop.create_future()
        self._broken_farms.clear()
        self._link_down = False
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
        except _ClientIdInUse:
            raise
        except (OSError, TimeoutError, ConnectionError) as exc:
            self._ib.disconnect()
            raise ConnectError(self._connect_failure(exc)) from exc
        finally:
            self._connecting = False
            self._clash = None
        self._client_id = cid
        accounts = self._ib.client.getAccounts()
        if self._config.account:
            self._account = self._config.account
        elif len(accounts) == 1:
            self._account = accounts[0]

    def _connect_failure(self, exc: BaseException) -> str:
        what = (
            "nothing is listening there"
            if isinstance(exc, ConnectionRefusedError)
            else f"timed out after {self._config.connect_timeout_s:g}s"
            if isinstance(exc, TimeoutError)
            else f"{type(exc).__name__}: {exc}"
        )
        return (
            f"cannot connect to IB at {self.address}: {what}. Check that IB Gateway or TWS is "
            "running and logged in, that the API is enabled in its settings (Configure > "
            "Settings > API > Settings: 'Enable ActiveX and Socket Clients', and this host "
            "among the trusted IPs), and the port: IB Gateway 4001 live / 4002 paper, "
            "TWS 7496 live / 7497 paper."
        )

    async def _synced(self, reason: str) -> None:
        """Connected: startup sync done by ib_async; resubscribe, then LIVE (or DEGRADED)."""
        self._set_state(ConnectionState.SYNCING, reason)
        for sub in self._subs.values():
            self._request_market_data(sub)
        if self._account:
            self._ib.reqPnL(self._account)
        self._state = ConnectionState.LIVE if not self._degraded() else ConnectionState.DEGRADED
        self._emit(ConnectionChanged(self._state, reason, self._ns(), client_id=self._client_id))

    def _degraded(self) -> bool:
        return self._link_down or bool(self._broken_farms)

    # ---- reconnect ----------------------------------------------------------------------

    def _ensure_reconnect(self, reason: str) -> None:
        """Start THE reconnect task unless it is already running."""
        if self._stopping or self._connecting:
            return
        if self._reconnect_task is not None and not self._reconnect_task.done():
            return
        self.reconnect_tasks_started += 1
        self._reconnect_task = asyncio.ensure_future(self._reconnect(reason))

    def _backoff(self, attempt: int) -> float:
        lo, hi = self._config.reconnect_min_s, max(self._config.reconnect_max_s, 0.0)
        base = min(hi, lo * 2**attempt)
        return max(lo, min(hi, base * random.uniform(0.8, 1.2)))

    async def _reconnect(self, reason: str) -> None:
        attempt = 0
        while not self._stopping:
            delay = self._backoff(attempt)
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

    # ---- ib_async wiring ----------------------------------------------------------------

    def _wire(self) -> None:
        ib = self._ib
        ib.disconnectedEvent += self._on_disconnected
        ib.errorEvent += self._on_error
        ib.pendingTickersEvent += self._on_tickers
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_trade
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.positionEvent += self._on_position
        ib.pnlEvent += self._on_pnl

    @_guarded
    def _on_disconnected(self) -> None:
        if self._stopping or self._connecting:
            return
        self._ensure_reconnect(f"connection to {self.address} lost")

    @_guarded
    def _on_error(self, req_id: int, code: int, text: str, _contract: Any) -> None:
        if code == CLIENT_ID_IN_USE and self._clash is not None and not self._clash.done():
            self._clash.set_result(code)
            return
        self._emit(BrokerNotice(code, text, self._ns(), req_id))
        farm = cv.farm_change(code, text)
        if farm is not None:
            if farm.broken:
                self._broken_farms.add(farm.key)
            else:
                self._broken_farms.discard(farm.key)
                if farm.key.endswith(":"):  # no farm name: the whole family is OK
                    family = farm.key
                    self._broken_farms = {k for k in self._broken_farms if not k.startswith(family)}
            self._settle(f"IB {code}: {text}")
        elif code == LINK_LOST:
            self._link_down = True
            self._settle(f"IB {code}: {text}")
        elif code == LINK_RESTORED_DATA_LOST:
            self._link_down = False
            self.resubscribe_all()
            self._settle(f"IB {code}: {text} (resubscribed)")
        elif code == LINK_RESTORED:
            self._link_down = False
            self._settle(f"IB {code}: {text}")
        else:
            self._on_request_error(req_id, code)

    def _on_request_error(self, req_id: int, code: int) -> None:
        if req_id < 0 or code in INFO_CODES or 2100 <= code < 2200:
            return
        tbt = self._ib.wrapper.ticker2ReqId.get("AllLast", {})
        for sub in self._subs.values():
            if sub.ticker is not None and tbt.get(sub.ticker) == req_id:
                log.warning("tick-by-tick unavailable for %s (%d): RTVolume", sub.instrument, code)
                sub.tbt_ok = False

    # ---- market data --------------------------------------------------------------------

    def resubscribe_all(self) -> None:
        """Cancel and redo every market-data request (after 1101: the gateway dropped them)."""
        for sub in self._subs.values():
            self._cancel_market_data(sub)
            self._request_market_data(sub)

    def _cancel_market_data(self, sub: _Subscription) -> None:
        ib = self._ib
        if not ib.isConnected():
            return
        with contextlib.suppress(Exception):
            ib.cancelMktData(sub.contract)
        with contextlib.suppress(Exception):
            ib.cancelTickByTickData(sub.contract, "AllLast")
        with contextlib.suppress(Exception):
            ib.cancelMktDepth(sub.contract)
        if sub.bars is not None:
            sub.bars.updateEvent -= sub.extra["bar_handler"]
            with contextlib.suppress(Exception):
                ib.cancelRealTimeBars(sub.bars)
            sub.bars = None

    def _request_market_data(self, sub: _Subscription) -> None:
        ib, contract = self._ib, sub.contract
        sub.tbt_ok = True
        sub.last_quote = None
        ticker = ib.reqMktData(contract, GENERIC_TICKS, False, False)
        ib.reqTickByTickData(contract, "AllLast", 0, False)
        # a fresh book: forget what ib_async kept, tell the engine to clear its own
        for book in (ticker.domBidsDict, ticker.domAsksDict):
            book.clear()
        ticker.domBids = []
        ticker.domAsks = []
        self._emit(DepthEvent(self._ns(), (), ()))
        ib.reqMktDepth(contract, DEPTH_ROWS, False)
        bars = ib.reqRealTimeBars(contract, 5, "TRADES", False)
        handler = functools.partial(self._on_bar, sub)
        sub.extra["bar_handler"] = handler
        bars.updateEvent += handler
        sub.ticker, sub.bars = ticker, bars
        sub.requests += 1

    @_guarded
    def _on_bar(self, sub: _Subscription, bars: RealTimeBarList, has_new: bool) -> None:
        if has_new and bars:
            bar = cv.bar_from_realtime(bars[-1], sub.instrument.tick)
            self._emit(BarEvent(bar, 5, True))

    @_guarded
    def _on_tickers(self, tickers: set[Ticker]) -> None:
        for ticker in tickers:
            con_id = ticker.contract.conId if ticker.contract else 0
            sub = self._subs.get(con_id)
            if sub is None:
                continue
            try:
                self._ticker_events(sub, ticker)
            except (DomainError, ValueError, ArithmeticError) as exc:
                log.warning("bad market data for %s: %r", sub.instrument, exc)

    def _ticker_events(self, sub: _Subscription, ticker: Ticker) -> None:
        tick, now = sub.instrument.tick, self._ns()
        for t in ticker.tickByTicks:
            if not isinstance(t, TickByTickAllLast):
                continue
            if cv.valid_price(t.price) and t.size > 0:
                trade = Trade(now, nearest_tick(t.price, tick), cv.size_int(t.size))
                self._emit(TradeEvent(trade))
        if ticker.ticks:
            if not sub.tbt_ok:  # RTVolume fallback only: tick-by-tick would double-count
                for td in ticker.ticks:
                    if td.tickType in (48, 77) and cv.valid_price(td.price) and td.size > 0:
                        trade = Trade(now, nearest_tick(td.price, tick), cv.size_int(td.size))
                        self._emit(TradeEvent(trade))
            quote = cv.quote_from(ticker, tick, now)
            last = sub.last_quote
            if last is None or (
                (quote.bid, quote.bid_size, quote.ask, quote.ask_size, quote.last)
                != (last.bid, last.bid_size, last.ask, last.ask_size, last.last)
            ):
                sub.last_quote = quote
                self._emit(QuoteEvent(quote))
        if ticker.domTicks:
            bids = cv.book_side(ticker.domBids, tick, bids=True)
            asks = cv.book_side(ticker.domAsks, tick, bids=False)
            self._emit(DepthEvent(now, bids, asks))

    # ---- orders and account events ------------------------------------------------------

    def _lookup(self, con_id: int) -> Instrument | None:
        return self._instruments.get(con_id)

    @_guarded
    def _on_trade(self, trade: IbTrade) -> None:
        report = cv.order_report(trade, self._lookup, self._ns())
        if report is not None:
            self._emit(report)

    @_guarded
    def _on_exec(self, _trade: IbTrade, fill: Any) -> None:
        report = cv.execution_report(fill, self._lookup, historical=False)
        if report is not None:
            self._emit(report)

    @_guarded
    def _on_commission(self, _trade: IbTrade, _fill: Any, report: Any) -> None:
        self._emit_commission(report)

    def _emit_commission(self, report: Any) -> None:
        if not report.execId:
            return
        commission = cv.money(report.commission)
        if commission is None:
            return
        realized = cv.money(report.realizedPNL)
        self._emit(CommissionEvent(report.execId, commission, realized))

    @_guarded
    def _on_position(self, position: Any) -> None:
        self._emit(self._position_report(position))

    def _position_report(self, position: Any) -> PositionReport:
        con_id = position.contract.conId
        return PositionReport(
            instrument=self._lookup(con_id),
            con_id=con_id,
            account=position.account,
            quantity=round(position.position),
            avg_cost=cv.money(position.avgCost) or Decimal(0),
            ts_ns=self._ns(),
        )

    @_guarded
    def _on_pnl(self, pnl: Any) -> None:
        self._emit(
            AccountPnL(
                account=pnl.account,
                daily=cv.money(pnl.dailyPnL),
                unrealized=cv.money(pnl.unrealizedPnL),
                realized=cv.money(pnl.realizedPnL),
                ts_ns=self._ns(),
            )
        )

    # ---- commands -----------------------------------------------------------------------

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

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._clock(), CHICAGO).date()

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        self._require_connected()
        text = symbol.strip().upper()
        parts = text.split()
        exchange = ""
        if len(parts) == 2 and parts[1].isdigit():  # "ES 202612"
            root = parts[0]
            query: Contract = Future(symbol=root, lastTradeDateOrContractMonth=parts[1])
        else:
            try:
                root, _month = parse_local_symbol(text, self._today())
                query = Contract(secType="FUT", localSymbol=text)
            except DomainError:
                root = text
                query = Future(symbol=root)
        with contextlib.suppress(DomainError):
            exchange = spec_for(root).exchange
        query.exchange = exchange
        query.currency = "USD"
        details = await self._request(
            f"contract details for {symbol}", self._ib.reqContractDetailsAsync(query)
        )
        if not details:
            raise BrokerError(
                f"IB knows no futures contract {symbol!r} (error 200: no security definition)"
            )
        if query.localSymbol or query.lastTradeDateOrContractMonth:
            chosen = details[0]
        else:
            chosen = cv.pick_front_month(details, self._today(), roll_days)
            if chosen is None:
                raise BrokerError(f"no {symbol} contract expires more than {roll_days} days out")
        instrument = cv.instrument_from_details(chosen)
        if instrument.con_id is not None and chosen.contract is not None:
            self._instruments[instrument.con_id] = instrument
            self._contracts[instrument.con_id] = chosen.contract
        return instrument

    def _contract(self, instrument: Instrument) -> Contract:
        if instrument.con_id is None:
            raise BrokerError(f"{instrument} has no IB contract id: resolve it first")
        contract = self._contracts.get(instrument.con_id)
        if contract is None:
            contract = Contract(conId=instrument.con_id, exchange=instrument.exchange)
            self._contracts[instrument.con_id] = contract
            self._instruments.setdefault(instrument.con_id, instrument)
        return contract

    async def subscribe_market_data(self, instrument: Instrument) -> None:
        contract = self._contract(instrument)
        assert instrument.con_id is not None
        if instrument.con_id in self._subs:
            return
        sub = _Subscription(instrument, contract)
        self._subs[instrument.con_id] = sub
        if self._state in CONNECTED and self._ib.isConnected():
            self._request_market_data(sub)

    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]:
        self._require_connected()
        contract = self._contract(instrument)
        seconds = max(60, minutes * 60)
        duration = f"{seconds} S" if seconds <= 86_400 else f"{-(-seconds // 86_400)} D"
        raw = await self._request(
            "historical bars",
            self._ib.reqHistoricalDataAsync(
                contract, "", duration, "1 min", "TRADES", False, formatDate=2
            ),
        )
        now = self._ns()
        bars = [cv.bar_from_history(b, instrument.tick) for b in raw]
        done = [b for b in bars if b.start_ns + 60 * cv.NS <= now]
        done.sort(key=lambda b: b.start_ns)
        return done[-minutes:] if minutes > 0 else []

    async def place(self, order: Order, order_ref: str, *, transmit: bool = True,
                    parent_broker_id: int | None = None) -> int:  # fmt: skip
        self._require_connected()
        contract = self._contract(order.instrument)
        ib_order = cv.ib_order(
            order, order_ref, account=self._account or "", transmit=transmit,
            parent_broker_id=parent_broker_id,
        )  # fmt: skip
        trade = self._ib.placeOrder(contract, ib_order)
        return int(trade.order.orderId)

    def _trade(self, broker_id: int) -> IbTrade | None:
        if self._client_id is None:
            return None
        return self._ib.wrapper.trades.get((self._client_id, broker_id))

    async def modify(self, order: Order, change: OrderChange, order_ref: str) -> None:
        self._require_connected()
        if order.broker_id is None:
            raise BrokerError(f"order {order.client_id} has no broker id: cannot modify")
        trade = self._trade(order.broker_id)
        if trade is not None and trade.isDone():
            raise BrokerError(f"order {order.broker_id} is {trade.orderStatus.status}")
        if trade is not None:
            ib_order: IbOrder = copy.copy(trade.order)
        else:
            ib_order = cv.ib_order(
                order, order_ref, account=self._account or "", transmit=True,
                parent_broker_id=None,
            )  # fmt: skip
            ib_order.orderId = order.broker_id
        ib_order.orderRef = order_ref
        cv.apply_change(ib_order, change, order.instrument.tick)
        self._ib.placeOrder(self._contract(order.instrument), ib_order)

    async def cancel(self, broker_id: int) -> None:
        self._require_connected()
        trade = self._trade(broker_id)
        order = trade.order if trade is not None else IbOrder(orderId=broker_id)
        self._ib.cancelOrder(order)

    async def cancel_all_account_orders(self) -> None:
        self._require_connected()
        self._ib.reqGlobalCancel()

    async def open_orders(self) -> list[OrderReport]:
        self._require_connected()
        trades = await self._request("open orders", self._ib.reqAllOpenOrdersAsync())
        now = self._ns()
        reports = (cv.order_report(t, self._lookup, now) for t in trades)
        return [r for r in reports if r is not None]

    async def positions(self) -> list[PositionReport]:
        self._require_connected()
        found = await self._request("positions", self._ib.reqPositionsAsync())
        return [self._position_report(p) for p in found]

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        self._require_connected()
        flt = ExecutionFilter()
        if since_ns is not None:
            flt.time = cv.execution_filter_time(since_ns)
        if self._account:
            flt.acctCode = self._account
        fills = await self._request("executions", self._ib.reqExecutionsAsync(flt))
        reports: list[ExecutionReport] = []
        for fill in fills:
            report = cv.execution_report(fill, self._lookup, historical=True)
            if report is None:
                continue
            reports.append(report)
            self._emit_commission(fill.commissionReport)
        reports.sort(key=lambda r: r.ts_ns)
        return reports
