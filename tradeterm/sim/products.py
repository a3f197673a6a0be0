"""The fake gateway's product table: the CME Group futures roots it lists, as IB describes them.

Products: equity index ES, MES, NQ, MNQ, RTY, M2K (CME), YM, MYM (CBOT); Treasuries ZN, ZB
(CBOT); FX 6E, M6E (CME); energy CL, MCL, NG (NYMEX); metals GC, MGC, SI (COMEX).
Each product also says where the fake gateway's synthetic market starts (``start_price``).
M6E is deliberately missing from the client's own fallback table
(``tradeterm.domain.instruments``): it is the root that only a gateway knows.

A product's ``kind`` names its calendar rules (expiries, listed months), which the contract
catalog applies (:mod:`tradeterm.sim.catalog`); its times (last trade, liquid hours) are kept
here. A pure table: it imports nothing of tradeterm.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MONTH_CODES = "FGHJKMNQUVXZ"


@dataclass(frozen=True, slots=True)
class ProductSpec:
    """One futures product (root)."""

    root: str
    index: int  # stable product number used in conIds
    exchange: str
    tick: Decimal
    multiplier: Decimal
    months: str  # the listing cycle's month codes
    long_name: str
    kind: str  # the calendar rules: "index" | "treasury" | "fx" | "cl" | "mcl" | "ng" | "metal"
    last_trade_time: str  # HH:MM:SS, US/Central
    liquid: tuple[str, str]  # HHMM-HHMM, US/Central, Monday-Friday
    market_rule_id: int
    start_price: Decimal  # where the synthetic market starts (a plausible late-2026 level)
    currency: str = "USD"

    @property
    def tick_value(self) -> Decimal:
        return self.tick * self.multiplier


def _product(root: str, index: int, exchange: str, tick: str, multiplier: str, months: str,
             long_name: str, kind: str, rule_id: int, start: str) -> ProductSpec:  # fmt: skip
    last_trade_time, liquid = _KIND_TIMES[kind]
    if root == "SI":  # COMEX silver stops 5 minutes before gold
        last_trade_time, liquid = "12:25:00", ("0725", "1225")
    return ProductSpec(root, index, exchange, Decimal(tick), Decimal(multiplier), months,
                       long_name, kind, last_trade_time, liquid, rule_id, Decimal(start))  # fmt: skip


_KIND_TIMES = {  # last trade time, liquid hours (US/Central)
    "index": ("08:30:00", ("0830", "1500")),
    "treasury": ("12:01:00", ("0720", "1400")),
    "fx": ("09:16:00", ("0720", "1400")),
    "cl": ("13:30:00", ("0800", "1330")),
    "mcl": ("13:30:00", ("0800", "1330")),
    "ng": ("13:30:00", ("0800", "1330")),
    "metal": ("12:30:00", ("0720", "1230")),
}
_QUARTERLY = "HMUZ"
PRODUCTS: dict[str, ProductSpec] = {
    p.root: p
    for p in (
        _product("ES", 1, "CME", "0.25", "50", _QUARTERLY, "E-mini S&P 500", "index", 67,
                 "6000.00"),
        _product("MES", 2, "CME", "0.25", "5", _QUARTERLY,
                 "Micro E-Mini S&P 500 Stock Price Index", "index", 67, "6000.00"),
        _product("NQ", 3, "CME", "0.25", "20", _QUARTERLY, "E-mini NASDAQ 100", "index", 67,
                 "21000.00"),
        _product("MNQ", 4, "CME", "0.25", "2", _QUARTERLY, "Micro E-Mini Nasdaq-100 Index",
                 "index", 67, "21000.00"),
        _product("YM", 5, "CBOT", "1", "5", _QUARTERLY,
                 "Mini Sized Dow Jones Industrial Average $5", "index", 32, "44000"),
        _product("RTY", 6, "CME", "0.1", "50", _QUARTERLY, "E-mini Russell 2000 Index", "index",
                 87, "2400.0"),
        _product("CL", 7, "NYMEX", "0.01", "1000", MONTH_CODES, "Light Sweet Crude Oil", "cl",
                 35, "70.00"),
        _product("GC", 8, "COMEX", "0.1", "100", "GJMQVZ", "Gold", "metal", 87, "2700.0"),
        # 1/2 of 1/32 of a point: 15.625 dollars a tick on 100,000 face value
        _product("ZN", 9, "CBOT", "0.015625", "1000", _QUARTERLY, "10-Year US Treasury Note",
                 "treasury", 46, "112.000000"),
        _product("ZB", 10, "CBOT", "0.03125", "1000", _QUARTERLY, "US Treasury Bond",
                 "treasury", 47, "116.00000"),
        _product("6E", 11, "CME", "0.00005", "125000", _QUARTERLY, "European Monetary Union Euro",
                 "fx", 48, "1.16000"),
        _product("MCL", 12, "NYMEX", "0.01", "100", MONTH_CODES, "Micro WTI Crude Oil", "mcl",
                 35, "70.00"),
        _product("MGC", 13, "COMEX", "0.1", "10", "GJMQVZ", "E-Micro Gold", "metal", 87,
                 "2700.0"),
        _product("M2K", 14, "CME", "0.1", "5", _QUARTERLY, "Micro E-Mini Russell 2000 Index",
                 "index", 87, "2400.0"),
        _product("MYM", 15, "CBOT", "1", "0.5", _QUARTERLY,
                 "Micro E-Mini Dow Jones Industrial Average Index", "index", 32, "44000"),
        _product("SI", 16, "COMEX", "0.005", "5000", "HKNUZ", "Silver", "metal", 49, "32.000"),
        _product("NG", 17, "NYMEX", "0.001", "10000", MONTH_CODES, "Henry Hub Natural Gas",
                 "ng", 50, "3.500"),
        _product("M6E", 18, "CME", "0.0001", "12500", _QUARTERLY, "Micro EUR/USD", "fx", 51,
                 "1.1600"),
    )
}  # fmt: skip


def spec_for(root: str) -> ProductSpec | None:
    """The product for a root (``"ES"``), or None."""
    return PRODUCTS.get(root.strip().upper())
