"""Every outbound encoder, decoded by ib_async 2.1.0's own Decoder at 176, 177 and 178 and
compared field by field with what was encoded."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from ib_async.contract import Contract, ContractDetails
from ib_async.decoder import Decoder
from ib_async.objects import Execution, SoftDollarTier
from ib_async.order import Order, OrderState
from ib_async.util import UNSET_DOUBLE, UNSET_INTEGER

from tradeterm.sim.gateway.protocol import encode as enc
from tradeterm.sim.gateway.protocol import encode_orders as eo
from tradeterm.sim.gateway.protocol.records import (
    BarRecord,
    CommissionReportRecord,
    ContractDetailsRecord,
    ContractRecord,
    ExecutionRecord,
    OrderRecord,
    OrderStateRecord,
)

VERSIONS = (176, 177, 178)

ES = ContractRecord(
    conId=495512563, symbol="ES", secType="FUT", lastTradeDateOrContractMonth="20251219",
    multiplier="50", exchange="CME", currency="USD", localSymbol="ESZ5", tradingClass="ES",
)  # fmt: skip


class Recorder:
    """Stands in for ib_async's Wrapper: records every call the Decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.ib = SimpleNamespace(TimezoneTWS=None)
        self.defaultTimezone = UTC

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any) -> None:
            self.calls.append((name, args))

        return record


def decode(version: int, fields: list[str]) -> list[tuple[str, tuple[Any, ...]]]:
    """Run ib_async's handler for this message (no exception swallowing for the
    hand-written handlers; wrapped ones log and record nothing on failure)."""
    assert all(isinstance(f, str) for f in fields)
    recorder = Recorder()
    decoder = Decoder(recorder, version)  # type: ignore[arg-type]
    decoder.handlers[int(fields[0])](list(fields))
    return recorder.calls


def one(version: int, fields: list[str]) -> tuple[str, tuple[Any, ...]]:
    calls = decode(version, fields)
    assert len(calls) == 1, calls
    return calls[0]


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> int:
    return int(request.param)


def assert_contract(c: Contract, rec: ContractRecord, *, primary: str | None = None) -> None:
    for name in (
        "conId", "symbol", "secType", "lastTradeDateOrContractMonth", "strike", "right",
        "multiplier", "currency", "localSymbol", "tradingClass",
    ):  # fmt: skip
        assert getattr(c, name) == getattr(rec, name), name
    if primary is None:
        assert c.exchange == rec.exchange
    else:
        assert c.primaryExchange == primary


def defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def assert_fields(obj: object, expected: dict[str, Any]) -> None:
    actual = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}  # type: ignore[arg-type]
    diffs = {k: (actual[k], v) for k, v in expected.items() if actual[k] != v}
    assert diffs == {}, f"(decoded, expected): {diffs}"


def unset(value: float | None) -> float:
    return UNSET_DOUBLE if value is None else value


# ---------------------------------------------------------------- session / misc


def test_managed_accounts_and_next_valid_id_have_snooped_arity(version: int) -> None:
    fields = enc.managed_accounts(["DU1", "DU2"])
    assert len(fields) == 3  # ib_async's connect snoop: `_, _, accts = fields`
    assert one(version, fields) == ("managedAccounts", ("DU1,DU2",))
    fields = enc.next_valid_id(42)
    assert len(fields) == 3
    assert one(version, fields) == ("nextValidId", (42,))


def test_error(version: int) -> None:
    fields = enc.error(version, 7, 201, "Order rejected - reason: naïve", '{"a":1}')
    assert len(fields) == 6
    assert one(version, fields) == ("error", (7, 201, "Order rejected - reason: na\\xefve",
                                              '{"a":1}'))  # fmt: skip


def test_error_below_166_has_no_json_field() -> None:
    fields = enc.error(150, -1, 503, "refused")
    assert len(fields) == 5
    assert one(150, fields) == ("error", (-1, 503, "refused", ""))
    with pytest.raises(ValueError):
        enc.error(194, -1, 1, "x")


def test_current_time(version: int) -> None:
    assert one(version, enc.current_time(1763683200)) == ("currentTime", (1763683200,))


def test_encoders_refuse_unknown_versions() -> None:
    with pytest.raises(ValueError):
        enc.contract_details(175, 1, ContractDetailsRecord(contract=ES))
    with pytest.raises(ValueError):
        eo.open_order(179, OrderRecord(), ES)


# -------------------------------------------------------------- contract details


def _es_details(**kw: Any) -> ContractDetailsRecord:
    base: dict[str, Any] = dict(
        contract=dataclasses.replace(ES, primaryExchange="CME"), marketName="ES",
        minTick=0.25, orderTypes="ACTIVETIM,LMT,MKT,STP,STPLMT", validExchanges="CME,QBALGO",
        priceMagnifier=1, underConId=11004968, longName="E-mini S&P 500",
        contractMonth="202512", industry="", category="", subcategory="",
        timeZoneId="US/Central", tradingHours="20251103:1700-20251104:1600;20251108:CLOSED",
        liquidHours="20251104:0830-20251104:1600", evRule="", evMultiplier=0, aggGroup=2,
        underSymbol="ES", underSecType="IND", marketRuleIds="67,67",
        realExpirationDate="20251219", stockType="", minSize=1.0, sizeIncrement=1.0,
        suggestedSizeIncrement=1.0,
    )  # fmt: skip
    base.update(kw)
    return ContractDetailsRecord(**base)


@pytest.mark.parametrize(
    "details",
    [
        _es_details(),
        _es_details(lastTradeTime="08:30:00", secIdList=(("ISIN", "US0000000000"),)),
        _es_details(longName="Caf\u00e9 \\ future", minTick=0.005, priceMagnifier=100),
    ],
)
def test_contract_details(version: int, details: ContractDetailsRecord) -> None:
    fields = enc.contract_details(version, 9, details)
    assert len(fields) == 40 + 2 * len(details.secIdList)
    name, (req_id, cd) = one(version, fields)
    assert (name, req_id) == ("contractDetails", 9)
    assert isinstance(cd, ContractDetails)
    rec = dataclasses.asdict(details)
    contract = rec.pop("contract")
    rec["secIdList"] = [tuple(p) for p in rec["secIdList"]]
    expected = defaults(ContractDetails) | rec | {"contract": cd.contract}
    assert_fields(cd, expected)
    assert cd.contract is not None
    assert_fields(cd.contract, defaults(Contract) | contract)


def test_contract_details_end(version: int) -> None:
    assert one(version, enc.contract_details_end(9)) == ("contractDetailsEnd", (9,))


# ------------------------------------------------------------------- market data


def test_market_data_messages(version: int) -> None:
    assert one(version, enc.tick_req_params(4, 0.25, "CME", 3)) == (
        "tickReqParams", (4, 0.25, "CME", 3))  # fmt: skip
    assert one(version, enc.market_data_type(4, 3)) == ("marketDataType", (4, 3))
    fields = enc.tick_price(4, 1, 4900.25, 12, 1)
    assert len(fields) == 7
    assert one(version, fields) == ("priceSizeTick", (4, 1, 4900.25, 12.0))
    assert one(version, enc.tick_size(4, 8, 10543)) == ("tickSize", (4, 8, 10543.0))
    assert one(version, enc.tick_generic(4, 49, 0)) == ("tickGeneric", (4, 49, 0.0))
    assert one(version, enc.tick_string(4, 45, "1763683918")) == (
        "tickString", (4, 45, "1763683918"))  # fmt: skip
    assert one(version, enc.tick_snapshot_end(4)) == ("tickSnapshotEnd", (4,))


def test_rt_volume_value() -> None:
    value = enc.rt_volume(5000.25, 2, 1763683918123, 1005, 4999.9, True)
    assert value == "5000.25;2;1763683918123;1005;4999.9;true"
    assert len(value.split(";")) == 6
    assert enc.rt_volume(None, None, 1, 7, 1.5, False) == ";;1;7;1.5;false"


def test_tick_by_tick(version: int) -> None:
    name, args = one(version, enc.tick_by_tick_last(5, 1763683918, 4900.25, 3,
                                                    unreported=True, exchange="CME"))  # fmt: skip
    assert name == "tickByTickAllLast"
    req_id, tick_type, t, price, size, attrib, exchange, special = args
    assert (req_id, tick_type, t, price, size, exchange, special) == (
        5, 2, 1763683918, 4900.25, 3.0, "CME", "")  # fmt: skip
    assert (attrib.pastLimit, attrib.unreported) == (False, True)
    assert one(version, enc.tick_by_tick_last(5, 1, 1.0, 1, all_last=False))[1][1] == 1

    name, args = one(version, enc.tick_by_tick_bid_ask(5, 17, 4900.0, 4900.25, 10, 12,
                                                       ask_past_high=True))  # fmt: skip
    assert name == "tickByTickBidAsk"
    assert args[:6] == (5, 17, 4900.0, 4900.25, 10.0, 12.0)
    assert (args[6].bidPastLow, args[6].askPastHigh) == (False, True)
    assert one(version, enc.tick_by_tick_mid_point(5, 17, 4900.125)) == (
        "tickByTickMidPoint", (5, 17, 4900.125))  # fmt: skip


def test_market_depth(version: int) -> None:
    assert one(version, enc.update_mkt_depth(6, 2, 1, 1, 4899.5, 40)) == (
        "updateMktDepth", (6, 2, 1, 1, 4899.5, 40.0))  # fmt: skip
    assert one(version, enc.update_mkt_depth_l2(6, 0, "CME", 0, 0, 4900.25, 7, True)) == (
        "updateMktDepthL2", (6, 0, "CME", 0, 0, 4900.25, 7.0, True))  # fmt: skip


def test_bars(version: int) -> None:
    assert one(version, enc.realtime_bar(7, 1763683915, 1.0, 2.0, 0.5, 1.5, 10, 1.25, 4)) == (
        "realtimeBar", (7, 1763683915, 1.0, 2.0, 0.5, 1.5, 10.0, 1.25, 4))  # fmt: skip
    bars = [
        BarRecord("20251120 08:30:00 US/Central", 4900.0, 4901.5, 4899.25, 4901.0, 1200, 4900.6, 310),
        BarRecord("20251120 08:31:00 US/Central", 4901.0, 4902.0, 4900.5, 4900.75, 800, 4901.2, 200),
    ]  # fmt: skip
    calls = decode(version, enc.historical_data(8, "20251120 08:30:00", "20251120 08:32:00", bars))
    assert [c[0] for c in calls] == ["historicalData", "historicalData", "historicalDataEnd"]
    for (_, (req_id, bar)), rec in zip(calls, bars, strict=False):
        assert req_id == 8
        assert (bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.average,
                bar.barCount) == dataclasses.astuple(rec)  # fmt: skip
    assert calls[2][1] == (8, "20251120 08:30:00", "20251120 08:32:00")
    name, (req_id, bar) = one(version, enc.historical_data_update(8, bars[1]))
    assert (name, req_id) == ("historicalDataUpdate", 8)
    assert (bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.average,
            bar.barCount) == dataclasses.astuple(bars[1])  # fmt: skip


# ------------------------------------------------------------ positions / account


def test_position(version: int) -> None:
    fields = enc.position("DU1", ES, -2, 245012.5)
    assert len(fields) == 16
    name, (account, contract, pos, avg_cost) = one(version, fields)
    assert (name, account, pos, avg_cost) == ("position", "DU1", -2.0, 245012.5)
    assert_contract(contract, ES)
    assert one(version, enc.position_end()) == ("positionEnd", ())


def test_account_messages(version: int) -> None:
    assert one(version, enc.update_account_value("NetLiquidation", "100000.00", "USD", "DU1")) \
        == ("updateAccountValue", ("NetLiquidation", "100000.00", "USD", "DU1"))  # fmt: skip
    fields = enc.update_portfolio(ES, 2, 4900.25, 490025.0, 245000.0, 25.0, -12.5, "DU1")
    assert len(fields) == 20
    name, (contract, *values) = one(version, fields)
    assert name == "updatePortfolio"
    assert_contract(contract, ES, primary="CME")
    assert values == [2.0, 4900.25, 490025.0, 245000.0, 25.0, -12.5, "DU1"]
    assert one(version, enc.update_account_time("14:31")) == ("updateAccountTime", ("14:31",))
    assert one(version, enc.account_download_end("DU1")) == ("accountDownloadEnd", ("DU1",))
    assert one(version, enc.account_update_multi(3, "DU1", "", "NetLiquidation", "1.5", "USD")) \
        == ("accountUpdateMulti", (3, "DU1", "", "NetLiquidation", "1.5", "USD"))  # fmt: skip
    assert one(version, enc.account_update_multi_end(3)) == ("accountUpdateMultiEnd", (3,))
    assert one(version, enc.account_summary(4, "DU1", "BuyingPower", "4.00", "USD")) == (
        "accountSummary", (4, "DU1", "BuyingPower", "4.00", "USD"))  # fmt: skip
    assert one(version, enc.account_summary_end(4)) == ("accountSummaryEnd", (4,))
    assert one(version, enc.pnl(5, -12.5, 100.25, 3.0)) == ("pnl", (5, -12.5, 100.25, 3.0))
    assert one(version, enc.pnl_single(6, 2, -12.5, 100.25, 3.0, 490025.0)) == (
        "pnlSingle", (6, 2.0, -12.5, 100.25, 3.0, 490025.0))  # fmt: skip


# ------------------------------------------------------------------------ orders

ORDERS = {
    "MKT": OrderRecord(orderId=3, clientId=7, permId=1000003, action="BUY", totalQuantity=2,
                       orderType="MKT", account="DU1", status="PreSubmitted", remaining=2),
    "LMT GTC": OrderRecord(orderId=4, clientId=7, permId=1000004, action="SELL",
                           totalQuantity=1, orderType="LMT", lmtPrice=4900.25, tif="GTC",
                           outsideRth=True, orderRef="tt-17", account="DU1",
                           status="Submitted", remaining=1),
    "STP": OrderRecord(orderId=5, clientId=7, permId=1000005, action="BUY", totalQuantity=3,
                       orderType="STP", auxPrice=4950.5, account="DU1", status="Submitted",
                       remaining=3),
    "STP LMT": OrderRecord(orderId=6, clientId=0, permId=1000006, action="SELL",
                           totalQuantity=1, orderType="STP LMT", lmtPrice=4890.0,
                           auxPrice=4890.25, account="DU1", status="PreSubmitted",
                           remaining=1),
    "bracket child": OrderRecord(orderId=11, clientId=7, permId=1000011, parentId=10,
                                 parentPermId=1000010, action="SELL", totalQuantity=2,
                                 orderType="LMT", lmtPrice=4910.0, ocaGroup="OCA_10",
                                 ocaType=3, transmit=False, account="DU1",
                                 status="PreSubmitted", remaining=2, autoCancelParent=False),
    "filled": OrderRecord(orderId=12, clientId=7, permId=1000012, action="BUY",
                          totalQuantity=2, orderType="MKT", account="DU1", status="Filled",
                          filled=2, remaining=0, avgFillPrice=4900.375, lastFillPrice=4900.5,
                          completedTime="20251120 14:30:01 US/Central",
                          completedStatus="Filled", displaySize=5, minQty=1,
                          trailStopPrice=4800.0, cashQty=1000.5, goodTillDate="20251231"),
}  # fmt: skip

WHAT_IF = OrderRecord(
    orderId=20,
    clientId=7,
    action="BUY",
    totalQuantity=1,
    orderType="LMT",
    lmtPrice=4900.0,
    whatIf=True,
    account="DU1",
    status="PreSubmitted",
)
MARGINS = OrderStateRecord(
    initMarginBefore=0.0, maintMarginBefore=0.0, equityWithLoanBefore=100000.0,
    initMarginChange=22000.5, maintMarginChange=20000.0, equityWithLoanChange=-2.25,
    initMarginAfter=22000.5, maintMarginAfter=20000.0, equityWithLoanAfter=99997.75,
    commission=2.25, minCommission=2.25, maxCommission=2.25, commissionCurrency="USD",
    warningText="",
)  # fmt: skip


def _order_values(rec: OrderRecord) -> dict[str, Any]:
    """Order fields both openOrder and completedOrder carry, as ib_async parses them."""
    return {
        "action": rec.action, "totalQuantity": float(rec.totalQuantity),
        "orderType": rec.orderType, "lmtPrice": unset(rec.lmtPrice),
        "auxPrice": unset(rec.auxPrice), "tif": rec.tif, "ocaGroup": rec.ocaGroup,
        "ocaType": rec.ocaType, "account": rec.account, "openClose": rec.openClose,
        "origin": rec.origin, "orderRef": rec.orderRef, "permId": rec.permId,
        "outsideRth": rec.outsideRth, "hidden": rec.hidden, "goodAfterTime": rec.goodAfterTime,
        "goodTillDate": rec.goodTillDate, "modelCode": rec.modelCode,
        "displaySize": rec.displaySize or 0, "sweepToFill": rec.sweepToFill,
        "allOrNone": rec.allOrNone,
        "minQty": UNSET_INTEGER if rec.minQty is None else rec.minQty,
        "triggerMethod": rec.triggerMethod, "trailStopPrice": unset(rec.trailStopPrice),
        "trailingPercent": unset(rec.trailingPercent), "cashQty": unset(rec.cashQty),
        "autoCancelParent": rec.autoCancelParent, "softDollarTier": SoftDollarTier(),
    }  # fmt: skip


def _state_values(state: OrderStateRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if f.name in ("commission", "minCommission", "maxCommission"):
            out[f.name] = unset(value)
        elif isinstance(value, float):
            out[f.name] = value  # compared numerically below
        else:
            out[f.name] = "" if value is None else value
    return out


@pytest.mark.parametrize("key", sorted(ORDERS))
def test_open_order(version: int, key: str) -> None:
    rec = ORDERS[key]
    fields = eo.open_order(version, rec, ES)
    assert len(fields) == (128 if version < 177 else 127)
    assert len(fields) == len(eo.open_order_layout(version))
    name, (order_id, contract, order, state) = one(version, fields)
    assert (name, order_id) == ("openOrder", rec.orderId)
    assert_contract(contract, ES)
    expected = defaults(Order) | _order_values(rec) | {
        "orderId": rec.orderId, "clientId": rec.clientId, "parentId": rec.parentId,
        "blockOrder": rec.blockOrder, "whatIf": rec.whatIf,
    }  # fmt: skip
    assert_fields(order, expected)
    assert_fields(state, defaults(OrderState) | {"status": rec.status})


def test_what_if_open_order_carries_numeric_margins(version: int) -> None:
    with pytest.raises(ValueError):
        eo.open_order(version, WHAT_IF, ES)
    _, (_, _, order, state) = one(version, eo.open_order(version, WHAT_IF, ES, MARGINS))
    assert order.whatIf is True
    assert state.status == "PreSubmitted"
    expected = _state_values(MARGINS)
    for name, value in expected.items():
        got = getattr(state, name)
        assert (float(got) if isinstance(value, float) else got) == value, name
    assert float(state.initMarginChange) != UNSET_DOUBLE  # what ib_async's wrapper checks


@pytest.mark.parametrize("key", sorted(ORDERS))
def test_completed_order(version: int, key: str) -> None:
    rec = ORDERS[key]
    fields = eo.completed_order(version, rec, ES)
    assert len(fields) == (97 if version < 177 else 96)
    assert len(fields) == len(eo.completed_order_layout(version))
    name, (contract, order, state) = one(version, fields)
    assert name == "completedOrder"
    assert_contract(contract, ES)
    expected = defaults(Order) | _order_values(rec) | {
        "filledQuantity": float(rec.filled),
        "parentPermId": rec.parentPermId or 0,
    }  # fmt: skip
    assert_fields(order, expected)
    assert_fields(state, defaults(OrderState) | {
        "status": rec.status, "completedTime": rec.completedTime,
        "completedStatus": rec.completedStatus,
    })  # fmt: skip


def test_order_layouts_pin_positions() -> None:
    layout = eo.open_order_layout(178)
    assert (layout[1], layout[13], layout[57], layout[70], layout[84], layout[85]) == (
        "orderId", "action", "parentId", "comboLegsCount", "whatIf", "status")  # fmt: skip
    assert layout[126] == "midOffsetAtHalf"
    assert "faProfile" not in layout
    assert eo.open_order_layout(176)[34] == "faProfile"
    layout = eo.completed_order_layout(178)
    assert (layout[23], layout[72], layout[89], layout[90]) == (
        "permId", "status", "completedTime", "completedStatus")  # fmt: skip


def test_order_status(version: int) -> None:
    rec = ORDERS["filled"]
    fields = eo.order_status(rec)
    assert len(fields) == 12
    assert one(version, fields) == ("orderStatus", (
        12, "Filled", 2.0, 0.0, 4900.375, 1000012, 0, 4900.5, 7, "", 0.0))  # fmt: skip
    assert one(version, eo.open_order_end()) == ("openOrderEnd", ())
    assert one(version, eo.completed_orders_end()) == ("completedOrdersEnd", ())


@pytest.mark.parametrize(
    "when",
    [
        datetime(2025, 11, 20, 8, 30, 1, tzinfo=ZoneInfo("US/Central")),
        datetime(2025, 11, 20, 14, 30, 1, tzinfo=UTC),
    ],
)
def test_exec_details(version: int, when: datetime) -> None:
    rec = ExecutionRecord(
        execId="0000e0d5.6745a1b2.01.01", orderId=12, clientId=7, permId=1000012, time=when,
        acctNumber="DU1", exchange="CME", side="BOT", shares=2, price=4900.5, cumQty=2,
        avgPrice=4900.375, orderRef="tt-17", evMultiplier=None, lastLiquidity=2,
        pendingPriceRevision=True,
    )  # fmt: skip
    fields = eo.exec_details(version, -1, ES, rec)
    assert len(fields) == (32 if version >= 178 else 31)
    name, (req_id, contract, execution) = one(version, fields)
    assert (name, req_id) == ("execDetails", -1)
    assert_contract(contract, ES)
    expected = defaults(Execution) | {
        k: getattr(rec, k) for k in (
            "execId", "orderId", "clientId", "permId", "acctNumber", "exchange", "side",
            "shares", "price", "cumQty", "avgPrice", "orderRef", "liquidation", "evRule",
            "modelCode", "lastLiquidity",
        )
    } | {"time": when, "evMultiplier": 0.0, "pendingPriceRevision": version >= 178}  # fmt: skip
    assert_fields(execution, expected)
    assert one(version, eo.exec_details_end(9)) == ("execDetailsEnd", (9,))


def test_commission_report(version: int) -> None:
    fields = eo.commission_report(CommissionReportRecord("x.01", 2.25, "USD", -12.5))
    assert len(fields) == 8
    name, (report,) = one(version, fields)
    assert name == "commissionReport"
    assert (report.execId, report.commission, report.currency, report.realizedPNL,
            report.yield_, report.yieldRedemptionDate) == ("x.01", 2.25, "USD", -12.5, 0.0, 0)  # fmt: skip


def test_tws_datetime() -> None:
    assert enc.tws_datetime(datetime(2025, 1, 2, 3, 4, 5, tzinfo=ZoneInfo("US/Central"))) == (
        "20250102 03:04:05 US/Central")  # fmt: skip
    with pytest.raises(ValueError):
        enc.tws_datetime(datetime(2025, 1, 2))
