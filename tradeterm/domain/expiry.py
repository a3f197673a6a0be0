"""Last trading days and the front month, from simplified exchange rules.

The rules count Monday-Friday as business days and ignore exchange holidays, so a date can be
a day late when a holiday falls in the window (CLF5 really expired 2024-12-19, not 12-20,
because of Christmas). Prefer IB's ``ContractDetails.realExpirationDate`` /
``lastTradeDateOrContractMonth`` whenever the broker is reachable; these functions are for
choosing a contract before asking it, for offline use, and as a test oracle.

* Equity index futures (ES, MES, NQ, MNQ, YM, MYM, RTY, M2K): the third Friday of the
  contract month.
* Treasuries (ZN, ZB): the seventh business day before the last business day of the
  contract month.
* Euro FX (6E): the second business day before the third Wednesday of the contract month.
* CL: three business days before the 25th calendar day of the month before the contract
  month; four business days before when the 25th is not a business day. MCL: one business
  day before CL. NG: the third business day before the first day of the contract month.
* Metals (GC, MGC, SI): the third-last business day of the contract month.

The front month is the first month of a product's own cycle that is not yet rolled: each
month is traded until ``roll_days`` calendar days before the day a position in it must be
gone (:func:`roll_date`). For the cash-settled equity indices that day is the expiry (CME's
roll date is 8 days before it, the default); CL is physically delivered, but its notices
start after its last trading day, so it is the expiry too (MCL, NG alike; 6E delivers on
the third Wednesday, after its last trading day). COMEX metals and CBOT Treasuries are
different: delivery notices may be given from the first notice day, the last business day of
the month before the contract month, weeks before the last trading day, so such a month is
left before the end of the month preceding delivery, never traded inside it. The metals'
serial months (the nearest calendar months outside their active cycle) are never the front:
the volume is in the active cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from tradeterm.domain.errors import DomainError
from tradeterm.domain.instruments import spec_for
from tradeterm.domain.months import ContractMonth

_ONE_DAY = dt.timedelta(days=1)


def _is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5


def _business_days_before(day: dt.date, count: int) -> dt.date:
    while count:
        day -= _ONE_DAY
        if _is_business_day(day):
            count -= 1
    return day


def third_friday(month: ContractMonth) -> dt.date:
    first = dt.date(month.year, month.month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _crude(month: ContractMonth) -> dt.date:
    prior = month.shifted(-1)
    the_25th = dt.date(prior.year, prior.month, 25)
    return _business_days_before(the_25th, 3 if _is_business_day(the_25th) else 4)


def _micro_crude(month: ContractMonth) -> dt.date:
    return _business_days_before(_crude(month), 1)


def _last_business_day(month: ContractMonth) -> dt.date:
    after_last = month.shifted(1)
    return _business_days_before(dt.date(after_last.year, after_last.month, 1), 1)


def _metal(month: ContractMonth) -> dt.date:
    return _business_days_before(_last_business_day(month), 2)


def _treasury(month: ContractMonth) -> dt.date:
    return _business_days_before(_last_business_day(month), 7)


def _euro_fx(month: ContractMonth) -> dt.date:
    third_wednesday = third_friday(month) - 2 * _ONE_DAY
    return _business_days_before(third_wednesday, 2)


def _natural_gas(month: ContractMonth) -> dt.date:
    return _business_days_before(dt.date(month.year, month.month, 1), 3)


def first_notice_day(month: ContractMonth) -> dt.date:
    """COMEX metals and CBOT Treasuries: the first day a delivery notice may be given for
    ``month``, the last business day of the month before it."""
    return _business_days_before(dt.date(month.year, month.month, 1), 1)


_RULES: dict[str, Callable[[ContractMonth], dt.date]] = {
    **dict.fromkeys(("ES", "MES", "NQ", "MNQ", "YM", "MYM", "RTY", "M2K"), third_friday),
    **dict.fromkeys(("ZN", "ZB"), _treasury),
    "6E": _euro_fx,
    "CL": _crude,
    "MCL": _micro_crude,
    "NG": _natural_gas,
    **dict.fromkeys(("GC", "MGC", "SI"), _metal),
}


def expiry_date(root: str, month: ContractMonth) -> dt.date:
    """The last trading day of ``root``'s ``month`` contract (see the module notes)."""
    spec = spec_for(root)
    if not spec.is_listed(month):
        raise DomainError(f"{spec.root} does not list {month.code} ({month})")
    return _RULES[spec.root](month)


def _cycle_from(root: str, today: dt.date) -> Iterator[ContractMonth]:
    spec = spec_for(root)
    month = ContractMonth(today.year, today.month)
    while True:
        if spec.is_listed(month):
            yield month
        month = month.shifted(1)


def listed_months(root: str, today: dt.date, n: int) -> list[ContractMonth]:
    """The next ``n`` cycle months still trading on ``today`` (expiry on or after it)."""
    if n < 0:
        raise DomainError(f"n must not be negative, got {n}")
    found: list[ContractMonth] = []
    for month in _cycle_from(root, today):
        if len(found) == n:
            break
        if expiry_date(root, month) >= today:
            found.append(month)
    return found


_NOTICES_BEFORE_EXPIRY: dict[str, Callable[[ContractMonth], dt.date]] = dict.fromkeys(
    ("GC", "MGC", "SI", "ZN", "ZB"), first_notice_day
)
"""Products whose delivery notices start before the last trading day: out by the notice day."""


def roll_date(
    root: str, month: ContractMonth, roll_days: int = 0, expiry: dt.date | None = None
) -> dt.date:
    """The first day on which ``root``'s ``month`` is no longer the front month:
    ``roll_days`` calendar days before the day a position in it must be gone (see the module
    notes). ``expiry`` is the last trading day when the broker said (it knows the holidays);
    without it the rule's. Raises ``DomainError`` for a month outside the product's cycle."""
    if roll_days < 0:
        raise DomainError(f"roll_days must not be negative, got {roll_days}")
    spec = spec_for(root)
    if not spec.is_listed(month):
        raise DomainError(f"{spec.root} does not trade {month.code} ({month}) as a front month")
    notice = _NOTICES_BEFORE_EXPIRY.get(spec.root)
    gone = notice(month) if notice is not None else expiry or expiry_date(spec.root, month)
    return gone - dt.timedelta(days=roll_days)


def front_month(root: str, today: dt.date, roll_days: int = 0) -> ContractMonth:
    """The contract to trade on ``today``: the first cycle month whose :func:`roll_date` is
    after ``today`` (so on the roll date itself the next contract is the front)."""
    for month in _cycle_from(root, today):
        if roll_date(root, month, roll_days) > today:
            return month
    raise AssertionError("unreachable: the cycle never ends")
