"""The fake gateway's order desk: orders, executions and (through :class:`AccountDesk`)
positions, account values and P&L on the wire.

Requests go to the simulated broker's :class:`~tradeterm.sim.gateway.oms.Oms`; the effects it
returns are turned into TWS messages by :meth:`OrderDesk.dispatch`, scoped like TWS:

* an order's openOrder / orderStatus / execDetails / commissionReport go to the client that
  placed it, and to the master client (``GatewayConfig.master_client_id``) as well;
* order errors (110, 201, 202, 10147...) go to the owning client only, with reqId = orderId;
* reqOpenOrders answers the caller's own working orders (the master's: everyone's),
  reqAllOpenOrders everyone's; reqCompletedOrders every finished order of every client;
  reqExecutions the caller's own executions (the master's: everyone's), filtered.

Message order of a market order that fills, as TWS sends it: openOrder + orderStatus
PreSubmitted, execDetails (reqId -1), openOrder + orderStatus Filled, commissionReport; then
position (61), portfolio (7) + account values (6) + time (8), account values multi (73) and
P&L (94/95) to their subscribers.

Kept as one module because the order messages' scoping and their order on the wire (above) are
one concern, from the request to the last commissionReport; the account half is
:mod:`account_desk`, the what-if answer :mod:`what_if`.

Fault hooks (used by :class:`~tradeterm.sim.gateway.faults.FaultRunner`): :meth:`set_ack_delay`,
:meth:`force_fill_working`, :meth:`reject_next`, :meth:`clients_with_working_orders`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from tradeterm.sim import catalog
from tradeterm.sim.catalog import ContractEntry
from tradeterm.sim.gateway.accounts import Books, Execution, InstrumentTerms
from tradeterm.sim.gateway.desks.account_desk import AccountCon, AccountDesk
from tradeterm.sim.gateway.desks.context import DeskContext, MarketLink
from tradeterm.sim.gateway.desks.what_if import WhatIfError, what_if_reply
from tradeterm.sim.gateway.desks.wire_records import (
    commission_record,
    execution_record,
    order_record,
    parse_filter_time,
    trading_day,
)
from tradeterm.sim.gateway.oms import (
    Effect,
    Executed,
    Oms,
    OrderChanged,
    OrderError,
    OrderRequest,
    SimOrder,
)
from tradeterm.sim.gateway.protocol import encode_orders
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.records import ContractRecord
from tradeterm.sim.gateway.protocol.request_types import (
    CancelOrder,
    ExecutionFilter,
    PlaceOrder,
    ReqAllOpenOrders,
    ReqCompletedOrders,
    ReqExecutions,
    ReqGlobalCancel,
    ReqOpenOrders,
)
from tradeterm.sim.gateway.protocol.server import GatewayServer
from tradeterm.sim.matching import SimFill

log = logging.getLogger(__name__)

NO_SECURITY_DEFINITION = 200
ORDER_REJECTED = 201
TEXT_200 = "No security definition has been found for the request"


class OrderDesk:
    def __init__(self, context: DeskContext, oms: Oms, books: Books, market: MarketLink) -> None:
        self.context = context
        self.oms = oms
        self.books = books
        self.market = market
        self.accounts = AccountDesk(context, books, market)
        self.period_s = 1.0  # periodic P&L / mark pushes
        self.ack_delay_s = 0.0  # fault: the exchange answers order requests this late
        self.hide_delayed = False  # fault: ...and TWS shows nothing of them meanwhile
        self._lanes: dict[int, asyncio.Task[None]] = {}  # clientId -> its last delayed request
        self._tasks: set[asyncio.Task[None]] = set()

    def install(self, server: GatewayServer) -> None:
        server.register(PlaceOrder, self.handle_place_order)
        server.register(CancelOrder, self.handle_cancel_order)
        server.register(ReqGlobalCancel, self.handle_global_cancel)
        server.register(ReqOpenOrders, self.handle_req_open_orders)
        server.register(ReqAllOpenOrders, self.handle_req_all_open_orders)
        server.register(ReqCompletedOrders, self.handle_req_completed_orders)
        server.register(ReqExecutions, self.handle_req_executions)
        self.accounts.install(server)
        server.account_values = self.account_values  # type: ignore[method-assign]

    @property
    def server(self) -> GatewayServer:
        return self.context.server

    def account_values(self, account: str) -> list[tuple[str, str, str]]:
        """The server's account handlers (updates, multi, summary) report these; marks are
        refreshed first so unrealized P&L is current."""
        self.accounts.refresh_marks()
        return self.accounts.account_values(account)

    async def run(self) -> None:
        """Periodic work while the gateway runs: marks and P&L pushes, and at the daily close
        (16:00 US/Central) DAY orders expire and the daily P&L starts again."""
        clock = self.context.clock
        day = trading_day(clock())
        try:
            while True:
                await asyncio.sleep(self.period_s)
                today = trading_day(clock())
                if today != day:
                    day = today
                    self.daily_close()
                self.accounts.tick()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def daily_close(self) -> None:
        """The trading day ended: DAY orders expire (202 + Cancelled) and reqPnL's dailyPnL
        counts from here (realized P&L so far is set aside)."""
        con_ids = [o.terms.con_id for o in self.oms.working()]
        self.dispatch(self.oms.expire_day_orders(self.context.now_ns()))
        self._after_orders(con_ids)
        for account in self.books.accounts.values():
            account.day_start_realized = self.books.realized(account.account_id)
        self.accounts.push_pnl()

    # ---- scoping ----------------------------------------------------------------------------

    def _sees(self, session: ClientSession, client_id: int) -> bool:
        master = self.context.master_client_id
        return session.client_id == client_id or (
            master is not None and session.client_id == master
        )

    def _targets(self, client_id: int) -> list[ClientSession]:
        """Sessions that get the order messages of ``client_id``'s orders."""
        return [s for s in self.server.sessions if self._sees(s, client_id)]

    def _owners(self, client_id: int) -> list[ClientSession]:
        return [s for s in self.server.sessions if s.client_id == client_id]

    def _send_error(self, client_id: int, order_id: int, code: int, text: str) -> None:
        for session in self._owners(client_id):
            session.send_error(order_id, code, text)

    # ---- dispatch ---------------------------------------------------------------------------

    def contract(self, con_id: int) -> ContractRecord:
        return self.accounts.contract(con_id)

    def contract_of(self, order: SimOrder) -> ContractRecord:
        return self.contract(order.terms.con_id)

    def dispatch(self, effects: Iterable[Effect]) -> None:
        """Send the messages of OMS effects to the sessions that must see them."""
        reports: list[tuple[SimOrder, Execution]] = []
        fills: dict[AccountCon, int] = {}

        def flush(order: SimOrder | None) -> None:
            for item in [r for r in reports if order is None or r[0] is order]:
                reports.remove(item)
                message = encode_orders.commission_report(commission_record(item[1]))
                for session in self._targets(item[0].client_id):
                    session.send(message)

        for effect in effects:
            if isinstance(effect, OrderChanged):
                order = effect.order
                record = order_record(order, effect)
                status = encode_orders.order_status(record)
                for session in self._targets(order.client_id):
                    if effect.open_order:
                        session.send(
                            encode_orders.open_order(
                                session.version, record, self.contract_of(order)
                            )
                        )
                    session.send(status)
                flush(order)
            elif isinstance(effect, Executed):
                order, execution = effect.order, effect.execution
                rec = execution_record(execution, order.terms, self._exchange(order))
                for session in self._targets(order.client_id):
                    session.send(
                        encode_orders.exec_details(
                            session.version, -1, self.contract_of(order), rec
                        )
                    )
                reports.append((order, execution))
                fills[(execution.account, execution.con_id)] = execution.price_ticks
            elif isinstance(effect, OrderError):
                self._send_error(effect.client_id, effect.order_id, effect.code, effect.text)
        flush(None)
        if fills:
            self.accounts.after_fills(fills)

    def _exchange(self, order: SimOrder) -> str:
        return self.contract_of(order).exchange

    def on_fills(self, fills: list[SimFill]) -> None:
        """Fills of resting orders caused by the market (the feed's ``on_fills`` callback)."""
        self.dispatch(self.oms.on_fills(fills))

    def _after_orders(self, con_ids: Iterable[int]) -> None:
        for con_id in set(con_ids):
            self.market.after_orders(con_id)

    # ---- ack delay (fault) ------------------------------------------------------------------

    @property
    def pending_acks(self) -> int:
        """Order requests received but held back by :attr:`ack_delay_s`."""
        return len(self._tasks)

    def _acked(self, client_id: int, work: Callable[[], None]) -> None:
        """Run ``work`` now, or once it is :attr:`ack_delay_s` old, in the client's order lane
        (requests of one client stay in order; the connection keeps serving other requests).
        The delay is read while waiting: lowering it releases held requests."""
        prev = self._lanes.get(client_id)
        if self.ack_delay_s <= 0 and prev is None:
            work()
            return
        received = asyncio.get_running_loop().time()
        task = asyncio.create_task(self._later(prev, received, work), name=f"ack-{client_id}")
        self._lanes[client_id] = task
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if self._lanes.get(client_id) is t:
                del self._lanes[client_id]

        task.add_done_callback(done)

    async def _later(
        self, prev: asyncio.Task[None] | None, received: float, work: Callable[[], None]
    ) -> None:
        if prev is not None:
            await asyncio.wait([prev])
        loop = asyncio.get_running_loop()
        while (wait := received + self.ack_delay_s - loop.time()) > 0:
            await asyncio.sleep(min(wait, 0.05))
        try:
            work()
        except Exception:
            log.exception("delayed order request failed")

    # ---- orders -----------------------------------------------------------------------------

    def terms(self, con_id: int) -> InstrumentTerms:
        """The books' terms of a contract (registered on first use)."""
        terms = self.books.terms.get(con_id)
        if terms is None:
            entry = self.context.contract(con_id)
            if entry is None:
                raise KeyError(con_id)
            terms = InstrumentTerms(
                con_id=entry.conId,
                symbol=entry.symbol,
                local_symbol=entry.localSymbol,
                tick=entry.tick,
                multiplier=Decimal(entry.multiplier),
            )
            self.books.register(terms)
        return terms

    def resolve(self, c: ContractRecord) -> ContractEntry | None:
        """The catalog contract an order names (by conId, else by its description)."""
        if c.conId:
            return self.context.contract(c.conId)
        found = catalog.lookup(
            symbol=c.symbol,
            secType=c.secType,
            exchange=c.exchange,
            lastTradeDateOrContractMonth=c.lastTradeDateOrContractMonth,
            localSymbol=c.localSymbol,
            today=self.context.today,
            currency=c.currency,
            multiplier=c.multiplier,
            tradingClass=c.tradingClass,
        )
        return found[0] if len(found) == 1 else None

    async def handle_place_order(self, session: ClientSession, req: PlaceOrder) -> None:
        client_id = _client_id(session)
        self.server.note_order_id(client_id, req.orderId)
        if req.whatIf:
            self._what_if(session, req)
            return
        if self._delayed(client_id) and not self.hide_delayed:
            # TWS lists the order as soon as it has read it; the exchange answers later
            ready = self._order_request(client_id, req)
            if not isinstance(ready, OrderError):
                self.dispatch(self.oms.accept(*ready))
        self._acked(client_id, lambda: self.place(client_id, req))

    def _delayed(self, client_id: int) -> bool:
        """Whether order requests of ``client_id`` wait for the exchange (the ``delay`` fault,
        or earlier requests still held in its lane)."""
        return self.ack_delay_s > 0 or client_id in self._lanes

    def _order_request(
        self, client_id: int, req: PlaceOrder
    ) -> tuple[OrderRequest, InstrumentTerms] | OrderError:
        """The OMS request and the contract's terms, or the error refusing it."""
        entry = self.resolve(req.contract)
        if entry is None:
            return OrderError(client_id, req.orderId, NO_SECURITY_DEFINITION, TEXT_200)
        account = req.account or self.context.account
        if account not in self.books.accounts:
            text = f"Order rejected - reason:Invalid account {account!r}"
            return OrderError(client_id, req.orderId, ORDER_REJECTED, text)
        order = OrderRequest(
            order_id=req.orderId,
            client_id=client_id,
            account=account,
            action=req.action.upper(),
            total_qty=req.totalQuantity,
            order_type=req.orderType.upper(),
            lmt_price=req.lmtPrice,
            aux_price=req.auxPrice,
            tif=req.tif.upper() or "DAY",
            oca_group=req.ocaGroup,
            oca_type=req.ocaType,
            parent_id=req.parentId,
            transmit=req.transmit,
            order_ref=req.orderRef,
            outside_rth=req.outsideRth,
            trail_stop_price=req.trailStopPrice,
        )
        return order, self.terms(entry.conId)

    def place(self, client_id: int, req: PlaceOrder) -> None:
        """Process a placeOrder of ``client_id`` (new order or modification)."""
        ready = self._order_request(client_id, req)
        if isinstance(ready, OrderError):
            self.dispatch([ready])
            return
        order, terms = ready
        self.dispatch(self.oms.place(order, terms, self.context.now_ns()))
        self._after_orders([terms.con_id])

    def _what_if(self, session: ClientSession, req: PlaceOrder) -> None:
        entry = self.resolve(req.contract)
        if entry is None:
            session.send_error(req.orderId, NO_SECURITY_DEFINITION, TEXT_200)
            return
        account = req.account or self.context.account
        if account not in self.books.accounts:
            session.send_error(req.orderId, ORDER_REJECTED, f"Invalid account {account!r}")
            return
        terms = self.terms(entry.conId)
        try:
            record, state = what_if_reply(self.books, terms, account, _client_id(session), req)
        except WhatIfError as exc:
            session.send_error(req.orderId, exc.code, exc.text)
            return
        session.send(
            encode_orders.open_order(session.version, record, self.contract(entry.conId), state)
        )

    async def handle_cancel_order(self, session: ClientSession, req: CancelOrder) -> None:
        client_id = _client_id(session)
        if self._delayed(client_id) and not self.hide_delayed:
            self.dispatch(self.oms.accept_cancel(client_id, req.orderId))
        self._acked(client_id, lambda: self.cancel(client_id, req.orderId))

    def cancel(self, client_id: int, order_id: int) -> None:
        order = self.oms.orders.get((client_id, order_id))
        self.dispatch(self.oms.cancel(client_id, order_id, self.context.now_ns()))
        if order is not None:
            self._after_orders([order.terms.con_id])

    async def handle_global_cancel(self, session: ClientSession, req: ReqGlobalCancel) -> None:
        self._acked(_client_id(session), self.global_cancel)

    def global_cancel(self) -> None:
        """Cancel every working order of every client (like TWS's reqGlobalCancel)."""
        con_ids = [o.terms.con_id for o in self.oms.working()]
        self.dispatch(self.oms.global_cancel(self.context.now_ns()))
        self._after_orders(con_ids)

    # ---- snapshots --------------------------------------------------------------------------

    def _send_open_orders(self, session: ClientSession, orders: Iterable[SimOrder]) -> None:
        for order in orders:
            record = order_record(order)
            contract = self.contract_of(order)
            session.send(encode_orders.open_order(session.version, record, contract))
            session.send(encode_orders.order_status(record))
        session.send(encode_orders.open_order_end())

    async def handle_req_open_orders(self, session: ClientSession, req: ReqOpenOrders) -> None:
        self._send_open_orders(
            session, [o for o in self.oms.working() if self._sees(session, o.client_id)]
        )

    async def handle_req_all_open_orders(
        self, session: ClientSession, req: ReqAllOpenOrders
    ) -> None:
        self._send_open_orders(session, self.oms.working())

    async def handle_req_completed_orders(
        self, session: ClientSession, req: ReqCompletedOrders
    ) -> None:
        for order in self.oms.completed():
            parent = self.oms.orders.get((order.client_id, order.req.parent_id))
            record = order_record(order, parent_perm_id=parent.perm_id if parent else None)
            session.send(
                encode_orders.completed_order(session.version, record, self.contract_of(order))
            )
        session.send(encode_orders.completed_orders_end())

    async def handle_req_executions(self, session: ClientSession, req: ReqExecutions) -> None:
        try:
            after = parse_filter_time(req.filter.time)
        except ValueError as exc:
            session.send_validation_error(req, f"invalid time {req.filter.time!r}: {exc}")
            session.send(encode_orders.exec_details_end(req.reqId))
            return
        executions = [
            e
            for acct in self.books.accounts.values()
            for e in acct.executions
            if self._sees(session, e.client_id) and self._matches(e, req.filter, after)
        ]
        executions.sort(key=lambda e: e.time_ns)
        for e in executions:
            contract = self.contract(e.con_id)
            rec = execution_record(e, self.books.terms[e.con_id], contract.exchange)
            session.send(encode_orders.exec_details(session.version, req.reqId, contract, rec))
            session.send(encode_orders.commission_report(commission_record(e)))
        session.send(encode_orders.exec_details_end(req.reqId))

    def _matches(self, e: Execution, f: ExecutionFilter, after_ns: int | None) -> bool:
        if f.clientId and e.client_id != f.clientId:
            return False
        if f.acctCode and e.account != f.acctCode:
            return False
        if after_ns is not None and e.time_ns < after_ns:
            return False
        c = self.contract(e.con_id)
        if f.symbol and f.symbol.upper() != c.symbol:
            return False
        if f.secType and f.secType.upper() != c.secType:
            return False
        if f.exchange and f.exchange.upper() != c.exchange:
            return False
        side = {"BUY": "BOT", "SELL": "SLD"}.get(f.side.upper(), f.side.upper())
        return not side or side == e.side

    # ---- fault hooks ------------------------------------------------------------------------

    def reject_next(self, reason: str) -> None:
        """The next new order is rejected with error 201 and ``reason``."""
        self.oms.reject_next = reason

    def set_ack_delay(self, seconds: float, *, hide: bool = False) -> None:
        """The exchange answers order requests ``seconds`` late (0: at once again); ``hide``:
        TWS shows nothing of them meanwhile (the worst case), else it lists them pending."""
        self.ack_delay_s = seconds
        self.hide_delayed = hide and seconds > 0

    def clients_with_working_orders(self) -> set[int]:
        return {o.client_id for o in self.oms.working()}

    def force_fill_working(self, client_ids: Iterable[int]) -> int:
        """Fill every working order of ``client_ids`` that rests at a venue, completely, at its
        limit price (LMT, STP LMT), stop price (STP) or the market's last price (MKT), taking
        it off the venue; returns how many orders were filled. Bracket children that wait
        for their parent are not filled (they go to the venue when the parent fills)."""
        ids = set(client_ids)
        snapshot = [o for o in self.oms.working() if o.client_id in ids and o.at_venue]
        filled = 0
        con_ids: set[int] = set()
        for order in snapshot:
            if order.done or not order.at_venue:
                continue
            price = self._force_price(order)
            if price is None:
                continue
            venue = self.oms.venues[order.terms.con_id]
            venue.cancel(order.perm_id)
            order.at_venue = False
            liquidity = 1 if order.req.order_type == "LMT" else 2
            fill = SimFill(
                order.perm_id, price, order.remaining, self.context.now_ns(), liquidity, 0
            )
            self.dispatch(self.oms.on_fills([fill]))
            filled += 1
            con_ids.add(order.terms.con_id)
        self._after_orders(con_ids)
        return filled

    def _force_price(self, order: SimOrder) -> int | None:
        kind = order.req.order_type
        if kind in ("LMT", "STP LMT"):
            return order.lmt_ticks
        if kind == "STP":
            return order.aux_ticks
        engine: Any = self.oms.venues[order.terms.con_id]
        last = engine.last
        if last is None:
            last = engine.best_ask if order.is_buy else engine.best_bid
        return int(last) if last is not None else None


def _client_id(session: ClientSession) -> int:
    assert session.client_id is not None, "request before startApi"
    return session.client_id
