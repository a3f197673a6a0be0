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
from tradeterm.domain.orders import ExitTag, Order, OrderType, TimeInForce
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
    target, stop = make_exits(
        ids, instrument, side, quantity, stop_loss=stop_loss, take_profit=take_profit,
        oca_group=f"{entry.client_id}.oca", parent_id=entry.client_id, tif=exit_tif,
        source=source,
    )  # fmt: skip
    return Bracket(entry, stop, target)


def make_exits(
    ids: ClientOrderIds,
    instrument: Instrument,
    side: Side,
    quantity: int,
    *,
    stop_loss: int,
    take_profit: int | None,
    oca_group: str | None,
    parent_id: str | None = None,
    trail: int | None = None,
    oca_reduce: bool = False,
    tif: TimeInForce = TimeInForce.GTC,
    source: str = "manual",
    tag: ExitTag | None = None,
) -> tuple[Order | None, Order]:
    """The exits of ``quantity`` contracts held on ``side``: a take-profit limit at
    ``take_profit`` (None: none) and a protective stop at ``stop_loss``, on the opposite side,
    in ``oca_group``; the stop is IB's trailing stop (TRAIL, starting at ``stop_loss``) when
    ``trail`` (ticks) is given. Returned as (target, stop): a bracket's children, or an exit
    strategy's exits of a filled entry (``parent_id`` None, ``tag`` what they were sent for)."""
    exit_side = side.opposite
    target = None
    if take_profit is not None:
        target = Order(
            ids.next(), instrument, exit_side, quantity, OrderType.LIMIT, limit=take_profit,
            tif=tif, parent_id=parent_id, oca_group=oca_group, oca_reduce=oca_reduce,
            source=source, exit=tag,
        )  # fmt: skip
    stop = Order(
        ids.next(), instrument, exit_side, quantity,
        OrderType.STOP if trail is None else OrderType.TRAIL, stop=stop_loss, trail=trail,
        tif=tif, parent_id=parent_id, oca_group=oca_group, oca_reduce=oca_reduce, source=source,
        exit=tag,
    )  # fmt: skip
    return target, stop
