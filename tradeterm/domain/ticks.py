"""Integer-tick price math.

Inside tradeterm a price is an ``int`` number of ticks (``price = ticks * tick``). Prices become
ticks once, at a boundary (broker adapter, user input), and become prices again only to be
shown or sent to the broker. A price made from ticks is always on the tick, so IB error 110
("price does not conform to the minimum price variation") cannot happen.

``tick`` is the exact tick size as a ``Decimal`` (``Decimal("0.25")``).
"""

from __future__ import annotations

import math
from decimal import ROUND_FLOOR, Decimal
from enum import Enum
from functools import lru_cache
from typing import Protocol

from tradeterm.domain.errors import DomainError, OffTickError
from tradeterm.domain.money import decimal_from
from tradeterm.domain.side import Side

_FLOAT_TOLERANCE = 1e-6
"""How far (in ticks) a float price may be from a tick and still count as on it. Float noise
on real prices is ~1e-10 ticks; a real off-tick price is at least one price digit away."""

_HALF = Decimal("0.5")


class Rounding(Enum):
    """How ``price_to_ticks`` treats a price that is not on a tick."""

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
        """The safe rounding for an order price: a buy never pays more than asked (down), a
        sell never receives less (up)."""
        return Rounding.DOWN if side is Side.BUY else Rounding.UP


class _Scale:
    """A tick size as integers: ``tick = units / 10**decimals``."""

    __slots__ = ("decimals", "factor", "tick_float", "units")

    def __init__(self, tick: Decimal) -> None:
        if not isinstance(tick, Decimal) or not tick.is_finite() or tick <= 0:
            raise DomainError(f"tick size must be a positive Decimal, got {tick!r}")
        exponent = tick.normalize().as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked above
        self.decimals = max(0, -exponent)
        self.factor = 10**self.decimals
        self.units = int(tick * self.factor)
        self.tick_float = float(tick)


_scale = lru_cache(maxsize=256, typed=True)(_Scale)


def check_tick(tick: Decimal) -> None:
    """Raise ``DomainError`` unless ``tick`` is a usable tick size."""
    _scale(tick)


def price_decimals(tick: Decimal) -> int:
    """How many decimals a price on this tick shows (0.25: 2, 0.1: 1, 1: 0)."""
    return _scale(tick).decimals


def price_to_ticks(
    price: float | Decimal | int | str, tick: Decimal, rounding: Rounding = Rounding.EXACT
) -> int:
    """The price as a number of ticks.

    Floats (what IB sends) are taken as meaning the nearest decimal, so float noise
    (``4.35 / 0.01 = 434.99999…``) never moves a price by a tick. Decimals, ints and strings
    are converted exactly. A price off the tick raises ``OffTickError`` unless a ``rounding``
    is given.
    """
    if isinstance(price, float):
        return _float_to_ticks(price, _scale(tick), rounding)
    check_tick(tick)
    value = decimal_from(price)
    ticks = value / tick
    below = ticks.to_integral_value(rounding=ROUND_FLOOR)
    if ticks == below:
        return int(below)
    if rounding is Rounding.EXACT:
        raise OffTickError(f"{price} is not on a {tick} tick")
    if rounding is Rounding.DOWN:
        return int(below)
    if rounding is Rounding.UP:
        return int(below) + 1
    return int((ticks + _HALF).to_integral_value(rounding=ROUND_FLOOR))


def _float_to_ticks(price: float, scale: _Scale, rounding: Rounding) -> int:
    if not math.isfinite(price):
        raise DomainError(f"not a finite price: {price!r}")
    ticks = price / scale.tick_float
    nearest = math.floor(ticks + 0.5)
    if abs(ticks - nearest) <= _FLOAT_TOLERANCE:
        return nearest
    if rounding is Rounding.EXACT:
        raise OffTickError(f"{price!r} is not on a {scale.tick_float} tick")
    if rounding is Rounding.DOWN:
        return math.floor(ticks)
    if rounding is Rounding.UP:
        return math.ceil(ticks)
    return nearest


def round_to_tick(price: float | Decimal | int | str, tick: Decimal, side: Side) -> int:
    """``price`` in ticks, rounded in the safe direction for an order of ``side``: a buy
    rounds down, a sell rounds up. On-tick prices are unchanged."""
    return price_to_ticks(price, tick, Rounding.passive(side))


def nearest_tick(price: float | Decimal | int | str, tick: Decimal) -> int:
    """``price`` in ticks, rounded to the closest tick (half-way goes up)."""
    return price_to_ticks(price, tick, Rounding.NEAREST)


def ticks_to_price(ticks: int, tick: Decimal) -> Decimal:
    """The exact price of ``ticks`` (``Decimal("5528.50")`` for 22114 ES ticks)."""
    scale = _scale(tick)
    return Decimal(ticks * scale.units).scaleb(-scale.decimals)


def ticks_to_float(ticks: int, tick: Decimal) -> float:
    """The price of ``ticks`` as the float closest to the exact price, whose ``repr`` is the
    exact decimal price (``0.3``, never ``0.30000000000000004``): safe to send to IB."""
    scale = _scale(tick)
    return ticks * scale.units / scale.factor  # int / int: correctly rounded


def format_ticks(ticks: int, tick: Decimal) -> str:
    """The price of ``ticks`` as text with the tick's decimals (``"5528.50"``)."""
    scale = _scale(tick)
    value = ticks * scale.units
    if not scale.decimals:
        return str(value)
    whole, frac = divmod(abs(value), scale.factor)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{frac:0{scale.decimals}d}"


class HasTickValue(Protocol):
    @property
    def tick_value(self) -> Decimal: ...


def ticks_to_money(ticks: int, qty: int, spec: HasTickValue) -> Decimal:
    """The money of ``ticks`` per contract on ``qty`` contracts: ES 4 ticks × 2 → 100.00."""
    return ticks * qty * spec.tick_value
