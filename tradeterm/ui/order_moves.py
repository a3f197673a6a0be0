"""Moving and resizing working orders from the ladder: what a move key sends, as plain
functions of what the screen knows at the key press (no Textual: tested with tables of cases,
tests/unit/ui/test_order_moves.py).

The keys act on this instance's own working orders at the ladder cursor (the running
strategy's orders are the strategy's: never moved by hand) and return the engine commands
(:class:`~tradeterm.engine.commands.ModifyOrder`: IB re-places the same order id), or a
:class:`~tradeterm.ui.order_entry.Refusal` in one line. They go only when an order key could
(connected, the LIVE account typed, armed: ``order_entry.refusal``). Prices are ladder rows
(ticks), so every price sent is on the tick; a move is sent ``resting``, so the engine's
pre-trade checks, the same as for a new order (price band, position limits, order rate),
refuse a limit moved across the market or a stop moved through it. The order stays at its
old price, marked unconfirmed, until IB reports the new one.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from tradeterm.domain import Instrument
from tradeterm.engine.commands import ModifyOrder
from tradeterm.engine.events import OrderView
from tradeterm.engine.types import OrderRole
from tradeterm.ui.order_entry import SILENT, Desk, Refusal, Send, refusal
from tradeterm.ui.widgets.ladder_data import order_label
from tradeterm.ui.widgets.orders_table import order_words

Moves = tuple[Send, ...] | Refusal


@dataclass(frozen=True, slots=True)
class Pickup:
    """Orders picked up to be dropped at another price: their ids, the row they were at and
    what the screen says of them (``1L 5000.25``)."""

    order_ids: tuple[str, ...]
    price: int
    label: str


def _working(order: OrderView) -> bool:
    """An order of ours still to fill."""
    return order.own and order.is_open and order.remaining > 0


def _row(order: OrderView) -> int | None:
    """The ladder row an order is at, or is being moved to (a change IB has not confirmed)."""
    change = order.pending_change
    if change is not None:
        moved = change.limit if order.limit is not None else change.stop
        if moved is not None:
            return moved
    return order.price


def _at_cursor(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    what: str,
) -> tuple[Instrument, int, list[OrderView]] | Refusal:  # fmt: skip
    """The instrument, the cursor and this instance's working orders at its row, when a key
    may move them; or why not."""
    ready = _ready(desk, cursor, what)
    if isinstance(ready, Refusal):
        return ready
    inst, row = ready
    here = [o for o in orders if _working(o) and _row(o) == row]
    if not here:
        return Refusal(f"no order of ours at {inst.format_price(row)}")
    return _movable(inst, here, strategy) or (inst, row, here)


def _movable(
    inst: Instrument, orders: Iterable[OrderView], strategy: Collection[str]
) -> Refusal | None:
    """Why one of ``orders`` cannot be changed now, or None."""
    for o in orders:
        if o.order_id in strategy:
            return Refusal(f"{order_words(inst, o)} is the strategy's order: stop the strategy "
                           "to move it")  # fmt: skip
        if o.pending_change is not None or o.unconfirmed:
            return Refusal(f"{order_words(inst, o)}: {o.unconfirmed or 'change not confirmed'}; "
                           "wait for IB's answer")  # fmt: skip
    return None


def _moved(inst: Instrument, order: OrderView, ticks: int) -> ModifyOrder:
    """``order`` moved by ``ticks``: its limit and its stop alike (a stop-limit keeps its
    offset), to rest there."""
    limit = inst.to_price(order.limit + ticks) if order.limit is not None else None
    stop = inst.to_price(order.stop + ticks) if order.stop is not None else None
    return ModifyOrder(order.order_id, limit=limit, stop=stop, resting=True)


def _moves(inst: Instrument, orders: Iterable[OrderView], to: int, what: str) -> Moves:
    """Each of ``orders`` moved so it shows at row ``to``."""
    sends = tuple(
        Send(_moved(inst, o, to - o.price), what)
        for o in orders
        if o.price is not None and o.price != to
    )
    return sends or Refusal(f"{what}: already at {inst.format_price(to)}")


def _ready(desk: Desk, cursor: int | None, what: str) -> tuple[Instrument, int] | Refusal:
    """The instrument and the cursor when a move key may act, or why it may not (silent
    before the instrument and the cursor are known)."""
    inst = desk.instrument
    if inst is None or cursor is None:
        return SILENT
    return refusal(desk, what) or (inst, cursor)


def step(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    ticks: int,
) -> Moves:  # fmt: skip
    """The orders at the cursor moved ``ticks`` (one tick up: 1)."""
    what = f"move order {'up' if ticks > 0 else 'down'}"
    found = _at_cursor(desk, orders, strategy, cursor, what)
    if isinstance(found, Refusal):
        return found
    inst, row, here = found
    return _moves(inst, here, row + ticks, what)


def pick_up(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None
) -> Pickup | Refusal:
    """The orders at the cursor, picked up to be dropped elsewhere (:func:`drop`)."""
    found = _at_cursor(desk, orders, strategy, cursor, "pick up order")
    if isinstance(found, Refusal):
        return found
    inst, row, here = found
    label = f"{here[0].side} {order_label(here)} {inst.format_price(row)}"
    return Pickup(tuple(o.order_id for o in here), row, label)


def drop(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], picked: Pickup,
    cursor: int | None,
) -> Moves:  # fmt: skip
    """The picked-up orders moved to the cursor's row."""
    still = [o for o in orders if o.order_id in picked.order_ids and _working(o)]
    gone = f"{picked.label} is no longer working: nothing moved"
    return _move_to(desk, strategy, cursor, "drop order", still, gone)


def exit_to(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    role: OrderRole,
) -> Moves:  # fmt: skip
    """The working brackets' exits of ``role`` (target or stop) moved to the cursor's row."""
    what = f"move bracket {role}"
    legs = [o for o in orders if o.role is role and _working(o)]
    return _move_to(desk, strategy, cursor, what, legs, f"{what}: no working bracket {role}")


def _move_to(
    desk: Desk, strategy: Collection[str], cursor: int | None, what: str,
    chosen: list[OrderView], none: str,
) -> Moves:  # fmt: skip
    """The ``chosen`` orders moved to the cursor's row; ``none``: what is said without any."""
    ready = _ready(desk, cursor, what)
    if isinstance(ready, Refusal):
        return ready
    inst, row = ready
    if not chosen:
        return Refusal(none)
    return _movable(inst, chosen, strategy) or _moves(inst, chosen, row, what)


def resize(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    step: int,
) -> Moves:  # fmt: skip
    """The order at the cursor one contract larger (``step`` 1) or smaller (-1), never below
    1 nor below what has filled (the position limits are the engine's to check)."""
    what = f"order quantity {'up' if step > 0 else 'down'}"
    found = _at_cursor(desk, orders, strategy, cursor, what)
    if isinstance(found, Refusal):
        return found
    inst, row, here = found
    if len(here) > 1:
        return Refusal(f"{len(here)} orders at {inst.format_price(row)}: the quantity keys "
                       "change one order")  # fmt: skip
    (order,) = here
    quantity = order.quantity + step
    if quantity < max(1, order.filled + 1):
        return Refusal(f"{what}: {order_words(inst, order)} cannot go below {order.quantity} "
                       "(cancel it to remove it)")  # fmt: skip
    return (Send(ModifyOrder(order.order_id, quantity=quantity), what),)
