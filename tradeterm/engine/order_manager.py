"""The order manager: the commands that send this instance's orders, on top of what it knows
of them (:class:`~tradeterm.engine.order_tracking.OrderTracker`: the indexes, IB's answers,
the orders of earlier runs).

* Every order carries its client order id in IB's ``orderRef`` (``tt.<instance>.<session>.<seq>``),
  so a restarted instance recognises its own orders, and cancel-all / flatten touch only
  those: never another instance's, another client's or a manual TWS order. The account-wide
  global cancel is a separate command.
* Every price is rounded to the instrument's tick on the safe side before it is sent.
* The client-side state machine is :class:`~tradeterm.domain.Order`'s; it mirrors IB's
  statuses, and PendingCancel is not terminal: a fill can still arrive and is booked.
* A cancel is sent once per connection: repeating it only earns IB's "cannot be cancelled".
  One that could not be sent (disconnected), was not answered before the connection dropped,
  or was dropped by IB unread (pacing, error 100), is sent again once IB's orders are read.
* New entries (orders that could grow the position) are refused while ``blocked`` says why:
  connecting, reconciling, disconnected. Orders that only reduce the position and cancels are
  always allowed. ``checks`` are further pre-trade checks (the risk manager's).

Kept as one module because the commands share one send path (checked, journaled, then sent,
each cancel once per connection) that a split would scatter.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass

from tradeterm.broker.port import (
    CONNECTED,
    Broker,
    BrokerError,
)
from tradeterm.domain import (
    ClientOrderIds,
    ExitTag,
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
    make_exits,
)
from tradeterm.engine.commands import (
    ModifyOrder,
    NotSent,
    PlaceBracket,
    PlaceOrder,
    Price,
    Refused,
    price_ticks,
)
from tradeterm.engine.events import EngineEvent
from tradeterm.engine.order_tracking import OrderTracker, could_fill
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
    modifies: str | None = None  # a modification: the order it changes (client id)
    siblings: tuple[str, ...] = ()  # a modification: its OCA group's others it stands for
    cancels: tuple[str, ...] = ()  # the orders its command cancels before it goes (a reverse)

    @property
    def others(self) -> tuple[str, ...]:
        """The orders the checks leave out of the working ones: the one a modification
        changes (it is checked as it would be after the change, not counted twice), the
        members of its OCA group it stands for (a group fills at most once: a stop's
        target is no further quantity on the stop's side), and those its command cancels
        before it is sent (a reverse's: they are gone when it trades)."""
        changed = (self.modifies, *self.siblings) if self.modifies is not None else ()
        return (*changed, *self.cancels)


PreTradeCheck = Callable[[OrderIntent], str | None]  # a refusal reason, or None
BeforeSend = Callable[[Order, str, OrderRole], Awaitable[None]]
"""Awaited with (order, command id, role) before an order goes to the broker (the journal
commits the intent, whose the order is included: ``Order.source``); when it raises, the order
is not sent."""
BRACKET_ROLES = frozenset({OrderRole.ENTRY, OrderRole.TARGET, OrderRole.STOP})
ESSENTIAL_ROLES = frozenset({OrderRole.KILL})
"""Roles sent even when ``before_send`` fails: the kill switch's flatten must never be held
back by a journal that cannot write."""


class OrderManager(OrderTracker):
    """The orders of one instrument and one instance, and the commands that send them (see the
    module notes)."""

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
        before_send: BeforeSend | None = None,
        on_action: Callable[[], None] | None = None,
        blocked: str | None = "not started",
    ) -> None:
        """``checks``: further pre-trade checks (the risk manager's), for new orders and
        modifications alike; ``before_send``: awaited before an order is sent (the journal); ``on_action``: told of each order message sent to IB; ``blocked``: why new
        entries are refused at first (None: allowed)."""
        super().__init__(
            broker, instrument, ids, position=position, fills_of=fills_of, emit=emit, clock=clock
        )
        self.blocked = blocked
        self._checks = tuple(checks)
        self._before_send = before_send
        self._on_action = on_action
        self._placing: set[str] = set()  # being journaled: not at the broker yet
        self._cancelled_by: dict[str, str] = {}  # of those, cancelled: by what (see _cancel)

    # ---- prices and checks ------------------------------------------------------------------

    def ticks(self, price: Price, side: Side) -> int:
        """``price`` on the tick, rounded so the order is never worse for us than asked. A
        price that is not a finite number, or not above zero once on the tick, is refused."""
        ticks = price_ticks(self.instrument, price, Rounding.passive(side))
        return _above_zero(ticks, f"price {price}")

    def is_entry(self, side: Side, quantity: int, without: Collection[str] = ()) -> bool:
        """Whether an order could grow (or flip) the position, counting the orders already
        working on the same side (but those ``without`` names) as if they filled."""
        position = self._position()
        same_side = could_fill((o for o in self.working() if o.client_id not in without), side)
        return not position.reduces(side, quantity + same_side)

    def _check_bracket_entry(self, side: Side, quantity: int) -> None:
        """A bracket is an entry: its entry must open or grow a position on its side. If it
        met a position on the other side it would close it and leave its exits working on a
        flat book. So it is refused while the position is on the other side, or could be once
        the working orders on the other side fill (bracket exits aside: they only close; the
        members of one OCA group count once, at the largest: one fill cancels the rest, and
        a bracket's exits adopted at a restart are such a group, their parent gone)."""
        held = self._position().quantity
        against = could_fill((o for o in self.working() if o.parent_id is None), side.opposite)
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
        reason = self.refusal(intent, self._checks)
        if reason:
            raise Refused(reason)

    def refusal(self, intent: OrderIntent, checks: Iterable[PreTradeCheck]) -> str | None:
        """Why ``intent`` is refused by this manager's own rules and ``checks``; None: not."""
        if intent.quantity <= 0:
            return f"quantity must be positive, got {intent.quantity}"
        if intent.entry and self.blocked:
            return f"new entries are blocked: {self.blocked}"
        return next((reason for check in checks if (reason := check(intent))), None)

    def plain_intent(self, cmd: PlaceOrder, without: Collection[str] = ()) -> OrderIntent:
        """What the checks see of ``cmd`` (an entry or not, counted without the orders
        ``without`` names); raises :class:`Refused` for a price that is not one."""
        side = cmd.side
        limit = self.ticks(cmd.limit, side) if cmd.limit is not None else None
        stop = self.ticks(cmd.stop, side) if cmd.stop is not None else None
        return OrderIntent(
            side, cmd.quantity, cmd.order_type, limit, stop,
            self.is_entry(side, cmd.quantity, without), cmd.source, cmd.resting,
        )  # fmt: skip

    # ---- commands ----------------------------------------------------------------------------

    def position_quantity(self) -> int:
        """The position traded against (signed contracts)."""
        return self._position().quantity

    async def place(
        self, cmd: PlaceOrder, command_id: str, before: Callable[[Order, bool], None] | None = None
    ) -> tuple[str, ...]:
        """Send ``cmd``; ``before`` is told of its order (and whether it is an entry) once it
        passed the checks, before it is sent: its fills may come before this returns."""
        intent = self.plain_intent(cmd)
        self._check(intent)
        try:
            order = Order(
                self.ids.next(), self.instrument, cmd.side, cmd.quantity, cmd.order_type,
                limit=intent.limit, stop=intent.stop, tif=cmd.tif, source=cmd.source,
            )  # fmt: skip
        except InvalidOrderError as exc:
            raise Refused(str(exc)) from None
        if before is not None:
            before(order, intent.entry)
        await self._send(order, command_id, role=OrderRole.PLAIN)
        return (order.client_id,)

    async def place_bracket(
        self, cmd: PlaceBracket, command_id: str, reference: int | None
    ) -> tuple[str, ...]:
        side = cmd.side
        if cmd.entry_limit is not None and cmd.entry_stop is not None:
            raise Refused("a bracket's entry is a limit or a stop, not both")
        entry_limit = self.ticks(cmd.entry_limit, side) if cmd.entry_limit is not None else None
        entry_stop = self.ticks(cmd.entry_stop, side) if cmd.entry_stop is not None else None
        basis = next((p for p in (entry_limit, entry_stop, reference) if p is not None), None)
        if basis is None:
            raise Refused("no price yet to place the bracket's stop and target from")
        if cmd.stop_ticks <= 0 or (cmd.target_ticks is not None and cmd.target_ticks <= 0):
            raise Refused("bracket stop and target distances must be positive ticks")
        stop_loss = _above_zero(basis - side.sign * cmd.stop_ticks, "the bracket's stop price")
        target = None
        if cmd.target_ticks is not None:
            target = _above_zero(basis + side.sign * cmd.target_ticks, "the bracket's target")
        self._check_bracket_entry(side, cmd.quantity)
        order_type = (
            OrderType.LIMIT if entry_limit is not None
            else OrderType.STOP if entry_stop is not None else OrderType.MARKET
        )  # fmt: skip
        # a stop entry must rest: one that would trigger at once is refused (the risk check)
        intent = OrderIntent(
            side, cmd.quantity, order_type, entry_limit, entry_stop,
            self.is_entry(side, cmd.quantity), cmd.source, cmd.resting or entry_stop is not None,
        )  # fmt: skip
        self._check(intent)
        try:
            bracket = make_bracket(
                self.ids, self.instrument, side, cmd.quantity, stop_loss=stop_loss,
                take_profit=target, entry_limit=entry_limit, entry_stop=entry_stop,
                reference=basis, source=cmd.source,
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
                        await self._cancel(sent, "its bracket's undoing")
                raise Refused(leg.reject_reason or "bracket not sent")
            if i == 0:
                parent_broker_id = leg.broker_id
        return tuple(leg.client_id for leg in legs)

    async def place_exits(
        self, entry: Order, quantity: int, *, stop_loss: int, take_profit: int | None,
        trail: int | None, oca_group: str | None, tag: ExitTag | None = None,
    ) -> tuple[Order, Order | None]:  # fmt: skip
        """Exits protecting ``quantity`` contracts of ``entry``'s fill (an exit strategy's):
        the stop (a trailing one with ``trail``) and the target (if any), in ``oca_group``
        where a fill reduces the other (a partial target fill shrinks its stop, at IB),
        both journaled with ``tag``.
        Sent as the entry's command, without the pre-trade checks (they only close what the
        fill opened), the stop first: a target is not sent when its stop did not go.
        Returns (stop, target sent or None); a leg that did not go is REJECTED, its reason
        with it."""
        command_id = self._commands.get(entry.client_id, "")
        target, stop = make_exits(
            self.ids, self.instrument, entry.side, quantity, stop_loss=stop_loss,
            take_profit=take_profit, oca_group=oca_group, trail=trail, oca_reduce=True,
            source=entry.source, tag=tag,
        )  # fmt: skip
        await self._send(stop, command_id, role=OrderRole.STOP)
        if target is None or stop.status is OrderStatus.REJECTED:
            return stop, None
        await self._send(target, command_id, role=OrderRole.TARGET)
        return stop, target

    async def place_target(self, stop: Order, take_profit: int) -> Order:
        """The target of an exit strategy's ``stop`` that never went out (a crash after the
        stop was sent): a limit at ``take_profit`` for what the stop covers, in its OCA group,
        sent as :meth:`place_exits` sends one. Returns it (REJECTED with why, if it did not
        go)."""
        target = Order(
            self.ids.next(), self.instrument, stop.side, stop.remaining, OrderType.LIMIT,
            limit=take_profit, tif=stop.tif, oca_group=stop.oca_group, oca_reduce=True,
            source=stop.source, exit=stop.exit,
        )  # fmt: skip
        await self._send(target, self._commands.get(stop.client_id, ""), role=OrderRole.TARGET)
        return target

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
            self._cancelled_by.pop(cid, None)

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
            by = self._cancelled_by.get(cid, "a cancel")
            why = f"never sent: cancelled before it left, by {by}"
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

    def _acted(self) -> None:
        if self._on_action is not None:
            self._on_action()

    def _own(self, order_id: str) -> Order:
        order = self._orders.get(order_id)
        if order is None:
            raise Refused(f"no order {order_id} of this instance")
        return order

    async def modify(self, cmd: ModifyOrder) -> tuple[str, ...]:
        """Change a working order (the same id placed again at IB), checked by the same
        pre-trade checks as a new order, as the order would be after the change. The order
        keeps its old values until IB reports the new ones (``modify_accepted``)."""
        order = self._own(cmd.order_id)
        side = order.side
        limit = self.ticks(cmd.limit, side) if cmd.limit is not None else None
        stop = self.ticks(cmd.stop, side) if cmd.stop is not None else None
        try:
            change = OrderChange(cmd.quantity, limit, stop)
        except InvalidOrderError as exc:
            raise Refused(str(exc)) from None
        self._check(self._changed_intent(order, change, resting=cmd.resting))
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

    def _changed_intent(self, order: Order, change: OrderChange, *, resting: bool) -> OrderIntent:
        """What the checks see of ``order`` once ``change`` is applied: what would still be
        left to fill at its new price(s), an entry or not counted without its old self."""
        quantity = order.quantity if change.quantity is None else change.quantity
        remaining = quantity - order.filled
        if remaining <= 0:
            raise Refused(f"new quantity {quantity} must exceed the {order.filled} already filled")
        side, cid = order.side, order.client_id
        siblings = tuple(
            o.client_id for o in self.working()
            if o.oca_group is not None and o.oca_group == order.oca_group
            and o.client_id != cid and o.side is side and o.remaining <= remaining
        )  # fmt: skip
        return OrderIntent(
            side, remaining, order.order_type,
            order.limit if change.limit is None else change.limit,
            order.stop if change.stop is None else change.stop,
            self.is_entry(side, remaining, (cid, *siblings)), order.source, resting,
            modifies=cid, siblings=siblings,
        )  # fmt: skip

    async def cancel(self, order_id: str) -> tuple[str, ...]:
        order = self._own(order_id)
        if order.is_terminal:
            raise Refused(f"order {order_id} is already {order.status.lower()}")
        await self._cancel(order, "its cancel")
        return (order.client_id,)

    async def _cancel(self, order: Order, by: str) -> None:
        """Cancel ``order``; ``by``: what asked (a flatten, the kill switch...), said when
        the order had not left yet and now never will."""
        cid = order.client_id
        if self.cancel_sent(order):
            return  # asked on this connection already: IB answers it (a repeat earns 10148)
        if not order.request_cancel():
            self._changed(order)
            return
        self._changed(order)
        if order.broker_id is None or cid in self._placing:
            self._cancelled_by[cid] = by
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
            await self._cancel(order, "a cancel asked again")
        return due

    async def cancel_all(
        self, at_price: int | None = None, *, keep_closes: bool = False, by: str = "cancel all"
    ) -> tuple[str, ...]:
        """Cancel this instance's working orders (at one ladder price if given; ``keep_closes``:
        not the closes in flight), children before parents so IB never sees a bracket leg
        orphaned; ``by``: what asked (see :meth:`_cancel`)."""
        targets = self._cancel_targets(at_price, keep_closes=keep_closes)
        for order in targets:
            await self._cancel(order, by)
        return tuple(o.client_id for o in targets)

    def _cancel_targets(
        self, at_price: int | None = None, *, keep_closes: bool = False
    ) -> list[Order]:
        """The orders :meth:`cancel_all` cancels, children first."""
        targets = [
            o for o in self.working()
            if (at_price is None or at_price in (o.limit, o.stop))
            and not (keep_closes and self.is_close(o))
        ]  # fmt: skip
        targets.sort(key=lambda o: o.parent_id is None)
        return targets

    async def close_position(
        self,
        command_id: str,
        *,
        reverse: bool,
        closing: Callable[[], None] = lambda: None,
        on_order: Callable[[Order], None] | None = None,
    ) -> tuple[str, ...]:
        """Cancel this instance's orders, then a market order that closes the position (or,
        ``reverse``, turns it into the opposite one of the same size). Refused while the
        broker is not connected, and a reverse is checked before anything is cancelled, so a
        refused one changes nothing. Refused on the way (the connection dropped, a fill made
        the reverse too big), its cancels are withdrawn: those IB has not carried out would
        otherwise be asked again once IB is back and leave the position without its stop.
        ``closing`` is told once the checks passed, before anything is cancelled; ``before``
        is told of the close order before it is sent (after ``closing``: a reverse's exit
        strategy is its own, not one the close ends)."""
        if self._broker.state not in CONNECTED:  # the cancels would go, the close not
            raise Refused(f"not connected to IB ({self._broker.state}): nothing cancelled, "
                          "nothing sent (the kill switch waits for the connection)")  # fmt: skip
        checked = self._check_reverse() if reverse else 0
        closing()
        before = {o.client_id: o.status for o in self.working()}
        cancelled = await self.cancel_all(by="a reverse" if reverse else "a flatten")
        try:
            if reverse and self._position().quantity != checked:
                self._check_reverse()  # a fill during the cancels moved the position
            order = await self.send_close(
                command_id, OrderRole.REVERSE if reverse else OrderRole.FLATTEN, on_order
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
        pre-trade checks refuse trading twice it the other way, counted without the orders
        the reverse cancels first (exactly those: :meth:`cancel_all`'s)."""
        qty = self._position().quantity
        if not qty:
            raise Refused("no position to reverse")
        side = Side.SELL if qty > 0 else Side.BUY
        cancels = tuple(o.client_id for o in self._cancel_targets())
        self._check(OrderIntent(side, abs(qty) * 2, OrderType.MARKET, None, None, True, "manual",
                                cancels=cancels))  # fmt: skip
        return qty

    async def send_close(
        self, command_id: str, role: OrderRole, on_order: Callable[[Order], None] | None = None
    ) -> Order | None:
        """A market order closing the position (twice its size for ``role`` "reverse"),
        without pre-trade checks (it only reduces, or the caller checked it); ``on_order`` is
        told of it before it is sent. None when flat."""
        qty = self._position().quantity
        if not qty:
            return None
        side = Side.SELL if qty > 0 else Side.BUY
        size = abs(qty) * (2 if role is OrderRole.REVERSE else 1)
        order = Order(self.ids.next(), self.instrument, side, size, OrderType.MARKET,
                      tif=TimeInForce.DAY)  # fmt: skip
        if on_order is not None:
            on_order(order)
        await self._send(order, command_id, role=role)
        return order


def _held(quantity: int) -> str:
    return f"{'long' if quantity > 0 else 'short'} {abs(quantity)}"


def _above_zero(ticks: int, what: str) -> int:
    """``ticks``, when it is a price above zero; refused otherwise."""
    if ticks <= 0:
        raise Refused(f"{what} must be above zero")
    return ticks
