"""Futures contract months: month codes, IB's forms of them, local symbols."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from tradeterm.domain.errors import DomainError

MONTH_CODES = "FGHJKMNQUVXZ"
"""The CME month letters, January (F) to December (Z)."""

_YYYYMM = re.compile(r"^(\d{4})(\d{2})$")
_YYYYMMDD = re.compile(r"^\d{8}$")
_CODE_YEAR = re.compile(r"^([FGHJKMNQUVXZ])(\d{1,2})$")
_LOCAL_SYMBOL = re.compile(r"^([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{1,2})$")


@dataclass(frozen=True, slots=True, order=True)
class ContractMonth:
    """A contract (delivery) month, e.g. September 2024 for ESU4."""

    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise DomainError(f"month must be 1..12, got {self.month}")
        if not 1900 <= self.year <= 9999:
            raise DomainError(f"year out of range: {self.year}")

    @property
    def code(self) -> str:
        """The month letter: ``U`` for September."""
        return MONTH_CODES[self.month - 1]

    @property
    def yyyymm(self) -> str:
        """IB's ``lastTradeDateOrContractMonth`` form: ``"202409"``."""
        return f"{self.year:04d}{self.month:02d}"

    def local_symbol(self, root: str) -> str:
        """IB's local symbol for a CME future: root, month letter, last digit of the year
        (``ESU4``)."""
        return f"{root}{self.code}{self.year % 10}"

    def shifted(self, months: int) -> ContractMonth:
        """The month ``months`` later (earlier if negative)."""
        index = self.year * 12 + (self.month - 1) + months
        return ContractMonth(index // 12, index % 12 + 1)

    @classmethod
    def parse(cls, text: str, today: dt.date | None = None) -> ContractMonth:
        """Read ``"202409"``, ``"U4"`` or ``"U24"``.

        A last trade date (``"20240820"``) is refused: it need not fall in the contract month
        (CLU4 stops trading in August), so take IB's ``ContractDetails.contractMonth`` instead.
        A one- or two-digit year is resolved to the first matching year that is not before
        ``today``'s year minus one (a contract that expired last year can still be named); with
        one digit that is within the decade starting then. ``today`` is required for those forms.
        """
        text = text.strip().upper()
        if m := _YYYYMM.match(text):
            return cls(int(m.group(1)), int(m.group(2)))
        if _YYYYMMDD.match(text):
            raise DomainError(f"{text!r} is a date, not a contract month (use contractMonth)")
        if m := _CODE_YEAR.match(text):
            if today is None:
                raise DomainError(f"{text!r} needs today's date to resolve its year")
            return cls(_resolve_year(m.group(2), today), MONTH_CODES.index(m.group(1)) + 1)
        raise DomainError(f"not a contract month: {text!r}")

    def __str__(self) -> str:
        return self.yyyymm


def _resolve_year(digits: str, today: dt.date) -> int:
    modulus = 10 ** len(digits)
    earliest = today.year - 1
    year = earliest - earliest % modulus + int(digits)
    if year < earliest:
        year += modulus
    return year


def parse_local_symbol(text: str, today: dt.date) -> tuple[str, ContractMonth]:
    """Split a futures local symbol into root and month: ``"ESU4"`` → ``("ES", 2024-09)``
    (year resolved as in ``ContractMonth.parse``)."""
    m = _LOCAL_SYMBOL.match(text.strip().upper())
    if m is None:
        raise DomainError(f"not a futures local symbol: {text!r}")
    root, code, digits = m.groups()
    return root, ContractMonth(_resolve_year(digits, today), MONTH_CODES.index(code) + 1)
