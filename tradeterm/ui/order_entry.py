"""Order entry: what a trading key sends, as plain functions of what the screen knows at the
key press (no Textual: tested with tables of cases, tests/unit/ui/test_order_entry.py).

Each function takes a :class:`Desk` (the engine snapshot's values and the screen's own state:
armed, confirmed, the quantity, the ladder's cursor or touch) and returns a :class:`Send` (the
engine command, sent at once) or a :class:`Refusal` (one line for the trader, or nothing at
all). The side of an order is always the key's, never the market's; prices come from ladder
rows (ticks), so every price sent is on the tick. Whether a resting order would trade or
trigger at once is the engine's to decide when it processes the command (``resting``).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradeterm.config import BracketConfig
from tradeterm.domain import Instrument, OrderType, Side
from tradeterm.engine.commands import CancelAll, CancelOrder, Command, PlaceBracket, PlaceOrder
from tradeterm.engine.types import TradingState


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``command`` now; ``what`` names the key's action (for the error report)."""

    command: Command
    what: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Nothing is sent: ``text`` says why in one line (a warning), empty when the key is
    silent (no instrument or no cursor yet); ``timeout``: seconds on screen, None for the
    notification's default."""

    text: str
    timeout: float | None = None


Decision = Send | Refusal
SILENT = Refusal("")


@dataclass(frozen=True, slots=True)
class Desk:
    """What order entry knows at a key press: from the engine's snapshot (``instrument``,
    ``trading_state`` and its reason), from the screen (``connected``: the engine started;
    ``confirmed``: the LIVE account typed; ``armed``; ``qty``), the market's bracket settings
    and the arm key's name (said in refusals)."""

    instrument: Instrument | None
    connected: bool
    confirmed: bool
    armed: bool
    trading_state: TradingState
    trading_reason: str
    qty: int
    bracket: BracketConfig
    arm_key: str
    exits: str | None = None  # the exit strategy for the next entry (``engine/exits.py``)


def refusal(desk: Desk, what: str) -> Refusal | None:
    """Why no order may go now (not connected, the LIVE account not typed, disarmed: by the
    key, or by a halt, which needs a re-arm), None when it may."""
    if not desk.connected:
        return Refusal(f"{what}: not connected yet")
    if not desk.confirmed:
        return Refusal(f"{what}: type the LIVE account id first")
    if desk.armed:
        return None
    if desk.trading_state is not TradingState.ACTIVE:  # disarmed by the halt: arming is a re-arm
        return Refusal(
            f"{what}: trading is {desk.trading_state} ({desk.trading_reason}); "
            f"press {desk.arm_key} to re-arm with a typed reason"
        )
    return Refusal(f"{what}: DISARMED (press {desk.arm_key} to arm)", timeout=2)


def guarded(desk: Desk, command: Command, what: str) -> Decision:
    """``command`` as it is (cancel all, flatten, reverse), when orders may go."""
    return refusal(desk, what) or Send(command, what)


def _entry(desk: Desk, side: Side, limit: int | None, what: str) -> Decision:
    """An entry of ``side``: at market, or a limit at ``limit`` (ticks) meant to rest; a native
    bracket when the market's brackets are on, a plain entry with the exit strategy when one
    is chosen (its exits go out as it fills)."""
    inst = desk.instrument
    if inst is None:
        return SILENT
    if (refused := refusal(desk, what)) is not None:
        return refused
    price = inst.to_price(limit) if limit is not None else None
    bracket = desk.bracket
    command: Command
    if desk.exits is not None:
        order_type = OrderType.MARKET if price is None else OrderType.LIMIT
        command = PlaceOrder(side, desk.qty, order_type, limit=price, resting=price is not None,
                             exits=desk.exits)  # fmt: skip
    elif bracket.enabled:
        command = PlaceBracket(side, desk.qty, stop_ticks=bracket.stop_ticks,
                               target_ticks=bracket.target_ticks, entry_limit=price,
                               resting=price is not None)  # fmt: skip
    elif price is None:
        command = PlaceOrder(side, desk.qty, OrderType.MARKET)
    else:
        command = PlaceOrder(side, desk.qty, OrderType.LIMIT, limit=price, resting=True)
    return Send(command, what)


def market(desk: Desk, side: Side) -> Decision:
    return _entry(desk, side, None, f"{side} market")


def join(desk: Desk, side: Side, best_bid: int | None, best_ask: int | None) -> Decision:
    """A limit at the touch of ``side`` as the screen shows it (a buy joins the bid)."""
    touch = best_bid if side is Side.BUY else best_ask
    if touch is None:
        return Refusal("no bid/ask to join")
    return _entry(desk, side, touch, f"join {'bid' if side is Side.BUY else 'ask'}")


def at_cursor(desk: Desk, side: Side, cursor: int | None, *, stop: bool) -> Decision:
    """A limit or a stop of ``side`` at the ladder ``cursor`` (ticks), sent to rest: the side is
    the key's, never the market's."""
    what = f"{side.lower()} {'stop' if stop else 'limit'} at cursor"
    inst = desk.instrument
    if cursor is None or inst is None:
        return SILENT
    if not stop:
        return _entry(desk, side, cursor, what)
    command = PlaceOrder(side, desk.qty, OrderType.STOP, stop=inst.to_price(cursor), resting=True,
                         exits=desk.exits)  # fmt: skip
    return guarded(desk, command, what)


def cancel_at_cursor(desk: Desk, cursor: int | None) -> Decision:
    """Cancel this instance's orders at the cursor's row."""
    if cursor is None:
        return SILENT
    return guarded(desk, CancelAll(at_price=cursor), "cancel at cursor")


def cancel_order(desk: Desk, order_id: str) -> Decision:
    """Cancel one order of this instance; another client's (``ib:...``) is read-only here."""
    if order_id.startswith("ib:"):
        return Refusal("another client's order: read-only here")
    return guarded(desk, CancelOrder(order_id), "cancel order")
