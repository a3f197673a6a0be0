"""A frozen feed never looks live, through the whole engine (IbBroker + ib_async over a real
socket) on the fake gateway, whose simulated market runs at any hour. The engine's clock is
set to a Sunday (the CME closed) or to a weekday in session, and runs on from there: the
calendar is the CME's, not one made to be open. A stall and a market data farm outage (2103)
each make the feeds STALE within their threshold; the outage refuses entries at once; exits
go throughout; entries come back when data does."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import MakeEngine, Run, gateway_position
from tradeterm.broker.port import ConnectionState
from tradeterm.domain import Side
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.events import MarketChanged
from tradeterm.engine.staleness import Feed
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

SUNDAY = int(dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()) * NS  # 06:00 CT
WEEKDAY = int(dt.datetime(2026, 12, 9, 15, tzinfo=dt.UTC).timestamp()) * NS  # Wed 09:00 CT
DAYS = pytest.mark.parametrize("start", [SUNDAY, WEEKDAY], ids=["sunday", "weekday"])
WATCHED = (Feed.QUOTES, Feed.DEPTH)


def clock_from(start_ns: int) -> Callable[[], int]:
    """A clock that reads ``start_ns`` now and runs on in real time."""
    offset = start_ns - time.time_ns()
    return lambda: time.time_ns() + offset


async def long_one(make_engine: MakeEngine, gateway: FakeGateway, start: int) -> Run:
    """An engine on the CME calendar at ``start``, with fresh data and long 1."""
    run = await make_engine(
        gateway, calendar=CME, clock=clock_from(start),
        staleness=dict.fromkeys(WATCHED, 0.5),
    )  # fmt: skip
    assert CME.is_open(run.engine.clock()) is (start == WEEKDAY)
    await run.wait(lambda: run.of(MarketChanged), "market data")
    assert (await run.engine.submit(PlaceOrder(Side.BUY, 1))).ok
    await run.wait(lambda: run.pnl().quantity == 1, "long 1")
    return run


async def stale_then_exit(run: Run, entry_refusal: str) -> None:
    """STALE within the threshold, entries refused, and the exit goes and fills."""
    engine = run.engine
    await run.wait(lambda: engine.health.stale == WATCHED, "STALE")
    assert engine.health.state is ConnectionState.DEGRADED
    refused = await engine.submit(PlaceOrder(Side.BUY, 1))
    assert not refused.ok and entry_refusal in refused.reason
    exit_ = await engine.submit(PlaceOrder(Side.SELL, 1))
    assert exit_.ok, exit_.reason
    await run.wait(lambda: run.pnl().quantity == 0, "the exit filled")


async def entries_again(run: Run, market: Market) -> None:
    engine = run.engine
    await run.wait(
        lambda: engine.health.state is ConnectionState.OK and engine.health.stale == (),
        "OK with fresh data",
    )
    assert (await engine.submit(PlaceOrder(Side.BUY, 1))).ok
    await run.wait(lambda: run.pnl().quantity == 1, "the entry filled")
    assert gateway_position(run.gateway, market) == 1


@DAYS
async def test_a_stall_is_stale_on_any_day(
    make_engine: MakeEngine, moving: FakeGateway, start: int
) -> None:
    run = await long_one(make_engine, moving, start)
    moving.faults.stall(4.0)
    await stale_then_exit(run, "market data is stale (quotes, depth)")
    await entries_again(run, Market(moving))


@DAYS
async def test_a_market_data_farm_outage_refuses_entries_at_once(
    make_engine: MakeEngine, moving: FakeGateway, start: int
) -> None:
    run = await long_one(make_engine, moving, start)
    engine = run.engine
    outage = asyncio.ensure_future(moving.faults.farm_outage(4.0))
    await run.wait(lambda: engine.health.state is ConnectionState.DEGRADED, "2103 seen")
    refused = await engine.submit(PlaceOrder(Side.BUY, 1))
    assert not refused.ok and "market data farm is down (usfarm" in refused.reason
    await stale_then_exit(run, "market data farm is down")
    await outage
    await entries_again(run, Market(moving))
