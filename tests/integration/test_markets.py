"""Any futures market (issue 18): each root of the fake gateway's catalog resolves through
ib_async (IbBroker) with the tick, multiplier, exchange, month and hours of IB's contract
details, on a test clock (a roll date, a weekend); a root only the gateway knows (M6E, not in
the client's table) resolves the same way; a root nobody knows is ``UnknownContract``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.integration.broker_helpers import cfg
from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import UnknownContract
from tradeterm.domain import CME_ROOTS
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

CHICAGO = ZoneInfo("America/Chicago")
D = dt.date

CASES = [
    # today, root, roll days, front, tick, multiplier, exchange
    (D(2026, 2, 26), "ZN", 0, "ZNH6", "0.015625", "1000", "CBOT"),
    (D(2026, 2, 27), "ZN", 0, "ZNM6", "0.015625", "1000", "CBOT"),  # ZNH6's first notice day
    (D(2026, 2, 28), "ZB", 0, "ZBM6", "0.03125", "1000", "CBOT"),  # a Saturday
    (D(2026, 3, 15), "6E", 0, "6EH6", "0.00005", "125000", "CME"),  # a Sunday
    (D(2026, 3, 16), "6E", 0, "6EM6", "0.00005", "125000", "CME"),  # 6EH6's last day
    (D(2025, 11, 18), "MCL", 0, "MCLZ5", "0.01", "100", "NYMEX"),
    (D(2026, 2, 26), "MGC", 0, "MGCJ6", "0.1", "10", "COMEX"),  # MGCH6 listed, a serial month
    (D(2026, 3, 21), "M2K", 8, "M2KM6", "0.1", "5", "CME"),  # a Saturday after the expiry
    (D(2025, 12, 20), "MYM", 8, "MYMH6", "1", "0.5", "CBOT"),
    (D(2026, 2, 28), "SI", 0, "SIK6", "0.005", "5000", "COMEX"),  # SIH6 past its notice day
    (D(2025, 12, 28), "NG", 0, "NGF6", "0.001", "10000", "NYMEX"),  # a Sunday
    (D(2026, 3, 17), "M6E", 8, "M6EM6", "0.0001", "12500", "CME"),  # only the gateway knows
]


def noon(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, 12, tzinfo=CHICAGO).timestamp()


@pytest.mark.parametrize(("today", "root", "roll_days", "front", "tick", "mult", "exchange"),
                         CASES, ids=[f"{c[1]}-{c[0]}" for c in CASES])  # fmt: skip
async def test_each_root_resolves_from_ibs_contract_details(
    start_gateway: Callable[..., Awaitable[FakeGateway]], today: dt.date, root: str,
    roll_days: int, front: str, tick: str, mult: str, exchange: str,
) -> None:  # fmt: skip
    gw = await start_gateway(rate=0.0, today=today, symbols=("ES",))
    broker = IbBroker(cfg(), port=gw.config.port, clock=lambda: noon(today))
    await broker.start()
    try:
        inst = await broker.resolve(root, roll_days=roll_days)
        assert (inst.local_symbol, inst.tick, inst.multiplier, inst.exchange) == (
            front, Decimal(tick), Decimal(mult), exchange
        )  # fmt: skip
        assert inst.expiry is not None and inst.expiry.local_symbol(root) == front
        assert inst.money(1) == Decimal(tick) * Decimal(mult)  # P&L of one tick, one lot
        hours = broker.trading_hours(inst)
        assert hours is not None and hours[1] == "US/Central"
        calendar = SessionCalendar.from_trading_hours(hours[0], hours[1])
        weekend = today.weekday() >= 5
        assert calendar.is_open(int(noon(today) * 1e9)) is not weekend  # closed at noon Sat/Sun
    finally:
        await broker.stop()


def test_m6e_is_the_root_only_the_gateway_knows() -> None:
    assert "M6E" not in CME_ROOTS


async def test_a_root_nobody_knows_is_an_unknown_contract(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
) -> None:
    gw = await start_gateway(rate=0.0, today=D(2026, 3, 17), symbols=("ES",))
    broker = IbBroker(cfg(), port=gw.config.port, clock=lambda: noon(D(2026, 3, 17)))
    await broker.start()
    try:
        with pytest.raises(UnknownContract, match="IB knows no futures contract 'XYZ'"):
            await broker.resolve("XYZ")
    finally:
        await broker.stop()
