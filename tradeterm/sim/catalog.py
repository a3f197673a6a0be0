"""The fake gateway's contract catalog: CME Group futures as IB describes them today.

The products (roots, ticks, multipliers, listing cycles) are the table in
:mod:`tradeterm.sim.products`. IB's old exchange names GLOBEX and ECBOT match nothing (real TWS
answers error 200 for them).

Simplified calendar (weekends only, no exchange holidays; deliberately independent of
``tradeterm.domain``), last trade times US/Central:

* equity index (ES, MES, NQ, MNQ, YM, MYM, RTY, M2K): months H M U Z, last trade on the 3rd
  Friday of the contract month at 08:30; the next 5 quarterly contracts are listed.
* Treasuries (ZN, ZB): months H M U Z, last trade on the 7th business day before the last
  business day of the contract month at 12:01; the next 3 quarterly contracts are listed.
* FX (6E, M6E): months H M U Z, last trade 2 business days before the 3rd Wednesday of the
  contract month at 09:16; the next 5 quarterly contracts are listed (CME lists 20).
* CL: every month; last trade 3 business days before the 25th calendar day of the month
  before the contract month (4 business days when the 25th falls on a weekend), 13:30. MCL:
  one business day earlier (4, or 5, business days before the 25th). NG: 3 business days
  before the first calendar day of the contract month, 13:30. The next 12 months are listed.
* metals (GC, MGC: cycle G J M Q V Z; SI: H K N U Z) plus the 3 nearest calendar months;
  last trade on the 3rd-last business day of the contract month, 12:30 (SI 12:25);
  contracts expiring within 24 months are listed.

A contract is listed until the end of its last trade date (the catalog works in whole days).
``include_expired`` adds the contracts that expired in the last 2 years.

conIds are stable and readable: ``700_000_000 + product_index * 1_000_000 + yyyymm`` (ESZ6 =
701_202_612); the underlying's conId is the same without the month. ``marketRuleIds`` and
other identifiers are illustrative, not IB's real values.

Hours are strings in TWS format, in the product's ``timeZoneId`` (``US/Central``), covering
from the day before ``today`` (trading hours: from the session that ends then) to 7 days after. ``tradingHours``: Globex sessions Sunday-Thursday
17:00 to 16:00 the next day (the 16:00-17:00 maintenance break falls between sessions),
Saturday ``CLOSED`` (Friday's trading is the tail of Thursday's session), the same for every
product here:
``"20251102:1700-20251103:1600;20251103:1700-20251104:1600;...;20251108:CLOSED;..."``.
``liquidHours``: Monday-Friday 08:30-15:00 (equity index), 07:20-14:00 (Treasuries, FX),
08:00-13:30 (energy), 07:20-12:30 (GC, MGC), 07:25-12:25 (SI), weekends ``CLOSED``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from tradeterm.sim.products import MONTH_CODES, PRODUCTS, ProductSpec, spec_for

TIME_ZONE_ID = "US/Central"
_CHICAGO = ZoneInfo("America/Chicago")
_CONID_BASE = 700_000_000
_HOURS_DAYS_AFTER = 7
_EXPIRED_YEARS = 2
_DEAD_EXCHANGES = frozenset({"GLOBEX", "ECBOT"})

_ORDER_TYPES = (
    "ACTIVETIM,AD,ADJUST,ALERT,ALGO,ALLOC,AVGCOST,BASKET,BENCHPX,COND,CONDORDER,DAY,DEACT,"
    "DEACTDIS,DEACTEOD,GAT,GTC,GTD,GTT,HID,ICE,IOC,LIT,LMT,LTH,MIT,MKT,MTL,NGCOMB,NONALGO,OCA,"
    "PEGBENCH,SCALE,SCALERST,SNAPMID,SNAPMKT,SNAPREL,STP,STPLMT,TRAIL,TRAILLIT,TRAILLMT,"
    "TRAILMIT,WHATIF"
)

_BY_INDEX = {p.index: p for p in PRODUCTS.values()}


@dataclass(frozen=True, slots=True)
class ContractEntry:
    """One listed futures contract with IB's ContractDetails fields (IB spelling)."""

    conId: int
    symbol: str
    secType: str
    lastTradeDateOrContractMonth: str  # "20261218"
    lastTradeTime: str  # "08:30:00" (in timeZoneId)
    strike: float
    right: str
    multiplier: str
    exchange: str
    primaryExchange: str
    currency: str
    localSymbol: str  # "ESZ6"
    tradingClass: str
    marketName: str
    minTick: float
    orderTypes: str
    validExchanges: str
    priceMagnifier: int
    underConId: int
    longName: str
    contractMonth: str  # "202612"
    industry: str
    category: str
    subcategory: str
    timeZoneId: str
    tradingHours: str
    liquidHours: str
    evRule: str
    evMultiplier: float
    aggGroup: int
    underSymbol: str
    underSecType: str
    marketRuleIds: str
    realExpirationDate: str
    stockType: str
    minSize: str
    sizeIncrement: str
    suggestedSizeIncrement: str
    tick: Decimal  # exact minTick
    expiry: date  # last trade date


def start_price(entry: ContractEntry) -> Decimal:
    """Where a synthetic market of the contract starts: its product's ``start_price``."""
    spec = spec_for(entry.symbol)
    return spec.start_price if spec is not None else 100 * entry.tick


def chicago_today() -> date:
    """Today's date in US/Central."""
    return datetime.now(_CHICAGO).date()


# --- calendar (weekends only) -------------------------------------------------------------


def _is_business(d: date) -> bool:
    return d.weekday() < 5


def _back_business(d: date, n: int) -> date:
    """The n-th business day before d."""
    while n > 0:
        d -= timedelta(days=1)
        if _is_business(d):
            n -= 1
    return d


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _third_wednesday(year: int, month: int) -> date:
    return third_friday(year, month) - timedelta(days=2)


def _last_business(year: int, month: int) -> date:
    """The last business day of a month."""
    return _back_business(date(year + month // 12, month % 12 + 1, 1), 1)


def _before_25th_of_prior(year: int, month: int, days: int) -> date:
    """``days`` business days before the 25th of the month before (one more if the 25th is
    not a business day)."""
    py, pm = (year, month - 1) if month > 1 else (year - 1, 12)
    d25 = date(py, pm, 25)
    return _back_business(d25, days if _is_business(d25) else days + 1)


_LAST_TRADE = {
    "index": third_friday,
    "treasury": lambda y, m: _back_business(_last_business(y, m), 7),
    "fx": lambda y, m: _back_business(_third_wednesday(y, m), 2),
    "cl": lambda y, m: _before_25th_of_prior(y, m, 3),
    "mcl": lambda y, m: _before_25th_of_prior(y, m, 4),
    "ng": lambda y, m: _back_business(date(y, m, 1), 3),
    "metal": lambda y, m: _back_business(_last_business(y, m), 2),
}
_QUARTERS_LISTED = {"index": 5, "treasury": 3, "fx": 5}
_MONTHS_LISTED = 12  # the monthly energy contracts


def last_trade_date(root: str, year: int, month: int) -> date:
    """Last trade date of ``root`` for contract month ``year``/``month`` (simplified rules)."""
    return _LAST_TRADE[PRODUCTS[root].kind](year, month)


def _months_from(year: int, month: int, count: int) -> list[tuple[int, int]]:
    out = []
    for i in range(count):
        m = month - 1 + i
        out.append((year + m // 12, m % 12 + 1))
    return out


def listed_months(root: str, today: date, include_expired: bool = False) -> list[tuple[int, int]]:
    """(year, month) of the contracts listed on ``today``, nearest first."""
    spec = PRODUCTS[root]
    start = (today.year - _EXPIRED_YEARS, today.month) if include_expired else (today.year, 1)
    span = 12 * (3 + (_EXPIRED_YEARS if include_expired else 0))
    candidates = [(y, m, last_trade_date(root, y, m)) for y, m in _months_from(*start, span)]
    live = [(y, m, d) for y, m, d in candidates if d >= today]
    expired = [
        (y, m) for y, m, d in candidates
        if include_expired and d < today and MONTH_CODES[m - 1] in spec.months
    ]  # fmt: skip
    if spec.kind in _QUARTERS_LISTED:
        cycle_months = [(y, m) for y, m, _ in live if MONTH_CODES[m - 1] in spec.months]
        chosen = cycle_months[: _QUARTERS_LISTED[spec.kind]]
    elif spec.months == MONTH_CODES:
        chosen = [(y, m) for y, m, _ in live][:_MONTHS_LISTED]
    else:  # metals
        nearest = [(y, m) for y, m, _ in live][:3]
        horizon = today + timedelta(days=730)
        cycle = [(y, m) for y, m, d in live if MONTH_CODES[m - 1] in spec.months and d <= horizon]
        chosen = sorted(set(nearest) | set(cycle))
    return expired + chosen


# --- hours ---------------------------------------------------------------------------------


def trading_hours(today: date, days_after: int = _HOURS_DAYS_AFTER) -> str:
    """Globex trading hours (all products here share them), TWS format. Starts two days back
    so that the session that ends yesterday (around yesterday's liquid hours) is listed."""
    parts = []
    for i in range(-2, days_after + 1):
        d = today + timedelta(days=i)
        wd = d.weekday()
        if wd == 5:
            parts.append(f"{d:%Y%m%d}:CLOSED")
        elif wd != 4:
            parts.append(f"{d:%Y%m%d}:1700-{d + timedelta(days=1):%Y%m%d}:1600")
    return ";".join(parts)


def liquid_hours(spec: ProductSpec, today: date, days_after: int = _HOURS_DAYS_AFTER) -> str:
    """Regular (liquid) hours, Monday-Friday, TWS format."""
    start, end = spec.liquid
    parts = []
    for i in range(-1, days_after + 1):
        d = today + timedelta(days=i)
        if d.weekday() >= 5:
            parts.append(f"{d:%Y%m%d}:CLOSED")
        else:
            parts.append(f"{d:%Y%m%d}:{start}-{d:%Y%m%d}:{end}")
    return ";".join(parts)


# --- entries -------------------------------------------------------------------------------


def con_id(root: str, year: int, month: int) -> int:
    return _CONID_BASE + PRODUCTS[root].index * 1_000_000 + year * 100 + month


def _decode_con_id(conid: int) -> tuple[str, int, int] | None:
    rest = conid - _CONID_BASE
    if rest <= 0:
        return None
    index, yyyymm = divmod(rest, 1_000_000)
    spec = _BY_INDEX.get(index)
    year, month = divmod(yyyymm, 100)
    if spec is None or not 1 <= month <= 12 or year < 2000:
        return None
    return spec.root, year, month


def local_symbol(root: str, year: int, month: int) -> str:
    """IB's localSymbol for CME Group futures: root + month code + one year digit."""
    return f"{root}{MONTH_CODES[month - 1]}{year % 10}"


def _entry(root: str, year: int, month: int, today: date) -> ContractEntry:
    spec = PRODUCTS[root]
    expiry = last_trade_date(root, year, month)
    return ContractEntry(
        conId=con_id(root, year, month),
        symbol=root,
        secType="FUT",
        lastTradeDateOrContractMonth=f"{expiry:%Y%m%d}",
        lastTradeTime=spec.last_trade_time,
        strike=0.0,
        right="",
        multiplier=str(spec.multiplier),
        exchange=spec.exchange,
        primaryExchange="",
        currency=spec.currency,
        localSymbol=local_symbol(root, year, month),
        tradingClass=root,
        marketName=root,
        minTick=float(spec.tick),
        orderTypes=_ORDER_TYPES,
        validExchanges=f"{spec.exchange},QBALGO",
        priceMagnifier=1,
        underConId=_CONID_BASE + spec.index * 1_000_000,
        longName=spec.long_name,
        contractMonth=f"{year:04d}{month:02d}",
        industry="",
        category="",
        subcategory="",
        timeZoneId=TIME_ZONE_ID,
        tradingHours=trading_hours(today),
        liquidHours=liquid_hours(spec, today),
        evRule="",
        evMultiplier=0.0,
        aggGroup=2147483647,
        underSymbol=root,
        underSecType="IND" if spec.kind == "index" else "",
        marketRuleIds=str(spec.market_rule_id),
        realExpirationDate=f"{expiry:%Y%m%d}",
        stockType="",
        minSize="1",
        sizeIncrement="1",
        suggestedSizeIncrement="1",
        tick=spec.tick,
        expiry=expiry,
    )


@lru_cache(maxsize=256)
def _contracts(root: str, today: date, include_expired: bool) -> tuple[ContractEntry, ...]:
    months = listed_months(root, today, include_expired)
    return tuple(_entry(root, y, m, today) for y, m in months)


def list_contracts(
    root: str, today: date | None = None, include_expired: bool = False
) -> list[ContractEntry]:
    """Listed contracts of a root on ``today`` (US/Central date; default now), nearest first."""
    spec = spec_for(root)
    if spec is None:
        return []
    return list(_contracts(spec.root, today or chicago_today(), include_expired))


def front_month(root: str, today: date | None = None) -> ContractEntry | None:
    """The nearest listed contract of a root."""
    listed = list_contracts(root, today)
    return listed[0] if listed else None


_LOCAL = re.compile(r"^([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{1,2})$")  # 6E, M2K: digits too


def lookup(
    symbol: str = "",
    secType: str = "FUT",
    exchange: str = "",
    lastTradeDateOrContractMonth: str = "",
    localSymbol: str = "",
    conId: int = 0,
    today: date | None = None,
    *,
    currency: str = "",
    multiplier: str = "",
    tradingClass: str = "",
    include_expired: bool = False,
) -> list[ContractEntry]:
    """Contracts matching a reqContractDetails request, IB style.

    Every given field must match; empty fields match anything. ``symbol`` + month ``"202612"``
    or date ``"20261218"`` -> one contract; ``localSymbol`` (``"ESZ6"``) -> one; ``conId`` ->
    one; ``symbol`` alone -> every listed month (ib_async's qualify then reports ambiguity, as
    with real IB). Old exchange names (GLOBEX, ECBOT), other secTypes, unknown symbols and
    requests naming no product -> ``[]`` (the gateway answers error 200).
    """
    day = today or chicago_today()
    sec = secType.strip().upper()
    exch = exchange.strip().upper()
    if sec not in ("", "FUT") or exch in _DEAD_EXCHANGES:
        return []
    roots: set[str] = set()
    if symbol.strip():
        roots.add(symbol.strip().upper())
    local = localSymbol.strip().upper().replace(" ", "")
    if local:
        m = _LOCAL.match(local)
        if m is None:
            return []
        roots.add(m.group(1))
        local = f"{m.group(1)}{m.group(2)}{m.group(3)[-1]}"
    if conId:
        decoded = _decode_con_id(conId)
        if decoded is None:
            return []
        roots.add(decoded[0])
    if len(roots) != 1:
        return []
    (root,) = roots
    if spec_for(root) is None:
        return []
    candidates = list(_contracts(root, day, include_expired))
    if conId:
        candidates = [c for c in candidates if c.conId == conId]
    when = lastTradeDateOrContractMonth.strip()
    if when and not (len(when) in (6, 8) and when.isdigit()):
        return []
    out = []
    for c in candidates:
        if exch and exch != c.exchange:
            continue
        if local and c.localSymbol != local:
            continue
        if len(when) == 6 and c.contractMonth != when:
            continue
        if len(when) == 8 and c.lastTradeDateOrContractMonth != when:
            continue
        if currency.strip() and currency.strip().upper() != c.currency:
            continue
        if multiplier.strip() and _num(multiplier) != _num(c.multiplier):
            continue
        if tradingClass.strip() and tradingClass.strip().upper() != c.tradingClass:
            continue
        out.append(c)
    return out


def _num(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip())
    except ArithmeticError:
        return None
