"""Instrument specs (per futures root) and instruments (one tradable contract).

The spec table is a fallback and a test oracle: at run time the tick size comes from IB's
``ContractDetails.minTick`` and the multiplier from the contract, and an ``Instrument`` is
built from those live values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from tradeterm.domain import ticks as tk
from tradeterm.domain.errors import DomainError, UnknownInstrumentError
from tradeterm.domain.months import MONTH_CODES, ContractMonth
from tradeterm.domain.ticks import Rounding


def _check_multiplier(root: str, multiplier: Decimal) -> None:
    if not isinstance(multiplier, Decimal) or not multiplier.is_finite() or multiplier <= 0:
        raise DomainError(f"{root}: multiplier must be a positive Decimal, got {multiplier!r}")


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """The contract specification shared by every month of one futures root."""

    root: str
    exchange: str
    """As IB names it today: CME, CBOT, NYMEX, COMEX (never GLOBEX or ECBOT)."""
    tick: Decimal
    multiplier: Decimal
    months: str
    """The listed cycle as month letters (``"HMUZ"`` for the quarterlies)."""
    description: str = ""
    currency: str = "USD"

    def __post_init__(self) -> None:
        tk.check_tick(self.tick)
        _check_multiplier(self.root, self.multiplier)
        if not self.months or any(c not in MONTH_CODES for c in self.months):
            raise DomainError(f"{self.root}: bad month cycle {self.months!r}")

    @property
    def tick_value(self) -> Decimal:
        """Money per tick per contract (ES: 12.50)."""
        return self.tick * self.multiplier

    def is_listed(self, month: ContractMonth) -> bool:
        """Whether ``month`` is in this root's regular cycle."""
        return month.code in self.months

    def cycle_months(self, start: ContractMonth, count: int) -> list[ContractMonth]:
        """The next ``count`` cycle months from ``start`` (included)."""
        found: list[ContractMonth] = []
        month = start
        while len(found) < count:
            if self.is_listed(month):
                found.append(month)
            month = month.shifted(1)
        return found


def _spec(root: str, exchange: str, tick: str, mult: str, months: str, desc: str) -> InstrumentSpec:
    return InstrumentSpec(root, exchange, Decimal(tick), Decimal(mult), months, desc)


CME_ROOTS: Mapping[str, InstrumentSpec] = MappingProxyType(
    {
        s.root: s
        for s in (
            _spec("ES", "CME", "0.25", "50", "HMUZ", "E-mini S&P 500"),
            _spec("MES", "CME", "0.25", "5", "HMUZ", "Micro E-mini S&P 500"),
            _spec("NQ", "CME", "0.25", "20", "HMUZ", "E-mini Nasdaq-100"),
            _spec("MNQ", "CME", "0.25", "2", "HMUZ", "Micro E-mini Nasdaq-100"),
            _spec("YM", "CBOT", "1.00", "5", "HMUZ", "E-mini Dow"),
            _spec("MYM", "CBOT", "1.00", "0.5", "HMUZ", "Micro E-mini Dow"),
            _spec("RTY", "CME", "0.10", "50", "HMUZ", "E-mini Russell 2000"),
            _spec("M2K", "CME", "0.10", "5", "HMUZ", "Micro E-mini Russell 2000"),
            # 1/2 of 1/32 (ZN) and 1/32 (ZB) of a point on 100,000 face value
            _spec("ZN", "CBOT", "0.015625", "1000", "HMUZ", "10-Year T-Note"),
            _spec("ZB", "CBOT", "0.03125", "1000", "HMUZ", "U.S. Treasury Bond"),
            _spec("6E", "CME", "0.00005", "125000", "HMUZ", "Euro FX"),
            _spec("CL", "NYMEX", "0.01", "1000", MONTH_CODES, "Crude Oil"),
            _spec("MCL", "NYMEX", "0.01", "100", MONTH_CODES, "Micro WTI Crude Oil"),
            _spec("NG", "NYMEX", "0.001", "10000", MONTH_CODES, "Henry Hub Natural Gas"),
            # The metals also list the nearest calendar months; only the active cycle is here.
            _spec("GC", "COMEX", "0.10", "100", "GJMQVZ", "Gold"),
            _spec("MGC", "COMEX", "0.10", "10", "GJMQVZ", "Micro Gold"),
            _spec("SI", "COMEX", "0.005", "5000", "HKNUZ", "Silver"),
        )
    }
)
"""The fallback specs (docs/ib-facts.md and CME Group's contract specifications), keyed by
root. A root not here is traded on what IB's contract details say (``broker.port.resolve``);
these add the roll rules of ``domain.expiry`` and a test oracle."""


def spec_for(root: str) -> InstrumentSpec:
    """The built-in spec of ``root`` (case-insensitive); ``UnknownInstrumentError`` naming the
    known roots otherwise."""
    try:
        return CME_ROOTS[root.strip().upper()]
    except KeyError:
        known = ", ".join(CME_ROOTS)
        raise UnknownInstrumentError(f"unknown futures root {root!r}; known: {known}") from None


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract (or, with ``expiry`` None, a root used as a template).

    Build it from IB's contract details (``tick`` = minTick, ``multiplier``), or with
    ``from_spec`` from the built-in table.
    """

    root: str
    exchange: str
    tick: Decimal
    multiplier: Decimal
    expiry: ContractMonth | None = None
    local_symbol: str = ""
    con_id: int | None = None
    currency: str = "USD"

    def __post_init__(self) -> None:
        if not self.root:
            raise DomainError("instrument root must not be empty")
        tk.check_tick(self.tick)
        _check_multiplier(self.root, self.multiplier)
        if not self.local_symbol:
            symbol = self.expiry.local_symbol(self.root) if self.expiry else self.root
            object.__setattr__(self, "local_symbol", symbol)

    @classmethod
    def from_spec(
        cls,
        spec: InstrumentSpec | str,
        expiry: ContractMonth | None = None,
        *,
        con_id: int | None = None,
    ) -> Instrument:
        """An instrument from a spec (or a root name in the built-in table)."""
        if isinstance(spec, str):
            spec = spec_for(spec)
        return cls(
            root=spec.root,
            exchange=spec.exchange,
            tick=spec.tick,
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
        return self.tick * self.multiplier

    @property
    def price_decimals(self) -> int:
        """How many decimals a price of this instrument shows (ES: 2, RTY: 1, YM: 0)."""
        return tk.price_decimals(self.tick)

    # The tick math of ``ticks``, bound to this instrument's tick size.

    def to_ticks(
        self, price: float | Decimal | int | str, rounding: Rounding = Rounding.EXACT
    ) -> int:
        """See ``ticks.price_to_ticks``."""
        return tk.price_to_ticks(price, self.tick, rounding)

    def parse_price(self, text: str) -> int:
        """A price typed by a user, in ticks; it must be on the tick."""
        return tk.price_to_ticks(text.strip(), self.tick)

    def to_price(self, ticks: int) -> Decimal:
        return tk.ticks_to_price(ticks, self.tick)

    def to_float(self, ticks: int) -> float:
        """See ``ticks.ticks_to_float``: the float to send to IB."""
        return tk.ticks_to_float(ticks, self.tick)

    def format_price(self, ticks: int) -> str:
        return tk.format_ticks(ticks, self.tick)

    def money(self, tick_contracts: int) -> Decimal:
        """The money value of ``tick_contracts`` (ticks × contracts), e.g. P&L: ES 4 → 50.00."""
        return tk.ticks_to_money(tick_contracts, 1, self)

    def __str__(self) -> str:
        return self.key
