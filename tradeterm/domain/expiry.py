"""Last trading days and the front month, from simplified exchange rules.

The rules count Monday-Friday as business days and ignore exchange holidays, so a date can be
a day late when a holiday falls in the window (CLF5 really expired 2024-12-19, not 12-20,
because of Christmas). Prefer IB's ``ContractDetails.realExpirationDate`` /
``lastTradeDateOrContractMonth`` whenever the broker is reachable; these functions are for
choosing a contract before asking it, for offline use, and as a test oracle.

* Equity index futures (ES, MES, NQ, MNQ, YM, RTY): the third Friday of the contract month.
* CL: three business days before the 25th calendar day of the month before the contract
  month; four business days before when the 25th is not a business day.
* GC: the third-last business day of the contract month.
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


def _gold(month: ContractMonth) -> dt.date:
    after_last = month.shifted(1)
    return _business_days_before(dt.date(after_last.year, after_last.month, 1), 3)


_RULES: dict[str, Callable[[ContractMonth], dt.date]] = {
    **dict.fromkeys(("ES", "MES", "NQ", "MNQ", "YM", "RTY"), third_friday),
    "CL": _crude,
    "GC": _gold,
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


def front_month(root: str, today: dt.date, roll_days: int = 0) -> ContractMonth:
    """The contract to trade on ``today``: the first cycle month whose expiry minus
    ``roll_days`` calendar days is after ``today`` (so on the roll date itself, and on expiry
    day with ``roll_days=0``, the next contract is the front)."""
    if roll_days < 0:
        raise DomainError(f"roll_days must not be negative, got {roll_days}")
    margin = dt.timedelta(days=roll_days)
    for month in _cycle_from(root, today):
        if expiry_date(root, month) - margin > today:
            return month
    raise AssertionError("unreachable: the cycle never ends")
