"""Inbound (client -> gateway) requests, parsed into typed records.

:func:`decode_request` turns one frame's fields into a :class:`Request` subclass (see
:mod:`request_types`) for the
negotiated server version. Field names follow the TWS API. A request the simulator does
not model becomes :class:`UnsupportedRequest` (carrying the request's name and, when it has
one, its reqId) so the server can answer error 321 instead of staying silent. placeOrder
is walked field by field exactly like ib_async's ``Client.placeOrder`` writes it; features the simulator does not support are listed in
``PlaceOrder.unsupported``. A frame that does not match its layout raises
:class:`DecodeError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from tradeterm.sim.gateway.protocol.records import ContractRecord
from tradeterm.sim.gateway.protocol.request_types import (
    CancelAccountSummary,
    CancelAccountUpdatesMulti,
    CancelHistoricalData,
    CancelMktData,
    CancelMktDepth,
    CancelOrder,
    CancelPnL,
    CancelPnLSingle,
    CancelPositions,
    CancelRealTimeBars,
    CancelTickByTickData,
    ExecutionFilter,
    PlaceOrder,
    ReqAccountSummary,
    ReqAccountUpdates,
    ReqAccountUpdatesMulti,
    ReqAllOpenOrders,
    ReqAutoOpenOrders,
    ReqCompletedOrders,
    ReqContractDetails,
    ReqCurrentTime,
    ReqExecutions,
    ReqGlobalCancel,
    ReqHistoricalData,
    ReqIds,
    ReqManagedAccts,
    ReqMarketDataType,
    ReqMktData,
    ReqMktDepth,
    ReqOpenOrders,
    ReqPnL,
    ReqPnLSingle,
    ReqPositions,
    ReqRealTimeBars,
    ReqTickByTickData,
    Request,
    StartApi,
    UnsupportedRequest,
)
from tradeterm.sim.gateway.protocol.wire import UNSET_DOUBLE, UNSET_INTEGER, ProtocolError


class DecodeError(ProtocolError):
    """A request frame does not have the layout its message id promises."""


class Reader:
    """Sequential typed access to a request's fields (field 0, the message id, skipped)."""

    __slots__ = ("fields", "name", "pos")

    def __init__(self, fields: list[str], name: str) -> None:
        self.fields = fields
        self.name = name
        self.pos = 1

    def raw(self) -> str:
        if self.pos >= len(self.fields):
            raise DecodeError(f"{self.name}: message ends after {len(self.fields)} fields")
        value = self.fields[self.pos]
        self.pos += 1
        return value

    def skip(self, count: int = 1) -> None:
        for _ in range(count):
            self.raw()

    def text(self) -> str:
        return self.raw()

    def opt_integer(self) -> int | None:
        """An int; ``""`` (IB's unset) is None."""
        text = self.raw().strip()
        if not text:
            return None
        try:
            value = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise DecodeError(f"{self.name}: {text!r} is not an integer") from None
            if not number.is_integer():
                raise DecodeError(f"{self.name}: {text!r} is not an integer") from None
            value = int(number)
        return None if value == UNSET_INTEGER else value

    def integer(self, default: int = 0) -> int:
        value = self.opt_integer()
        return default if value is None else value

    def number(self) -> float | None:
        """A double; ``""`` (IB's unset) is None, ``"Infinite"`` is inf."""
        text = self.raw().strip()
        if not text:
            return None
        if text.lower() in {"infinite", "inf", "infinity"}:
            return math.inf
        try:
            value = float(text)
        except ValueError:
            raise DecodeError(f"{self.name}: {text!r} is not a number") from None
        return None if value == UNSET_DOUBLE else value

    def flag(self) -> bool:
        text = self.raw().strip().lower()
        if text in {"", "0", "false"}:
            return False
        if text in {"1", "true"}:
            return True
        raise DecodeError(f"{self.name}: {text!r} is not a boolean")

    def quantity(self) -> float:
        """A quantity: ib_async writes ``"2"`` or ``"2.0"`` depending on the caller. A
        number that is not finite is no quantity (and no int() takes it)."""
        value = self.number()
        if value is not None and not math.isfinite(value):
            raise DecodeError(f"{self.name}: {value} is not a quantity")
        return 0.0 if value is None else value

    def contract(self) -> ContractRecord:
        """The 12 contract fields (C12)."""
        return ContractRecord(
            conId=self.integer(), symbol=self.text(), secType=self.text(),
            lastTradeDateOrContractMonth=self.text(), strike=self.number() or 0.0,
            right=self.text(), multiplier=self.text(), exchange=self.text(),
            primaryExchange=self.text(), currency=self.text(), localSymbol=self.text(),
            tradingClass=self.text(),
        )  # fmt: skip

    def done(self) -> None:
        if self.pos != len(self.fields):
            extra = self.fields[self.pos :]
            raise DecodeError(f"{self.name}: {len(extra)} unexpected trailing fields {extra!r}")


# ------------------------------------------------------------------------- parsing


def _bag_legs(r: Reader, contract: ContractRecord, per_leg: int) -> tuple[str, ...]:
    if contract.secType != "BAG":
        return ()
    r.skip(r.integer() * per_leg)
    return ("BAG combo legs",)


def _mkt_data(r: Reader, v: int) -> ReqMktData:
    r.skip()
    req_id, contract = r.integer(), r.contract()
    unsupported = _bag_legs(r, contract, 4)
    if r.flag():
        r.skip(3)
        unsupported += ("delta-neutral contracts",)
    return ReqMktData(req_id, contract, r.text(), r.flag(), r.flag(), r.text(), unsupported)


def _historical(r: Reader, v: int) -> ReqHistoricalData:
    req_id, contract = r.integer(), r.contract()
    head = (r.flag(), r.text(), r.text(), r.text(), r.flag(), r.text(), r.integer())
    unsupported = _bag_legs(r, contract, 4)
    return ReqHistoricalData(req_id, contract, *head, r.flag(), r.text(), unsupported)


def _contract_details(r: Reader, v: int) -> ReqContractDetails:
    r.skip()
    req_id, contract = r.integer(), r.contract()
    include_expired, sec_id_type, sec_id = r.flag(), r.text(), r.text()
    issuer_id = r.text() if v >= 176 else ""
    return ReqContractDetails(req_id, contract, include_expired, sec_id_type, sec_id, issuer_id)


def _cancel_order(r: Reader, v: int) -> CancelOrder:
    r.skip()
    order_id = r.integer()
    return CancelOrder(order_id, r.text() if v >= 169 else "")


def _versioned(build: Callable[[Reader], Request]) -> Callable[[Reader, int], Request]:
    """Parser for a message whose field 1 is a message version (skipped)."""

    def parse(r: Reader, v: int) -> Request:
        r.skip()
        return build(r)

    return parse


def _plain(build: Callable[[Reader], Request]) -> Callable[[Reader, int], Request]:
    """Parser for a message without a version field."""
    return lambda r, v: build(r)


#: Fields per order condition on the wire (condType included), by condType.
_CONDITION_SIZES = {1: 7, 3: 4, 4: 4, 5: 5, 6: 6, 7: 6}


def _place_order(r: Reader, v: int) -> PlaceOrder:
    """Walk placeOrder exactly as ib_async 2.1.0's ``Client.placeOrder`` writes it."""
    bad: list[str] = []
    order_id, contract = r.integer(), r.contract()
    r.skip(2)  # secIdType, secId
    action, quantity, order_type = r.text(), r.quantity(), r.text()
    if not quantity.is_integer():
        bad.append(f"fractional quantity {quantity:g}")
    lmt_price, aux_price = r.number(), r.number()
    tif, oca_group, account, open_close = r.text(), r.text(), r.text(), r.text()
    origin, order_ref, transmit, parent_id = r.integer(), r.text(), r.flag(), r.integer()
    block_order, sweep_to_fill, display_size = r.flag(), r.flag(), r.integer()
    trigger_method, outside_rth, hidden = r.integer(), r.flag(), r.flag()
    if contract.secType == "BAG":
        r.skip(r.integer() * 8)  # comboLegs
        r.skip(r.integer())  # orderComboLegs prices
        r.skip(r.integer() * 2)  # smartComboRoutingParams
        bad.append("BAG combo legs")
    r.skip(2)  # sharesAllocation (deprecated), discretionaryAmt
    good_after_time, good_till_date = r.text(), r.text()
    r.skip(3 if v >= 177 else 4)  # faGroup, faMethod, faPercentage (+ faProfile < 177)
    model_code = r.text()
    r.skip(3)  # shortSaleSlot, designatedLocation, exemptCode
    oca_type = r.integer()
    r.skip(2)  # rule80A, settlingFirm
    all_or_none, min_qty = r.flag(), r.opt_integer()
    r.skip(4)  # percentOffset, eTradeOnly, firmQuoteOnly, nbboPriceCap
    r.skip(7)  # auctionStrategy, startingPrice, stockRefPrice, delta, stockRange x2, override
    r.skip(2)  # volatility, volatilityType
    if r.text():  # deltaNeutralOrderType
        r.skip(9)  # deltaNeutralAuxPrice + 8 delta-neutral fields
        bad.append("delta-neutral orders")
    else:
        r.skip()  # deltaNeutralAuxPrice
    r.skip(2)  # continuousUpdate, referencePriceType
    trail_stop_price, trailing_percent = r.number(), r.number()
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = r.number()
    if increment is not None and 0 < increment < UNSET_DOUBLE:
        r.skip(7)
        bad.append("scale orders")
    if r.text() and "scale orders" not in bad:  # scaleTable
        bad.append("scale orders")
    active_start_time, active_stop_time = r.text(), r.text()
    if r.text():  # hedgeType
        r.skip()  # hedgeParam
        bad.append("hedge orders")
    r.skip(3)  # optOutSmartRouting, clearingAccount, clearingIntent
    not_held = r.flag()
    if r.flag():  # deltaNeutralContract
        r.skip(3)
        bad.append("delta-neutral contracts")
    algo_strategy = r.text()
    if algo_strategy:
        r.skip(r.integer() * 2)
        bad.append(f"algo orders ({algo_strategy})")
    r.skip()  # algoId
    what_if = r.flag()
    r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in {"PEG BENCH", "PEGBENCH"}:
        r.skip(5)
        bad.append("PEG BENCH orders")
    conditions = r.integer()
    if conditions:
        for _ in range(conditions):
            cond_type = r.integer()
            size = _CONDITION_SIZES.get(cond_type)
            if size is None:
                raise DecodeError(f"placeOrder: unknown order condition type {cond_type}")
            r.skip(size - 1)
        r.skip(2)  # conditionsIgnoreRth, conditionsCancelOrder
        bad.append("order conditions")
    adjusted_order_type, trigger_price = r.text(), r.number()
    r.skip(5)  # lmtPriceOffset, adjustedStop/StopLimit/TrailingAmount, adjustableTrailingUnit
    r.skip(3)  # extOperator, softDollarTier name and value
    cash_qty = r.number()
    r.skip(4)  # mifid2 decision maker/algo, execution trader/algo
    r.skip(3)  # dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimitPrice
    use_price_mgmt_algo = r.flag()
    duration = r.opt_integer() if v >= 158 else None
    post_to_ats = r.opt_integer() if v >= 160 else None
    auto_cancel_parent = r.flag() if v >= 162 else False
    advanced_error_override = r.text() if v >= 166 else ""
    manual_order_time = r.text() if v >= 169 else ""
    if v >= 170:
        if contract.exchange == "IBKRATS":
            r.skip()  # minTradeQty
            bad.append("IBKRATS routing")
        if order_type in {"PEG BEST", "PEGBEST"}:
            r.skip()  # minCompeteSize
            if r.number() == math.inf:  # competeAgainstBestOffset "up to mid"
                r.skip(2)
            bad.append("PEG BEST orders")
        elif order_type in {"PEG MID", "PEGMID"}:
            r.skip(2)
            bad.append("PEG MID orders")
    return PlaceOrder(
        orderId=order_id, contract=contract, action=action, totalQuantity=int(quantity),
        orderType=order_type, lmtPrice=lmt_price, auxPrice=aux_price, tif=tif,
        ocaGroup=oca_group, ocaType=oca_type, account=account, openClose=open_close,
        origin=origin, orderRef=order_ref, transmit=transmit, parentId=parent_id,
        outsideRth=outside_rth, hidden=hidden, displaySize=display_size,
        triggerMethod=trigger_method, goodAfterTime=good_after_time,
        goodTillDate=good_till_date, modelCode=model_code, allOrNone=all_or_none,
        minQty=min_qty, sweepToFill=sweep_to_fill, blockOrder=block_order,
        trailStopPrice=trail_stop_price, trailingPercent=trailing_percent,
        activeStartTime=active_start_time, activeStopTime=active_stop_time,
        notHeld=not_held, algoStrategy=algo_strategy, whatIf=what_if,
        adjustedOrderType=adjusted_order_type, triggerPrice=trigger_price, cashQty=cash_qty,
        usePriceMgmtAlgo=use_price_mgmt_algo, duration=duration, postToAts=post_to_ats,
        autoCancelParent=auto_cancel_parent, advancedErrorOverride=advanced_error_override,
        manualOrderTime=manual_order_time, unsupported=tuple(bad),
    )  # fmt: skip


_PARSERS: dict[int, tuple[str, Callable[[Reader, int], Request]]] = {
    71: ("startApi", _versioned(lambda r: StartApi(r.integer(), r.text()))),
    9: ("reqContractDetails", _contract_details),
    1: ("reqMktData", _mkt_data),
    2: ("cancelMktData", _versioned(lambda r: CancelMktData(r.integer()))),
    97: ("reqTickByTickData", _plain(
        lambda r: ReqTickByTickData(r.integer(), r.contract(), r.text(), r.integer(), r.flag()))),
    98: ("cancelTickByTickData", _plain(lambda r: CancelTickByTickData(r.integer()))),
    10: ("reqMktDepth", _versioned(
        lambda r: ReqMktDepth(r.integer(), r.contract(), r.integer(), r.flag(), r.text()))),
    11: ("cancelMktDepth", _versioned(lambda r: CancelMktDepth(r.integer(), r.flag()))),
    50: ("reqRealTimeBars", _versioned(lambda r: ReqRealTimeBars(
        r.integer(), r.contract(), r.integer(), r.text(), r.flag(), r.text()))),
    51: ("cancelRealTimeBars", _versioned(lambda r: CancelRealTimeBars(r.integer()))),
    20: ("reqHistoricalData", _historical),
    25: ("cancelHistoricalData", _versioned(lambda r: CancelHistoricalData(r.integer()))),
    3: ("placeOrder", _place_order),
    4: ("cancelOrder", _cancel_order),
    58: ("reqGlobalCancel", _versioned(lambda r: ReqGlobalCancel())),
    5: ("reqOpenOrders", _versioned(lambda r: ReqOpenOrders())),
    16: ("reqAllOpenOrders", _versioned(lambda r: ReqAllOpenOrders())),
    15: ("reqAutoOpenOrders", _versioned(lambda r: ReqAutoOpenOrders(r.flag()))),
    99: ("reqCompletedOrders", _plain(lambda r: ReqCompletedOrders(r.flag()))),
    7: ("reqExecutions", _versioned(lambda r: ReqExecutions(r.integer(), ExecutionFilter(
        r.integer(), r.text(), r.text(), r.text(), r.text(), r.text(), r.text())))),
    61: ("reqPositions", _versioned(lambda r: ReqPositions())),
    64: ("cancelPositions", _versioned(lambda r: CancelPositions())),
    6: ("reqAccountUpdates", _versioned(lambda r: ReqAccountUpdates(r.flag(), r.text()))),
    76: ("reqAccountUpdatesMulti", _versioned(
        lambda r: ReqAccountUpdatesMulti(r.integer(), r.text(), r.text(), r.flag()))),
    77: ("cancelAccountUpdatesMulti", _versioned(
        lambda r: CancelAccountUpdatesMulti(r.integer()))),
    92: ("reqPnL", _plain(lambda r: ReqPnL(r.integer(), r.text(), r.text()))),
    93: ("cancelPnL", _plain(lambda r: CancelPnL(r.integer()))),
    94: ("reqPnLSingle", _plain(lambda r: ReqPnLSingle(r.integer(), r.text(), r.text(), r.integer()))),
    95: ("cancelPnLSingle", _plain(lambda r: CancelPnLSingle(r.integer()))),
    49: ("reqCurrentTime", _versioned(lambda r: ReqCurrentTime())),
    8: ("reqIds", _versioned(lambda r: ReqIds(r.integer()))),
    17: ("reqManagedAccts", _versioned(lambda r: ReqManagedAccts())),
    59: ("reqMarketDataType", _versioned(lambda r: ReqMarketDataType(r.integer()))),
    62: ("reqAccountSummary", _versioned(
        lambda r: ReqAccountSummary(r.integer(), r.text(), r.text()))),
    63: ("cancelAccountSummary", _versioned(lambda r: CancelAccountSummary(r.integer()))),
}  # fmt: skip

#: Requests the simulator does not model: message id -> (name, index of the reqId field).
UNSUPPORTED_REQUESTS: dict[int, tuple[str, int | None]] = {
    12: ("reqNewsBulletins", None), 13: ("cancelNewsBulletins", None),
    14: ("setServerLogLevel", None), 18: ("requestFA", None), 19: ("replaceFA", 4),
    21: ("exerciseOptions", 2), 22: ("reqScannerSubscription", 1),
    23: ("cancelScannerSubscription", 2), 24: ("reqScannerParameters", None),
    52: ("reqFundamentalData", 2), 53: ("cancelFundamentalData", 2),
    54: ("calculateImpliedVolatility", 2), 55: ("calculateOptionPrice", 2),
    56: ("cancelCalculateImpliedVolatility", 2), 57: ("cancelCalculateOptionPrice", 2),
    65: ("verifyRequest", None), 66: ("verifyMessage", None), 67: ("queryDisplayGroups", 2),
    68: ("subscribeToGroupEvents", 2), 69: ("updateDisplayGroup", 2),
    70: ("unsubscribeFromGroupEvents", 2), 72: ("verifyAndAuthRequest", None),
    73: ("verifyAndAuthMessage", None), 74: ("reqPositionsMulti", 2),
    75: ("cancelPositionsMulti", 2), 78: ("reqSecDefOptParams", 1),
    79: ("reqSoftDollarTiers", 1), 80: ("reqFamilyCodes", None),
    81: ("reqMatchingSymbols", 1), 82: ("reqMktDepthExchanges", None),
    83: ("reqSmartComponents", 1), 84: ("reqNewsArticle", 1), 85: ("reqNewsProviders", None),
    86: ("reqHistoricalNews", 1), 87: ("reqHeadTimeStamp", 1), 88: ("reqHistogramData", 1),
    89: ("cancelHistogramData", 1), 90: ("cancelHeadTimeStamp", 1),
    91: ("reqMarketRule", None), 96: ("reqHistoricalTicks", 1), 100: ("reqWshMetaData", 1),
    101: ("cancelWshMetaData", 1), 102: ("reqWshEventData", 1), 103: ("cancelWshEventData", 1),
    104: ("reqUserInfo", 1),
}  # fmt: skip


def request_name(msg_id: int) -> str:
    """The TWS API name of a client message id."""
    if msg_id in _PARSERS:
        return _PARSERS[msg_id][0]
    if msg_id in UNSUPPORTED_REQUESTS:
        return UNSUPPORTED_REQUESTS[msg_id][0]
    return f"request #{msg_id}"


def malformed_ids(fields: list[str]) -> tuple[str, int]:
    """The name of a request that did not decode and the id to answer it with (placeOrder's
    order id, else -1), as far as its fields can be read."""
    msg_id = _digits(fields[0]) if fields else None
    name = "?" if msg_id is None else request_name(msg_id)
    order_id = _digits(fields[1]) if name == "placeOrder" and len(fields) > 1 else None
    return name, -1 if order_id is None else order_id


def _digits(text: str) -> int | None:
    """ASCII digits as an int (``str.isdigit`` also takes "²", which ``int`` does not, and
    ``int`` stops at 4300 digits); None for anything else."""
    if not (text.isascii() and text.isdigit()):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _unsupported(msg_id: int, fields: list[str]) -> UnsupportedRequest:
    name, index = UNSUPPORTED_REQUESTS.get(msg_id, (request_name(msg_id), None))
    req_id = -1
    if index is not None and index < len(fields):
        try:
            req_id = int(fields[index])
        except ValueError:
            pass
    return UnsupportedRequest(msg_id, name, req_id)


def decode_request(fields: list[str], version: int) -> Request:
    """Parse one request frame for the negotiated server ``version``."""
    if not fields:
        raise DecodeError("empty message")
    try:
        msg_id = int(fields[0])
    except ValueError:
        raise DecodeError(f"bad message id {fields[0]!r}") from None
    entry = _PARSERS.get(msg_id)
    if entry is None:
        return _unsupported(msg_id, fields)
    name, parse = entry
    reader = Reader(fields, name)
    request = parse(reader, version)
    reader.done()
    return request
