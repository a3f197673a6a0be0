"""IB's message codes, and the one place that turns them into the port's events.

IB reports everything that is not data through one ``error(reqId, code, text)`` callback:
its link to the exchange, its data farms, and answers about orders and requests.
:func:`translate` turns each message into a :class:`~tradeterm.broker.port.Notice` (only
shown) or one of its subclasses that says what the engine must act on; the connection state
machine reads the farm and link codes here too. Nothing outside :mod:`tradeterm.broker.ib`
knows these numbers. Pure: no I/O, no ib_async (tests/unit/broker/test_ib_codes.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tradeterm.broker.port import (
    CancelRefusal,
    CancelRejected,
    LinkLost,
    LinkRestored,
    ModificationRefused,
    Notice,
    NoticeLevel,
    OrderCancelled,
    OrderRejected,
    RequestDropped,
)

LINK_LOST, LINK_RESTORED_DATA_LOST, LINK_RESTORED = 1100, 1101, 1102
CLIENT_ID_IN_USE = 326
PACING_VIOLATION = 100
"""IB dropped a request (more than its ~50 messages a second)."""
ORDER_CANCELLED = 202
CANCEL_NOT_FOUND = 10147
"""IB has no order of that id for this client."""
CANCEL_DONE = frozenset({10148, 161})
"""IB cannot cancel the order: it is finished, or not cancellable now."""
CANCEL_UNKNOWN = CANCEL_DONE | {CANCEL_NOT_FOUND}
"""IB's answers to a cancel it could not carry out."""
MODIFY_REFUSED = frozenset({105, 110, 321, 329, 399, 404, 434, 10224})
"""IB answers an order id with one of these when a modification is refused and the order
keeps working (ib_async treats them as warnings and leaves the order alive)."""
REJECT_CODES = frozenset({201, 110, 103, 105, 203, 321, 399, 434})
"""Error codes that end an order with a reason (the order's last log entry carries the code)."""


def is_info(code: int) -> bool:
    """IB's 21xx messages (farm OK / inactive / broken, data warnings): about a data farm,
    never about a request or an order."""
    return 2100 <= code < 2200


def severity(code: int) -> NoticeLevel:
    """How loudly to show an IB message: the farm messages and 202 ("Order Canceled"), IB's
    routine answer to every cancel, are information; anything else is a warning."""
    return NoticeLevel.INFO if is_info(code) or code == ORDER_CANCELLED else NoticeLevel.WARNING


def notice(code: int, text: str, ts_ns: int) -> Notice:
    """A message to show only: ``IB <code>: <text>`` (the text alone for code 0, the
    adapter's own)."""
    return Notice(severity(code), _shown(code, text), ts_ns, code)


def _shown(code: int, text: str) -> str:
    return f"IB {code}: {text}" if code else text


def translate(code: int, text: str, ts_ns: int, req_id: int = -1) -> Notice:
    """IB's message ``code`` (about request or order ``req_id``, -1 for none) as the port's
    event. A message about an order id is for that order: a refused modification, a refused
    cancel, a dropped request, a cancel confirmed, or else the reason a new order is refused
    (IB's warnings about an order included, as they always were)."""
    level, shown = severity(code), _shown(code, text)
    if code == LINK_LOST:
        return LinkLost(level, shown, ts_ns, code)
    if code in (LINK_RESTORED_DATA_LOST, LINK_RESTORED):
        return LinkRestored(level, shown, ts_ns, code, data_kept=code == LINK_RESTORED)
    if req_id <= 0:
        return Notice(level, shown, ts_ns, code)
    reason = f"{text} ({code})"
    if code in MODIFY_REFUSED:
        return ModificationRefused(level, shown, ts_ns, code, broker_id=req_id, reason=reason)
    if code in CANCEL_UNKNOWN:
        kind = CancelRefusal.NOT_FOUND if code == CANCEL_NOT_FOUND else CancelRefusal.ALREADY_DONE
        return CancelRejected(level, shown, ts_ns, code, broker_id=req_id, reason=reason, kind=kind)
    if code == PACING_VIOLATION:
        return RequestDropped(level, shown, ts_ns, code, broker_id=req_id, reason=reason)
    if code == ORDER_CANCELLED:
        return OrderCancelled(level, shown, ts_ns, code, broker_id=req_id, reason=reason)
    return OrderRejected(level, shown, ts_ns, code, broker_id=req_id, reason=reason)


# ---- data farms -------------------------------------------------------------------------------

MARKET_FARM = "market"  # the family of the market-data farms (quotes, depth, trades, bars)
FARM_BROKEN = {2103: MARKET_FARM, 2105: "hmds", 2157: "secdef"}
FARM_OK = {2104: MARKET_FARM, 2106: "hmds", 2158: "secdef"}


@dataclass(frozen=True, slots=True)
class FarmStatus:
    key: str  # "market:usfarm"
    broken: bool


def market_farms(keys: Iterable[str]) -> list[str]:
    """The names of the market-data farms among farm keys (``"market:usfarm"`` -> usfarm)."""
    return [
        name or "unnamed"
        for family, _, name in (key.partition(":") for key in keys)
        if family == MARKET_FARM
    ]


def farm_status(code: int, text: str) -> FarmStatus | None:
    """A farm status message as (farm, broken?); None for other codes."""
    family = FARM_BROKEN.get(code) or FARM_OK.get(code)
    if family is None:
        return None
    name = text.rsplit(":", 1)[1].strip() if ":" in text else ""
    return FarmStatus(f"{family}:{name}", code in FARM_BROKEN)
