"""Futures contract months and the specs of the CME Group roots tradeterm knows.

The spec table is a fallback and a test oracle: at run time the tick size comes from IB's
``ContractDetails.minTick`` and the multiplier from the contract (see ``Instrument``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from tradeterm.domain.errors import DomainError

MONTH_CODES = "FGHJKMNQUVXZ"
"""The CME month letters, January (F) to December (Z)."""

_YYYYMM = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")
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

    def third_friday(self) -> dt.date:
        """The third Friday of the month: the last trading day of the quarterly equity index
        futures (ES, NQ, RTY, YM and their micros). Other roots expire on other rules."""
        first = dt.date(self.year, self.month, 1)
        first_friday = 1 + (4 - first.weekday()) % 7
        return dt.date(self.year, self.month, first_friday + 14)

    @classmethod
    def parse(cls, text: str, today: dt.date | None = None) -> ContractMonth:
        """Read ``"202409"``, ``"20240920"`` (a last trade date), ``"U4"`` or ``"U24"``.

        A one- or two-digit year is resolved to the first matching year that is not before
        ``today``'s year minus one (a contract that expired last year can still be named); with
        one digit that is within the decade starting then. ``today`` is required for those forms.
        """
        text = text.strip().upper()
        if m := _YYYYMM.match(text):
            return cls(int(m.group(1)), int(m.group(2)))
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


@dataclass(frozen=True, slots=True)
class RootSpec:
    """The contract specification shared by every month of one futures root."""

    root: str
    exchange: str
    tick_size: Decimal
    multiplier: Decimal
    months: str
    """The listed cycle as month letters (``"HMUZ"`` for the quarterlies)."""
    description: str = ""
    currency: str = "USD"

    def __post_init__(self) -> None:
        if self.tick_size <= 0 or self.multiplier <= 0:
            raise DomainError(f"{self.root}: tick size and multiplier must be positive")
        if not self.months or any(c not in MONTH_CODES for c in self.months):
            raise DomainError(f"{self.root}: bad month cycle {self.months!r}")

    @property
    def tick_value(self) -> Decimal:
        """Money per tick per contract (ES: 12.50)."""
        return self.tick_size * self.multiplier

    def is_listed(self, month: ContractMonth) -> bool:
        """Whether ``month`` is in this root's regular cycle."""
        return month.code in self.months

    def cycle_months(self, start: ContractMonth, count: int) -> list[ContractMonth]:
        """The next ``count`` cycle months from ``start`` (included). Which of them has expired
        is for the caller to decide, from the contract details."""
        found: list[ContractMonth] = []
        month = start
        while len(found) < count:
            if self.is_listed(month):
                found.append(month)
            month = month.shifted(1)
        return found


def _spec(root: str, exchange: str, tick: str, mult: int, months: str, desc: str) -> RootSpec:
    return RootSpec(root, exchange, Decimal(tick), Decimal(mult), months, desc)


CME_ROOTS: Mapping[str, RootSpec] = MappingProxyType(
    {
        s.root: s
        for s in (
            _spec("ES", "CME", "0.25", 50, "HMUZ", "E-mini S&P 500"),
            _spec("MES", "CME", "0.25", 5, "HMUZ", "Micro E-mini S&P 500"),
            _spec("NQ", "CME", "0.25", 20, "HMUZ", "E-mini Nasdaq-100"),
            _spec("MNQ", "CME", "0.25", 2, "HMUZ", "Micro E-mini Nasdaq-100"),
            _spec("YM", "CBOT", "1", 5, "HMUZ", "E-mini Dow"),
            _spec("RTY", "CME", "0.1", 50, "HMUZ", "E-mini Russell 2000"),
            _spec("CL", "NYMEX", "0.01", 1000, MONTH_CODES, "Crude Oil"),
            # GC also lists the three nearest calendar months; only the regular cycle is here.
            _spec("GC", "COMEX", "0.1", 100, "GJMQVZ", "Gold"),
        )
    }
)
"""Specs of the roots in docs/ib-facts.md, keyed by root, with IB's current exchange names."""
