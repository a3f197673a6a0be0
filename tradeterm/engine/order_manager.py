"""The order manager: this instance's orders, from command to the last fill.

* Every order carries its client order id in IB's ``orderRef`` (``tt.<instance>.<session>.<seq>``),
  so a restarted instance recognises its own orders, and cancel-all / flatten touch only
  those: never another instance's, another client's or a manual TWS order (those are kept as
  read-only ``foreign`` views). The account-wide global cancel is a separate command.
* Every price is rounded to the instrument's tick on the safe side before it is sent.
* The client-side state machine is :class:`~tradeterm.domain.Order`'s; it mirrors IB's
  statuses, and PendingCancel is not terminal: a fill can still arrive and is booked.
* A modification is confirmed when IB reports the order with the new values, and refused when
  IB answers the order id with an error (the order keeps its old values).
* An order we sent is **unconfirmed** until IB positively finishes it: a Filled, Cancelled or
  Inactive status, a rejection (an error for its id), its fills adding up, or proof that IB
  never received it (its id is at or above the next id IB offered on a later connection) or
  does not have it (sent on an earlier connection, in none of IB's lists, and its cancel
  answered "not found", 10147: what cancelling an unconfirmed order from a killed run does).
  An order that an open-order list lacks is never closed for that: it stays open, counts as
  working for every risk and kill decision, and is looked for again (open orders, completed
  orders, executions). IB's refusal of a cancel (10147/10148/161) is information about that
  one order: it is looked up, nothing else.
* A cancel is sent once per connection: repeating it only earns IB's "cannot be cancelled".
  One that could not be sent (disconnected), was not answered before the connection dropped,
  or was dropped by IB unread (pacing, error 100), is sent again once IB's orders are read.
* New entries (orders that could grow the position) are refused while ``blocked`` says why:
  connecting, reconciling, disconnected. Orders that only reduce the position and cancels are
  always allowed. ``checks`` are further pre-trade checks (the risk manager's).

Over 500 lines because an order's life, from command to last fill, is one state machine over
shared indexes (by client id, IB id, permId); IB's notices about orders are the seam to split
once the broker port reports them in trading terms.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from tradeterm.broker.port import (
    CONNECTED,
    Broker,
    BrokerError,
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
    Fill,
    Instrument,
    InvalidOrderError,
    InvalidTransitionError,
    Order,
    OrderChange,
    OrderStatus,
    OrderType,
    Position,
    Rounding,
    Side,
    TimeInForce,
    make_bracket,
)
from tradeterm.engine.commands import (
    ModifyOrder,
    NotSent,
    PlaceBracket,
    PlaceOrder,
    Price,
    Refused,
)
from tradeterm.engine.events import EngineEvent, EngineNotice, OrderUpdated, OrderView
from tradeterm.engine.types import OrderRole

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """What a pre-trade check sees: one order about to be sent."""

    side: Side
    quantity: int
    order_type: OrderType
    limit: int | None
    stop: int | None
    entry: bool  # it could grow the position
    source: str
    resting: bool = False  # it must rest: refused if it would trade or trigger at once


PreTradeCheck = Callable[[OrderIntent], str | None]  # a refusal reason, or None
BeforeSend = Callable[[Order, str, OrderRole], Awaitable[None]]
"""Awaited with (order, command id, role) before an order goes to the broker (the journal
commits the intent); when it raises, the order is not sent."""
BRACKET_ROLES = frozenset({OrderRole.ENTRY, OrderRole.TARGET, OrderRole.STOP})
CLOSE_ROLES = frozenset({OrderRole.KILL, OrderRole.FLATTEN})
"""Market orders closing the whole position: the kill switch waits for one in flight instead
of cancelling it (cancelling a slow close only means sending another)."""
ESSENTIAL_ROLES = frozenset({OrderRole.KILL})
"""Roles sent even when ``before_send`` fails: the kill switch's flatten must never be held
back by a journal that cannot write."""
_NOT_CONFIRMED = {
    OrderStatus.PENDING_SUBMIT: "not acknowledged",
    OrderStatus.PENDING_CANCEL: "cancel not confirmed",
    OrderStatus.PENDING_MODIFY: "change not confirmed",
}
"""What an open order's status says IB has not confirmed yet."""


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


class OrderManager:
    """The orders of one instrument and one instance (see the module notes)."""

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
        checks: Iterable[PreTradeCheck] = (),
        price_check: PreTradeCheck | None = None,
        before_send: BeforeSend | None = None,
        on_action: Callable[[], None] | None = None,
        blocked: str | None = "not started",
    ) -> None:
        """``checks``: further pre-trade checks (the risk manager's); ``price_check``: for a
        modification's new price; ``before_send``: awaited before an order is sent (the
        journal); ``on_action``: told of each order message sent to IB; ``blocked``: why new
        entries are refused at first (None: allowed)."""
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
        self.foreign: dict[str, OrderView] = {}
        self.blocked = blocked
        self._checks = tuple(checks)
        self._price_check = price_check
        self._before_send = before_send
        self._on_action = on_action
        self.lookups: set[str] = set()  # IB answered about these without a state: look up
        self.epoch = 0  # connections since start: a cancel is sent once per connection
        self._sent_at: dict[str, int] = {}  # when each order was sent (clock ns)
        self._sent_by: dict[str, int | None] = {}  # the API client id it was sent under
        self._missing: set[str] = set()  # open here and not listed at IB
        self._cancel_epoch: dict[str, int] = {}  # the connection its cancel was sent on
        self._sent_epoch: dict[str, int] = {}  # the connection it was sent on (-1: a past run)
        self._not_found: dict[str, int] = {}  # the connection IB answered its cancel 10147 on
        self._placing: set[str] = set()  # being journaled: not at the broker yet

    # ---- views -------------------------------------------------------------------------------

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
            o.remaining
            for o in self.working()
            if o.side is exit_side and o.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
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

    # ---- prices ------------------------------------------------------------------------------

    def ticks(self, price: Price, side: Side) -> int:
        """``price`` on the tick, rounded so the order is never worse for us than asked. A
        price that is not a finite number, or not above zero once on the tick, is refused."""
        try:
            ticks = self.instrument.to_ticks(price, Rounding.passive(side))
        except (DomainError, ValueError, ArithmeticError):
            raise Refused(f"not a price: {price!r}") from None
        return _above_zero(ticks, f"price {price}")

    # ---- checks ------------------------------------------------------------------------------

    def is_entry(self, side: Side, quantity: int) -> bool:
        """Whether an order could grow (or flip) the position, counting the orders already
        working on the same side as if they filled."""
        position = self._position()
        same_side = sum(o.remaining for o in self.working() if o.side is side)
        return not position.reduces(side, quantity + same_side)

    def _check_bracket_entry(self, side: Side, quantity: int) -> None:
        """A bracket is an entry: its entry must open or grow a position on its side. If it
        met a position on the other side it would close it and leave its exits working on a
        flat book. So it is refused while the position is on the other side, or could be once
        the working orders on the other side fill (bracket exits aside: they only close)."""
        held = self._position().quantity
        against = sum(
            o.remaining for o in self.working() if o.side is not side and o.parent_id is None
        )
        worst = held - side.sign * against
        if worst * side.sign >= 0:
            return
        what = f"a bracket is an entry: {side} {quantity}"
        if held * side.sign < 0:
            raise Refused(
                f"{what} would reduce the {_held(held)} position (use flatten or a plain order "
                "to exit)"
            )
        raise Refused(
            f"{what} could reduce the {_held(worst)} that the working {side.opposite} "
            f"order(s) for {against} would make (let them fill first, or cancel them)"
        )

    def _check(self, intent: OrderIntent) -> None:
        if intent.quantity <= 0:
            raise Refused(f"quantity must be positive, got {intent.quantity}")
        if intent.entry and self.blocked:
            raise Refused(f"new entries are blocked: {self.blocked}")
        for check in self._checks:
            reason = check(intent)
            if reason:
                raise Refused(reason)

    # ---- commands ----------------------------------------------------------------------------

    async def place(self, cmd: PlaceOrder, command_id: str) -> tuple[str, ...]:
        side = cmd.side
        limit = self.ticks(cmd.limit, side) if cmd.limit is not None else None
        stop = self.ticks(cmd.stop, side) if cmd.stop is not None else None
        intent = OrderIntent(
            side, cmd.quantity, cmd.order_type, limit, stop,
            self.is_entry(side, cmd.quantity), cmd.source, cmd.resting,
        )  # fmt: skip
        self._check(intent)
        try:
            order = Order(
                self.ids.next(), self.instrument, side, cmd.quantity, cmd.order_type,
                limit=limit, stop=stop, tif=cmd.tif,
            )  # fmt: skip
        except InvalidOrderError as exc:
            raise Refused(str(exc)) from None
        await self._send(order, command_id, role=OrderRole.PLAIN)
        return (order.client_id,)

    async def place_bracket(
        self, cmd: PlaceBracket, command_id: str, reference: int | None
    ) -> tuple[str, ...]:
        side = cmd.side
        entry_limit = self.ticks(cmd.entry_limit, side) if cmd.entry_limit is not None else None
        basis = entry_limit if entry_limit is not None else reference
        if basis is None:
            raise Refused("no price yet to place the bracket's stop and target from")
        if cmd.stop_ticks <= 0 or (cmd.target_ticks is not None and cmd.target_ticks <= 0):
            raise Refused("bracket stop and target distances must be positive ticks")
        stop_loss = _above_zero(basis - side.sign * cmd.stop_ticks, "the bracket's stop price")
        target = None
        if cmd.target_ticks is not None:
            target = _above_zero(basis + side.sign * cmd.target_ticks, "the bracket's target")
        self._check_bracket_entry(side, cmd.quantity)
        order_type = OrderType.LIMIT if entry_limit is not None else OrderType.MARKET
        intent = OrderIntent(
            side, cmd.quantity, order_type, entry_limit, None,
            self.is_entry(side, cmd.quantity), cmd.source, cmd.resting,
        )  # fmt: skip
        self._check(intent)
        try:
            bracket = make_bracket(
                self.ids, self.instrument, side, cmd.quantity, stop_loss=stop_loss,
                take_profit=target, entry_limit=entry_limit, reference=basis,
            )  # fmt: skip
        except InvalidOrderError as exc:
            raise Refused(str(exc)) from None
        legs = bracket.orders
        roles = {
            bracket.entry.client_id: OrderRole.ENTRY,
            bracket.stop_loss.client_id: OrderRole.STOP,
        }
        if bracket.take_profit is not None:
            roles[bracket.take_profit.client_id] = OrderRole.TARGET
        parent_broker_id: int | None = None
        for i, leg in enumerate(legs):
            last = i == len(legs) - 1
            await self._send(
                leg, command_id, role=roles[leg.client_id], transmit=last,
                parent_broker_id=parent_broker_id,
            )  # fmt: skip
            if leg.status is OrderStatus.REJECTED:  # not sent: stop here, drop the rest
                for rest in legs[i + 1 :]:
                    rest.request_cancel()
                    self._track(rest, command_id, roles[rest.client_id])
                    self._changed(rest)
                if i:  # legs already sent untransmitted: cancel them at IB
                    for sent in legs[:i]:
                        await self._cancel(sent)
                raise Refused(leg.reject_reason or "bracket not sent")
            if i == 0:
                parent_broker_id = leg.broker_id
        return tuple(leg.client_id for leg in legs)

    def _track(self, order: Order, command_id: str, role: OrderRole) -> None:
        cid = order.client_id
        self._orders[cid] = order
        self._live[cid] = order
        self._roles[cid] = role
        self._commands[cid] = command_id

    async def _send(self, order: Order, command_id: str, *, role: OrderRole, transmit: bool = True,
                    parent_broker_id: int | None = None) -> None:  # fmt: skip
        self._track(order, command_id, role)
        order.submit()
        try:  # the id first, so the journal knows what IB will know the order as
            order.bind(broker_id=self._broker.reserve_order_id())
        except BrokerError as exc:
            self._not_sent(order, role, f"not sent: {exc}", f"not sent: {exc}", NotSent)
            return
        cid = order.client_id
        assert order.broker_id is not None
        self._by_broker[order.broker_id] = cid
        self._sent_by[cid] = self._broker.client_id
        self._placing.add(cid)
        try:
            await self._journal_then_place(order, command_id, role, transmit, parent_broker_id)
        finally:
            self._placing.discard(cid)

    async def _journal_then_place(self, order: Order, command_id: str, role: OrderRole,
                                  transmit: bool, parent_broker_id: int | None) -> None:  # fmt: skip
        cid = order.client_id
        if self._before_send is not None:
            try:
                await self._before_send(order, command_id, role)
            except Exception as exc:
                if role not in ESSENTIAL_ROLES:
                    self._not_sent(
                        order, role, f"not journaled: {exc}",
                        f"not sent: the journal could not record it ({exc})",
                    )  # fmt: skip
                    return
                self._notice("ERROR", f"journal failed for {role} order, sent anyway: {exc}")
        if order.status is not OrderStatus.PENDING_SUBMIT:  # cancelled while being journaled
            why = "never sent: cancelled before it left (kill switch or cancel all)"
            self._not_sent(order, role, why, why)
            return
        try:
            broker_id = await self._broker.place(
                order, order.client_id, transmit=transmit, parent_broker_id=parent_broker_id
            )
        except BrokerError as exc:
            self._not_sent(order, role, f"not sent: {exc}", f"not sent: {exc}", NotSent)
            return
        self._acted()
        self._sent_at[cid] = self._clock()
        self._sent_epoch[cid] = self.epoch
        order.bind(broker_id=broker_id)  # the id reserved in _send: any other raises
        self._changed(order)

    def _not_sent(self, order: Order, role: OrderRole, reason: str, refusal: str,
                  error: type[Refused] = Refused) -> None:  # fmt: skip
        """``order`` never reached the broker: rejected with ``reason``. A bracket leg returns
        (the caller undoes the bracket); any other order is refused with ``refusal``
        (``error``: :class:`NotSent` when the broker could not take it)."""
        self._never_sent(order, reason)
        if role not in BRACKET_ROLES:
            raise error(refusal)

    def _never_sent(self, order: Order, reason: str) -> None:
        order.on_rejected(reason)
        self._changed(order)

    def drop_unsent(self, why: str) -> list[Order]:
        """Drop this instance's order messages still queued to be sent (``Broker.drop_unsent``):
        a new order is rejected as "never sent: ``why``" (and journaled as such, like any order
        that never reached the broker); a modification is refused, the order keeps its old
        values. Cancels are never dropped. Returns the orders that were never sent."""
        unsent = self._broker.drop_unsent()
        dropped: list[Order] = []
        for broker_id in unsent.orders:
            order = self._orders.get(self._by_broker.get(broker_id, ""))
            if order is not None and not order.is_terminal:
                self._never_sent(order, f"never sent: {why}")
                dropped.append(order)
        for broker_id in unsent.changes:
            order = self._orders.get(self._by_broker.get(broker_id, ""))
            if order is not None and order.pending_change is not None:
                self._modification_refused(order, f"modification never sent: {why}")
        if dropped:
            names = ", ".join(o.client_id for o in dropped)
            self._notice("WARNING", f"{len(dropped)} order(s) never sent ({why}): {names}")
        return dropped

    def _modification_refused(self, order: Order, reason: str) -> None:
        """The pending modification never took effect: the order keeps its old values."""
        order.modify_rejected()
        order.reject_reason = reason
        self._changed(order)

    def _acted(self) -> None:
        if self._on_action is not None:
            self._on_action()

    def _own(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise Refused(f"no order {order_id} of this instance")
        return order

    async def modify(self, cmd: ModifyOrder) -> tuple[str, ...]:
        order = self._own(cmd.order_id)
        side = order.side
        limit = self.ticks(cmd.limit, side) if cmd.limit is not None else None
        stop = self.ticks(cmd.stop, side) if cmd.stop is not None else None
        try:
            change = OrderChange(cmd.quantity, limit, stop)
        except InvalidOrderError as exc:
            raise Refused(str(exc)) from None
        if cmd.quantity is not None and cmd.quantity > order.quantity:
            extra = cmd.quantity - order.quantity
            intent = OrderIntent(
                side, extra, order.order_type, limit or order.limit, stop or order.stop,
                self.is_entry(side, extra), "manual",
            )  # fmt: skip
            self._check(intent)
        if (limit is not None or stop is not None) and self._price_check is not None:
            moved = OrderIntent(
                side, order.remaining, order.order_type,
                limit if limit is not None else order.limit,
                stop if stop is not None else order.stop,
                self.is_entry(side, 0), "manual",
            )  # fmt: skip
            refusal = self._price_check(moved)
            if refusal:
                raise Refused(refusal)
        try:
            order.request_modify(change)
        except (InvalidTransitionError, InvalidOrderError) as exc:
            raise Refused(str(exc)) from None
        try:
            await self._broker.modify(order, change, order.client_id)
        except BrokerError as exc:
            order.modify_rejected()
            self._changed(order)
            raise Refused(f"modification not sent: {exc}") from None
        self._acted()
        self._changed(order)
        return (order.client_id,)

    async def cancel(self, order_id: str) -> tuple[str, ...]:
        order = self._own(order_id)
        if order.is_terminal:
            raise Refused(f"order {order_id} is already {order.status.lower()}")
        await self._cancel(order)
        return (order.client_id,)

    async def _cancel(self, order: Order) -> None:
        cid = order.client_id
        if self.cancel_sent(order):
            return  # asked on this connection already: IB answers it (a repeat earns 10148)
        if not order.request_cancel():
            self._changed(order)
            return
        self._changed(order)
        if order.broker_id is None or cid in self._placing:
            return  # not sent yet, and now it will not be (see _send): nothing to cancel at IB
        try:
            await self._broker.cancel(order.broker_id)
            self._cancel_epoch[cid] = self.epoch
            self._acted()
        except BrokerError as exc:
            # still PENDING_CANCEL: the cancel goes out after the next reconciliation
            self._notice("WARNING", f"cancel of {cid} not sent ({exc}): it is sent once IB is "
                         "back")  # fmt: skip

    async def resend_cancels(self) -> list[Order]:
        """Send the cancel of every order of ours we want cancelled (PENDING_CANCEL) that IB
        has not been asked on this connection: one asked while disconnected, on a connection
        that dropped before IB answered, or one IB dropped unread (pacing). Call it once IB's
        open orders are applied (an order IB already finished is not asked again). Returns
        those asked."""
        due = [
            o for o in self.working()
            if o.status is OrderStatus.PENDING_CANCEL and not self.cancel_sent(o)
            and o.broker_id is not None and o.client_id not in self._placing
        ]  # fmt: skip
        due.sort(key=lambda o: o.parent_id is None)  # children first, as cancel_all does
        for order in due:
            await self._cancel(order)
        return due

    def is_close(self, order: Order) -> bool:
        """Whether ``order`` is a market order closing the whole position (``CLOSE_ROLES``)."""
        return self._roles.get(order.client_id, OrderRole.PLAIN) in CLOSE_ROLES

    def cancel_sent(self, order: Order) -> bool:
        """Whether a cancel of ``order`` went to IB on this connection (IB answers it)."""
        return (
            order.status is OrderStatus.PENDING_CANCEL
            and self._cancel_epoch.get(order.client_id) == self.epoch
        )

    async def cancel_all(
        self, at_price: int | None = None, *, keep_closes: bool = False
    ) -> tuple[str, ...]:
        """Cancel this instance's working orders (at one ladder price if given; ``keep_closes``:
        not the closes in flight), children before parents so IB never sees a bracket leg
        orphaned."""
        targets = [
            o for o in self.working()
            if (at_price is None or at_price in (o.limit, o.stop))
            and not (keep_closes and self.is_close(o))
        ]  # fmt: skip
        targets.sort(key=lambda o: o.parent_id is None)
        for order in targets:
            await self._cancel(order)
        return tuple(o.client_id for o in targets)

    async def close_position(self, command_id: str, *, reverse: bool) -> tuple[str, ...]:
        """Cancel this instance's orders, then a market order that closes the position (or,
        ``reverse``, turns it into the opposite one of the same size). Refused while the
        broker is not connected, and a reverse is checked before anything is cancelled, so a
        refused one changes nothing. Refused on the way (the connection dropped, a fill made
        the reverse too big), its cancels are withdrawn: those IB has not carried out would
        otherwise be asked again once IB is back and leave the position without its stop."""
        if self._broker.state not in CONNECTED:  # the cancels would go, the close not
            raise Refused(f"not connected to IB ({self._broker.state}): nothing cancelled, "
                          "nothing sent (the kill switch waits for the connection)")  # fmt: skip
        checked = self._check_reverse() if reverse else 0
        before = {o.client_id: o.status for o in self.working()}
        cancelled = await self.cancel_all()
        try:
            if reverse and self._position().quantity != checked:
                self._check_reverse()  # a fill during the cancels moved the position
            order = await self.send_close(
                command_id, OrderRole.REVERSE if reverse else OrderRole.FLATTEN
            )
        except Refused:
            self._withdraw_cancels(cancelled, before)
            raise
        return (*cancelled, order.client_id) if order is not None else cancelled

    def _withdraw_cancels(self, ids: Iterable[str], before: dict[str, OrderStatus]) -> None:
        """We no longer want the orders of ``ids`` cancelled: back to their states
        ``before``. A cancel that reached IB all the same ends its order when IB reports it
        (its Cancelled is IB's word); one lost with the connection is not asked again."""
        for cid in ids:
            order, previous = self._orders[cid], before.get(cid)
            if (
                order.status is OrderStatus.PENDING_CANCEL
                and previous is not None and previous is not OrderStatus.PENDING_CANCEL
            ):  # fmt: skip
                order.withdraw_cancel(previous)
                self._cancel_epoch.pop(cid, None)
                self._changed(order)

    def _check_reverse(self) -> int:
        """The position a reverse would turn round, refused when there is none or when the
        pre-trade checks refuse trading twice it the other way."""
        qty = self._position().quantity
        if not qty:
            raise Refused("no position to reverse")
        side = Side.SELL if qty > 0 else Side.BUY
        self._check(OrderIntent(side, abs(qty) * 2, OrderType.MARKET, None, None, True, "manual"))
        return qty

    async def send_close(self, command_id: str, role: OrderRole) -> Order | None:
        """A market order closing the position (twice its size for ``role`` "reverse"),
        without pre-trade checks (it only reduces, or the caller checked it). None when flat."""
        qty = self._position().quantity
        if not qty:
            return None
        side = Side.SELL if qty > 0 else Side.BUY
        size = abs(qty) * (2 if role is OrderRole.REVERSE else 1)
        order = Order(self.ids.next(), self.instrument, side, size, OrderType.MARKET,
                      tif=TimeInForce.DAY)  # fmt: skip
        await self._send(order, command_id, role=role)
        return order

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
            if self.ids.owns(report.order_ref) and report.instrument == self.instrument:
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
        if report.status is OrderStatus.REJECTED:
            changed = order.on_rejected(report.reason or "rejected by IB") or changed
        else:
            changed = order.on_status(report.status) or changed
            if changed and report.reason and report.status is OrderStatus.CANCELLED:
                order.reject_reason = report.reason
        if changed:
            self._changed(order)

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

    def _on_foreign(self, report: OrderReport) -> None:
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
                oca_group=report.oca_group or None, status=report.status,
            )  # fmt: skip
        except InvalidOrderError as exc:
            self._notice("WARNING", f"order {report.order_ref} at IB cannot be tracked: {exc}")
            self._on_foreign(report)
            return None
        if order.status is OrderStatus.NEW:
            order.status = OrderStatus.PENDING_SUBMIT
        role = OrderRole.PLAIN
        if report.parent_id or report.oca_group:
            stops = (OrderType.STOP, OrderType.STOP_LIMIT)
            role = OrderRole.STOP if order_type in stops else OrderRole.TARGET
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

    def on_notice(self, notice: OrderNotice) -> None:
        """What the broker said about one of our orders (see the module notes)."""
        cid = self._by_broker.get(notice.broker_id)
        order = self._orders.get(cid) if cid else None
        if order is None:
            return
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
                order.on_status(OrderStatus.CANCELLED)
                self._changed(order)
        elif isinstance(notice, OrderRejected) and order.status is OrderStatus.PENDING_SUBMIT:
            order.reject_reason = notice.reason

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
        try:
            order = Order(
                sent.order_id, self.instrument, sent.side, sent.quantity, sent.order_type,
                limit=sent.limit, stop=sent.stop, tif=sent.tif,
                status=OrderStatus.PENDING_SUBMIT,
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

    def drop_foreign(self, keys: Iterable[str]) -> None:
        """Forget these foreign orders (IB no longer lists them)."""
        for key in keys:
            view = self.foreign.pop(key)
            self._emit(OrderUpdated(replace(view, status=OrderStatus.CANCELLED)))


def _held(quantity: int) -> str:
    return f"{'long' if quantity > 0 else 'short'} {abs(quantity)}"


def _above_zero(ticks: int, what: str) -> int:
    """``ticks``, when it is a price above zero; refused otherwise."""
    if ticks <= 0:
        raise Refused(f"{what} must be above zero")
    return ticks


def _carries(report: OrderReport, change: OrderChange) -> bool:
    """Whether IB reports the order with the values of ``change``."""
    return (
        (change.quantity is None or change.quantity == report.quantity)
        and (change.limit is None or change.limit == report.limit)
        and (change.stop is None or change.stop == report.stop)
    )


def _describe(order: Order) -> str:
    price = order.limit if order.limit is not None else order.stop
    at = f" @ {order.instrument.format_price(price)}" if price is not None else ""
    return f"{order.side} {order.quantity} {order.order_type}{at} ({order.status})"
