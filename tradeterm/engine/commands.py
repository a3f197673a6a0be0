"""Commands the engine accepts (from the UI, a strategy, a test), and their results.

Every command gets an id (``cmd-<n>``) when :meth:`Engine.submit` takes it; the result and
every event it causes carry that id, and so does the journal. Prices in commands are prices
(``Decimal``, ``str``, ``float`` or ``int`` in the instrument's units, e.g. ``5000.25``), never
ticks: the engine rounds each one to the instrument's tick on the safe side before anything
is sent (a buy rounds down, a sell rounds up).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from tradeterm.domain import DomainError, Instrument, OrderType, Rounding, Side, TimeInForce

Price = Decimal | str | float | int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """One order: market, limit (``limit``), stop (``stop``) or stop-limit (both).

    ``resting``: the order is meant to rest (the screen's keys at the cursor and join bid/ask):
    the risk manager refuses it when, as the engine's book stands when the command is
    processed, its limit would trade at once or its stop would trigger at once. Typed
    orders (the console) leave it False: a marketable limit is then allowed.

    ``exits``: the market's exit strategy (``[markets.X.exits.NAME]``) that protects each
    fill of this entry (``engine/exits.py``); refused for an order that is not an entry."""

    side: Side
    quantity: int
    order_type: OrderType = OrderType.MARKET
    limit: Price | None = None
    stop: Price | None = None
    tif: TimeInForce = TimeInForce.DAY
    source: str = "manual"  # or a strategy's name
    resting: bool = False
    exits: str | None = None


@dataclass(frozen=True, slots=True)
class PlaceBracket:
    """A native IB bracket: entry (market, limit at ``entry_limit``, or stop at ``entry_stop``),
    a protective stop ``stop_ticks`` from the entry price and optionally a target
    ``target_ticks`` from it. The exits are GTC, share one OCA group, and the last leg
    transmits the group. ``resting``: as for :class:`PlaceOrder`, for the entry limit.

    A stop entry always rests (a buy stop above the market, a sell stop below; one that would
    trigger at once is refused), and its exits are priced from its stop price, not from its
    fill (IB's bracket children have fixed prices): a fill that slips past the stop leaves the
    protective stop further from the fill than ``stop_ticks`` and the target nearer."""

    side: Side
    quantity: int
    stop_ticks: int
    target_ticks: int | None = None
    entry_limit: Price | None = None
    source: str = "manual"
    resting: bool = False
    entry_stop: Price | None = None


@dataclass(frozen=True, slots=True)
class ModifyOrder:
    """Change a working order of this instance: quantity and/or price(s). ``resting``: as
    for :class:`PlaceOrder`, the order at its new price(s) must rest (the screen's move
    keys): a limit moved across the market or a stop moved through it is refused."""

    order_id: str
    quantity: int | None = None
    limit: Price | None = None
    stop: Price | None = None
    resting: bool = False


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: str


@dataclass(frozen=True, slots=True)
class CancelAll:
    """Cancel every working order of this instance (and only those: other instances, other
    clients and manual TWS orders are left alone). ``at_price`` (ticks) limits it to the
    orders working at one ladder row."""

    at_price: int | None = None


@dataclass(frozen=True, slots=True)
class Flatten:
    """Cancel this instance's orders, then close the position with a market order."""


@dataclass(frozen=True, slots=True)
class Reverse:
    """Cancel this instance's orders, then trade twice the position the other way.

    ``exits``: the exit strategy that protects the new position (the one chosen for the next
    entry, as ``PlaceOrder.exits``): the reverse order is its entry, for the half it opens."""

    exits: str | None = None


@dataclass(frozen=True, slots=True)
class StopsToBreakeven:
    """Move the working stops of the exit strategies' entries to breakeven now (each to its
    fill, plus the strategy's offset), those the market is beyond (``engine/exits.py``)."""


@dataclass(frozen=True, slots=True)
class GlobalCancel:
    """IB's reqGlobalCancel: every working order of the account, every client. Only on
    explicit request (a user who typed it)."""


@dataclass(frozen=True, slots=True)
class ToggleAlert:
    """Set a price alert at ``price`` (to the nearest tick), or remove the one there. An
    alert sends no order: taken while trading is halted or the kill switch runs too."""

    price: Price


@dataclass(frozen=True, slots=True)
class ClearAlerts:
    """Remove every price alert."""


Command = (
    PlaceOrder
    | PlaceBracket
    | ModifyOrder
    | CancelOrder
    | CancelAll
    | Flatten
    | Reverse
    | GlobalCancel
    | StopsToBreakeven
    | ToggleAlert
    | ClearAlerts
)


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What became of a command: ``ok`` with the client order ids it sent, cancelled or
    modified, or refused with a reason worded for the user."""

    command_id: str
    command: Command
    ok: bool
    reason: str = ""
    order_ids: tuple[str, ...] = field(default=())


class Refused(Exception):
    """A command cannot be carried out; the message says why (shown and journaled)."""


def price_ticks(instrument: Instrument, price: Price, rounding: Rounding) -> int:
    """``price`` on ``instrument``'s tick, rounded by ``rounding``; one that is not a finite
    number is refused."""
    try:
        return instrument.to_ticks(price, rounding)
    except (DomainError, ValueError, ArithmeticError):
        raise Refused(f"not a price: {price!r}") from None


class NotSent(Refused):
    """The broker could not take an order (the connection dropped as it was sent): nothing
    of it reached IB."""
