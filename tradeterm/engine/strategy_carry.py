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

from tradeterm.engine.engine import Engine


def carried_position(engine: Engine, name: str, orders: Collection[str]) -> int:
    """The position strategy ``name`` starts with, given its earlier runs' ``orders`` (see
    the module notes), on a started engine."""
    portfolio = engine.portfolio
    if portfolio is None or not orders:
        return 0
    journaled = sum(f.signed_quantity for f in portfolio.ledger if f.order_id in orders)
    held = portfolio.position.quantity
    position = within(journaled, held)
    if position != journaled:
        engine.notice("WARNING", (
            f"strategy {name}: position at IB does not match the journal: its fills say it "
            f"holds {journaled:+d}, the account holds {held:+d}; it starts with {position:+d}"
        ))  # fmt: skip
    return position


def within(carried: int, held: int) -> int:
    """The part of a ``carried`` position that an account holding ``held`` contains."""
    if carried * held <= 0:
        return 0
    return min(abs(carried), abs(held)) * (1 if carried > 0 else -1)
