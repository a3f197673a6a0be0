"""What a pre-trade check sees besides the order (:class:`RiskContext`), and the checks of an
order's price against the book: that an order sent to rest would rest (:func:`not_resting`)
and the fat-finger band (:func:`fat_finger`). Pure functions of the order and the book; the
risk manager (``risk.py``) applies them with its configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tradeterm.broker.port import ConnectionState
from tradeterm.domain import OrderType, Side
from tradeterm.engine.order_manager import OrderIntent


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the pre-trade checks see besides the order.

    ``position``: signed contracts. ``working_buy``/``working_sell``: the most this
    instance's working orders on each side could still fill (the order being checked, the
    OCA members a modification stands for and the orders a reverse cancels first not
    included; an OCA group counted once).
    ``bid``/``ask``/``last``: ticks, None when unknown. ``connection``: the engine's health
    state (only OK allows entries), ``connection_reason`` why it is not OK when known.
    ``stale``: the feeds that are stale (empty: none).
    """

    now_ns: int
    position: int = 0
    working_buy: int = 0
    working_sell: int = 0
    bid: int | None = None
    ask: int | None = None
    last: int | None = None
    connection: ConnectionState = ConnectionState.OK
    connection_reason: str = ""
    stale: tuple[str, ...] = ()

    def working(self, side: Side) -> int:
        return self.working_buy if side is Side.BUY else self.working_sell


def not_resting(
    intent: OrderIntent, ctx: RiskContext, fmt: Callable[[int], str] = str
) -> str | None:
    """Why an order sent to rest (``intent.resting``) would not, or None. Against the book
    in ``ctx`` (the engine's, as it is when the command is processed):

    * a limit would trade at once at or through the touch: a buy limit at or above the
      ask, a sell limit at or below the bid (the last trade when that side is empty);
    * a stop would trigger at once (stops trigger on the last trade, and a trade at the
      far touch is one lift or hit away): a buy stop at or below the higher of the ask
      and the last trade, a sell stop at or above the lower of the bid and the last. A
      stop-limit is checked by its stop;
    * a market order never rests; with no bid, ask or last trade nothing can be checked.

    ``fmt`` words a price in ticks for the refusal.
    """
    if not intent.resting:
        return None
    side = intent.side
    buy = side is Side.BUY
    near = ctx.ask if buy else ctx.bid
    where = "ask" if buy else "bid"
    if intent.stop is not None:
        kind, price, effect = "stop", intent.stop, "trigger at once"
        known = [(t, w) for t, w in ((near, where), (ctx.last, "last trade")) if t is not None]
        # the far side of the market: the higher touch for a buy stop, the lower for a sell
        known.sort(key=lambda tw: tw[0], reverse=buy)
        touch = known[0] if known else None
    elif intent.limit is not None:
        kind, price, effect = "limit", intent.limit, "trade at once"
        touch = (near, where) if near is not None else None
        if touch is None and ctx.last is not None:
            touch = (ctx.last, "last trade")
    else:
        return f"a {side.lower()} market order cannot rest on the book"
    if touch is None:
        return f"{side.lower()} {kind}: no bid, ask or last trade yet to check that it rests"
    at, named = touch
    # refused at or above the touch: a buy limit, a sell stop; at or below: the others
    above = buy == (kind == "limit")
    if (price < at) if above else (price > at):
        return None
    word = "above" if above else "below"
    return (
        f"{side.lower()} {kind} {fmt(price)} is at or {word} the {named} "
        f"{fmt(at)}: it would {effect}, not rest"
    )


def fat_finger(intent: OrderIntent, ctx: RiskContext, n: int, *, entry: bool = True) -> str | None:
    """The hard price band. A price is *through the touch* by how far it lies on the side
    where the order would execute at once: for a buy the touch is the ask (else the last
    trade) and a price is ``price - ask`` ticks through; for a sell the touch is the bid
    (else the last) and ``bid - price`` ticks through.

    * A limit (LMT) is refused when its limit is more than N (``n``, the risk config's
      ``fat_finger_ticks``) through the touch (buy above ask + N, sell below bid - N).
    * A stop triggers when the market reaches it, so it is through when it lies on the
      already-triggered side: a buy stop more than N ticks *below* the ask, a sell stop
      more than N ticks *above* the bid, is refused. Stops beyond the touch (where
      protective stops rest) are never limited.
    * A stop-limit's stop is checked as a stop; its limit is checked against the price it
      would become active at: the stop, or the touch if that is already beyond the stop
      (buy: ``max(stop, ask)``; sell: ``min(stop, bid)``).
    * Exactly N ticks through is allowed. Market orders have no price to check. With no
      bid/ask and no last trade an entry with a price is refused; an exit is let through
      (it cannot be checked, and blocking a protective order is worse).
    """
    side = intent.side
    touch = ctx.ask if side is Side.BUY else ctx.bid
    if touch is None:
        touch = ctx.last
    priced = intent.limit is not None or intent.stop is not None
    if not priced:
        return None
    if touch is None:
        if entry:
            return "no market price yet to check the order's price against"
        return None
    sign = side.sign
    where = "ask" if side is Side.BUY else "bid"
    if (side is Side.BUY and ctx.ask is None) or (side is Side.SELL and ctx.bid is None):
        where = "last trade"
    if intent.stop is not None:
        through = (touch - intent.stop) * sign  # a buy stop below the ask is through
        if through > n:
            word = "below" if side is Side.BUY else "above"
            return (
                f"{side.lower()} stop is {through} ticks {word} the {where}: more than "
                f"the fat-finger band of {n} ticks (it would trigger at once)"
            )
    if intent.limit is not None:
        reference = touch
        if intent.order_type is OrderType.STOP_LIMIT and intent.stop is not None:
            reference = max(intent.stop * sign, touch * sign) * sign
            where = "stop" if reference == intent.stop else where
        through = (intent.limit - reference) * sign
        if through > n:
            word = "above" if side is Side.BUY else "below"
            return (
                f"{side.lower()} limit is {through} ticks {word} the {where}: more than "
                f"the fat-finger band of {n} ticks"
            )
    return None
