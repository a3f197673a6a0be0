"""Outbound order messages: openOrder, orderStatus, execDetails, commissionReport,
completedOrder and their end markers.

openOrder (127 fields for a plain order at 178) and completedOrder (96) are built from
named-field tables: one :class:`WireField` per wire position, with the versions that carry
it. :func:`open_order_layout` / :func:`completed_order_layout` list the names so tests can
pin positions (an off-by-one shows up as a wrong name at an index, not as silently
shifted values). The simulator never sends combo legs, delta-neutral, scale, hedge, algo,
PEG BENCH or conditions blocks: their counts are "0" / their flags empty.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tradeterm.sim.gateway.protocol.encode import (
    COMMISSION_REPORT,
    COMPLETED_ORDER,
    COMPLETED_ORDERS_END,
    EXECUTION_DATA,
    EXECUTION_DATA_END,
    OPEN_ORDER,
    OPEN_ORDER_END,
    ORDER_STATUS,
    Fields,
    c11,
    require_version,
    tws_datetime,
)
from tradeterm.sim.gateway.protocol.records import (
    CommissionReportRecord,
    ContractRecord,
    ExecutionRecord,
    OrderRecord,
    OrderStateRecord,
)
from tradeterm.sim.gateway.protocol.wire import encode_field, encode_fields


@dataclass(slots=True, frozen=True)
class _Source:
    order: OrderRecord
    contract: ContractRecord
    state: OrderStateRecord


@dataclass(slots=True, frozen=True)
class WireField:
    """One position of a message: its name, where its value comes from, and the server
    versions that carry it (``since <= version < until``)."""

    name: str
    get: Callable[[_Source], object]
    since: int = 0
    until: int = 1_000_000

    def present(self, version: int) -> bool:
        return self.since <= version < self.until


def _checked(record: type, attr: str) -> str:
    if attr not in record.__dataclass_fields__:  # type: ignore[attr-defined]
        raise AttributeError(f"{record.__name__} has no field {attr!r}")
    return attr


def _o(attr: str, *, name: str | None = None, since: int = 0, until: int = 1_000_000) -> WireField:
    a = _checked(OrderRecord, attr)
    return WireField(name or attr, lambda s: getattr(s.order, a), since, until)


def _c(attr: str) -> WireField:
    a = _checked(ContractRecord, attr)
    return WireField(attr, lambda s: getattr(s.contract, a))


def _s(attr: str) -> WireField:
    a = _checked(OrderStateRecord, attr)
    return WireField(attr, lambda s: getattr(s.state, a))


def _k(name: str, value: object, *, since: int = 0, until: int = 1_000_000) -> WireField:
    """A field the simulator always sends with the same value (None = unset)."""
    return WireField(name, lambda _s: value, since, until)


_C11 = [_c(a) for a in (
    "conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right",
    "multiplier", "exchange", "currency", "localSymbol", "tradingClass",
)]  # fmt: skip

# ib_async reads duration from 159 (IB writes it from 158); equal for every version >= 176.
_TAIL_170 = [_k(n, None, since=170) for n in (
    "minTradeQty", "minCompeteSize", "competeAgainstBestOffset", "midOffsetAtWhole",
    "midOffsetAtHalf",
)]  # fmt: skip

OPEN_ORDER_FIELDS: tuple[WireField, ...] = (
    _k("msgId", OPEN_ORDER), _o("orderId"), *_C11,
    _o("action"), _o("totalQuantity"), _o("orderType"), _o("lmtPrice"), _o("auxPrice"),
    _o("tif"), _o("ocaGroup"), _o("account"), _o("openClose"), _o("origin"), _o("orderRef"),
    _o("clientId"), _o("permId"), _o("outsideRth"), _o("hidden"), _k("discretionaryAmt", 0),
    _o("goodAfterTime"), _k("sharesAllocation", ""), _k("faGroup", ""), _k("faMethod", ""),
    _k("faPercentage", ""), _k("faProfile", "", until=177),
    _o("modelCode"), _o("goodTillDate"), _k("rule80A", ""), _k("percentOffset", None),
    _k("settlingFirm", ""), _k("shortSaleSlot", 0), _k("designatedLocation", ""),
    _k("exemptCode", -1), _k("auctionStrategy", 0), _k("startingPrice", None),
    _k("stockRefPrice", None), _k("delta", None), _k("stockRangeLower", None),
    _k("stockRangeUpper", None), _o("displaySize"), _o("blockOrder"), _o("sweepToFill"),
    _o("allOrNone"), _o("minQty"), _o("ocaType"), _k("eTradeOnly", False),
    _k("firmQuoteOnly", False), _k("nbboPriceCap", None), _o("parentId"),
    _o("triggerMethod"), _k("volatility", None), _k("volatilityType", None),
    _k("deltaNeutralOrderType", ""), _k("deltaNeutralAuxPrice", None),
    _k("continuousUpdate", False), _k("referencePriceType", None), _o("trailStopPrice"),
    _o("trailingPercent"), _k("basisPoints", None), _k("basisPointsType", None),
    _k("comboLegsDescrip", ""), _k("comboLegsCount", 0), _k("orderComboLegsCount", 0),
    _k("smartComboRoutingParamsCount", 0), _k("scaleInitLevelSize", None),
    _k("scaleSubsLevelSize", None), _k("scalePriceIncrement", None), _k("hedgeType", ""),
    _k("optOutSmartRouting", False), _k("clearingAccount", ""), _k("clearingIntent", ""),
    _k("notHeld", False), _k("deltaNeutralContractPresent", 0), _k("algoStrategy", ""),
    _k("solicited", False), _o("whatIf"), _o("status"),
    _s("initMarginBefore"), _s("maintMarginBefore"), _s("equityWithLoanBefore"),
    _s("initMarginChange"), _s("maintMarginChange"), _s("equityWithLoanChange"),
    _s("initMarginAfter"), _s("maintMarginAfter"), _s("equityWithLoanAfter"),
    _s("commission"), _s("minCommission"), _s("maxCommission"), _s("commissionCurrency"),
    _s("warningText"), _k("randomizeSize", False), _k("randomizePrice", False),
    _k("conditionsCount", 0), _k("adjustedOrderType", ""), _k("triggerPrice", None),
    _o("trailStopPrice", name="trailStopPrice#2"), _k("lmtPriceOffset", None),
    _k("adjustedStopPrice", None), _k("adjustedStopLimitPrice", None),
    _k("adjustedTrailingAmount", None), _k("adjustableTrailingUnit", 0),
    _k("softDollarTier.name", ""), _k("softDollarTier.value", ""),
    _k("softDollarTier.displayName", ""), _o("cashQty"),
    _k("dontUseAutoPriceForHedge", False), _k("isOmsContainer", False),
    _k("discretionaryUpToLimitPrice", False), _k("usePriceMgmtAlgo", False),
    _k("duration", None, since=158), _k("postToAts", None, since=160),
    _o("autoCancelParent", since=162), *_TAIL_170,
)  # fmt: skip

COMPLETED_ORDER_FIELDS: tuple[WireField, ...] = (
    _k("msgId", COMPLETED_ORDER), *_C11,
    _o("action"), _o("totalQuantity"), _o("orderType"), _o("lmtPrice"), _o("auxPrice"),
    _o("tif"), _o("ocaGroup"), _o("account"), _o("openClose"), _o("origin"), _o("orderRef"),
    _o("permId"), _o("outsideRth"), _o("hidden"), _k("discretionaryAmt", 0),
    _o("goodAfterTime"), _k("faGroup", ""), _k("faMethod", ""), _k("faPercentage", ""),
    _k("faProfile", "", until=177),
    _o("modelCode"), _o("goodTillDate"), _k("rule80A", ""), _k("percentOffset", None),
    _k("settlingFirm", ""), _k("shortSaleSlot", 0), _k("designatedLocation", ""),
    _k("exemptCode", -1), _k("startingPrice", None), _k("stockRefPrice", None),
    _k("delta", None), _k("stockRangeLower", None), _k("stockRangeUpper", None),
    _o("displaySize"), _o("sweepToFill"), _o("allOrNone"), _o("minQty"), _o("ocaType"),
    _o("triggerMethod"), _k("volatility", None), _k("volatilityType", None),
    _k("deltaNeutralOrderType", ""), _k("deltaNeutralAuxPrice", None),
    _k("continuousUpdate", False), _k("referencePriceType", None), _o("trailStopPrice"),
    _o("trailingPercent"), _k("comboLegsDescrip", ""), _k("comboLegsCount", 0),
    _k("orderComboLegsCount", 0), _k("smartComboRoutingParamsCount", 0),
    _k("scaleInitLevelSize", None), _k("scaleSubsLevelSize", None),
    _k("scalePriceIncrement", None), _k("hedgeType", ""), _k("clearingAccount", ""),
    _k("clearingIntent", ""), _k("notHeld", False), _k("deltaNeutralContractPresent", 0),
    _k("algoStrategy", ""), _k("solicited", False), _o("status"),
    _k("randomizeSize", False), _k("randomizePrice", False), _k("conditionsCount", 0),
    _o("trailStopPrice", name="trailStopPrice#2"), _k("lmtPriceOffset", None),
    _o("cashQty"), _k("dontUseAutoPriceForHedge", False), _k("isOmsContainer", False),
    _k("autoCancelDate", ""), _o("filled", name="filledQuantity"),
    _k("refFuturesConId", 0), _o("autoCancelParent"), _k("shareholder", ""),
    _k("imbalanceOnly", False), _k("routeMarketableToBbo", False), _o("parentPermId"),
    _o("completedTime"), _o("completedStatus"), *_TAIL_170,
)  # fmt: skip


def _layout(table: tuple[WireField, ...], version: int) -> list[WireField]:
    require_version(version)
    return [f for f in table if f.present(version)]


def open_order_layout(version: int) -> list[str]:
    """Field names of openOrder at ``version``, in wire order."""
    return [f.name for f in _layout(OPEN_ORDER_FIELDS, version)]


def completed_order_layout(version: int) -> list[str]:
    """Field names of completedOrder at ``version``, in wire order."""
    return [f.name for f in _layout(COMPLETED_ORDER_FIELDS, version)]


def _render(
    table: tuple[WireField, ...],
    version: int,
    order: OrderRecord,
    contract: ContractRecord,
    state: OrderStateRecord | None,
) -> Fields:
    src = _Source(order, contract, state or OrderStateRecord())
    return [encode_field(f.get(src)) for f in _layout(table, version)]


def open_order(
    version: int,
    order: OrderRecord,
    contract: ContractRecord,
    state: OrderStateRecord | None = None,
) -> Fields:
    """5: an open order (or a whatIf answer, which must carry numeric margins)."""
    if order.whatIf and (state is None or state.initMarginChange is None):
        raise ValueError("a whatIf openOrder needs numeric margins (ib_async parses them)")
    return _render(OPEN_ORDER_FIELDS, version, order, contract, state)


def open_order_end() -> Fields:
    """53: end of an open-order list."""
    return encode_fields([OPEN_ORDER_END, 1])


def order_status(order: OrderRecord) -> Fields:
    """3: order status — 12 fields, no version field (>= 131)."""
    o = order
    return encode_fields(
        [ORDER_STATUS, o.orderId, o.status, o.filled, o.remaining, o.avgFillPrice, o.permId,
         o.parentId, o.lastFillPrice, o.clientId, o.whyHeld, o.mktCapPrice]
    )  # fmt: skip


def completed_order(
    version: int,
    order: OrderRecord,
    contract: ContractRecord,
    state: OrderStateRecord | None = None,
) -> Fields:
    """101: a finished order (no orderId/clientId on the wire)."""
    return _render(COMPLETED_ORDER_FIELDS, version, order, contract, state)


def completed_orders_end() -> Fields:
    """102: end of reqCompletedOrders (no version field)."""
    return encode_fields([COMPLETED_ORDERS_END])


def exec_details(
    version: int, req_id: int, contract: ContractRecord, execution: ExecutionRecord
) -> Fields:
    """11: one execution; reqId -1 for a live fill, the request's id for reqExecutions.
    pendingPriceRevision only from 178."""
    require_version(version)
    e = execution
    values: list[object] = [
        EXECUTION_DATA, req_id, e.orderId, *c11(contract), e.execId, tws_datetime(e.time),
        e.acctNumber, e.exchange, e.side, e.shares, e.price, e.permId, e.clientId,
        e.liquidation, e.cumQty, e.avgPrice, e.orderRef, e.evRule, e.evMultiplier,
        e.modelCode, e.lastLiquidity,
    ]  # fmt: skip
    if version >= 178:
        values.append(e.pendingPriceRevision)
    return encode_fields(values)


def exec_details_end(req_id: int) -> Fields:
    """55: end of reqExecutions."""
    return encode_fields([EXECUTION_DATA_END, 1, req_id])


def commission_report(report: CommissionReportRecord) -> Fields:
    """59: commission of one execution — exactly 8 fields."""
    r = report
    return encode_fields(
        [COMMISSION_REPORT, 1, r.execId, r.commission, r.currency, r.realizedPNL, r.yield_,
         r.yieldRedemptionDate]
    )  # fmt: skip
