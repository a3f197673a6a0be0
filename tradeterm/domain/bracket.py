"""Brackets: an entry with its protective stop (and optionally a profit target) attached.

IB's native bracket: the parent, then the children with ``parentId`` set and one OCA group, so
that a fill of one child cancels the other. The stop is sent with the entry, never after it:
a crash, an SSH drop or the nightly IB outage must not leave a position without its stop.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradeterm.domain.errors import InvalidOrderError
from tradeterm.domain.ids import ClientOrderIds
from tradeterm.domain.instruments import Instrument
from tradeterm.domain.orders import Order, OrderType, TimeInForce
from tradeterm.domain.side import Side


@dataclass(frozen=True, slots=True)
class Bracket:
    """The orders of one bracket, in the order they must be sent (the last one transmits)."""

    entry: Order
    stop_loss: Order
    take_profit: Order | None = None

    @property
    def orders(self) -> tuple[Order, ...]:
        """Entry, then take-profit (if any), then stop: IB transmits the group when the last
        order, sent with ``transmit=True``, arrives."""
        if self.take_profit is None:
            return (self.entry, self.stop_loss)
        return (self.entry, self.take_profit, self.stop_loss)


def make_bracket(
    ids: ClientOrderIds,
    instrument: Instrument,
    side: Side,
    quantity: int,
    *,
    stop_loss: int,
    take_profit: int | None = None,
    entry_limit: int | None = None,
    entry_stop: int | None = None,
    reference: int | None = None,
    tif: TimeInForce = TimeInForce.DAY,
    exit_tif: TimeInForce = TimeInForce.GTC,
    source: str = "manual",
) -> Bracket:
    """A bracket entering ``side`` for ``quantity`` contracts.

    The entry is a limit order at ``entry_limit``, a stop order at ``entry_stop`` (a buy stop
    rests above the market, a sell stop below, until a trade reaches it), or a market order
    when both are None; then ``reference`` (e.g. the last price, in ticks) is the price the
    exits are checked against. The stop must be on the losing side of the entry price and the
    target on the winning side (buy: stop < entry < target). The exits are STP and LMT orders
    on the opposite side, GTC by default, linked to the entry by ``parent_id`` and to each
    other by an OCA group.

    IB's bracket children have fixed prices, so the exits are placed from the entry's price
    as sent (its limit, its stop, the reference), not from its fill: a stop entry that slips
    (a buy filled above its stop) leaves its protective stop further than asked from the fill
    and its target nearer. Each leg's ``source`` is who sends the bracket.
    """
    if entry_limit is not None and entry_stop is not None:
        raise InvalidOrderError("a bracket's entry is a limit or a stop, not both")
    if entry_limit is not None:
        entry_type, basis = OrderType.LIMIT, entry_limit
    elif entry_stop is not None:
        entry_type, basis = OrderType.STOP, entry_stop
    elif reference is not None:
        entry_type, basis = OrderType.MARKET, reference
    else:
        raise InvalidOrderError("a market-entry bracket needs a reference price")
    sign = side.sign
    if (basis - stop_loss) * sign <= 0:
        raise InvalidOrderError(f"stop {stop_loss} is not on the losing side of {basis}")
    if take_profit is not None and (take_profit - basis) * sign <= 0:
        raise InvalidOrderError(f"target {take_profit} is not on the winning side of {basis}")

    entry = Order(
        ids.next(), instrument, side, quantity, entry_type, limit=entry_limit, stop=entry_stop,
        tif=tif, source=source,
    )  # fmt: skip
    oca = f"{entry.client_id}.oca"
    exit_side = side.opposite
    target = None
    if take_profit is not None:
        target = Order(
            ids.next(),
            instrument,
            exit_side,
            quantity,
            OrderType.LIMIT,
            limit=take_profit,
            tif=exit_tif,
            parent_id=entry.client_id,
            oca_group=oca,
            source=source,
        )
    stop = Order(
        ids.next(),
        instrument,
        exit_side,
        quantity,
        OrderType.STOP,
        stop=stop_loss,
        tif=exit_tif,
        parent_id=entry.client_id,
        oca_group=oca,
        source=source,
    )
    return Bracket(entry, stop, target)
