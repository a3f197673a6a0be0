"""Plain records the outbound encoders take (and the inbound decoder produces).

Field names follow the TWS API (camelCase) so each one can be matched to its wire field
and to ib_async's objects without a translation table. ``None`` means "not set" and is
sent as an empty field. Prices are floats, quantities whole contracts (ints) except where
TWS itself sends a decimal (fills, positions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class ContractRecord:
    """The 12 contract fields of the wire (``C12``; ``C11`` drops primaryExchange)."""

    conId: int = 0
    symbol: str = ""
    secType: str = ""
    lastTradeDateOrContractMonth: str = ""
    strike: float = 0.0
    right: str = ""
    multiplier: str = ""
    exchange: str = ""
    primaryExchange: str = ""
    currency: str = ""
    localSymbol: str = ""
    tradingClass: str = ""


@dataclass(slots=True)
class ContractDetailsRecord:
    """Everything of a contractDetails (10) message for a non-bond contract.

    ``lastTradeTime`` (e.g. ``"08:30:00"``), when set, is sent with the expiry date and
    ``timeZoneId`` in one field (``"20251219 08:30:00 US/Central"``), as TWS does.
    """

    contract: ContractRecord = field(default_factory=ContractRecord)
    marketName: str = ""
    minTick: float = 0.0
    orderTypes: str = ""
    validExchanges: str = ""
    priceMagnifier: int = 1
    underConId: int = 0
    longName: str = ""
    contractMonth: str = ""
    industry: str = ""
    category: str = ""
    subcategory: str = ""
    timeZoneId: str = ""
    tradingHours: str = ""
    liquidHours: str = ""
    evRule: str = ""
    evMultiplier: int = 0
    secIdList: tuple[tuple[str, str], ...] = ()
    aggGroup: int = 0
    underSymbol: str = ""
    underSecType: str = ""
    marketRuleIds: str = ""
    realExpirationDate: str = ""
    lastTradeTime: str = ""
    stockType: str = ""
    minSize: float = 1.0
    sizeIncrement: float = 1.0
    suggestedSizeIncrement: float = 1.0


@dataclass(slots=True)
class OrderRecord:
    """An order as the gateway reports it in openOrder (5), orderStatus (3) and
    completedOrder (101): its terms (MKT, LMT, STP, STP LMT, brackets, OCA) and its state.

    ``status`` is TWS's order status text (PreSubmitted, Submitted, Filled, Cancelled,
    Inactive...). ``completedTime``/``completedStatus`` only matter for completedOrder.
    """

    orderId: int = 0
    clientId: int = 0
    permId: int = 0
    parentId: int = 0
    parentPermId: int | None = None
    action: str = ""
    totalQuantity: float = 0
    orderType: str = ""
    lmtPrice: float | None = None
    auxPrice: float | None = None
    tif: str = "DAY"
    goodAfterTime: str = ""
    goodTillDate: str = ""
    outsideRth: bool = False
    hidden: bool = False
    ocaGroup: str = ""
    ocaType: int = 0
    transmit: bool = True
    account: str = ""
    openClose: str = ""
    origin: int = 0
    orderRef: str = ""
    modelCode: str = ""
    displaySize: int | None = None
    triggerMethod: int = 0
    trailStopPrice: float | None = None
    trailingPercent: float | None = None
    minQty: int | None = None
    allOrNone: bool = False
    sweepToFill: bool = False
    blockOrder: bool = False
    whatIf: bool = False
    cashQty: float | None = None
    autoCancelParent: bool = False
    # state
    status: str = ""
    filled: float = 0
    remaining: float = 0
    avgFillPrice: float = 0.0
    lastFillPrice: float = 0.0
    whyHeld: str = ""
    mktCapPrice: float = 0.0
    completedTime: str = ""
    completedStatus: str = ""


@dataclass(slots=True)
class OrderStateRecord:
    """The margin/commission part of openOrder's OrderState.

    A whatIf reply must carry numbers here: ib_async does ``float(initMarginChange)``.
    """

    initMarginBefore: float | None = None
    maintMarginBefore: float | None = None
    equityWithLoanBefore: float | None = None
    initMarginChange: float | None = None
    maintMarginChange: float | None = None
    equityWithLoanChange: float | None = None
    initMarginAfter: float | None = None
    maintMarginAfter: float | None = None
    equityWithLoanAfter: float | None = None
    commission: float | None = None
    minCommission: float | None = None
    maxCommission: float | None = None
    commissionCurrency: str = ""
    warningText: str = ""


@dataclass(slots=True)
class ExecutionRecord:
    """One fill as reported by execDetails (11).

    ``time`` is an aware datetime; it is sent as ``"yyyymmdd hh:mm:ss <zone>"``.
    ``side`` is ``"BOT"`` or ``"SLD"``; lastLiquidity 1 added, 2 removed, 3 routed out.
    """

    execId: str
    orderId: int
    clientId: int
    permId: int
    time: datetime
    acctNumber: str
    exchange: str
    side: str
    shares: float
    price: float
    cumQty: float
    avgPrice: float
    orderRef: str = ""
    liquidation: int = 0
    evRule: str = ""
    evMultiplier: float | None = None
    modelCode: str = ""
    lastLiquidity: int = 0
    pendingPriceRevision: bool = False


@dataclass(slots=True)
class CommissionReportRecord:
    """commissionReport (59) for one execution."""

    execId: str
    commission: float
    currency: str = "USD"
    realizedPNL: float | None = None
    yield_: float | None = None
    yieldRedemptionDate: int | None = None


@dataclass(slots=True)
class BarRecord:
    """One historical bar. ``date`` is already in the requested formatDate
    (``"20250101 14:00:00 US/Central"``, ``"20250101"`` or epoch seconds as text)."""

    date: str
    open: float
    high: float
    low: float
    close: float
    volume: float
    wap: float
    barCount: int
