"""The simulated broker's order management: what IB does with an order between the API and the
exchange.

It validates (tick conformity: error 110; order types; quantities), holds orders sent with
``transmit=0`` until a sibling with ``transmit=1`` arrives, keeps bracket children inactive until
their parent fills (children of one parent are one OCA group, as at IB), applies OCA groups
(type 1 cancels the others, 2 and 3 reduce them), modifies by re-placement of the same id,
cancels (202, or 10147/10148 for unknown/finished orders), and books fills through
:class:`Books`.

Every call returns a list of *effects* for the server to turn into TWS messages, so the logic
is testable without sockets. Effects refer to the live :class:`SimOrder`; the server encodes
them before the next call.

Model notes (documented simplifications): bracket children activate when the parent is
completely filled, with their full quantity; DAY orders expire at the daily close
(:meth:`Oms.expire_day_orders`, called by the server); stop orders are native exchange stops
(status Submitted while resting). ``TRAIL`` is IB's native trailing stop: ``auxPrice`` is the
trailing amount, ``trailStopPrice`` the stop price to start from (else the venue starts it
``auxPrice`` from the last trade); the venue trails it, and every move is reported with an
openOrder carrying the current ``trailStopPrice``, as TWS does.

Kept as one module because an order's life (transmit, bracket, OCA, modify, cancel, fill) is one
state machine over the same order table; its parts change each other's orders.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from tradeterm.sim.gateway.accounts import Books, Execution, InstrumentTerms
from tradeterm.sim.market_events import BookSide
from tradeterm.sim.matching import OrderRejected

SUPPORTED_TYPES = ("MKT", "LMT", "STP", "STP LMT", "TRAIL")
STOP_TYPES = ("STP", "STP LMT")  # auxPrice is the stop price (TRAIL: the trailing amount)
TERMINAL = frozenset({"Filled", "Cancelled", "ApiCancelled", "Inactive"})


class VenueFill(Protocol):
    @property
    def key(self) -> Hashable: ...
    @property
    def price(self) -> int: ...
    @property
    def qty(self) -> int: ...
    @property
    def ts_ns(self) -> int: ...
    @property
    def liquidity(self) -> int: ...


class Venue(Protocol):
    """The exchange an order rests at (the matching engine of its instrument)."""

    def submit(
        self,
        key: Hashable,
        side: BookSide,
        qty: int,
        order_type: str,
        limit: int | None = ...,
        stop: int | None = ...,
        ts_ns: int | None = ...,
        trail: int | None = ...,
    ) -> Sequence[VenueFill]: ...

    def stop_of(self, key: Hashable) -> int | None: ...

    def drain_trail_moves(self) -> list[tuple[Hashable, int]]: ...

    def cancel(self, key: Hashable) -> bool: ...

    def modify(
        self,
        key: Hashable,
        qty: int | None = ...,
        limit: int | None = ...,
        stop: int | None = ...,
        ts_ns: int | None = ...,
        trail: int | None = ...,
    ) -> Sequence[VenueFill]: ...


@dataclass(slots=True)
class OrderRequest:
    """What a client's placeOrder asked for (prices as sent, floats or None)."""

    order_id: int
    client_id: int
    account: str
    action: str  # BUY | SELL
    total_qty: int
    order_type: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    oca_group: str = ""
    oca_type: int = 0
    parent_id: int = 0
    transmit: bool = True
    order_ref: str = ""
    outside_rth: bool = False
    trail_stop_price: float | None = None  # TRAIL: the stop price to start from


@dataclass(slots=True)
class SimOrder:
    req: OrderRequest
    perm_id: int
    terms: InstrumentTerms
    lmt_ticks: int | None
    aux_ticks: int | None
    trail_stop_ticks: int | None = None  # TRAIL: its stop price now (the venue trails it)
    status: str = "PendingSubmit"
    filled: int = 0
    fill_value_ticks: int = 0  # sum of qty x price ticks, for the exact average
    last_fill_ticks: int | None = None
    at_venue: bool = False
    children: list[SimOrder] = field(default_factory=list)
    completed_ns: int = 0
    cancel_pending: bool = False  # TWS has a cancel the exchange has not answered yet

    @property
    def shown_status(self) -> str:
        """The status TWS reports: PendingCancel while a cancel awaits the exchange."""
        return "PendingCancel" if self.cancel_pending and not self.done else self.status

    @property
    def order_id(self) -> int:
        return self.req.order_id

    @property
    def client_id(self) -> int:
        return self.req.client_id

    @property
    def remaining(self) -> int:
        return 0 if self.status in TERMINAL else self.req.total_qty - self.filled

    @property
    def is_buy(self) -> bool:
        return self.req.action == "BUY"

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def avg_fill_price(self) -> Decimal:
        if not self.filled:
            return Decimal(0)
        return Decimal(self.fill_value_ticks) / self.filled * self.terms.tick

    def price(self, ticks: int | None) -> Decimal | None:
        return None if ticks is None else ticks * self.terms.tick


@dataclass(slots=True, frozen=True)
class OrderChanged:
    """Send orderStatus (and openOrder first when ``open_order``) with the order's state as it
    was when the change happened (later changes in the same call must not overwrite it)."""

    order: SimOrder
    status: str
    filled: int
    remaining: int
    avg_fill_price: Decimal
    last_fill_price: Decimal | None
    open_order: bool = True

    @classmethod
    def of(cls, order: SimOrder, open_order: bool = True) -> OrderChanged:
        return cls(
            order,
            order.shown_status,
            order.filled,
            order.remaining,
            order.avg_fill_price(),
            order.price(order.last_fill_ticks),
            open_order,
        )


@dataclass(slots=True, frozen=True)
class Executed:
    order: SimOrder
    execution: Execution


@dataclass(slots=True, frozen=True)
class OrderError:
    client_id: int
    order_id: int
    code: int
    text: str


Effect = OrderChanged | Executed | OrderError


def to_ticks(price: float, tick: Decimal) -> int | None:
    """Exact ticks of ``price``, or None when it is not a whole number of ticks."""
    ratio = Decimal(repr(price)) / tick
    whole = ratio.to_integral_value()
    return int(whole) if ratio == whole else None


class Oms:
    def __init__(self, books: Books, venues: Mapping[int, Venue]) -> None:
        self.books = books
        self.venues = venues  # by conId
        self.orders: dict[tuple[int, int], SimOrder] = {}  # (clientId, orderId)
        self.by_perm: dict[int, SimOrder] = {}
        self._held: dict[tuple[int, int], SimOrder] = {}  # transmit=0, waiting for a sibling
        self._accepted: set[tuple[int, int]] = set()  # listed, not yet sent to the exchange
        self._perm_ids = itertools.count(1_000_001)
        self.reject_next: str | None = None  # fault injection: reason for the next rejection

    # ---- placing ----------------------------------------------------------------------------

    def place(self, req: OrderRequest, terms: InstrumentTerms, now_ns: int) -> list[Effect]:
        key = (req.client_id, req.order_id)
        existing = self.orders.get(key) or self._held.get(key)
        if existing is not None and key in self._accepted:
            self._accepted.discard(key)  # listed on receipt: the exchange step comes now
            return [] if existing.done else self._transmit(existing, now_ns)
        if existing is not None:
            if existing.done:
                return [self._err(req, 103, f"Duplicate order id {req.order_id}")]
            return self._modify(existing, req, now_ns)
        made = self._new(req, terms)
        if not isinstance(made, SimOrder):
            return [made]
        order = made
        if req.parent_id:
            parent = self.orders.get((req.client_id, req.parent_id)) or self._held.get(
                (req.client_id, req.parent_id)
            )
            if parent is None or parent.done:
                return [self._err(req, 201, "Order rejected - reason:Parent order is not active")]
            parent.children.append(order)
        if not req.transmit:
            self._held[key] = order
            return []
        return self._transmit(order, now_ns)

    def accept(self, req: OrderRequest, terms: InstrumentTerms) -> list[Effect]:
        """TWS has read a placeOrder whose exchange answer is delayed (the ``delay`` fault): a
        new, transmitted, stand-alone order is listed at once as PendingSubmit, as TWS lists
        it; :meth:`place` later sends it to the exchange. Anything else (a modification, a
        bracket leg, an order that will be refused) waits for :meth:`place` unseen."""
        key = (req.client_id, req.order_id)
        if key in self.orders or key in self._held or not req.transmit or req.parent_id:
            return []
        if self.reject_next is not None:
            return []
        made = self._new(req, terms)
        if not isinstance(made, SimOrder):
            return []
        self.orders[key] = made
        self.by_perm[made.perm_id] = made
        self._accepted.add(key)
        return [OrderChanged.of(made)]

    def _new(self, req: OrderRequest, terms: InstrumentTerms) -> SimOrder | OrderError:
        """A new order from ``req``, or the error that refuses it."""
        problem = self._validate(req)
        if problem is not None:
            return self._err(req, *problem)
        lmt = aux = None
        if req.order_type in ("LMT", "STP LMT"):
            lmt = to_ticks(req.lmt_price or 0.0, terms.tick)
        if req.order_type in (*STOP_TYPES, "TRAIL"):
            aux = to_ticks(req.aux_price or 0.0, terms.tick)
        trail_stop = None
        if req.order_type == "TRAIL" and req.trail_stop_price is not None:
            trail_stop = to_ticks(req.trail_stop_price, terms.tick)
            if trail_stop is None:
                return self._err(req, 110, _TEXT_110)
        if (req.order_type in ("LMT", "STP LMT") and lmt is None) or (
            req.order_type in (*STOP_TYPES, "TRAIL") and aux is None
        ):
            return self._err(req, 110, _TEXT_110)
        if self.reject_next is not None:
            reason, self.reject_next = self.reject_next, None
            return self._err(req, 201, f"Order rejected - reason:{reason}")
        return SimOrder(req, next(self._perm_ids), terms, lmt, aux, trail_stop)

    def _validate(self, req: OrderRequest) -> tuple[int, str] | None:
        if req.order_type not in SUPPORTED_TYPES:
            return 387, f"Unsupported order type {req.order_type!r} in the simulator"
        if req.action not in ("BUY", "SELL"):
            return 321, f"Error validating request.-'action' : invalid action {req.action!r}"
        if req.total_qty <= 0:
            return 321, "Error validating request.-'totalQuantity' : must be positive"
        if req.tif not in ("DAY", "GTC"):
            return 321, f"Error validating request.-'tif' : {req.tif!r} not supported by simulator"
        if req.order_type in ("LMT", "STP LMT") and req.lmt_price is None:
            return 321, "Error validating request.-'lmtPrice' : missing limit price"
        if req.order_type in ("STP", "STP LMT") and req.aux_price is None:
            return 321, "Error validating request.-'auxPrice' : missing stop price"
        if req.order_type == "TRAIL" and not (req.aux_price or 0) > 0:
            return 321, "Error validating request.-'auxPrice' : missing trailing amount"
        return None

    def _transmit(self, order: SimOrder, now_ns: int) -> list[Effect]:
        """Transmit ``order`` together with every held member of its bracket family."""
        root = order
        while root.req.parent_id:
            parent = self.orders.get((root.client_id, root.req.parent_id)) or self._held.get(
                (root.client_id, root.req.parent_id)
            )
            if parent is None:
                break
            root = parent
        effects: list[Effect] = []
        for member in _family(root):
            key = (member.client_id, member.order_id)
            if member is order or key in self._held:
                self._held.pop(key, None)
                self.orders[key] = member
                self.by_perm[member.perm_id] = member
                member.status = "PreSubmitted"
                effects.append(OrderChanged.of(member))
        for member in _family(root):
            if (
                member.status == "PreSubmitted"
                and not member.at_venue
                and _parent_filled(self, member)
            ):
                effects += self._to_venue(member, now_ns)
        return effects

    def _to_venue(self, order: SimOrder, now_ns: int) -> list[Effect]:
        venue = self.venues[order.terms.con_id]
        side = BookSide.BID if order.is_buy else BookSide.ASK
        stop, trail = _stop_and_trail(order)
        try:
            fills = list(
                venue.submit(
                    order.perm_id,
                    side,
                    order.req.total_qty - order.filled,
                    order.req.order_type,
                    order.lmt_ticks,
                    stop,
                    now_ns,
                    trail=trail,
                )
            )
        except OrderRejected as exc:  # e.g. a market order before any price exists
            order.status = "Inactive"
            order.completed_ns = now_ns
            text = f"Order rejected - reason:{exc}"
            return [OrderError(order.client_id, order.order_id, 201, text), OrderChanged.of(order)]
        order.at_venue = True
        if trail is not None:
            order.trail_stop_ticks = venue.stop_of(order.perm_id)
        effects: list[Effect] = []
        if not fills or sum(f.qty for f in fills) < order.remaining:
            order.status = "Submitted"
            effects.append(OrderChanged.of(order))
        effects += self.on_fills(fills)
        return effects

    # ---- modify / cancel --------------------------------------------------------------------

    def _modify(self, order: SimOrder, req: OrderRequest, now_ns: int) -> list[Effect]:
        terms = order.terms
        if req.oca_group != order.req.oca_group:
            return [self._err(req, 10326, "OCA group revision is not allowed")]
        if req.order_type != order.req.order_type or req.action != order.req.action:
            return [self._err(req, 321, "Error validating request.-cannot change type or side")]
        lmt = to_ticks(req.lmt_price, terms.tick) if req.lmt_price is not None else None
        aux = to_ticks(req.aux_price, terms.tick) if req.aux_price is not None else None
        if (req.lmt_price is not None and lmt is None) or (
            req.aux_price is not None and aux is None
        ):
            return [self._err(req, 110, _TEXT_110)]
        if req.total_qty <= order.filled:
            return [self._err(req, 321, "Error validating request.-quantity below filled")]
        trail_stop = None
        if req.order_type == "TRAIL" and req.trail_stop_price is not None:
            trail_stop = to_ticks(req.trail_stop_price, terms.tick)
            if trail_stop is None:
                return [self._err(req, 110, _TEXT_110)]
            order.trail_stop_ticks = trail_stop
            order.req.trail_stop_price = req.trail_stop_price
        order.req.total_qty = req.total_qty
        order.req.tif = req.tif
        order.req.order_ref = req.order_ref or order.req.order_ref
        order.lmt_ticks = lmt if lmt is not None else order.lmt_ticks
        order.aux_ticks = aux if aux is not None else order.aux_ticks
        order.req.lmt_price = req.lmt_price if req.lmt_price is not None else order.req.lmt_price
        order.req.aux_price = req.aux_price if req.aux_price is not None else order.req.aux_price
        key = (order.client_id, order.order_id)
        if key in self._held:
            return [] if not req.transmit else self._transmit(order, now_ns)
        effects: list[Effect] = [OrderChanged.of(order)]
        if order.at_venue:
            venue = self.venues[terms.con_id]
            stop, trail = _stop_and_trail(order)
            effects += self.on_fills(
                list(
                    venue.modify(
                        order.perm_id,
                        order.req.total_qty - order.filled,
                        order.lmt_ticks,
                        stop if trail is None else trail_stop,
                        now_ns,
                        trail=trail,
                    )
                )
            )
        return effects

    def cancel(self, client_id: int, order_id: int, now_ns: int) -> list[Effect]:
        key = (client_id, order_id)
        held = self._held.get(key)
        if held is not None:
            return self._cancel_held(held, now_ns)
        order = self.orders.get(key)
        if order is None:
            text = f"OrderId {order_id} that needs to be cancelled is not found."
            return [OrderError(client_id, order_id, 10147, text)]
        if order.done:
            text = (
                f"OrderId {order_id} that needs to be cancelled cannot be cancelled, "
                f"state: {order.status}."
            )
            return [OrderError(client_id, order_id, 10148, text)]
        return self._cancel(order, now_ns, "")

    def accept_cancel(self, client_id: int, order_id: int) -> list[Effect]:
        """TWS has read a cancelOrder whose exchange answer is delayed: a working order is
        reported PendingCancel at once (it can still fill until :meth:`cancel` runs)."""
        order = self.orders.get((client_id, order_id))
        if order is None or order.done or order.cancel_pending:
            return []
        order.cancel_pending = True
        return [OrderChanged.of(order, open_order=False)]

    def _cancel_held(self, order: SimOrder, now_ns: int) -> list[Effect]:
        """Cancel an order that was never transmitted (and its held children): the client
        still needs 202 + Cancelled to end it."""
        self._held.pop((order.client_id, order.order_id), None)
        order.status = "Cancelled"
        order.completed_ns = now_ns
        effects: list[Effect] = [
            OrderError(order.client_id, order.order_id, 202, "Order Canceled - reason:"),
            OrderChanged.of(order, open_order=False),
        ]
        for child in order.children:
            if (child.client_id, child.order_id) in self._held:
                effects += self._cancel_held(child, now_ns)
        return effects

    def _cancel(self, order: SimOrder, now_ns: int, reason: str) -> list[Effect]:
        if order.at_venue:
            self.venues[order.terms.con_id].cancel(order.perm_id)
            order.at_venue = False
        order.status = "Cancelled"
        order.completed_ns = now_ns
        effects: list[Effect] = [
            OrderError(order.client_id, order.order_id, 202, f"Order Canceled - reason:{reason}"),
            OrderChanged.of(order, open_order=False),
        ]
        for child in order.children:  # children never live without their parent
            if not child.done:
                effects += self._cancel(child, now_ns, "parent cancelled")
        return effects

    def global_cancel(self, now_ns: int) -> list[Effect]:
        effects: list[Effect] = []
        for order in list(self.orders.values()):
            if not order.done:
                effects += self._cancel(order, now_ns, "global cancel")
        self._held.clear()
        return effects

    def expire_day_orders(self, now_ns: int) -> list[Effect]:
        effects: list[Effect] = []
        for order in list(self.orders.values()):
            if not order.done and order.req.tif == "DAY":
                effects += self._cancel(order, now_ns, "day order expired")
        return effects

    # ---- fills ------------------------------------------------------------------------------

    def on_fills(self, fills: Iterable[VenueFill]) -> list[Effect]:
        effects: list[Effect] = []
        for fill in fills:
            perm = fill.key
            order = self.by_perm.get(perm) if isinstance(perm, int) else None
            if order is None or order.done:
                continue
            qty = min(fill.qty, order.remaining)
            if qty <= 0:
                continue
            order.filled += qty
            order.fill_value_ticks += qty * fill.price
            order.last_fill_ticks = fill.price
            execution = self.books.book_fill(
                account=order.req.account,
                con_id=order.terms.con_id,
                order_id=order.order_id,
                client_id=order.client_id,
                perm_id=order.perm_id,
                buy=order.is_buy,
                qty=qty,
                price_ticks=fill.price,
                time_ns=fill.ts_ns,
                cum_qty=order.filled,
                avg_price=order.avg_fill_price(),
                order_ref=order.req.order_ref,
                liquidity=fill.liquidity,
            )
            if order.filled >= order.req.total_qty:
                order.status = "Filled"
                order.completed_ns = fill.ts_ns
                order.at_venue = False
            else:
                order.status = "Submitted"
            effects.append(Executed(order, execution))
            effects.append(OrderChanged.of(order, open_order=order.status == "Filled"))
            effects += self._after_fill(order, qty, fill.ts_ns)
        return effects + self.trail_moves()

    def trail_moves(self) -> list[Effect]:
        """Trailing stops the venues moved: each reported with an openOrder carrying its
        ``trailStopPrice`` now, as TWS reports them."""
        effects: list[Effect] = []
        for con_id in list(self.venues):
            for perm, stop in self.venues[con_id].drain_trail_moves():
                order = self.by_perm.get(perm) if isinstance(perm, int) else None
                if order is None or order.done or order.trail_stop_ticks == stop:
                    continue
                order.trail_stop_ticks = stop
                effects.append(OrderChanged.of(order))
        return effects

    def _after_fill(self, order: SimOrder, qty: int, now_ns: int) -> list[Effect]:
        effects: list[Effect] = []
        for sibling, oca_type in self._oca_siblings(order):
            if sibling.done:
                continue
            if oca_type == 1 or sibling.req.total_qty - sibling.filled <= qty:
                effects += self._cancel(sibling, now_ns, "OCA group")
            else:  # types 2 and 3 reduce the others by the filled quantity
                sibling.req.total_qty -= qty
                effects.append(OrderChanged.of(sibling))
                if sibling.at_venue:
                    self.venues[sibling.terms.con_id].modify(
                        sibling.perm_id, sibling.remaining, None, None, now_ns
                    )
        if order.status == "Filled":
            for child in order.children:
                if child.status == "PreSubmitted" and not child.at_venue:
                    effects += self._to_venue(child, now_ns)
        return effects

    def _oca_siblings(self, order: SimOrder) -> list[tuple[SimOrder, int]]:
        out: list[tuple[SimOrder, int]] = []
        if order.req.oca_group:
            out += [
                (o, order.req.oca_type or 1)
                for o in self.orders.values()
                if o is not order
                and o.req.oca_group == order.req.oca_group
                and o.req.account == order.req.account
            ]
        if order.req.parent_id:  # bracket children form an implicit OCA group at IB
            parent = self.orders.get((order.client_id, order.req.parent_id))
            if parent is not None:
                out += [(c, 1) for c in parent.children if c is not order and (c, 1) not in out]
        return out

    # ---- queries ----------------------------------------------------------------------------

    def working(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if not o.done]

    def completed(self) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.done]

    @staticmethod
    def _err(req: OrderRequest, code: int, text: str) -> OrderError:
        return OrderError(req.client_id, req.order_id, code, text)


_TEXT_110 = "The price does not conform to the minimum price variation for this contract."


def _stop_and_trail(order: SimOrder) -> tuple[int | None, int | None]:
    """The stop price and trailing amount the venue takes for ``order`` (ticks)."""
    if order.req.order_type == "TRAIL":
        return order.trail_stop_ticks, order.aux_ticks
    return order.aux_ticks, None


def _family(root: SimOrder) -> list[SimOrder]:
    out = [root]
    for child in root.children:
        out += _family(child)
    return out


def _parent_filled(oms: Oms, order: SimOrder) -> bool:
    if not order.req.parent_id:
        return True
    parent = oms.orders.get((order.client_id, order.req.parent_id))
    return parent is not None and parent.status == "Filled"
