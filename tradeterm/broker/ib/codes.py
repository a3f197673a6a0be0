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


def cancel_reason(text: str) -> str:
    """IB's reason in its 202 message (``Order Canceled - reason:<why>``, ib_async's log entry
    may put ``Error 202, reqId 15: `` before it): ``day order expired``, ``OCA group``; empty
    when IB gives none (its answer to a cancel we asked for)."""
    return text.partition("reason:")[2].strip()


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
        why = cancel_reason(text)
        return OrderCancelled(level, shown, ts_ns, code, broker_id=req_id, reason=why)
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


# ---- market-data permissions ------------------------------------------------------------------

QUOTES, DEPTH, TRADES = "quotes", "depth", "trades"
"""The market-data feeds a market's screen uses: top of book (L1), depth of book (L2) and
tick-by-tick trades."""
_LEVEL = {QUOTES: "L1", DEPTH: "L2", TRADES: "L1"}  # the subscription level each feed needs
TBT_FALLBACK = "tradeterm takes trades from IB's RTVolume ticks instead (same prices, sizes summed)"


@dataclass(frozen=True, slots=True)
class DataRefusal:
    """IB's answer to a market-data request, in a trader's words."""

    usable: bool  # data still comes (delayed, partial, or a fallback tradeterm uses)
    meaning: str
    fix: str


def data_refusal(feed: str, code: int, exchange: str) -> DataRefusal:
    """What IB's message ``code`` on a ``feed`` request for a contract of ``exchange``
    (CME, CBOT, NYMEX, COMEX) means for trading, and what to do about it."""
    level = _LEVEL[feed]
    subscription = f"'{exchange} Real-Time (NP, {level})'"
    buy = (
        f"subscribe to {subscription} (non-professional; or your bundle's equivalent) in "
        "Client Portal > Settings > Market Data Subscriptions"
    )
    if code == 354:
        return DataRefusal(False, f"no real-time {exchange} {level} subscription on this "
                           "account (IB offers delayed data, which tradeterm does not trade on)",
                           buy)  # fmt: skip
    if code == 10089:
        return DataRefusal(False, f"the {exchange} {level} data is not available to the API "
                           "(a subscription for the screens only, or held by another login)",
                           f"{buy}, one that includes API access; a paper login must share "
                           "the live login's subscriptions (Client Portal > Settings > Paper "
                           "Trading Account)")  # fmt: skip
    if code == 10168:
        return DataRefusal(False, f"no real-time {exchange} {level} subscription, and delayed "
                           "data is not enabled either", buy)  # fmt: skip
    if code == 10167:
        return DataRefusal(True, "IB sends delayed data (10-15 minutes late), not real-time",
                           buy)  # fmt: skip
    if code == 10090:
        return DataRefusal(True, "part of the requested data is not subscribed: some fields "
                           "stay empty", buy)  # fmt: skip
    if code == 10092:
        return DataRefusal(False, f"IB offers no depth of book for this contract on {exchange}",
                           "nothing to buy: the ladder shows the top of book only")  # fmt: skip
    if code == 309:
        return DataRefusal(False, "too many depth-of-book (L2) streams are open on this login "
                           "(IB allows 3 at once by default)", "close depth in another "
                           "instance or TWS window, or add Quote Booster packs in Client "
                           "Portal")  # fmt: skip
    if code == 10190:
        return DataRefusal(True, f"IB's limit of tick-by-tick streams is reached; "
                           f"{TBT_FALLBACK}", "close tick-by-tick streams of other programs "
                           "(each tradeterm instance uses one; the limit grows with your "
                           "market-data lines)")  # fmt: skip
    if code == 10189:
        return DataRefusal(True, f"IB refused tick-by-tick trades; {TBT_FALLBACK}",
                           f"check the quotes line above; {buy}")  # fmt: skip
    if code == 200:
        return DataRefusal(False, "IB knows no such contract", "check the symbol and the "
                           "contract month (market.contract in the config)")  # fmt: skip
    return DataRefusal(False, f"IB refused the {feed} request", "see IB's message above "
                       "(IB's API message codes list explains each code)")  # fmt: skip
