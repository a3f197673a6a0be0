"""A position in one instrument, with exact P&L.

Open contracts are kept as FIFO lots at integer tick prices, so realized P&L is an exact
integer number of tick-contracts (×tick value = exact money) and the average price of what is
open is an exact fraction of a tick. FIFO is also IB's default lot matching. Do not expect
IB's ``avgCost`` to equal ``avg_price × multiplier`` exactly: IB folds commissions into it and
may show a weighted average intraday. Realized + unrealized P&L does not depend on the
matching method; only how it is split does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from tradeterm.domain.errors import DomainError
from tradeterm.domain.fills import Fill
from tradeterm.domain.instruments import Instrument
from tradeterm.domain.side import Side


@dataclass(slots=True)
class _Lot:
    quantity: int  # > 0
    price: int


@dataclass(slots=True)
class Position:
    """Signed ``quantity`` (long > 0, short < 0) of ``instrument``; starts flat.

    Apply each fill once (``FillLedger.add`` tells whether a fill is new).
    """

    instrument: Instrument
    quantity: int = field(default=0, init=False)
    open_cost: int = field(default=0, init=False)
    """Signed sum of lot quantity × price in ticks: ``quantity * mark - open_cost`` is the
    unrealized P&L in tick-contracts."""
    realized: int = field(default=0, init=False)
    """Realized P&L in tick-contracts (before commissions)."""
    _lots: deque[_Lot] = field(default_factory=deque, init=False, repr=False)

    @classmethod
    def opened(cls, instrument: Instrument, quantity: int, price: int) -> Position:
        """A position of ``quantity`` (signed) entered at ``price`` ticks, e.g. restored from
        the broker."""
        position = cls(instrument)
        if quantity:
            side = Side.BUY if quantity > 0 else Side.SELL
            position.apply(side, abs(quantity), price)
        return position

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def avg_price(self) -> Fraction | None:
        """Average entry price of the open contracts, in ticks; None when flat."""
        if not self.quantity:
            return None
        return Fraction(self.open_cost, self.quantity)

    def unrealized(self, mark: int) -> int:
        """Unrealized P&L at ``mark`` (ticks), in tick-contracts."""
        return self.quantity * mark - self.open_cost

    def realized_money(self) -> Decimal:
        return self.instrument.money(self.realized)

    def unrealized_money(self, mark: int) -> Decimal:
        return self.instrument.money(self.unrealized(mark))

    def reduces(self, side: Side, quantity: int) -> bool:
        """Whether an order of ``side`` for ``quantity`` can only shrink the position, never
        flip or grow it (what a REDUCING risk state allows)."""
        return quantity > 0 and self.quantity * side.sign < 0 and quantity <= abs(self.quantity)

    def apply_fill(self, fill: Fill) -> int:
        """Apply a fill of this instrument; returns the P&L it realized, in tick-contracts."""
        if fill.instrument != self.instrument:
            raise DomainError(
                f"fill {fill.exec_id} is for {fill.instrument}, not {self.instrument}"
            )
        return self.apply(fill.side, fill.quantity, fill.price)

    def apply(self, side: Side, quantity: int, price: int) -> int:
        """Trade ``quantity`` contracts at ``price`` ticks: close open lots first (oldest
        first), open a new lot with the rest. Returns the P&L realized, in tick-contracts."""
        if quantity <= 0:
            raise DomainError(f"quantity must be positive, got {quantity}")
        sign = side.sign
        realized = 0
        left = quantity
        lots = self._lots
        while left and self.quantity * sign < 0:  # closing against the open lots
            lot = lots[0]
            take = min(left, lot.quantity)
            # A long lot (sign -1 closes it) gains price - lot.price per contract.
            realized += take * (price - lot.price) * -sign
            self.open_cost -= take * lot.price * -sign
            self.quantity += take * sign
            lot.quantity -= take
            left -= take
            if not lot.quantity:
                lots.popleft()
        if left:
            lots.append(_Lot(left, price))
            self.quantity += left * sign
            self.open_cost += left * price * sign
        self.realized += realized
        return realized
