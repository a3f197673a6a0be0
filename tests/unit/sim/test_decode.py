"""Requests captured from ib_async 2.1.0's real ``Client`` (its actual outbound bytes at
server versions 176, 177 and 178), decoded by the gateway and checked field by field."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from ib_async.client import Client
from ib_async.contract import ComboLeg, Contract, DeltaNeutralContract, Future
from ib_async.objects import ExecutionFilter, TagValue
from ib_async.order import (
    ExecutionCondition,
    LimitOrder,
    MarginCondition,
    MarketOrder,
    Order,
    OrderComboLeg,
    PercentChangeCondition,
    PriceCondition,
    StopLimitOrder,
    StopOrder,
    TimeCondition,
    VolumeCondition,
)

from tradeterm.sim.gateway.protocol import request_types as rt
from tradeterm.sim.gateway.protocol.decode import DecodeError, decode_request
from tradeterm.sim.gateway.protocol.records import ContractRecord
from tradeterm.sim.gateway.protocol.wire import FrameDecoder

VERSIONS = (176, 177, 178)


def es() -> Contract:
    return Contract(
        conId=495512563, symbol="ES", secType="FUT", lastTradeDateOrContractMonth="20251219",
        multiplier="50", exchange="CME", currency="USD", localSymbol="ESZ5", tradingClass="ES",
    )  # fmt: skip


ES = ContractRecord(
    conId=495512563, symbol="ES", secType="FUT", lastTradeDateOrContractMonth="20251219",
    multiplier="50", exchange="CME", currency="USD", localSymbol="ESZ5", tradingClass="ES",
)  # fmt: skip


class Capture:
    """A real ib_async Client whose socket writes are captured as bytes."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.client = Client(SimpleNamespace())
        self.client._serverVersion = version
        self.client.connState = Client.CONNECTED
        self.client.MaxRequests = 0  # no throttling
        self.client.clientId = 7
        self.sent: list[bytes] = []
        self.client.conn.sendMsg = self.sent.append  # type: ignore[method-assign]

    def frames(self, call: Callable[[Client], object]) -> list[list[str]]:
        self.sent.clear()
        call(self.client)
        return FrameDecoder().feed(b"".join(self.sent))

    def fields(self, call: Callable[[Client], object]) -> list[str]:
        frames = self.frames(call)
        assert len(frames) == 1
        return frames[0]

    def request(self, call: Callable[[Client], object]) -> rt.Request:
        return decode_request(self.fields(call), self.version)


@pytest.fixture(params=VERSIONS)
def cap(request: pytest.FixtureRequest) -> Capture:
    return Capture(int(request.param))


# ------------------------------------------------------------------------ orders


def place(cap: Capture, order: Order, contract: Contract | None = None) -> rt.PlaceOrder:
    req = cap.request(lambda c: c.placeOrder(order.orderId or 21, contract or es(), order))
    assert isinstance(req, rt.PlaceOrder)
    return req


async def test_market_order(cap: Capture) -> None:
    req = place(cap, MarketOrder("BUY", 2))
    assert req == rt.PlaceOrder(orderId=21, contract=ES, action="BUY", totalQuantity=2,
                                orderType="MKT", openClose="O")  # fmt: skip
    assert req.name == "placeOrder"
    assert req.error_id == 21


async def test_plain_limit_order_is_114_fields_at_178() -> None:
    fields = Capture(178).fields(lambda c: c.placeOrder(21, es(), LimitOrder("BUY", 1, 4900.25)))
    assert len(fields) == 114


@pytest.mark.parametrize("quantity", [2, 2.0, "2"])
async def test_quantity_int_or_float(cap: Capture, quantity: Any) -> None:
    order = MarketOrder("SELL", 0)
    order.totalQuantity = quantity
    assert place(cap, order).totalQuantity == 2


async def test_limit_order_gtc_with_ref(cap: Capture) -> None:
    order = LimitOrder("SELL", 1, 4900.25, tif="GTC", orderRef="tt-17", outsideRth=True,
                       account="DU1", goodTillDate="20251231 16:00:00 US/Central")  # fmt: skip
    req = place(cap, order)
    assert (req.action, req.totalQuantity, req.orderType, req.lmtPrice, req.auxPrice) == (
        "SELL", 1, "LMT", 4900.25, None)  # fmt: skip
    assert (req.tif, req.orderRef, req.outsideRth, req.account, req.goodTillDate) == (
        "GTC", "tt-17", True, "DU1", "20251231 16:00:00 US/Central")  # fmt: skip
    assert (req.whatIf, req.transmit, req.unsupported) == (False, True, ())


async def test_day_stop_and_stop_limit(cap: Capture) -> None:
    req = place(cap, StopOrder("BUY", 3, 4950.5, tif="DAY"))
    assert (req.orderType, req.tif, req.lmtPrice, req.auxPrice) == ("STP", "DAY", None, 4950.5)
    req = place(cap, StopLimitOrder("SELL", 1, 4890.0, 4890.25))
    assert (req.orderType, req.lmtPrice, req.auxPrice) == ("STP LMT", 4890.0, 4890.25)


async def test_bracket_orders(cap: Capture) -> None:
    parent = LimitOrder("BUY", 2, 4900.0, orderId=30, transmit=False)
    take = LimitOrder("SELL", 2, 4910.0, orderId=31, parentId=30, transmit=False)
    stop = StopOrder("SELL", 2, 4890.0, orderId=32, parentId=30, transmit=True)
    reqs = [place(cap, o) for o in (parent, take, stop)]
    assert [(r.orderId, r.parentId, r.transmit) for r in reqs] == [
        (30, 0, False), (31, 30, False), (32, 30, True)]  # fmt: skip


async def test_oca_group(cap: Capture) -> None:
    req = place(cap, LimitOrder("SELL", 1, 4910.0, ocaGroup="OCA_7", ocaType=1))
    assert (req.ocaGroup, req.ocaType) == ("OCA_7", 1)


async def test_what_if(cap: Capture) -> None:
    req = place(cap, LimitOrder("BUY", 1, 4900.0, whatIf=True))
    assert req.whatIf is True
    assert req.unsupported == ()


def _order_with(**kw: Any) -> Order:
    order = LimitOrder("BUY", 1, 4900.0, whatIf=True, advancedErrorOverride="8229",
                       manualOrderTime="20251120-14:30:00")  # fmt: skip
    for key, value in kw.items():
        setattr(order, key, value)
    return order


def _bag() -> Contract:
    return Contract(secType="BAG", symbol="ES", exchange="CME", currency="USD", comboLegs=[
        ComboLeg(conId=1, ratio=1, action="BUY", exchange="CME"),
        ComboLeg(conId=2, ratio=1, action="SELL", exchange="CME")])  # fmt: skip


def _dnc() -> Contract:
    contract = es()
    contract.deltaNeutralContract = DeltaNeutralContract(conId=1, delta=0.5, price=10.0)
    return contract


def _ats() -> Contract:
    contract = es()
    contract.exchange = "IBKRATS"
    return contract


UNSUPPORTED_ORDERS: dict[str, tuple[Callable[[], Order], Callable[[], Contract], str]] = {
    "bag": (lambda: _order_with(orderComboLegs=[OrderComboLeg(1.0), OrderComboLeg(2.0)],
                                smartComboRoutingParams=[TagValue("NonGuaranteed", "1")]),
            _bag, "BAG combo legs"),
    "algo": (lambda: _order_with(algoStrategy="Adaptive",
                                 algoParams=[TagValue("adaptivePriority", "Normal")]),
             es, "algo orders (Adaptive)"),
    "conditions": (lambda: _order_with(conditions=[
        PriceCondition(price=5000.0, conId=1, exch="CME"), TimeCondition(time="20251231 10:00:00"),
        MarginCondition(percent=30), ExecutionCondition(secType="FUT", exch="CME", symbol="ES"),
        VolumeCondition(volume=100, conId=1, exch="CME"),
        PercentChangeCondition(changePercent=2.5, conId=1, exch="CME")],
        conditionsIgnoreRth=True), es, "order conditions"),
    "delta-neutral": (lambda: _order_with(deltaNeutralOrderType="LMT", deltaNeutralAuxPrice=1.0),
                      es, "delta-neutral orders"),
    "dn contract": (lambda: _order_with(), _dnc, "delta-neutral contracts"),
    "scale": (lambda: _order_with(scaleInitLevelSize=1, scaleSubsLevelSize=1,
                                  scalePriceIncrement=0.25), es, "scale orders"),
    "hedge": (lambda: _order_with(hedgeType="D", hedgeParam="0.5"), es, "hedge orders"),
    "peg bench": (lambda: _order_with(orderType="PEG BENCH", referenceContractId=1,
                                      peggedChangeAmount=1.0, referenceChangeAmount=1.0),
                  es, "PEG BENCH orders"),
    "peg mid": (lambda: _order_with(orderType="PEG MID", midOffsetAtWhole=0.25,
                                    midOffsetAtHalf=0.125), es, "PEG MID orders"),
    "peg best": (lambda: _order_with(orderType="PEG BEST", minCompeteSize=1,
                                     competeAgainstBestOffset=math.inf, midOffsetAtWhole=0.25,
                                     midOffsetAtHalf=0.125), es, "PEG BEST orders"),
    "ibkrats": (lambda: _order_with(minTradeQty=1), _ats, "IBKRATS routing"),
    "fractional": (lambda: _order_with(totalQuantity=1.5), es, "fractional quantity 1.5"),
}  # fmt: skip


@pytest.mark.parametrize("key", sorted(UNSUPPORTED_ORDERS))
async def test_unsupported_order_features_are_named_and_walk_stays_aligned(
    cap: Capture, key: str
) -> None:
    make_order, make_contract, feature = UNSUPPORTED_ORDERS[key]
    req = place(cap, make_order(), make_contract())
    assert feature in req.unsupported
    # fields after the optional blocks were still read in the right place
    assert req.whatIf is True
    assert (req.advancedErrorOverride, req.manualOrderTime) == ("8229", "20251120-14:30:00")


async def test_truncated_or_padded_place_order_is_rejected(cap: Capture) -> None:
    fields = cap.fields(lambda c: c.placeOrder(21, es(), MarketOrder("BUY", 1)))
    with pytest.raises(DecodeError):
        decode_request(fields[:-1], cap.version)
    with pytest.raises(DecodeError):
        decode_request([*fields, "x"], cap.version)
    with pytest.raises(DecodeError):
        decode_request(["3", "abc", *fields[2:]], cap.version)


async def test_cancel_order_and_global_cancel(cap: Capture) -> None:
    assert cap.request(lambda c: c.cancelOrder(12, "")) == rt.CancelOrder(12, "")
    assert cap.request(lambda c: c.cancelOrder(12, "20251120 14:30:00")) == rt.CancelOrder(
        12, "20251120 14:30:00")  # fmt: skip
    assert cap.request(lambda c: c.reqGlobalCancel()) == rt.ReqGlobalCancel()


# ---------------------------------------------------------------- other requests


async def test_start_api(cap: Capture) -> None:
    assert cap.fields(lambda c: c.startApi()) == ["71", "2", "7", ""]
    assert cap.request(lambda c: c.startApi()) == rt.StartApi(7, "")


async def test_contract_details(cap: Capture) -> None:
    fields = cap.fields(lambda c: c.reqContractDetails(3, Future("ES", "202512", "CME")))
    assert len(fields) == 19
    assert decode_request(fields, cap.version) == rt.ReqContractDetails(
        3, ContractRecord(symbol="ES", secType="FUT", lastTradeDateOrContractMonth="202512",
                          exchange="CME"))  # fmt: skip


async def test_market_data_requests(cap: Capture) -> None:
    assert cap.request(lambda c: c.reqMktData(4, es(), "233,375", False, False, [])) == (
        rt.ReqMktData(4, ES, "233,375", False, False, ""))  # fmt: skip
    assert cap.request(lambda c: c.reqMktData(4, es(), "", True, False, [])) == (
        rt.ReqMktData(4, ES, "", True, False, ""))  # fmt: skip
    bag = cap.request(lambda c: c.reqMktData(4, _bag(), "", False, False, []))
    assert isinstance(bag, rt.ReqMktData)
    assert bag.unsupported == ("BAG combo legs",)
    dnc = cap.request(lambda c: c.reqMktData(4, _dnc(), "", False, False, []))
    assert isinstance(dnc, rt.ReqMktData)
    assert dnc.unsupported == ("delta-neutral contracts",)
    assert cap.request(lambda c: c.cancelMktData(4)) == rt.CancelMktData(4)
    assert cap.request(lambda c: c.reqMarketDataType(3)) == rt.ReqMarketDataType(3)


async def test_tick_by_tick_depth_and_bars(cap: Capture) -> None:
    assert cap.request(lambda c: c.reqTickByTickData(5, es(), "AllLast", 0, False)) == (
        rt.ReqTickByTickData(5, ES, "AllLast", 0, False))  # fmt: skip
    assert cap.request(lambda c: c.reqTickByTickData(5, es(), "BidAsk", 10, True)) == (
        rt.ReqTickByTickData(5, ES, "BidAsk", 10, True))  # fmt: skip
    assert cap.request(lambda c: c.cancelTickByTickData(5)) == rt.CancelTickByTickData(5)
    assert cap.request(lambda c: c.reqMktDepth(6, es(), 10, True, [])) == (
        rt.ReqMktDepth(6, ES, 10, True, ""))  # fmt: skip
    assert cap.request(lambda c: c.cancelMktDepth(6, True)) == rt.CancelMktDepth(6, True)
    assert cap.request(lambda c: c.reqRealTimeBars(7, es(), 5, "TRADES", True, [])) == (
        rt.ReqRealTimeBars(7, ES, 5, "TRADES", True, ""))  # fmt: skip
    assert cap.request(lambda c: c.cancelRealTimeBars(7)) == rt.CancelRealTimeBars(7)


async def test_historical_data(cap: Capture) -> None:
    req = cap.request(lambda c: c.reqHistoricalData(
        8, es(), "", "1 D", "1 min", "TRADES", 0, 1, True, []))  # fmt: skip
    assert req == rt.ReqHistoricalData(8, ES, False, "", "1 min", "1 D", False, "TRADES", 1, True)
    req = cap.request(lambda c: c.reqHistoricalData(
        8, es(), "20251120 14:00:00 UTC", "2 D", "5 mins", "MIDPOINT", 1, 2, False, []))  # fmt: skip
    assert req == rt.ReqHistoricalData(
        8, ES, False, "20251120 14:00:00 UTC", "5 mins", "2 D", True, "MIDPOINT", 2, False
    )
    bag = cap.request(lambda c: c.reqHistoricalData(
        8, _bag(), "", "1 D", "1 min", "TRADES", 0, 1, False, []))  # fmt: skip
    assert isinstance(bag, rt.ReqHistoricalData)
    assert bag.unsupported == ("BAG combo legs",)
    assert cap.request(lambda c: c.cancelHistoricalData(8)) == rt.CancelHistoricalData(8)


async def test_order_queries(cap: Capture) -> None:
    assert cap.request(lambda c: c.reqOpenOrders()) == rt.ReqOpenOrders()
    assert cap.request(lambda c: c.reqAllOpenOrders()) == rt.ReqAllOpenOrders()
    assert cap.request(lambda c: c.reqAutoOpenOrders(True)) == rt.ReqAutoOpenOrders(True)
    assert cap.request(lambda c: c.reqCompletedOrders(False)) == rt.ReqCompletedOrders(False)
    assert cap.request(lambda c: c.reqExecutions(9, ExecutionFilter())) == rt.ReqExecutions(9)
    filt = ExecutionFilter(7, "DU1", "20251120 00:00:00", "ES", "FUT", "CME", "BUY")
    assert cap.request(lambda c: c.reqExecutions(9, filt)) == rt.ReqExecutions(
        9, rt.ExecutionFilter(7, "DU1", "20251120 00:00:00", "ES", "FUT", "CME", "BUY")
    )


async def test_account_requests(cap: Capture) -> None:
    assert cap.request(lambda c: c.reqPositions()) == rt.ReqPositions()
    assert cap.request(lambda c: c.cancelPositions()) == rt.CancelPositions()
    assert cap.request(lambda c: c.reqAccountUpdates(True, "DU1")) == rt.ReqAccountUpdates(
        True, "DU1")  # fmt: skip
    assert cap.request(lambda c: c.reqAccountUpdates(False, "DU1")) == rt.ReqAccountUpdates(
        False, "DU1")  # fmt: skip
    assert cap.request(lambda c: c.reqAccountUpdatesMulti(10, "DU1", "", False)) == (
        rt.ReqAccountUpdatesMulti(10, "DU1", "", False))  # fmt: skip
    assert cap.request(lambda c: c.cancelAccountUpdatesMulti(10)) == (
        rt.CancelAccountUpdatesMulti(10))  # fmt: skip
    assert cap.request(lambda c: c.reqPnL(11, "DU1", "")) == rt.ReqPnL(11, "DU1", "")
    assert cap.request(lambda c: c.cancelPnL(11)) == rt.CancelPnL(11)
    assert cap.request(lambda c: c.reqPnLSingle(12, "DU1", "", 495512563)) == (
        rt.ReqPnLSingle(12, "DU1", "", 495512563))  # fmt: skip
    assert cap.request(lambda c: c.cancelPnLSingle(12)) == rt.CancelPnLSingle(12)
    assert cap.request(lambda c: c.reqAccountSummary(13, "All", "NetLiquidation,BuyingPower")) \
        == rt.ReqAccountSummary(13, "All", "NetLiquidation,BuyingPower")  # fmt: skip
    assert cap.request(lambda c: c.cancelAccountSummary(13)) == rt.CancelAccountSummary(13)
    assert cap.request(lambda c: c.reqManagedAccts()) == rt.ReqManagedAccts()


async def test_session_requests(cap: Capture) -> None:
    assert cap.request(lambda c: c.reqCurrentTime()) == rt.ReqCurrentTime()
    assert cap.request(lambda c: c.reqIds(1)) == rt.ReqIds(1)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda c: c.reqScannerParameters(), (24, "reqScannerParameters", -1)),
        (lambda c: c.reqNewsProviders(), (85, "reqNewsProviders", -1)),
        (lambda c: c.reqMatchingSymbols(14, "ES"), (81, "reqMatchingSymbols", 14)),
        (lambda c: c.reqSecDefOptParams(15, "ES", "CME", "FUT", 1), (78, "reqSecDefOptParams", 15)),
        (lambda c: c.reqHistoricalTicks(16, es(), "", "20251120 14:00:00 UTC", 100, "TRADES",
                                        0, False, []), (96, "reqHistoricalTicks", 16)),
        (lambda c: c.reqHeadTimeStamp(17, es(), "TRADES", 0, 1), (87, "reqHeadTimeStamp", 17)),
        (lambda c: c.reqPositionsMulti(18, "DU1", ""), (74, "reqPositionsMulti", 18)),
        (lambda c: c.reqUserInfo(19), (104, "reqUserInfo", 19)),
        (lambda c: c.reqFamilyCodes(), (80, "reqFamilyCodes", -1)),
        (lambda c: c.replaceFA(20, 1, "<xml/>"), (19, "replaceFA", 20)),
    ],
)  # fmt: skip
async def test_unsupported_requests_keep_name_and_req_id(
    cap: Capture, call: Callable[[Client], object], expected: tuple[int, str, int]
) -> None:
    req = cap.request(call)
    assert req == rt.UnsupportedRequest(*expected)
    assert (req.name, req.error_id) == expected[1:]


def test_unknown_and_malformed_messages() -> None:
    assert decode_request(["999", "1"], 178) == rt.UnsupportedRequest(999, "request #999")
    for fields in ([], ["x"], ["49"], ["8", "1", "notanint"], ["6", "2", "maybe", "DU1"]):
        with pytest.raises(DecodeError):
            decode_request(fields, 178)
