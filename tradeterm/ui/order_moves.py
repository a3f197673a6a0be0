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

Moves = tuple[Send, ...] | Refusal


@dataclass(frozen=True, slots=True)
class Pickup:
    """Orders picked up to be dropped at another price: their ids, the row they were at and
    what the screen says of them (``1L 5000.25``)."""

    order_ids: tuple[str, ...]
    price: int
    label: str


def _row(order: OrderView) -> int | None:
    """The ladder row an order is at, or is being moved to (a change IB has not confirmed)."""
    change = order.pending_change
    if change is not None:
        moved = change.limit if order.limit is not None else change.stop
        if moved is not None:
            return moved
    return order.price


def _at_cursor(
    inst: Instrument, orders: Iterable[OrderView], strategy: Collection[str], cursor: int
) -> list[OrderView] | Refusal:
    """This instance's working orders at the cursor's row, or why none can be moved."""
    here = [o for o in orders if o.own and o.is_open and o.remaining and _row(o) == cursor]
    where = inst.format_price(cursor)
    if not here:
        return Refusal(f"no order of ours at {where}")
    return _movable(here, strategy) or here


def _movable(orders: Iterable[OrderView], strategy: Collection[str]) -> Refusal | None:
    """Why one of ``orders`` cannot be changed now, or None."""
    for o in orders:
        if o.order_id in strategy:
            return Refusal(f"{o.order_id} is the strategy's order: stop the strategy to move it")
        if o.pending_change is not None or o.unconfirmed:
            return Refusal(f"{o.order_id}: {o.unconfirmed or 'change not confirmed'}; wait "
                           "for IB's answer")  # fmt: skip
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


def step(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    ticks: int,
) -> Moves:  # fmt: skip
    """The orders at the cursor moved ``ticks`` (one tick up: 1)."""
    inst = desk.instrument
    if inst is None or cursor is None:
        return SILENT
    what = f"move order {'up' if ticks > 0 else 'down'}"
    if (refused := refusal(desk, what)) is not None:
        return refused
    here = _at_cursor(inst, orders, strategy, cursor)
    if isinstance(here, Refusal):
        return here
    return _moves(inst, here, cursor + ticks, what)


def pick_up(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None
) -> Pickup | Refusal:
    """The orders at the cursor, picked up to be dropped elsewhere (:func:`drop`)."""
    inst = desk.instrument
    if inst is None or cursor is None:
        return SILENT
    if (refused := refusal(desk, "pick up order")) is not None:
        return refused
    here = _at_cursor(inst, orders, strategy, cursor)
    if isinstance(here, Refusal):
        return here
    label = f"{here[0].side} {order_label(here)} {inst.format_price(cursor)}"
    return Pickup(tuple(o.order_id for o in here), cursor, label)


def drop(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], picked: Pickup,
    cursor: int | None,
) -> Moves:  # fmt: skip
    """The picked-up orders moved to the cursor's row."""
    inst = desk.instrument
    if inst is None or cursor is None:
        return SILENT
    what = "drop order"
    if (refused := refusal(desk, what)) is not None:
        return refused
    still = [o for o in orders if o.order_id in picked.order_ids and o.is_open and o.remaining]
    if not still:
        return Refusal(f"{picked.label} is no longer working: nothing moved")
    return _movable(still, strategy) or _moves(inst, still, cursor, what)


def exit_to(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    role: OrderRole,
) -> Moves:  # fmt: skip
    """The working brackets' exits of ``role`` (target or stop) moved to the cursor's row."""
    inst = desk.instrument
    if inst is None or cursor is None:
        return SILENT
    what = f"move bracket {role}"
    if (refused := refusal(desk, what)) is not None:
        return refused
    legs = [o for o in orders if o.own and o.is_open and o.remaining and o.role is role]
    if not legs:
        return Refusal(f"{what}: no working bracket {role}")
    return _movable(legs, strategy) or _moves(inst, legs, cursor, what)


def resize(
    desk: Desk, orders: Iterable[OrderView], strategy: Collection[str], cursor: int | None,
    step: int,
) -> Moves:  # fmt: skip
    """The order at the cursor one contract larger (``step`` 1) or smaller (-1), never below
    1 nor below what has filled (the position limits are the engine's to check)."""
    inst = desk.instrument
    if inst is None or cursor is None:
        return SILENT
    what = f"order quantity {'up' if step > 0 else 'down'}"
    if (refused := refusal(desk, what)) is not None:
        return refused
    here = _at_cursor(inst, orders, strategy, cursor)
    if isinstance(here, Refusal):
        return here
    if len(here) > 1:
        return Refusal(f"{len(here)} orders at {inst.format_price(cursor)}: the quantity keys "
                       "change one order")  # fmt: skip
    (order,) = here
    quantity = order.quantity + step
    if quantity < max(1, order.filled + 1):
        return Refusal(f"{what}: {order.order_id} cannot go below {order.quantity} (cancel it "
                       "to remove it)")  # fmt: skip
    return (Send(ModifyOrder(order.order_id, quantity=quantity), what),)
