"""Instruments and the conversion between prices and integer ticks.

Inside tradeterm a price is an ``int`` number of ticks (``price = ticks * tick_size``). Prices
become ticks once, at a boundary (broker adapter, user input), through ``Instrument.to_ticks``,
and become prices again only to be shown (``format_price``) or sent to the broker
(``to_float`` / ``to_price``). A price made from ticks is always on the tick, so IB error 110
("price does not conform to the minimum price variation") cannot happen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import Enum

from tradeterm.domain.contracts import CME_ROOTS, ContractMonth, RootSpec
from tradeterm.domain.errors import DomainError, OffTickError
from tradeterm.domain.money import decimal_from
from tradeterm.domain.side import Side

_FLOAT_TOLERANCE = 1e-6
"""How far (in ticks) a float price may be from a tick and still count as on it. Float noise
on real prices is ~1e-10 ticks; a real off-tick price is at least one price digit away."""


class Rounding(Enum):
    """How ``Instrument.to_ticks`` treats a price that is not on a tick."""

    EXACT = "exact"
    """Raise ``OffTickError``."""
    DOWN = "down"
    """To the tick below (toward -inf)."""
    UP = "up"
    """To the tick above (toward +inf)."""
    NEAREST = "nearest"
    """To the closest tick; exactly half-way goes up."""

    @staticmethod
    def passive(side: Side) -> Rounding:
        """The rounding that never makes a limit price more aggressive: a buy rounds down, a
        sell rounds up."""
        return Rounding.DOWN if side is Side.BUY else Rounding.UP


_HALF = Decimal("0.5")


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract (or, with ``expiry`` None, a root used as a template).

    ``tick_size`` and ``multiplier`` should come from IB's contract details; ``from_spec``
    builds an instrument from the built-in table instead.
    """

    root: str
    exchange: str
    tick_size: Decimal
    multiplier: Decimal
    expiry: ContractMonth | None = None
    local_symbol: str = ""
    con_id: int | None = None
    currency: str = "USD"
    # Derived once, for integer-only price arithmetic on the hot path.
    _decimals: int = field(init=False, repr=False, compare=False)
    _units: int = field(init=False, repr=False, compare=False)
    _scale: int = field(init=False, repr=False, compare=False)
    _tick_float: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.root:
            raise DomainError("instrument root must not be empty")
        for name in ("tick_size", "multiplier"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise DomainError(f"{self.root}: {name} must be a positive Decimal, got {value!r}")
        exponent = self.tick_size.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked above
        decimals = max(0, -exponent)
        scale = 10**decimals
        object.__setattr__(self, "_decimals", decimals)
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_units", int(self.tick_size * scale))
        object.__setattr__(self, "_tick_float", float(self.tick_size))
        if not self.local_symbol:
            symbol = self.expiry.local_symbol(self.root) if self.expiry else self.root
            object.__setattr__(self, "local_symbol", symbol)

    @classmethod
    def from_spec(
        cls,
        spec: RootSpec | str,
        expiry: ContractMonth | None = None,
        *,
        con_id: int | None = None,
    ) -> Instrument:
        """An instrument from the built-in spec table (a ``RootSpec`` or a root name in
        ``CME_ROOTS``)."""
        if isinstance(spec, str):
            try:
                spec = CME_ROOTS[spec.upper()]
            except KeyError:
                raise DomainError(f"unknown futures root: {spec!r}") from None
        return cls(
            root=spec.root,
            exchange=spec.exchange,
            tick_size=spec.tick_size,
            multiplier=spec.multiplier,
            expiry=expiry,
            con_id=con_id,
            currency=spec.currency,
        )

    @property
    def key(self) -> str:
        """The name this instrument goes by in dicts, the journal and the UI (``ESU4``)."""
        return self.local_symbol

    @property
    def tick_value(self) -> Decimal:
        """Money per tick per contract (ES: 12.50)."""
        return self.tick_size * self.multiplier

    @property
    def price_decimals(self) -> int:
        """How many decimals a price of this instrument shows (ES: 2, RTY: 1, YM: 0)."""
        return self._decimals

    # ---- price -> ticks ----------------------------------------------------------------

    def to_ticks(
        self, price: float | Decimal | int | str, rounding: Rounding = Rounding.EXACT
    ) -> int:
        """The price as a number of ticks.

        Floats (what IB sends) are taken as meaning the nearest decimal, so float noise
        (``78.53 / 0.01 = 7852.9999…``) never moves a price by a tick. Decimals, ints and
        strings are converted exactly. A price off the tick raises ``OffTickError`` unless a
        ``rounding`` is given.
        """
        if isinstance(price, float):
            return self._float_to_ticks(price, rounding)
        value = decimal_from(price)
        ticks = value / self.tick_size
        whole = ticks.to_integral_value(rounding=ROUND_FLOOR)
        if ticks == whole:
            return int(whole)
        if rounding is Rounding.EXACT:
            raise OffTickError(f"{price} is not on a {self.tick_size} tick ({self.key})")
        if rounding is Rounding.DOWN:
            return int(whole)
        if rounding is Rounding.UP:
            return int(whole) + 1
        return int((ticks + _HALF).to_integral_value(rounding=ROUND_FLOOR))

    def _float_to_ticks(self, price: float, rounding: Rounding) -> int:
        if not math.isfinite(price):
            raise DomainError(f"not a finite price: {price!r}")
        ticks = price / self._tick_float
        nearest = math.floor(ticks + 0.5)
        if abs(ticks - nearest) <= _FLOAT_TOLERANCE:
            return nearest
        if rounding is Rounding.EXACT:
            raise OffTickError(f"{price!r} is not on a {self.tick_size} tick ({self.key})")
        if rounding is Rounding.DOWN:
            return math.floor(ticks)
        if rounding is Rounding.UP:
            return math.ceil(ticks)
        return nearest

    def parse_price(self, text: str) -> int:
        """A price typed by a user, in ticks; it must be on the tick."""
        return self.to_ticks(text.strip())

    # ---- ticks -> price ----------------------------------------------------------------

    def to_price(self, ticks: int) -> Decimal:
        """The exact price of ``ticks`` (``Decimal("5528.50")`` for ES 22114)."""
        return Decimal(ticks * self._units).scaleb(-self._decimals)

    def to_float(self, ticks: int) -> float:
        """The price of ``ticks`` as the float closest to the exact price, whose ``repr`` is the
        exact decimal price: safe to send to IB."""
        return ticks * self._units / self._scale

    def format_price(self, ticks: int) -> str:
        """The price of ``ticks`` as text with the instrument's decimals (``"5528.50"``)."""
        value = ticks * self._units
        if not self._decimals:
            return str(value)
        whole, frac = divmod(abs(value), self._scale)
        sign = "-" if value < 0 else ""
        return f"{sign}{whole}.{frac:0{self._decimals}d}"

    # ---- money ---------------------------------------------------------------------------

    def money(self, tick_contracts: int) -> Decimal:
        """The money value of ``tick_contracts`` (ticks × contracts), e.g. P&L: ES 4 → 50.00."""
        return tick_contracts * self.tick_value

    def __str__(self) -> str:
        return self.key
