"""Orders: what was asked for, and where it stands.

An ``Order`` is mutable (the engine's order manager owns it) and changes only through its
methods, which keep it consistent:

* commands from us: ``submit``, ``request_cancel``, ``withdraw_cancel``, ``request_modify``
  (strict: an impossible command raises ``InvalidTransitionError``);
* answers from the broker: ``bind``, ``on_status``, ``on_rejected``, ``cancel_rejected``,
  ``modify_accepted``, ``modify_rejected``, ``apply_fill``.

Apply each fill once: ``FillLedger.add`` tells whether a fill is new.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from tradeterm.domain.errors import DomainError, InvalidOrderError, InvalidTransitionError
from tradeterm.domain.fills import Fill
from tradeterm.domain.instruments import Instrument
from tradeterm.domain.order_status import OrderStatus, after_report
from tradeterm.domain.side import Side


class OrderType(StrEnum):
    """Supported order types; the values are IB's ``orderType`` strings."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAIL = "TRAIL"
    """IB's native trailing stop: its stop price follows the market at ``Order.trail`` ticks,
    at IB; ``Order.stop`` is its stop price as IB last reported it (``trailStopPrice``)."""

    @property
    def needs_limit(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT)

    @property
    def needs_stop(self) -> bool:
        return self in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAIL)


class TimeInForce(StrEnum):
    """Supported time in force; the values are IB's ``tif`` strings."""

    DAY = "DAY"
    GTC = "GTC"
    IOC = "IOC"


@dataclass(frozen=True, slots=True)
class OrderChange:
    """A modification of a working order; None leaves a field as it is."""

    quantity: int | None = None
    limit: int | None = None
    stop: int | None = None

    def __post_init__(self) -> None:
        if self.quantity is None and self.limit is None and self.stop is None:
            raise InvalidOrderError("an order change must change something")


def check_order_fields(
    order_type: OrderType,
    quantity: int,
    limit: int | None,
    stop: int | None,
    trail: int | None = None,
) -> None:
    """Raise ``InvalidOrderError`` unless the quantity is positive and exactly the prices the
    order type uses are given (limit for LMT/STP LMT, stop for STP/STP LMT/TRAIL), and a
    trailing amount only for TRAIL, above zero (None: not known here, e.g. a trailing stop
    restored from the journal, which IB's report completes)."""
    if trail is not None and (order_type is not OrderType.TRAIL or trail <= 0):
        raise InvalidOrderError(f"a {order_type} order takes no trailing amount {trail}")
    if quantity <= 0:
        raise InvalidOrderError(f"quantity must be positive, got {quantity}")
    if (limit is not None) != order_type.needs_limit:
        need = "needs" if order_type.needs_limit else "takes no"
        raise InvalidOrderError(f"a {order_type} order {need} a limit price")
    if (stop is not None) != order_type.needs_stop:
        need = "needs" if order_type.needs_stop else "takes no"
        raise InvalidOrderError(f"a {order_type} order {need} a stop price")


@dataclass(frozen=True, slots=True)
class ExitTag:
    """What an exit strategy (``engine/exits.py``) sent an order for, journaled with its
    intent so that a restart knows it: the strategy's name; on its exits, the entry's fill
    price (ticks) they protect and the breakeven rule they were sent with (``fill`` None:
    the entry itself)."""

    strategy: str
    fill: int | None = None
    breakeven_after: int | None = None
    breakeven_offset: int = 0


@dataclass(slots=True, eq=False)
class Order:
    """One order. Prices are ticks of ``instrument``; ``quantity`` is in contracts.

    ``parent_id`` and ``oca_group`` link bracket legs (see ``bracket.make_bracket``);
    ``oca_reduce``: a fill of this order reduces the other orders of its OCA group by the
    quantity filled instead of cancelling them (a partial fill of an exit's target shrinks its
    stop). ``trail``: a TRAIL order's trailing amount in ticks.
    ``broker_id`` and ``perm_id`` are IB's ``orderId`` and ``permId`` once known. ``status``
    may be given to rebuild an order found at the broker or in the journal.
    """

    client_id: str
    instrument: Instrument
    side: Side
    quantity: int
    order_type: OrderType
    limit: int | None = None
    stop: int | None = None
    tif: TimeInForce = TimeInForce.DAY
    parent_id: str | None = None
    oca_group: str | None = None
    oca_reduce: bool = False
    trail: int | None = None
    status: OrderStatus = OrderStatus.NEW
    broker_id: int | None = None
    perm_id: int | None = None
    filled: int = 0
    """Contracts filled so far (from fills applied)."""
    fill_cost: int = 0
    """Sum of quantity × price (ticks) over the fills applied."""
    reject_reason: str | None = None
    pending_change: OrderChange | None = None
    source: str = "manual"
    """Who sent it: ``manual`` or a strategy's name (its command's ``source``); journaled
    with its intent, before it is sent, so that a fill is never left without its owner."""
    exit: ExitTag | None = None
    """The exit strategy it was sent with or for (journaled with its intent)."""

    def __post_init__(self) -> None:
        if not self.client_id:
            raise InvalidOrderError("an order needs a client id")
        check_order_fields(self.order_type, self.quantity, self.limit, self.stop, self.trail)

    # ---- derived -----------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Contracts still to fill (0 once filled, even if over-filled)."""
        return max(0, self.quantity - self.filled)

    @property
    def avg_fill_price(self) -> Fraction | None:
        """Average fill price in ticks (exact; a fraction of a tick when fills differ)."""
        return Fraction(self.fill_cost, self.filled) if self.filled else None

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    # ---- commands ----------------------------------------------------------------------

    def submit(self) -> None:
        """We are sending the order to the broker."""
        self._require(OrderStatus.NEW, action="submit")
        self.status = OrderStatus.PENDING_SUBMIT

    def request_cancel(self) -> bool:
        """We want the order cancelled. True if a cancel must be sent to the broker (the order
        is now PENDING_CANCEL, or already was); False if there is nothing to send: a NEW order
        is cancelled on the spot, a finished one is left as it is."""
        if self.status is OrderStatus.NEW:
            self.status = OrderStatus.CANCELLED
            return False
        if self.status.is_terminal:
            return False
        self.status = OrderStatus.PENDING_CANCEL
        return True

    def request_modify(self, change: OrderChange) -> None:
        """We are sending ``change`` for a working order. One modification at a time: the
        order must be SUBMITTED. The new quantity must exceed what has already filled."""
        self._require(OrderStatus.SUBMITTED, action="modify")
        quantity = self.quantity if change.quantity is None else change.quantity
        limit = self.limit if change.limit is None else change.limit
        stop = self.stop if change.stop is None else change.stop
        check_order_fields(self.order_type, quantity, limit, stop, self.trail)
        if quantity <= self.filled:
            raise InvalidOrderError(
                f"new quantity {quantity} must exceed the {self.filled} already filled"
            )
        self.pending_change = change
        self.status = OrderStatus.PENDING_MODIFY

    # ---- broker answers ----------------------------------------------------------------

    def bind(self, broker_id: int | None = None, perm_id: int | None = None) -> None:
        """Record IB's order ids. An id, once known, never changes: a different one raises."""
        for name, value in (("broker_id", broker_id), ("perm_id", perm_id)):
            if value is None:
                continue
            known = getattr(self, name)
            if known is not None and known != value:
                raise DomainError(f"{self.client_id}: {name} {known} reported as {value}")
            setattr(self, name, value)

    def on_status(self, reported: OrderStatus) -> bool:
        """Apply a status the broker reported (see ``order_status.after_report``). True if the
        status changed."""
        new = after_report(self.status, reported)
        if new is self.status:
            return False
        self.status = new
        return True

    def on_rejected(self, reason: str) -> bool:
        """The broker rejected the order. True if the status changed."""
        changed = self.on_status(OrderStatus.REJECTED)
        if changed:
            self.reject_reason = reason
        return changed

    def cancel_rejected(self) -> None:
        """The broker refused our cancel and the order is still working."""
        self._require(OrderStatus.PENDING_CANCEL, action="reject a cancel of")
        self.status = OrderStatus.SUBMITTED

    def withdraw_cancel(self, previous: OrderStatus) -> None:
        """We no longer want the cancel, which never reached the broker: the order is back in
        ``previous``, its state before :meth:`request_cancel`."""
        self._require(OrderStatus.PENDING_CANCEL, action="withdraw a cancel of")
        if not previous.is_open:
            raise InvalidTransitionError(f"{self.client_id}: cannot go back to {previous}")
        self.status = previous

    def modify_accepted(self) -> None:
        """The broker confirmed the pending modification: the order now has the new values.
        (A cancel requested meanwhile stays pending.)"""
        change = self.pending_change
        if change is None:
            raise InvalidTransitionError(f"{self.client_id}: no modification is pending")
        self.pending_change = None
        if change.quantity is not None:
            self.quantity = change.quantity
        if change.limit is not None:
            self.limit = change.limit
        if change.stop is not None:
            self.stop = change.stop
        if self.filled >= self.quantity:  # fills in flight reached the new quantity
            self.status = OrderStatus.FILLED
        elif self.status is OrderStatus.PENDING_MODIFY:
            self.status = OrderStatus.SUBMITTED

    def on_quantity(self, reported: int) -> bool:
        """The broker reports a total quantity we did not ask for (IB re-balances an OCA group
        when a member fills in part: a bracket's stop shrinks with a partial fill of its
        target). The broker's word is the order's quantity: True if it changed. Ignored for a
        finished order and for a quantity below what has filled here."""
        if reported == self.quantity or not self.is_open or reported < max(self.filled, 1):
            return False
        self.quantity = reported
        return True

    def on_trail(self, stop: int | None, trail: int | None) -> bool:
        """IB reports a trailing stop's price (it moved with the market, at IB) and its
        trailing amount: the broker's word. True if either changed. Ignored while a change of
        ours is pending (its confirmation carries the new values) and for other order types."""
        if self.order_type is not OrderType.TRAIL or self.pending_change is not None:
            return False
        changed = False
        if stop is not None and stop != self.stop:
            self.stop, changed = stop, True
        if trail is not None and trail > 0 and trail != self.trail:
            self.trail, changed = trail, True
        return changed

    def modify_rejected(self) -> None:
        """The broker refused the pending modification: the order keeps its old values."""
        if self.pending_change is None:
            raise InvalidTransitionError(f"{self.client_id}: no modification is pending")
        self.pending_change = None
        if self.status is OrderStatus.PENDING_MODIFY:
            self.status = OrderStatus.SUBMITTED

    def apply_fill(self, fill: Fill) -> None:
        """Count a (new) fill of this order. Filling the whole quantity makes the order FILLED
        whatever its state (the fill is the fact; a cancel that crossed it lost the race); a
        partial fill leaves the state alone."""
        if self.status is OrderStatus.NEW:
            raise InvalidTransitionError(f"{self.client_id}: fill for an order never sent")
        if fill.order_id is not None and fill.order_id != self.client_id:
            raise DomainError(f"fill {fill.exec_id} is for {fill.order_id}, not {self.client_id}")
        if fill.side is not self.side or fill.instrument != self.instrument:
            raise DomainError(f"fill {fill.exec_id} does not match order {self.client_id}")
        self.filled += fill.quantity
        self.fill_cost += fill.quantity * fill.price
        if self.filled >= self.quantity:
            self.status = OrderStatus.FILLED
            self.pending_change = None

    def _require(self, status: OrderStatus, *, action: str) -> None:
        if self.status is not status:
            raise InvalidTransitionError(
                f"cannot {action} order {self.client_id} in state {self.status}"
            )
