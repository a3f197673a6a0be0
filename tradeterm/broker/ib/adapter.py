"""The Interactive Brokers adapter (with the rest of :mod:`tradeterm.broker.ib`, the only code
that touches ib_async).

:class:`IbBroker` is the ``Broker`` for IB Gateway / TWS. The connection state machine (connect,
client id fallback, farms, 1100/1101/1102, reconnect with backoff) is its base class
:class:`~tradeterm.broker.ib.connection.IbConnection`, and the contracts it resolved through
IB's contract details the next one, :class:`~tradeterm.broker.ib.contracts.IbContracts`; this
module adds market data, orders, account events and requests, and re-sends the standing
requests after every (re)connect.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ib_async import (
    Contract,
    ExecutionFilter,
    RealTimeBarList,
    RequestError,
    TickByTickAllLast,
    Ticker,
)
from ib_async import Order as IbOrder
from ib_async import Trade as IbTrade

from tradeterm.broker.ib import codes
from tradeterm.broker.ib import convert as cv
from tradeterm.broker.ib.connection import IB_GATEWAY_HELP, guarded
from tradeterm.broker.ib.contracts import IbContracts
from tradeterm.broker.ib.lanes import Kind
from tradeterm.broker.port import (
    CONNECTED,
    AccountPnL,
    BarEvent,
    BrokerError,
    CommissionEvent,
    ContractMargin,
    DepthEvent,
    ExecutionReport,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
    Unsent,
)
from tradeterm.config import ConnectionConfig
from tradeterm.domain import (
    Bar,
    DomainError,
    Instrument,
    Order,
    OrderChange,
    Quote,
    Side,
    Trade,
    nearest_tick,
)

log = logging.getLogger(__name__)

GENERIC_TICKS = "233"  # RTVolume (trade fallback when tick-by-tick is unavailable)
DEPTH_ROWS = 10


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


class IbBroker(IbContracts):
    """``Broker`` for IB Gateway / TWS through ib_async."""

    def __init__(self, config: ConnectionConfig, *, port: int,
                 clock: Callable[[], float] = time.time,
                 gateway_help: str = IB_GATEWAY_HELP) -> None:  # fmt: skip
        super().__init__(config, port=port, clock=clock, gateway_help=gateway_help)
        self._subs: dict[int, _Subscription] = {}  # conId ->
        ib = self._ib
        ib.pendingTickersEvent += self._on_tickers
        ib.openOrderEvent += self._on_trade
        ib.orderStatusEvent += self._on_trade
        ib.execDetailsEvent += self._on_exec
        ib.commissionReportEvent += self._on_commission
        ib.positionEvent += self._on_position
        ib.pnlEvent += self._on_pnl
        ib.accountValueEvent += self._on_account_value

    @property
    def backlog(self) -> int:
        """Events received and not yet taken by the consumer (benchmarks watch it)."""
        return self._queue.qsize()

    @property
    def queued_messages(self) -> int:
        """Messages to IB waiting for their turn in IB's message rate (benchmarks watch it)."""
        return self._lanes.queued

    def _after_sync(self) -> None:
        """After every (re)connect: ib_async forgot every request, send them again; pass on
        the account's figures its startup sync received (before the account was known)."""
        for sub in self._subs.values():
            self._request_market_data(sub)
        if self._account:
            self._ib.reqPnL(self._account)
            if not self._emit_account_values():
                self._emit(codes.notice(0, self._no_account_values(), self._ns()))

    def _no_account_values(self) -> str:
        return (
            f"IB sent none of account {self._account}'s values in the startup sync "
            "(reqAccountUpdates / reqAccountUpdatesMulti unanswered): net liquidation, "
            "available funds and margin stay unknown until it does"
        )

    def _on_request_error(self, req_id: int, code: int) -> None:
        if req_id < 0 or codes.is_info(code):
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

    @guarded
    def _on_bar(self, sub: _Subscription, bars: RealTimeBarList, has_new: bool) -> None:
        if has_new and bars:
            bar = cv.bar_from_realtime(bars[-1], sub.instrument.tick)
            self._emit(BarEvent(bar, 5, True))

    @guarded
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

    @guarded
    def _on_trade(self, trade: IbTrade) -> None:
        report = cv.order_report(trade, self._lookup, self._ns())
        if report is not None:
            self._emit(report)

    @guarded
    def _on_exec(self, _trade: IbTrade, fill: Any) -> None:
        report = cv.execution_report(fill, self._lookup, historical=False)
        if report is not None:
            self._emit(report)

    @guarded
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

    @guarded
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

    @guarded
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

    @guarded
    def _on_account_value(self, value: Any) -> None:
        if value.account == self._account and value.tag in cv.ACCOUNT_TAGS:
            self._emit_account_values()

    def _emit_account_values(self) -> bool:
        """The account's figures as ib_async holds them (it subscribes to the account's
        updates in its startup sync, and again after a reconnect); whether it had any."""
        if not self._account:
            return False
        values = cv.account_values(self._ib.accountValues(self._account), self._account,
                                   self._ns())  # fmt: skip
        if values is not None:
            self._emit(values)
        return values is not None

    # ---- commands -----------------------------------------------------------------------

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

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin:
        """A what-if market order of one contract (IB computes its margin, places nothing):
        the initial and maintenance margin it would add, in the account's currency."""
        self._require_connected()
        order = IbOrder(action=side.value, totalQuantity=1, orderType="MKT",
                        account=self._account or "", whatIf=True)  # fmt: skip
        try:
            state = await self._request(
                "a what-if order (margin per contract)",
                self._ib.whatIfOrderAsync(self._contract(instrument), order),
            )
        except RequestError as exc:  # IB refused the what-if (an error for its id)
            raise BrokerError(f"IB refused the what-if order: {exc}") from exc
        if state is None:
            raise BrokerError("IB answered the what-if order without its margins")
        return cv.contract_margin(state, instrument.currency, self._ns())

    async def place(self, order: Order, order_ref: str, *, transmit: bool = True,
                    parent_broker_id: int | None = None) -> int:  # fmt: skip
        self._require_connected()
        contract = self._contract(order.instrument)
        ib_order = cv.ib_order(
            order, order_ref, account=self._account or "", transmit=transmit,
            parent_broker_id=parent_broker_id,
        )  # fmt: skip
        # reserved before the intent was journaled; else taken now, the same way
        ib_order.orderId = order.broker_id or self.reserve_order_id()
        with self._lanes.about(ib_order.orderId, Kind.NEW):
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
        with self._lanes.about(order.broker_id, Kind.MODIFY):
            self._ib.placeOrder(self._contract(order.instrument), ib_order)

    async def cancel(self, broker_id: int) -> None:
        self._require_connected()
        trade = self._trade(broker_id)
        order = trade.order if trade is not None else IbOrder(orderId=broker_id)
        with self._lanes.about(broker_id, Kind.CANCEL):
            self._ib.cancelOrder(order)

    def priority(self) -> AbstractContextManager[None]:
        return self._lanes.priority()

    def drop_unsent(self) -> Unsent:
        new, changed = self._lanes.drop_orders()
        trades = self._ib.wrapper.trades
        for broker_id in new:  # IB never had it: ib_async forgets it too
            trades.pop((self._ib.wrapper.clientId, broker_id), None)
        if new or changed:
            log.warning("dropped before sending: new orders %s, modifications of %s", new,
                        changed)  # fmt: skip
        return Unsent(tuple(new), tuple(changed))

    async def cancel_all_account_orders(self) -> None:
        self._require_connected()
        self._ib.reqGlobalCancel()

    async def open_orders(self) -> list[OrderReport]:
        self._require_connected()
        trades = await self._request("open orders", self._ib.reqAllOpenOrdersAsync())
        now = self._ns()
        reports = (cv.order_report(t, self._lookup, now) for t in trades)
        return [r for r in reports if r is not None]

    async def completed_orders(self) -> list[OrderReport]:
        self._require_connected()
        trades = await self._request("completed orders", self._ib.reqCompletedOrdersAsync(False))
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
