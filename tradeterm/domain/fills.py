"""Fills (executions) and the ledger that makes applying them idempotent.

The same execution can reach tradeterm more than once: live, again from ``reqExecutions``
after a reconnect, again from the journal at start-up. ``FillLedger.add`` says whether a fill
is new; only new fills may be applied to orders and positions.

One rule for an execution id seen again (the ledger here, the journal across runs): with the
same :attr:`Fill.facts` it is the same execution, a no-op; with other facts it is a
:class:`FillConflict`, never silently dropped (IB's execution ids are unique).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from tradeterm.domain.errors import DomainError, FillConflict
from tradeterm.domain.instruments import Instrument
from tradeterm.domain.side import Side

Facts = tuple[int | None, str, int, int, int, int | None]
"""An execution's facts: conId, side, quantity, price in ticks, time (ns), permId."""


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``order_id`` is our client order id, None for a fill of an order that is
    not ours (a manual TWS order); ``perm_id`` is IB's permanent order id when known."""

    exec_id: str
    order_id: str | None
    instrument: Instrument
    side: Side
    quantity: int
    price: int
    ts_ns: int
    perm_id: int | None = None

    def __post_init__(self) -> None:
        if not self.exec_id:
            raise DomainError("a fill needs an execution id")
        if self.quantity <= 0:
            raise DomainError(f"fill quantity must be positive, got {self.quantity}")

    @property
    def facts(self) -> Facts:
        """What IB says of the execution (not which of our orders it was matched to): contract
        id, side, quantity, price in ticks, time and permId. Every report of one ``exec_id``
        must agree on them; the journal keeps them in the same order (``rows.FILL_FACTS``)."""
        return (
            self.instrument.con_id, str(self.side), self.quantity, self.price, self.ts_ns,
            self.perm_id,
        )  # fmt: skip

    @property
    def signed_quantity(self) -> int:
        """The position change this fill makes: +quantity for a buy, -quantity for a sell."""
        return self.side.sign * self.quantity


class FillLedger:
    """Every fill seen, keyed by execution id, in arrival order, with commissions.

    IB reports a fill's commission separately (``commissionReport``), after the fill; a
    commission that arrives first is kept until its fill does.
    """

    __slots__ = ("_commissions", "_fills")

    def __init__(self) -> None:
        self._fills: dict[str, Fill] = {}
        self._commissions: dict[str, Decimal] = {}

    def add(self, fill: Fill) -> bool:
        """Record ``fill``. True if it is new; False if this execution was already recorded
        (then it must not be applied again). Other facts under a known execution id raise
        :class:`FillConflict` and change nothing."""
        known = self._fills.get(fill.exec_id)
        if known is None:
            self._fills[fill.exec_id] = fill
            return True
        if known.facts != fill.facts:
            raise FillConflict(conflict_text(fill.exec_id, known.facts, fill.facts))
        return False

    def set_commission(self, exec_id: str, amount: Decimal) -> None:
        """Record the commission (a positive cost) of an execution."""
        self._commissions[exec_id] = amount

    def get(self, exec_id: str) -> Fill | None:
        return self._fills.get(exec_id)

    def commission(self, exec_id: str) -> Decimal | None:
        return self._commissions.get(exec_id)

    def total_commission(self, instrument: Instrument | None = None) -> Decimal:
        """The commissions of the recorded fills (of one instrument if given)."""
        return sum(
            (
                self._commissions[e]
                for e, f in self._fills.items()
                if e in self._commissions and (instrument is None or f.instrument == instrument)
            ),
            Decimal(0),
        )

    def for_order(self, order_id: str) -> list[Fill]:
        """The fills of one client order id, in arrival order."""
        return [f for f in self._fills.values() if f.order_id == order_id]

    @property
    def last_ts_ns(self) -> int | None:
        """The latest execution time recorded: where a ``reqExecutions`` catch-up starts."""
        return max((f.ts_ns for f in self._fills.values()), default=None)

    def __contains__(self, exec_id: object) -> bool:
        return exec_id in self._fills

    def __len__(self) -> int:
        return len(self._fills)

    def __iter__(self) -> Iterator[Fill]:
        return iter(self._fills.values())


def conflict_text(exec_id: str, known: Facts, new: Facts) -> str:
    """What a user reads when one execution id comes with other facts (``Fill.facts``)."""
    return (
        f"execution {exec_id} reported again with other data (was {_facts(known)}, now "
        f"{_facts(new)}): the fills can no longer be trusted"
    )


def _facts(facts: Facts) -> str:
    con_id, side, qty, price, ts_ns, perm_id = facts
    when = dt.datetime.fromtimestamp(ts_ns / 1e9, dt.UTC).isoformat(timespec="seconds")
    return f"{side} {qty} @ {price} ticks at {when} UTC, conId {con_id}, permId {perm_id}"
