"""Exact money.

Money is a ``Decimal`` in the instrument's currency, never an accumulated float. Prices and
P&L are computed in integer ticks and turned into money once, by multiplying with the exact
tick value; the journal stores integer cents.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from tradeterm.domain.errors import DomainError

_CENT = Decimal("0.01")

# Plain ASCII notation only: ``int()``/``Decimal()`` also take other scripts' digits (``"٣"``),
# full-width forms, ``_`` separators, exponents, "nan" and "inf", none of which a user means.
_WHOLE_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def decimal_from(value: Decimal | int | float | str) -> Decimal:
    """An exact ``Decimal`` for a number read at a boundary.

    A float becomes the shortest decimal that round-trips to it (``0.1`` → ``Decimal("0.1")``,
    not the binary expansion), which is what a broker meant when it sent ``0.1``. A string
    must be a plain ASCII decimal (``"-12.5"``, ``" 5000 "``), see ``_DECIMAL_TEXT``.
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
        text = value.strip()
        if not _DECIMAL_TEXT.fullmatch(text):
            raise DomainError(f"not a number: {value!r}")
        result = Decimal(text)
    if not result.is_finite():
        raise DomainError(f"not a finite number: {value!r}")
    return result


def whole_from(text: str) -> int:
    """A whole number typed by a user, in plain ASCII digits (``"3"``, ``" -2 "``); raises
    ``DomainError`` for anything else (``"٣"``, ``"³"``, ``"1_0"``, ``"1.0"``), and for more
    digits than ``int()`` reads (4300: it raises its own ``ValueError`` past them)."""
    stripped = text.strip()
    if not _WHOLE_TEXT.fullmatch(stripped):
        raise DomainError(f"not a whole number: {text!r}")
    try:
        return int(stripped)
    except ValueError:
        raise DomainError(f"not a whole number: {text!r} has too many digits") from None


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
