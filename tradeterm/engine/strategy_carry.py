"""What a restarted strategy takes back from its earlier runs.

The journal gives the client ids of the orders the strategy's earlier runs sent
(``Journal.strategy_orders``, passed in by ``Runtime.strategy_runner``; the engine does not
read the journal). They become its orders again in the runner, so the fills and updates of
those still working (its bracket exits, adopted at the reconciliation) count for it. Its
position starts as what their fills add up to in the engine's ledger: the journal's fills and
those IB reported at the reconciliation (a stop that filled while it was down included).

IB's position is the truth that position must fit in. When the account holds less of it, or
none, or the other way (the trader flattened or reversed by hand while it was down, or IB
says flat), the strategy starts with the part the account still holds: the smaller of the
two when they have the same sign, else flat. A WARNING says so ("position at IB does not
match the journal"). It never trades from a position it no longer has, and is never left
standing aside for good behind a contract that is gone.
"""

from __future__ import annotations

from collections.abc import Collection

from tradeterm.domain import Position, Side
from tradeterm.engine.engine import Engine


def carried_position(engine: Engine, name: str, orders: Collection[str]) -> Position | None:
    """The position strategy ``name`` starts with, given its earlier runs' ``orders`` (see
    the module notes), on a started engine: its fills' lots (for its P&L), fitted into the
    account's position (:func:`fitted`). None when it has no fills."""
    portfolio, instrument = engine.portfolio, engine.instrument
    if portfolio is None or instrument is None or not orders:
        return None
    fills = [f for f in portfolio.ledger if f.order_id in orders]
    if not fills:
        return None
    carried = Position(instrument)
    for fill in fills:
        carried.apply_fill(fill)
    return fitted(engine, name, carried, "the journal: its fills say it holds")


def fitted(engine: Engine, name: str, position: Position, what: str = "") -> Position:
    """``position`` (the strategy's, changed in place) less the part the account no longer
    holds, taken out at its average price (what it was closed at is not known here), with a
    WARNING that says so (none without ``what``, the count that does not match). At a restart
    and at every start after a stop: a kill switch or the trader may have closed it meanwhile;
    and for what a stopped strategy is shown to own."""
    portfolio = engine.portfolio
    held = portfolio.position.quantity if portfolio is not None else 0
    journaled = position.quantity
    kept = within(journaled, held)
    if kept != journaled:
        if what:
            engine.notice("WARNING", (
                f"strategy {name}: position at IB does not match {what} {journaled:+d}, "
                f"the account holds {held:+d}; it starts with {kept:+d}"
            ))  # fmt: skip
        average = position.avg_price
        assert average is not None  # journaled != 0 here: within() keeps a flat one flat
        closing = Side.SELL if journaled > 0 else Side.BUY
        position.apply(closing, abs(journaled - kept), round(average))
    return position


def within(carried: int, held: int) -> int:
    """The part of a ``carried`` position that an account holding ``held`` contains."""
    if carried * held <= 0:
        return 0
    return min(abs(carried), abs(held)) * (1 if carried > 0 else -1)
