"""Exact money.

Money is a ``Decimal`` in the instrument's currency, never an accumulated float. Prices and
P&L are computed in integer ticks and turned into money once, by multiplying with the exact
tick value; the journal stores integer cents.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from tradeterm.domain.errors import DomainError

_CENT = Decimal("0.01")


def decimal_from(value: Decimal | int | float | str) -> Decimal:
    """An exact ``Decimal`` for a number read at a boundary.

    A float becomes the shortest decimal that round-trips to it (``0.1`` → ``Decimal("0.1")``,
    not the binary expansion), which is what a broker meant when it sent ``0.1``.
    """
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, bool):
        raise DomainError(f"not a number: {value!r}")
    elif isinstance(value, int):
        return Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DomainError(f"not a finite number: {value!r}")
        return Decimal(repr(value))
    else:
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise DomainError(f"not a number: {value!r}") from None
    if not result.is_finite():
        raise DomainError(f"not a finite number: {value!r}")
    return result


def to_cents(amount: Decimal) -> int:
    """``amount`` as integer cents. Raises ``DomainError`` if it has a fraction of a cent (a
    sign that something upstream was not exact)."""
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise DomainError(f"{amount} is not a whole number of cents")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """The exact ``Decimal`` for integer cents (``1250`` → ``Decimal("12.50")``)."""
    return (Decimal(cents) * _CENT).quantize(_CENT)
