"""Pure ib_async <-> domain conversions of the IB adapter."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from ib_async import (
    AccountValue,
    Contract,
    ContractDetails,
    DOMLevel,
    OrderStatus,
    Trade,
    TradeLogEntry,
)
from ib_async import Order as IbOrder
from ib_async.util import UNSET_DOUBLE

from tests.support.instruments import ES
from tradeterm.broker.ib import convert as cv
from tradeterm.domain import Instrument, Order, OrderChange, OrderType, Side
from tradeterm.domain import OrderStatus as St

TICK = Decimal("0.25")


def details(local: str, last: str, month: str, root: str = "ES") -> ContractDetails:
    c = Contract(secType="FUT", symbol=root, lastTradeDateOrContractMonth=last,
                 localSymbol=local, multiplier="50", exchange="CME", conId=hash(local) % 10**6)  # fmt: skip
    return ContractDetails(contract=c, minTick=0.25, contractMonth=month)


def test_front_month_rolls_before_expiry() -> None:
    ds = [details("ESH7", "20270319", "202703"), details("ESZ6", "20261218", "202612")]
    today = dt.date(2026, 11, 21)
    assert cv.pick_front_month(ds, today, 8).contract.localSymbol == "ESZ6"  # type: ignore[union-attr]
    assert cv.pick_front_month(ds, today, 30).contract.localSymbol == "ESH7"  # type: ignore[union-attr]
    assert cv.pick_front_month(ds, dt.date(2027, 3, 19), 0) is None


GOLD = [  # as IB lists them in late 2024: GCZ4 (delivery month), serial GCF5, then GCG5
    details("GCZ4", "20241227", "202412", "GC"),
    details("GCF5", "20250129", "202501", "GC"),
    details("GCG5", "20250226", "202502", "GC"),
]


@pytest.mark.parametrize(
    ("today", "roll_days", "front"),
    [
        (dt.date(2024, 11, 20), 8, "GCZ4"),
        (dt.date(2024, 11, 21), 8, "GCG5"),  # 8 days before GCZ4's notice day, 11-29
        (dt.date(2024, 11, 28), 0, "GCZ4"),
        (dt.date(2024, 11, 29), 0, "GCG5"),  # the notice day: out of December
        (dt.date(2024, 12, 10), 8, "GCG5"),  # inside December: never December
    ],
)
def test_gold_rolls_before_its_first_notice_day_and_skips_serial_months(
    today: dt.date, roll_days: int, front: str
) -> None:
    chosen = cv.pick_front_month(GOLD, today, roll_days)
    assert chosen is not None and chosen.contract is not None
    assert chosen.contract.localSymbol == front


@pytest.mark.parametrize(
    ("root", "front", "next_"),
    [
        ("CL", ("CLF5", "20241219", "202501"), ("CLG5", "20250121", "202502")),  # IB's date
        ("M6E", ("M6EZ4", "20241219", "202412"), ("M6EH5", "20250320", "202503")),  # no rule
    ],
)
def test_rolls_8_days_before_ibs_last_trading_day(
    root: str, front: tuple[str, str, str], next_: tuple[str, str, str]
) -> None:
    listed = [details(*front, root), details(*next_, root)]
    for today, expected in ((dt.date(2024, 12, 10), front[0]), (dt.date(2024, 12, 11), next_[0])):
        chosen = cv.pick_front_month(listed, today, 8)
        assert chosen is not None and chosen.contract is not None
        assert chosen.contract.localSymbol == expected


def test_instrument_from_details() -> None:
    inst = cv.instrument_from_details(details("ESZ6", "20261218", "202612"))
    assert inst.tick == TICK and inst.multiplier == 50 and inst.local_symbol == "ESZ6"
    assert inst.expiry is not None and inst.expiry.yyyymm == "202612" and inst.exchange == "CME"


def test_a_price_magnifier_divides_the_money_a_tick_is_worth() -> None:
    """CBOT corn as IB gives it: prices in cents (minTick 0.25), multiplier 5000, magnifier
    100: a tick is 12.50 dollars, and prices stay in IB's cents."""
    c = Contract(secType="FUT", symbol="ZC", localSymbol="ZCZ6", multiplier="5000",
                 exchange="CBOT", conId=7)  # fmt: skip
    corn = cv.instrument_from_details(
        ContractDetails(contract=c, minTick=0.25, contractMonth="202612", priceMagnifier=100)
    )
    assert (corn.tick, corn.multiplier, corn.tick_value) == (
        Decimal("0.25"), Decimal(50), Decimal("12.50")
    )  # fmt: skip
    assert corn.to_ticks(450.25) == 1801


def test_ib_wins_over_the_table_and_says_so() -> None:
    es = cv.instrument_from_details(details("ESZ6", "20261218", "202612"))
    assert cv.differs_from_table(es) is None  # as the table says
    c = Contract(secType="FUT", symbol="ZN", localSymbol="ZNZ6", multiplier="1000",
                 exchange="CBOT", conId=8)  # fmt: skip
    zn = cv.instrument_from_details(ContractDetails(contract=c, minTick=0.0078125))
    assert zn.tick == Decimal("0.0078125")  # IB's, not the table's 0.015625
    said = cv.differs_from_table(zn)
    assert said == ("ZNZ6: IB says tick 0.0078125, multiplier 1000, exchange CBOT; the "
                    "built-in table says 0.015625, 1000, CBOT: trading on IB's")  # fmt: skip
    m6e = Contract(secType="FUT", symbol="M6E", localSymbol="M6EZ6", multiplier="12500",
                   exchange="CME", conId=9)  # fmt: skip
    assert (
        cv.differs_from_table(
            cv.instrument_from_details(ContractDetails(contract=m6e, minTick=0.0001))
        )
        is None
    )  # a root the table does not know: nothing to compare


def test_prices_and_sizes() -> None:
    assert cv.opt_ticks(6000.25, TICK) == 24001
    assert cv.opt_ticks(math.nan, TICK) is None and cv.opt_ticks(-1.0, TICK) is None
    assert cv.opt_ticks(UNSET_DOUBLE, TICK) is None
    assert cv.size_int(math.nan) == 0 and cv.size_int(3.0) == 3
    assert cv.money(2.25) == Decimal("2.25") and cv.money(UNSET_DOUBLE) is None


def test_book_side_sorts_best_first_and_drops_empty_rows() -> None:
    rows = [DOMLevel(6000.0, 5, ""), DOMLevel(6000.5, 2, ""), DOMLevel(5999.75, 0, "")]
    bids = cv.book_side(rows, TICK, bids=True)
    assert [(lv.price, lv.size) for lv in bids] == [(24002, 2), (24000, 5)]
    asks = cv.book_side(rows, TICK, bids=False)
    assert [lv.price for lv in asks] == [24000, 24002]


def test_book_side_converts_each_update_as_it_is() -> None:
    """Rows are memoized by price and size: a row seen before converts the same, a changed
    size or price anew, a repeated price keeps its larger size, unpriced rows stay dropped."""
    first = cv.book_side([DOMLevel(6000.0, 5, ""), DOMLevel(5999.75, 3, "")], TICK, bids=True)
    again = cv.book_side([DOMLevel(6000.0, 7, ""), DOMLevel(5999.75, 3, "")], TICK, bids=True)
    assert [(lv.price, lv.size) for lv in first] == [(24000, 5), (23999, 3)]
    assert [(lv.price, lv.size) for lv in again] == [(24000, 7), (23999, 3)]
    shifted = [DOMLevel(6000.0, 2, ""), DOMLevel(6000.0, 7, ""), DOMLevel(math.nan, 4, "")]
    assert [(lv.price, lv.size) for lv in cv.book_side(shifted, TICK, bids=True)] == [(24000, 7)]


def test_ns_from_datetime() -> None:
    moment = dt.datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=dt.UTC)
    assert cv.ns_from_datetime(moment) == int(moment.timestamp()) * cv.NS + 123_456_000
    assert cv.ns_from_datetime(moment.replace(tzinfo=None)) == cv.ns_from_datetime(moment)


def test_ib_order_prices_are_exactly_on_tick() -> None:
    order = Order("c", ES, Side.SELL, 2, OrderType.STOP_LIMIT, limit=24001, stop=24003,
                  oca_group="g1")  # fmt: skip
    ib = cv.ib_order(order, "ref", account="DU1", transmit=False, parent_broker_id=7)
    assert (ib.action, ib.totalQuantity, ib.orderType) == ("SELL", 2.0, "STP LMT")
    assert repr(ib.lmtPrice) == "6000.25" and repr(ib.auxPrice) == "6000.75"
    assert ib.parentId == 7 and not ib.transmit and ib.ocaGroup == "g1" and ib.ocaType == 1
    cv.apply_change(ib, OrderChange(quantity=3, limit=24000), TICK)
    assert ib.totalQuantity == 3.0 and ib.lmtPrice == 6000.0 and ib.transmit


def trade(status: str, code: int = 0, message: str = "") -> Trade:
    order = IbOrder(orderId=5, clientId=1, action="BUY", totalQuantity=1, orderType="LMT",
                    lmtPrice=6000.0)  # fmt: skip
    log = [TradeLogEntry(dt.datetime.now(dt.UTC), status, message, code)]
    contract = Contract(conId=11)
    return Trade(contract, order, OrderStatus(orderId=5, status=status), [], log)


def test_status_mapping() -> None:
    assert cv.status_of(trade("PendingCancel"))[0] is St.PENDING_CANCEL
    assert not St.PENDING_CANCEL.is_terminal
    assert cv.status_of(trade("Cancelled", 201, "rejected: margin")) == (
        St.REJECTED,
        "rejected: margin",
    )
    assert cv.status_of(trade("Cancelled", 202, "cancelled"))[0] is St.CANCELLED
    # ib_async ends a trade whose cancel IB refused; IB said nothing of the order's state
    for code in (10147, 10148, 161):
        assert cv.status_of(trade("Cancelled", code, "cannot be cancelled"))[0] is None
    # nor of an order whose request IB dropped unread (pacing): it is as it was
    assert cv.status_of(trade("Cancelled", 100, "Max rate of messages"))[0] is None
    assert cv.status_of(trade("ValidationError", 110, "tick"))[0] is None


def test_order_report_prices_in_ticks_for_our_contract_only() -> None:
    es = Instrument.from_spec("ES", con_id=11)
    report = cv.order_report(trade("Submitted"), lambda con_id: es if con_id == 11 else None, 1)
    assert report is not None and report.limit == 24000 and report.instrument == es
    foreign = cv.order_report(trade("Submitted"), lambda con_id: None, 1)
    assert foreign is not None and foreign.instrument is None and foreign.limit is None


def test_order_report_names_its_contract_whatever_it_is() -> None:
    """Another market's order says which contract it is in (the engine must not take it for
    its own market's): IB's conId and localSymbol."""
    gc = trade("Submitted")
    gc.contract.conId, gc.contract.symbol, gc.contract.localSymbol = 12, "GC", "GCZ6"
    report = cv.order_report(gc, lambda con_id: None, 1)
    assert report is not None and (report.con_id, report.symbol) == (12, "GCZ6")


def test_execution_filter_time() -> None:
    ns = int(dt.datetime(2026, 11, 21, 14, 30, 5, tzinfo=dt.UTC).timestamp()) * cv.NS + 999
    assert cv.execution_filter_time(ns) == "20261121-14:30:05"


# ---- the account ----------------------------------------------------------------------------


def test_account_values_take_the_accounts_own_tags_as_decimals() -> None:
    values = [
        AccountValue("DU1", "NetLiquidation", "100250.50", "USD", ""),
        AccountValue("DU1", "NetLiquidation-S", "0.00", "USD", ""),  # a segment: another tag
        AccountValue("DU1", "AvailableFunds", "88000.25", "USD", ""),
        AccountValue("DU1", "InitMarginReq", "12250.25", "USD", ""),
        AccountValue("DU1", "MaintMarginReq", "n/a", "USD", ""),  # not a number: not sent
        AccountValue("DU2", "NetLiquidation", "5.00", "USD", ""),  # another account
        AccountValue("DU1", "NetLiquidation", "7.00", "USD", "MODEL1"),  # a model's share
        AccountValue("DU1", "TotalCashValue", "99000.00", "USD", ""),
    ]
    got = cv.account_values(values, "DU1", 42)
    assert got is not None
    assert (got.account, got.currency, got.ts_ns) == ("DU1", "USD", 42)
    assert got.net_liquidation == Decimal("100250.50")
    assert (got.available_funds, got.initial_margin) == (Decimal("88000.25"), Decimal("12250.25"))
    assert got.maintenance_margin is None
    assert cv.account_values(values, "DU3", 42) is None  # nothing said about it: unknown
