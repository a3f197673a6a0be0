"""The fake gateway's contract catalog: expiries, IB lookup semantics, hours strings."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from tradeterm.sim import catalog
from tradeterm.sim.catalog import front_month, list_contracts, lookup
from tradeterm.sim.products import PRODUCTS

NOV3 = date(2025, 11, 3)  # a Monday


@pytest.mark.parametrize(
    ("root", "today", "local", "last_trade"),
    [
        ("ES", date(2025, 11, 3), "ESZ5", "20251219"),
        ("ES", date(2025, 12, 19), "ESZ5", "20251219"),  # expiry day: still listed
        ("ES", date(2025, 12, 20), "ESH6", "20260320"),
        ("ES", date(2025, 12, 31), "ESH6", "20260320"),  # year end
        ("MES", date(2026, 1, 1), "MESH6", "20260320"),
        ("NQ", date(2026, 6, 20), "NQU6", "20260918"),
        ("YM", date(2026, 3, 21), "YMM6", "20260619"),
        ("RTY", date(2026, 9, 1), "RTYU6", "20260918"),
        ("MNQ", date(2026, 12, 19), "MNQH7", "20270319"),  # after the Dec expiry
        # CL: 3 business days before the 25th of the prior month.
        ("CL", date(2025, 11, 20), "CLZ5", "20251120"),  # Nov 25 is a Tuesday
        ("CL", date(2025, 11, 21), "CLF6", "20251222"),
        ("CL", date(2025, 12, 31), "CLG6", "20260120"),  # year end
        ("CL", date(2026, 1, 1), "CLG6", "20260120"),
        # the 25th on a weekend: 4 business days before it (2026-04-25 is a Saturday)
        ("CL", date(2026, 4, 1), "CLK6", "20260421"),
        # GC: 3rd-last business day of the month; the 3 nearest months are listed.
        ("GC", date(2025, 12, 1), "GCZ5", "20251229"),
        ("GC", date(2025, 12, 30), "GCF6", "20260128"),
        ("GC", date(2026, 1, 29), "GCG6", "20260225"),
        # Treasuries: the 7th business day before the month's last business day (Mar 31 2026)
        ("ZN", date(2026, 3, 1), "ZNH6", "20260320"),
        ("ZN", date(2026, 3, 21), "ZNM6", "20260619"),  # a Saturday after the expiry
        ("ZB", date(2025, 11, 3), "ZBZ5", "20251222"),  # holidays ignored (CME: Dec 19)
        # FX: 2 business days before the 3rd Wednesday (Mar 18 2026)
        ("6E", date(2026, 3, 16), "6EH6", "20260316"),  # expiry day: still listed
        ("6E", date(2026, 3, 17), "6EM6", "20260615"),
        ("M6E", date(2026, 3, 17), "M6EM6", "20260615"),
        # MCL: one business day before CL (CLZ5: 2025-11-20)
        ("MCL", date(2025, 11, 19), "MCLZ5", "20251119"),
        ("MCL", date(2025, 11, 20), "MCLF6", "20251219"),
        # NG: 3 business days before the 1st of the contract month
        ("NG", date(2025, 11, 3), "NGZ5", "20251126"),
        ("NG", date(2025, 11, 27), "NGF6", "20251229"),
        ("MGC", date(2025, 12, 1), "MGCZ5", "20251229"),
        ("SI", date(2025, 11, 3), "SIX5", "20251126"),  # a serial month: the nearest listed
        ("M2K", date(2026, 3, 21), "M2KM6", "20260619"),
        ("MYM", date(2025, 12, 20), "MYMH6", "20260320"),
    ],
)
def test_front_contract(root: str, today: date, local: str, last_trade: str) -> None:
    front = front_month(root, today)
    assert front is not None
    assert (front.localSymbol, front.lastTradeDateOrContractMonth) == (local, last_trade)
    assert front.realExpirationDate == last_trade
    assert front.expiry >= today


def test_listing_cycles() -> None:
    es = [c.localSymbol for c in list_contracts("ES", NOV3)]
    assert es == ["ESZ5", "ESH6", "ESM6", "ESU6", "ESZ6"]
    cl = [c.contractMonth for c in list_contracts("CL", NOV3)]
    assert cl == [f"2025{m:02d}" for m in (12,)] + [f"2026{m:02d}" for m in range(1, 12)]
    gc = [c.localSymbol for c in list_contracts("GC", NOV3)]
    assert gc[:3] == ["GCX5", "GCZ5", "GCF6"]  # the 3 nearest months
    assert set(gc[3:]) <= {f"GC{code}{y}" for code in "GJMQVZ" for y in (6, 7)}
    assert "GCK6" not in gc
    zn = [c.localSymbol for c in list_contracts("ZN", NOV3)]
    assert zn == ["ZNZ5", "ZNH6", "ZNM6"]  # 3 quarters
    assert [c.localSymbol for c in list_contracts("6E", NOV3)][:2] == ["6EZ5", "6EH6"]
    assert len(list_contracts("NG", NOV3)) == len(list_contracts("MCL", NOV3)) == 12
    si = [c.localSymbol for c in list_contracts("SI", NOV3)]
    assert si[:3] == ["SIX5", "SIZ5", "SIF6"]
    assert set(si[3:]) <= {f"SI{code}{y}" for code in "HKNUZ" for y in (6, 7)}
    assert lookup(localSymbol="6EH6", today=NOV3)[0].symbol == "6E"  # a root with a digit
    assert lookup(localSymbol="M2KZ5", today=NOV3)[0].symbol == "M2K"
    expiries = [c.expiry for c in list_contracts("GC", NOV3)]
    assert expiries == sorted(expiries)


def test_product_fields() -> None:
    expected = {
        "ES": ("CME", "0.25", "50"),
        "MES": ("CME", "0.25", "5"),
        "NQ": ("CME", "0.25", "20"),
        "MNQ": ("CME", "0.25", "2"),
        "YM": ("CBOT", "1", "5"),
        "RTY": ("CME", "0.1", "50"),
        "CL": ("NYMEX", "0.01", "1000"),
        "GC": ("COMEX", "0.1", "100"),
        "ZN": ("CBOT", "0.015625", "1000"),
        "ZB": ("CBOT", "0.03125", "1000"),
        "6E": ("CME", "0.00005", "125000"),
        "M6E": ("CME", "0.0001", "12500"),
        "MCL": ("NYMEX", "0.01", "100"),
        "MGC": ("COMEX", "0.1", "10"),
        "M2K": ("CME", "0.1", "5"),
        "MYM": ("CBOT", "1", "0.5"),
        "SI": ("COMEX", "0.005", "5000"),
        "NG": ("NYMEX", "0.001", "10000"),
    }
    assert set(PRODUCTS) == set(expected)
    for root, (exchange, tick, mult) in expected.items():
        c = list_contracts(root, NOV3)[0]
        assert (c.exchange, c.tick, c.multiplier) == (exchange, Decimal(tick), mult)
        assert c.minTick == float(Decimal(tick))
        assert c.symbol == c.tradingClass == c.marketName == root
        assert c.secType == "FUT" and c.currency == "USD" and c.timeZoneId == "US/Central"
        assert c.validExchanges.split(",")[0] == exchange
        assert {"LMT", "MKT", "STP", "STPLMT"} <= set(c.orderTypes.split(","))
        assert c.minSize == c.sizeIncrement == "1"
    assert PRODUCTS["ES"].tick_value == Decimal("12.50")
    tick_values = {root: PRODUCTS[root].tick_value for root in ("ZN", "ZB", "6E", "MYM", "SI")}
    assert tick_values == {
        "ZN": Decimal("15.625"), "ZB": Decimal("31.25"), "6E": Decimal("6.25"),
        "MYM": Decimal("0.5"), "SI": Decimal("25"),
    }  # fmt: skip


def test_con_ids_are_stable_and_unique() -> None:
    seen: dict[int, str] = {}
    for root in PRODUCTS:
        for today in (date(2024, 1, 2), date(2025, 6, 30), date(2026, 12, 31)):
            for c in list_contracts(root, today, include_expired=True):
                assert seen.setdefault(c.conId, c.localSymbol + c.contractMonth) == (
                    c.localSymbol + c.contractMonth
                )
    esz6 = lookup("ES", lastTradeDateOrContractMonth="202612", today=NOV3)[0]
    assert esz6.conId == 701_202_612
    assert lookup(conId=esz6.conId, today=date(2026, 3, 1)) == lookup(
        localSymbol="ESZ6", today=date(2026, 3, 1)
    )


def test_lookup_ib_semantics() -> None:
    by_month = lookup("ES", "FUT", "CME", "202612", today=NOV3)
    by_date = lookup("ES", "FUT", "CME", "20261218", today=NOV3)
    by_local = lookup(localSymbol="ESZ6", today=NOV3)
    by_local_sec = lookup(secType="FUT", exchange="CME", localSymbol="esz6", today=NOV3)
    assert len(by_month) == 1 and by_month == by_date == by_local == by_local_sec
    assert by_month[0].localSymbol == "ESZ6"
    # a root alone: every listed month (ib_async's qualify reports the ambiguity)
    assert len(lookup("ES", "FUT", "CME", today=NOV3)) == 5
    assert len(lookup("es", today=NOV3)) == 5
    # IB's retired exchange names match nothing (real TWS: error 200)
    assert lookup("ES", "FUT", "GLOBEX", "202612", today=NOV3) == []
    assert lookup("YM", "FUT", "ECBOT", today=NOV3) == []
    assert lookup("YM", "FUT", "CBOT", today=NOV3) != []
    assert lookup("ES", "FUT", "CBOT", today=NOV3) == []  # wrong exchange for the product
    # unknown, expired, wrong shape, other secTypes
    assert lookup("ZZ", today=NOV3) == []
    assert lookup("ES", lastTradeDateOrContractMonth="202509", today=NOV3) == []  # expired
    assert lookup("ES", lastTradeDateOrContractMonth="20261217", today=NOV3) == []
    assert lookup("ES", lastTradeDateOrContractMonth="2026", today=NOV3) == []
    assert lookup("ES", "STK", today=NOV3) == []
    assert lookup(localSymbol="ESF6", today=NOV3) == []  # not in the quarterly cycle
    assert lookup(today=NOV3) == []
    assert lookup("NQ", localSymbol="ESZ6", today=NOV3) == []
    assert lookup(conId=12345, today=NOV3) == []
    # other fields must match when given
    assert lookup("ES", "FUT", "CME", "202612", currency="USD", multiplier="50", today=NOV3)
    assert lookup("ES", "FUT", "CME", "202612", multiplier="5", today=NOV3) == []
    assert lookup("ES", "FUT", "CME", "202612", tradingClass="MES", today=NOV3) == []


def test_include_expired() -> None:
    assert lookup("ES", lastTradeDateOrContractMonth="202509", today=NOV3) == []
    old = lookup("ES", lastTradeDateOrContractMonth="202509", today=NOV3, include_expired=True)
    assert [c.localSymbol for c in old] == ["ESU5"]


def test_hours_strings() -> None:
    c = lookup(localSymbol="ESZ5", today=NOV3)[0]
    trading = c.tradingHours.split(";")
    assert trading[:3] == [
        "20251101:CLOSED",
        "20251102:1700-20251103:1600",
        "20251103:1700-20251104:1600",
    ]
    assert "20251108:CLOSED" in trading
    assert not any(s.startswith("20251107:17") for s in trading)  # no session opens Friday
    liquid = c.liquidHours.split(";")
    assert "20251103:0830-20251103:1500" in liquid
    assert "20251108:CLOSED" in liquid and "20251109:CLOSED" in liquid
    assert lookup(localSymbol="CLZ5", today=NOV3)[0].liquidHours.split(";")[1] == (
        "20251103:0800-20251103:1330"
    )


@pytest.mark.parametrize("today", [date(2025, 11, 3), date(2025, 11, 8), date(2026, 3, 8)])
def test_hours_parse_with_ib_async(today: date) -> None:
    ib_contract = pytest.importorskip("ib_async.contract")
    entry = front_month("ES", today)
    assert entry is not None
    details = ib_contract.ContractDetails(
        timeZoneId=entry.timeZoneId,
        tradingHours=entry.tradingHours,
        liquidHours=entry.liquidHours,
    )
    sessions = details.tradingSessions()
    liquid = details.liquidSessions()
    assert len(sessions) >= 5 and len(liquid) >= 5
    for s in sessions:
        assert s.start.tzinfo is not None
        # 23 hours of trading, 17:00 -> 16:00 local, starting Sunday..Thursday
        assert (s.start.hour, s.end.hour) == (17, 16)
        assert s.end.replace(tzinfo=None) - s.start.replace(tzinfo=None) == timedelta(hours=23)
        assert s.start.weekday() in (6, 0, 1, 2, 3)
    for a, b in itertools.pairwise(sessions):
        gap = b.start.replace(tzinfo=None) - a.end.replace(tzinfo=None)
        assert gap in (timedelta(hours=1), timedelta(hours=49))  # break / weekend
    for s in liquid:
        assert s.start.weekday() < 5 and (s.start.hour, s.start.minute) == (8, 30)
        # every liquid session lies inside a trading session
        assert any(t.start <= s.start and s.end <= t.end for t in sessions)
    first = sessions[0].start.date()
    assert first <= today + timedelta(days=1)


def test_default_today_is_chicago_date() -> None:
    assert isinstance(catalog.chicago_today(), date)
    assert list_contracts("ES")[0].expiry >= catalog.chicago_today()
    assert datetime.now().year - list_contracts("ES")[0].expiry.year <= 1


@pytest.mark.parametrize("root", sorted(PRODUCTS))
def test_each_product_starts_its_synthetic_market_on_its_tick_grid(root: str) -> None:
    entry = front_month(root, NOV3)
    assert entry is not None
    start = catalog.start_price(entry)
    assert start == PRODUCTS[root].start_price > 0
    assert start % entry.tick == 0
