"""Typed records of the inbound (client -> gateway) requests.

One frozen, slotted dataclass per request the simulator understands; field names follow
the TWS API. ``MSG_ID``/``NAME`` identify the request; :attr:`Request.error_id` is the id an
error about it must carry. :mod:`decode` produces these from frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from tradeterm.sim.gateway.protocol.records import ContractRecord


@dataclass(slots=True, frozen=True)
class Request:
    """Base of every decoded request. ``NAME`` is the TWS API method name."""

    MSG_ID: ClassVar[int] = -1
    NAME: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return self.NAME

    @property
    def error_id(self) -> int:
        """The id an error about this request must carry (reqId, orderId or -1)."""
        for attr in ("reqId", "orderId"):
            value = getattr(self, attr, None)
            if isinstance(value, int):
                return value
        return -1


@dataclass(slots=True, frozen=True)
class UnsupportedRequest(Request):
    """A request the simulator does not model (answered with error 321)."""

    msgId: int
    requestName: str
    reqId: int = -1

    @property
    def name(self) -> str:
        return self.requestName


@dataclass(slots=True, frozen=True)
class StartApi(Request):
    MSG_ID: ClassVar[int] = 71
    NAME: ClassVar[str] = "startApi"
    clientId: int
    optionalCapabilities: str = ""


@dataclass(slots=True, frozen=True)
class ReqContractDetails(Request):
    MSG_ID: ClassVar[int] = 9
    NAME: ClassVar[str] = "reqContractDetails"
    reqId: int
    contract: ContractRecord
    includeExpired: bool = False
    secIdType: str = ""
    secId: str = ""
    issuerId: str = ""


@dataclass(slots=True, frozen=True)
class ReqMktData(Request):
    MSG_ID: ClassVar[int] = 1
    NAME: ClassVar[str] = "reqMktData"
    reqId: int
    contract: ContractRecord
    genericTickList: str = ""
    snapshot: bool = False
    regulatorySnapshot: bool = False
    mktDataOptions: str = ""
    unsupported: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class CancelMktData(Request):
    MSG_ID: ClassVar[int] = 2
    NAME: ClassVar[str] = "cancelMktData"
    reqId: int


@dataclass(slots=True, frozen=True)
class ReqTickByTickData(Request):
    MSG_ID: ClassVar[int] = 97
    NAME: ClassVar[str] = "reqTickByTickData"
    reqId: int
    contract: ContractRecord
    tickType: str
    numberOfTicks: int = 0
    ignoreSize: bool = False


@dataclass(slots=True, frozen=True)
class CancelTickByTickData(Request):
    MSG_ID: ClassVar[int] = 98
    NAME: ClassVar[str] = "cancelTickByTickData"
    reqId: int


@dataclass(slots=True, frozen=True)
class ReqMktDepth(Request):
    MSG_ID: ClassVar[int] = 10
    NAME: ClassVar[str] = "reqMktDepth"
    reqId: int
    contract: ContractRecord
    numRows: int
    isSmartDepth: bool = False
    mktDepthOptions: str = ""


@dataclass(slots=True, frozen=True)
class CancelMktDepth(Request):
    MSG_ID: ClassVar[int] = 11
    NAME: ClassVar[str] = "cancelMktDepth"
    reqId: int
    isSmartDepth: bool = False


@dataclass(slots=True, frozen=True)
class ReqRealTimeBars(Request):
    MSG_ID: ClassVar[int] = 50
    NAME: ClassVar[str] = "reqRealTimeBars"
    reqId: int
    contract: ContractRecord
    barSize: int
    whatToShow: str
    useRTH: bool
    realTimeBarsOptions: str = ""


@dataclass(slots=True, frozen=True)
class CancelRealTimeBars(Request):
    MSG_ID: ClassVar[int] = 51
    NAME: ClassVar[str] = "cancelRealTimeBars"
    reqId: int


@dataclass(slots=True, frozen=True)
class ReqHistoricalData(Request):
    MSG_ID: ClassVar[int] = 20
    NAME: ClassVar[str] = "reqHistoricalData"
    reqId: int
    contract: ContractRecord
    includeExpired: bool
    endDateTime: str
    barSizeSetting: str
    durationStr: str
    useRTH: bool
    whatToShow: str
    formatDate: int
    keepUpToDate: bool
    chartOptions: str = ""
    unsupported: tuple[str, ...] = ()


@dataclass(slots=True, frozen=True)
class CancelHistoricalData(Request):
    MSG_ID: ClassVar[int] = 25
    NAME: ClassVar[str] = "cancelHistoricalData"
    reqId: int


@dataclass(slots=True, frozen=True)
class CancelOrder(Request):
    MSG_ID: ClassVar[int] = 4
    NAME: ClassVar[str] = "cancelOrder"
    orderId: int
    manualOrderCancelTime: str = ""


@dataclass(slots=True, frozen=True)
class ReqGlobalCancel(Request):
    MSG_ID: ClassVar[int] = 58
    NAME: ClassVar[str] = "reqGlobalCancel"


@dataclass(slots=True, frozen=True)
class ReqOpenOrders(Request):
    MSG_ID: ClassVar[int] = 5
    NAME: ClassVar[str] = "reqOpenOrders"


@dataclass(slots=True, frozen=True)
class ReqAllOpenOrders(Request):
    MSG_ID: ClassVar[int] = 16
    NAME: ClassVar[str] = "reqAllOpenOrders"


@dataclass(slots=True, frozen=True)
class ReqAutoOpenOrders(Request):
    MSG_ID: ClassVar[int] = 15
    NAME: ClassVar[str] = "reqAutoOpenOrders"
    autoBind: bool


@dataclass(slots=True, frozen=True)
class ReqCompletedOrders(Request):
    MSG_ID: ClassVar[int] = 99
    NAME: ClassVar[str] = "reqCompletedOrders"
    apiOnly: bool


@dataclass(slots=True, frozen=True)
class ExecutionFilter:
    """reqExecutions' filter; empty fields match everything (clientId 0 = all clients)."""

    clientId: int = 0
    acctCode: str = ""
    time: str = ""
    symbol: str = ""
    secType: str = ""
    exchange: str = ""
    side: str = ""


@dataclass(slots=True, frozen=True)
class ReqExecutions(Request):
    MSG_ID: ClassVar[int] = 7
    NAME: ClassVar[str] = "reqExecutions"
    reqId: int
    filter: ExecutionFilter = field(default_factory=ExecutionFilter)


@dataclass(slots=True, frozen=True)
class ReqPositions(Request):
    MSG_ID: ClassVar[int] = 61
    NAME: ClassVar[str] = "reqPositions"


@dataclass(slots=True, frozen=True)
class CancelPositions(Request):
    MSG_ID: ClassVar[int] = 64
    NAME: ClassVar[str] = "cancelPositions"


@dataclass(slots=True, frozen=True)
class ReqAccountUpdates(Request):
    MSG_ID: ClassVar[int] = 6
    NAME: ClassVar[str] = "reqAccountUpdates"
    subscribe: bool
    acctCode: str


@dataclass(slots=True, frozen=True)
class ReqAccountUpdatesMulti(Request):
    MSG_ID: ClassVar[int] = 76
    NAME: ClassVar[str] = "reqAccountUpdatesMulti"
    reqId: int
    account: str
    modelCode: str = ""
    ledgerAndNLV: bool = False


@dataclass(slots=True, frozen=True)
class CancelAccountUpdatesMulti(Request):
    MSG_ID: ClassVar[int] = 77
    NAME: ClassVar[str] = "cancelAccountUpdatesMulti"
    reqId: int


@dataclass(slots=True, frozen=True)
class ReqPnL(Request):
    MSG_ID: ClassVar[int] = 92
    NAME: ClassVar[str] = "reqPnL"
    reqId: int
    account: str
    modelCode: str = ""


@dataclass(slots=True, frozen=True)
class CancelPnL(Request):
    MSG_ID: ClassVar[int] = 93
    NAME: ClassVar[str] = "cancelPnL"
    reqId: int


@dataclass(slots=True, frozen=True)
class ReqPnLSingle(Request):
    MSG_ID: ClassVar[int] = 94
    NAME: ClassVar[str] = "reqPnLSingle"
    reqId: int
    account: str
    modelCode: str
    conId: int


@dataclass(slots=True, frozen=True)
class CancelPnLSingle(Request):
    MSG_ID: ClassVar[int] = 95
    NAME: ClassVar[str] = "cancelPnLSingle"
    reqId: int


@dataclass(slots=True, frozen=True)
class ReqCurrentTime(Request):
    MSG_ID: ClassVar[int] = 49
    NAME: ClassVar[str] = "reqCurrentTime"


@dataclass(slots=True, frozen=True)
class ReqIds(Request):
    MSG_ID: ClassVar[int] = 8
    NAME: ClassVar[str] = "reqIds"
    numIds: int = 1


@dataclass(slots=True, frozen=True)
class ReqManagedAccts(Request):
    MSG_ID: ClassVar[int] = 17
    NAME: ClassVar[str] = "reqManagedAccts"


@dataclass(slots=True, frozen=True)
class ReqMarketDataType(Request):
    MSG_ID: ClassVar[int] = 59
    NAME: ClassVar[str] = "reqMarketDataType"
    marketDataType: int


@dataclass(slots=True, frozen=True)
class ReqAccountSummary(Request):
    MSG_ID: ClassVar[int] = 62
    NAME: ClassVar[str] = "reqAccountSummary"
    reqId: int
    groupName: str
    tags: str


@dataclass(slots=True, frozen=True)
class CancelAccountSummary(Request):
    MSG_ID: ClassVar[int] = 63
    NAME: ClassVar[str] = "cancelAccountSummary"
    reqId: int


@dataclass(slots=True, frozen=True)
class PlaceOrder(Request):
    """placeOrder (3): a new order or a modification of ``orderId``.

    Only what a futures order engine can act on is kept; every other wire field is read
    (so the walk stays aligned) and, when it asks for a feature the simulator does not
    have, named in ``unsupported`` (answer those with error 321). ``totalQuantity`` is whole
    contracts (``"2"`` and ``"2.0"`` both give 2; a fractional quantity is truncated and
    listed in ``unsupported``). Prices that were not set are None.
    """

    MSG_ID: ClassVar[int] = 3
    NAME: ClassVar[str] = "placeOrder"
    orderId: int
    contract: ContractRecord
    action: str
    totalQuantity: int
    orderType: str
    lmtPrice: float | None = None
    auxPrice: float | None = None
    tif: str = ""
    ocaGroup: str = ""
    ocaType: int = 0
    account: str = ""
    openClose: str = ""
    origin: int = 0
    orderRef: str = ""
    transmit: bool = True
    parentId: int = 0
    outsideRth: bool = False
    hidden: bool = False
    displaySize: int = 0
    triggerMethod: int = 0
    goodAfterTime: str = ""
    goodTillDate: str = ""
    modelCode: str = ""
    allOrNone: bool = False
    minQty: int | None = None
    sweepToFill: bool = False
    blockOrder: bool = False
    trailStopPrice: float | None = None
    trailingPercent: float | None = None
    activeStartTime: str = ""
    activeStopTime: str = ""
    notHeld: bool = False
    algoStrategy: str = ""
    whatIf: bool = False
    adjustedOrderType: str = ""
    triggerPrice: float | None = None
    cashQty: float | None = None
    usePriceMgmtAlgo: bool = False
    duration: int | None = None
    postToAts: int | None = None
    autoCancelParent: bool = False
    advancedErrorOverride: str = ""
    manualOrderTime: str = ""
    unsupported: tuple[str, ...] = ()
