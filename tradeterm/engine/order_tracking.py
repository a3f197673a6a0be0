"""What this instance knows of its orders: every order by its ids, its role and its fate, kept
up to date from what IB says about it (the order manager, ``order_manager.py``, builds on it
to send orders).

* Orders are found by their client order id in IB's ``orderRef``, by IB's permId, or by IB's
  order id when IB reports it for our API client. An order is this instance's only when its
  orderRef is and this API client placed it: IB lets only the client that placed an order
  cancel it (10147 for any other), so the market's console or an earlier run on another
  client id left an order that is another client's here. An order of this instance IB lists
  that we do not know (after a restart on the same client id) is adopted, with its bracket
  links; anyone else's in this contract is kept as a read-only ``foreign`` view, with the
  client that placed it. An order in another contract (another
  market's instance, TWS) is never this market's: no view, no risk, no protection; it is
  only counted by contract (``elsewhere``, :class:`OtherMarketOrders`) so nothing is hidden.
* A modification is confirmed when IB reports the order with the new values, and refused when
  IB answers the order id with an error (the order keeps its old values); with none pending,
  the quantity IB reports is the order's (IB re-balances an OCA group: ``Order.on_quantity``).
* An order we sent is **unconfirmed** until IB positively finishes it: a Filled, Cancelled or
  Inactive status, a rejection (an error for its id), its fills adding up, or proof that IB
  never received it (its id is at or above the next id IB offered on a later connection) or
  does not have it (sent on an earlier connection, in none of IB's lists, and its cancel
  answered "not found", 10147: what cancelling an unconfirmed order from a killed run does).
  An order that an open-order list lacks is never closed for that: it stays open, counts as
  working for every risk and kill decision, and is looked for again (open orders, completed
  orders, executions). IB's refusal of a cancel (10147/10148/161) is information about that
  one order: it is looked up, nothing else. The orders an earlier run sent and never saw
  finished are tracked again at start as unconfirmed (:meth:`OrderTracker.restore`).

Kept as one module because every answer of the broker (reports, notices, lists) updates the
same indexes and order states.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from tradeterm.broker.port import (
    Broker,
    CancelRefusal,
    CancelRejected,
    ExecutionReport,
    ModificationRefused,
    NoticeLevel,
    OrderCancelled,
    OrderNotice,
    OrderRejected,
    OrderReport,
    RequestDropped,
)
from tradeterm.domain import (
    ClientOrderIds,
    DomainError,
    ExitTag,
    Fill,
    Instrument,
    InvalidOrderError,
    Order,
    OrderChange,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from tradeterm.engine.events import (
    EngineEvent,
    EngineNotice,
    OrderUpdated,
    OrderView,
    OtherMarketOrders,
)
from tradeterm.engine.types import OrderRole

log = logging.getLogger(__name__)

CLOSE_ROLES = frozenset({OrderRole.KILL, OrderRole.FLATTEN})
"""Market orders closing the whole position: the kill switch waits for one in flight instead
of cancelling it (cancelling a slow close only means sending another)."""
_NOT_CONFIRMED = {  # what an open order's status says IB has not confirmed yet
    OrderStatus.PENDING_SUBMIT: "not acknowledged",
    OrderStatus.PENDING_CANCEL: "cancel not confirmed",
    OrderStatus.PENDING_MODIFY: "change not confirmed",
}


@dataclass(frozen=True, slots=True)
class SentOrder:
    """An order an earlier run of this instance sent and never saw finished (the journal's
    open intent): tracked again at start as unconfirmed until IB says what became of it."""

    order_id: str
    side: Side
    quantity: int
    order_type: OrderType
    limit: int | None
    stop: int | None
    tif: TimeInForce
    role: OrderRole
    command_id: str
    broker_id: int | None
    perm_id: int | None
    api_client_id: int | None  # the API client id it was sent under, when known
    sent_ns: int
    trail: int | None = None  # a TRAIL order's trailing amount (ticks)
    exit: ExitTag | None = None  # the exit strategy it was sent with or for
    oca_group: str | None = None  # its OCA group (an exit strategy's share: see exits.py)


def could_fill(orders: Iterable[Order], side: Side) -> int:
    """The most ``orders`` on ``side`` could still fill: the members of one OCA group count
    once, at the largest (a fill of one cancels or reduces the others)."""
    groups: dict[str, int] = {}
    total = 0
    for o in orders:
        if o.side is not side:
            continue
        if o.oca_group is None:
            total += o.remaining
        else:
            groups[o.oca_group] = max(groups.get(o.oca_group, 0), o.remaining)
    return total + sum(groups.values())


class OrderTracker:
    """The orders of one instrument and one instance as known here (see the module notes);
    ``position``, ``fills_of``: the position and an order's fills as booked."""

    def __init__(
        self,
        broker: Broker,
        instrument: Instrument,
        ids: ClientOrderIds,
        *,
        position: Callable[[], Position],
        fills_of: Callable[[str], Iterable[Fill]],
        emit: Callable[[EngineEvent], None],
        clock: Callable[[], int],
    ) -> None:
        self._broker = broker
        self.instrument = instrument
        self.ids = ids
        self._position = position
        self._fills_of = fills_of
        self._emit = emit
        self._clock = clock
        self._orders: dict[str, Order] = {}  # every order of this session, by client id
        self._live: dict[str, Order] = {}  # the ones not known to be finished (a superset)
        self._roles: dict[str, OrderRole] = {}
        self._commands: dict[str, str] = {}
        self._by_broker: dict[int, str] = {}
        self._by_perm: dict[int, str] = {}
        self._orphans: dict[int, list[str]] = {}  # adopted children by IB parentId, parent unseen
        self.foreign: dict[str, OrderView] = {}  # other clients' orders in this contract
        self.elsewhere: dict[str, str] = {}  # orders in other contracts: view id -> symbol
        self.lookups: set[str] = set()  # IB answered about these without a state: look up
        self.epoch = 0  # connections since start: a cancel is sent once per connection
        self._sent_at: dict[str, int] = {}  # when each order was sent (clock ns)
        self._sent_by: dict[str, int | None] = {}  # the API client id it was sent under
        self._missing: set[str] = set()  # open here and not listed at IB
        self._cancel_epoch: dict[str, int] = {}  # the connection its cancel was sent on
        self._sent_epoch: dict[str, int] = {}  # the connection it was sent on (-1: a past run)
        self._not_found: dict[str, int] = {}  # the connection IB answered its cancel 10147 on

    def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def view(self, order: Order) -> OrderView:
        cid = order.client_id
        return OrderView.of(
            order, role=self._roles.get(cid, OrderRole.PLAIN), command_id=self._commands.get(cid, ""),
            unconfirmed=self._unknown(order) or "",
        )  # fmt: skip

    def working(self) -> list[Order]:
        """This instance's orders that may still fill (PendingCancel included)."""
        return [o for o in self._live.values() if o.is_open]

    @property
    def missing(self) -> bool:
        """Whether an open order of ours is not listed at IB (it is looked for again)."""
        return bool(self._missing)

    def unconfirmed(self) -> list[tuple[Order, str]]:
        """This instance's orders whose fate IB has not confirmed yet, each with what is
        unknown in a trader's words (``SELL 5 MKT sent 8.1 s ago, not acknowledged``)."""
        now = self._clock()
        out: list[tuple[Order, str]] = []
        for order in self.working():
            what = self._unknown(order)
            if what is None:
                continue
            sent = self._sent_at.get(order.client_id)
            age = f" sent {(now - sent) / 1e9:.1f} s ago" if sent is not None else ""
            out.append((order, f"{order.side} {order.quantity} {order.order_type}{age}, {what}"))
        return out

    def _unknown(self, order: Order) -> str | None:
        """What IB has not confirmed about an open order of ours, None when nothing."""
        if not order.is_open:
            return None
        if order.client_id in self._missing:
            return "not listed at IB"
        return _NOT_CONFIRMED.get(order.status)

    def views(self) -> tuple[OrderView, ...]:
        return tuple(self.view(o) for o in self.working())

    def protected(self) -> int:
        """Contracts of the position covered by this instance's working stop orders."""
        qty = self._position().quantity
        if not qty:
            return 0
        exit_side = Side.SELL if qty > 0 else Side.BUY
        cover = sum(
            o.remaining for o in self.working() if o.side is exit_side and o.order_type.needs_stop
        )
        return min(abs(qty), cover)

    def _changed(self, order: Order) -> None:
        if not order.is_open and order.status is not OrderStatus.NEW:
            self._live.pop(order.client_id, None)  # finished: out of the hot path
            self._missing.discard(order.client_id)
        self._emit(OrderUpdated(self.view(order)))

    def _notice(self, level: str, text: str, code: int = 0) -> None:
        getattr(log, level.lower())("%s", text)
        self._emit(EngineNotice(NoticeLevel(level), text, self._clock(), code))

    def is_close(self, order: Order) -> bool:
        """Whether ``order`` is a market order closing the whole position (``CLOSE_ROLES``)."""
        return self._roles.get(order.client_id, OrderRole.PLAIN) in CLOSE_ROLES

    def cancel_sent(self, order: Order) -> bool:
        """Whether a cancel of ``order`` went to IB on this connection (IB answers it)."""
        return (
            order.status is OrderStatus.PENDING_CANCEL
            and self._cancel_epoch.get(order.client_id) == self.epoch
        )

    def _track(self, order: Order, command_id: str, role: OrderRole) -> None:
        cid = order.client_id
        self._orders[cid] = order
        self._live[cid] = order
        self._roles[cid] = role
        self._commands[cid] = command_id

    def _modification_refused(self, order: Order, reason: str) -> None:
        """The pending modification never took effect: the order keeps its old values."""
        order.modify_rejected()
        order.reject_reason = reason
        self._changed(order)

    # ---- broker answers ----------------------------------------------------------------------

    def _find(self, report_ref: str, broker_id: int, perm_id: int, client_id: int) -> Order | None:
        cid = report_ref if report_ref in self._orders else None
        if cid is None and perm_id:
            cid = self._by_perm.get(perm_id)
        # IB order ids are per API client: another client's order 7 is not our order 7
        if cid is None and broker_id and not report_ref and client_id == self._broker.client_id:
            cid = self._by_broker.get(broker_id)
        return self._orders.get(cid) if cid else None

    def on_report(self, report: OrderReport) -> None:
        order = self._find(report.order_ref, report.broker_id, report.perm_id, report.client_id)
        if order is None:
            mine = self.ids.owns(report.order_ref) and self.placed_here(report.client_id)
            if mine and report.instrument == self.instrument:
                self.adopt(report)
            else:
                self._on_foreign(report)
            return
        self._missing.discard(order.client_id)  # IB has spoken of it
        self._bind(order, report)
        changed = False
        change = order.pending_change
        if change is not None and _carries(report, change):
            order.modify_accepted()
            changed = True
        if order.pending_change is None and order.on_quantity(report.quantity):
            log.info("%s: quantity %d as the broker reports it", order.client_id, order.quantity)
            changed = True
        changed = order.on_trail(report.stop, report.trail) or changed
        if report.status is OrderStatus.REJECTED:
            changed = order.on_rejected(report.reason or "rejected by IB") or changed
        else:
            asked = self._asked_cancel(order)
            changed = order.on_status(report.status) or changed
            if changed and report.status is OrderStatus.CANCELLED and not asked:
                order.reject_reason = report.reason or "cancelled by IB"
        if changed:
            self._changed(order)

    def _asked_cancel(self, order: Order) -> bool:
        """Whether we asked IB to cancel ``order`` (a cancel IB made on its own, a day order
        expired, is said with IB's reason; ours is no news)."""
        return order.status is OrderStatus.PENDING_CANCEL or order.client_id in self._cancel_epoch

    def placed_here(self, api_client_id: int | None) -> bool:
        """Whether an order placed by API client ``api_client_id`` (None: not known) is this
        client's to cancel: IB lets no other client cancel it. Unknown either way: yes."""
        ours = self._broker.client_id
        return api_client_id is None or ours is None or api_client_id == ours

    def others(self) -> list[tuple[int | None, str]]:
        """Other clients' working orders in this contract, which this instance cannot
        cancel: the API client that placed each and the order in a trader's words."""
        return [(view.placed_by, _describe_view(view, self.instrument))
                for view in self.foreign.values()]  # fmt: skip

    def _bind(self, order: Order, report: OrderReport) -> None:
        try:
            order.bind(report.broker_id or None, report.perm_id or None)
        except DomainError as exc:  # an id reported differently: keep ours, say so
            self._notice("WARNING", f"order ids disagree: {exc}")
            return
        if report.broker_id:
            self._by_broker[report.broker_id] = order.client_id
        if report.perm_id:
            self._by_perm[report.perm_id] = order.client_id

    def other_markets(self) -> tuple[tuple[str, int], ...]:
        """The working orders in other contracts, counted by symbol."""
        counts: dict[str, int] = {}
        for symbol in self.elsewhere.values():
            counts[symbol] = counts.get(symbol, 0) + 1
        return tuple(sorted(counts.items()))

    def _on_elsewhere(self, report: OrderReport) -> None:
        key = OrderView.foreign(report).order_id
        before = self.other_markets()
        if report.status.is_terminal:
            self.elsewhere.pop(key, None)
        else:
            self.elsewhere[key] = report.symbol or f"contract {report.con_id or '?'}"
        if self.other_markets() != before:
            self._emit(OtherMarketOrders(self.other_markets()))

    def _on_foreign(self, report: OrderReport) -> None:
        if report.instrument != self.instrument:
            self._on_elsewhere(report)
            return
        view = OrderView.foreign(report)
        known = self.foreign.get(view.order_id)
        if report.status.is_terminal:
            if self.foreign.pop(view.order_id, None) is not None:
                self._emit(OrderUpdated(view))
            return
        if known != view:
            self.foreign[view.order_id] = view
            self._emit(OrderUpdated(view))

    def adopt(self, report: OrderReport) -> Order | None:
        """An order of this instance found at the broker (after a restart): track it again,
        with its bracket links (parent by IB's parentId, siblings by OCA group)."""
        try:
            order_type = OrderType(report.order_type)
        except ValueError:
            self._on_foreign(report)
            return None
        try:
            tif = TimeInForce(report.tif)
        except ValueError:
            tif = TimeInForce.DAY
        parent = self._by_broker.get(report.parent_id) if report.parent_id else None
        try:
            order = Order(
                report.order_ref, self.instrument, report.side, report.quantity, order_type,
                limit=report.limit, stop=report.stop, tif=tif, parent_id=parent,
                oca_group=report.oca_group or None, status=report.status, trail=report.trail,
            )  # fmt: skip
        except InvalidOrderError as exc:
            self._notice("WARNING", f"order {report.order_ref} at IB cannot be tracked: {exc}")
            self._on_foreign(report)
            return None
        if order.status is OrderStatus.NEW:
            order.status = OrderStatus.PENDING_SUBMIT
        role = OrderRole.PLAIN
        if report.parent_id or report.oca_group:
            role = OrderRole.STOP if order_type.needs_stop else OrderRole.TARGET
        self._track(order, "", role)
        self._bind(order, report)
        if report.parent_id and parent is None:  # IB may list a child before its parent
            self._orphans.setdefault(report.parent_id, []).append(order.client_id)
        for child in self._orphans.pop(report.broker_id, []):
            self._orders[child].parent_id = order.client_id
        self._replay_fills(order)
        self._notice("INFO", f"found own order {order.client_id} at IB: {_describe(order)}")
        self._changed(order)
        return order

    def _replay_fills(self, order: Order) -> None:
        for fill in self._fills_of(order.client_id):
            if fill.side is order.side:
                order.apply_fill(fill)

    def fill_of(self, report: ExecutionReport) -> Fill | None:
        """The domain ``Fill`` of an execution of our instrument (own or not); None for
        another instrument."""
        if report.instrument != self.instrument:
            return None
        order = self._find(report.order_ref, report.broker_id, report.perm_id, report.client_id)
        order_id = order.client_id if order is not None else (
            report.order_ref if self.ids.owns(report.order_ref) else None
        )  # fmt: skip
        return Fill(
            report.exec_id, order_id, self.instrument, report.side, report.quantity,
            report.price, report.ts_ns, perm_id=report.perm_id or None,
        )  # fmt: skip

    def on_fill(self, fill: Fill) -> None:
        """A new fill (booked once by the portfolio): count it on its order."""
        order = self._orders.get(fill.order_id) if fill.order_id else None
        if order is None:
            return
        try:
            order.apply_fill(fill)
        except DomainError as exc:
            self._notice("ERROR", f"fill {fill.exec_id} does not fit order: {exc}")
            return
        self._changed(order)

    def on_notice(self, notice: OrderNotice) -> bool:
        """What the broker said about one of our orders (see the module notes). True when the
        order's own update says it (its cancel), so the notice need not be shown as well."""
        cid = self._by_broker.get(notice.broker_id)
        order = self._orders.get(cid) if cid else None
        if order is None:
            return False
        if isinstance(notice, ModificationRefused):
            if order.pending_change is not None:
                self._modification_refused(order, f"modification refused: {notice.reason}")
                self._notice("WARNING", f"{order.client_id}: {order.reject_reason}", notice.code)
        elif isinstance(notice, CancelRejected):  # about this order only: look it up
            if notice.kind is CancelRefusal.NOT_FOUND:
                self._not_found[order.client_id] = self.epoch
            self.lookups.add(order.client_id)
        elif isinstance(notice, RequestDropped):
            self._request_dropped(order, notice.reason)
        elif isinstance(notice, OrderCancelled):
            if order.is_open:
                # the broker's word, also when ib_async no longer knows the order (sent on a
                # connection that dropped) and so drops the Cancelled status that comes with it
                if not self._asked_cancel(order):
                    order.reject_reason = notice.reason or "cancelled by IB"
                order.on_status(OrderStatus.CANCELLED)
                self._changed(order)
            return True
        elif isinstance(notice, OrderRejected) and order.status is OrderStatus.PENDING_SUBMIT:
            order.reject_reason = notice.reason
        return False

    def _request_dropped(self, order: Order, why: str) -> None:
        """IB dropped our last request about ``order`` unread: a cancel is asked again once
        IB's orders are read (:meth:`resend_cancels`; the order stays PENDING_CANCEL), a
        modification is refused (the order keeps its values), a new order was never taken
        (rejected)."""
        if order.status is OrderStatus.PENDING_CANCEL:
            self._cancel_epoch.pop(order.client_id, None)  # IB was not asked after all
            self.lookups.add(order.client_id)
            self._notice("WARNING", f"cancel of {order.client_id} dropped by IB ({why}): "
                         "asking again")  # fmt: skip
        elif order.pending_change is not None:
            self._modification_refused(order, f"modification dropped by IB: {why}")
            self._notice("WARNING", f"{order.client_id}: {order.reject_reason}")
        elif order.status is OrderStatus.PENDING_SUBMIT:
            order.on_rejected(f"dropped by IB: {why}")
            self._changed(order)

    # ---- reconciliation ----------------------------------------------------------------------

    def on_reconnect(self) -> None:
        """A new connection to IB: a cancel not confirmed on the old one is sent again
        (:meth:`resend_cancels`, after the reconciliation read IB's orders)."""
        self.epoch += 1

    def restore(self, sent: SentOrder) -> Order | None:
        """Track again an order an earlier run sent and never saw finished, as unconfirmed
        (PENDING_SUBMIT, not listed at IB) until IB says what became of it."""
        if sent.order_id in self._orders:
            return self._orders[sent.order_id]
        if not self.placed_here(sent.api_client_id):  # the console's, or a run on another id
            self._notice("INFO", f"{sent.order_id} was sent by API client {sent.api_client_id}:"
                         " only that client (or TWS) can cancel it; shown as another client's "
                         "order while IB lists it")  # fmt: skip
            return None
        try:
            order = Order(
                sent.order_id, self.instrument, sent.side, sent.quantity, sent.order_type,
                limit=sent.limit, stop=sent.stop, tif=sent.tif, trail=sent.trail,
                oca_group=sent.oca_group, status=OrderStatus.PENDING_SUBMIT, exit=sent.exit,
            )  # fmt: skip
            order.bind(sent.broker_id, sent.perm_id)
        except (InvalidOrderError, DomainError) as exc:
            self._notice("ERROR", f"journaled order {sent.order_id} cannot be tracked: {exc}")
            return None
        cid = order.client_id
        self._track(order, sent.command_id, sent.role)
        if sent.broker_id is not None:
            self._by_broker[sent.broker_id] = cid
        if sent.perm_id is not None:
            self._by_perm[sent.perm_id] = cid
        self._sent_at[cid] = sent.sent_ns
        self._sent_epoch[cid] = -1
        self._sent_by[cid] = sent.api_client_id
        self._missing.add(cid)
        self._replay_fills(order)
        self._changed(order)
        return order

    def apply_completed(self, completed: Iterable[OrderReport]) -> None:
        """IB's completed orders: each ends an order of ours still open here."""
        for report in completed:
            order = self._find(report.order_ref, report.broker_id, report.perm_id,
                               report.client_id)  # fmt: skip
            if order is not None and order.is_open and report.status.is_terminal:
                self.on_report(report)

    def settle(
        self, ends: Mapping[str, tuple[OrderStatus, str]], missing: Collection[str]
    ) -> tuple[list[Order], list[Order]]:
        """What the reconciliation decided for our working orders (``reconcile.fates``):
        ``ends`` closes each (with its status and reason), ``missing`` stay open, unconfirmed
        and are looked for again; the others IB listed. Returns (closed, still unknown)."""
        closed: list[Order] = []
        unknown: list[Order] = []
        for order in self.working():
            cid = order.client_id
            if cid in missing:
                self._missing.add(cid)
                unknown.append(order)
                continue
            self._missing.discard(cid)
            if cid not in ends:
                continue
            status, reason = ends[cid]
            order.on_status(status)
            if reason:
                order.reject_reason = reason
            closed.append(order)
            self._changed(order)
        self.lookups.clear()
        return closed, unknown

    def never_received(self, order: Order) -> bool:
        """The broker proves IB never received ``order`` (see ``Broker.never_received``)."""
        sent_by = self._sent_by.get(order.client_id)
        return (
            order.broker_id is not None
            and sent_by is not None
            and self._broker.never_received(order.broker_id, sent_by)
        )

    def not_at_ib(self, order: Order) -> bool:
        """IB answered the cancel of ``order`` 'not found' on this connection, a later one
        than it was sent on (IB had read the old connection's requests before this one's):
        when the lists read since lack it too, IB does not have it."""
        cid = order.client_id
        return (
            self._not_found.get(cid) == self.epoch
            and self._sent_epoch.get(cid, self.epoch) < self.epoch
        )

    def shown_foreign(self) -> list[str]:
        """The view ids of every order of others known here, in this contract or not."""
        return [*self.foreign, *self.elsewhere]

    def drop_foreign(self, keys: Iterable[str]) -> None:
        """Forget these orders of others (IB no longer lists them)."""
        before = self.other_markets()
        for key in keys:
            if self.elsewhere.pop(key, None) is not None:
                continue
            view = self.foreign.pop(key)
            self._emit(OrderUpdated(replace(view, status=OrderStatus.CANCELLED)))
        if self.other_markets() != before:
            self._emit(OtherMarketOrders(self.other_markets()))


def _carries(report: OrderReport, change: OrderChange) -> bool:
    """Whether IB reports the order with the values of ``change``."""
    return (
        (change.quantity is None or change.quantity == report.quantity)
        and (change.limit is None or change.limit == report.limit)
        and (change.stop is None or change.stop == report.stop)
    )


def _describe_view(view: OrderView, instrument: Instrument) -> str:
    price = view.price
    at = f" @ {instrument.format_price(price)}" if price is not None else ""
    return f"{view.side} {view.remaining} {view.order_type}{at} in {instrument.local_symbol}"


def _describe(order: Order) -> str:
    price = order.limit if order.limit is not None else order.stop
    at = f" @ {order.instrument.format_price(price)}" if price is not None else ""
    return f"{order.side} {order.quantity} {order.order_type}{at} ({order.status})"
