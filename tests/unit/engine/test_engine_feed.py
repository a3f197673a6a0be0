"""A frozen feed never looks live: on a Sunday (the market closed, the simulated market and
replays still running) as on a weekday in session, a feed that stops goes STALE within its
threshold, and IB's market data farm going down blocks entries at once. Meanwhile exits,
cancels and the flatten still go; when data flows again (or the farm is back) entries do too.
The engine runs on the in-memory broker with a test clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tests.unit.engine.test_orders import Run, settle
from tradeterm.broker.port import (
    ConnectionState,
    DepthEvent,
    FarmChanged,
    PositionReport,
    QuoteEvent,
)
from tradeterm.domain import DepthLevel, OrderType, Quote, Side
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.commands import CancelOrder, Flatten, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.staleness import Feed

SUNDAY = int(dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp()) * NS  # 06:00 CT
WEEKDAY = int(dt.datetime(2026, 12, 9, 15, tzinfo=dt.UTC).timestamp()) * NS  # Wed 09:00 CT
DAYS = pytest.mark.parametrize("start", [SUNDAY, WEEKDAY], ids=["sunday", "weekday"])
THRESHOLD_S = 5.0
WATCHED = (Feed.QUOTES, Feed.DEPTH)


class Feeding(Run):
    """A run whose market delivers a quote and a book every second when asked."""

    price = PX_5000

    async def deliver(self, seconds: int) -> None:
        for _ in range(seconds):
            self.clock.advance(1)
            self.price += 1
            now, bid = self.clock(), self.price
            self.broker.push(
                QuoteEvent(Quote(now, bid, 10, bid + 1, 12)),
                DepthEvent(now, (DepthLevel(bid, 10),), (DepthLevel(bid + 1, 12),)),
            )
            await settle()
            await self.engine.tick()

    async def silence(self, seconds: float) -> None:
        self.clock.advance(seconds)
        await self.engine.tick()

    async def refused_entry(self) -> str:
        placed = len(self.broker.placed)
        result = await self.engine.submit(PlaceOrder(Side.BUY, 1))
        assert not result.ok and len(self.broker.placed) == placed
        return result.reason

    async def exits_go(self) -> None:
        """A reducing limit, its cancel and the flatten all reach the broker (long 1)."""
        limit = ES.format_price(self.price + 4)
        sell = await self.engine.submit(PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=limit))
        assert sell.ok, sell.reason
        cancel = await self.engine.submit(CancelOrder(sell.order_ids[0]))
        assert cancel.ok, cancel.reason
        flatten = await self.engine.submit(Flatten())
        assert flatten.ok, flatten.reason
        assert [(p.side, p.order_type) for p in self.broker.placed[-2:]] == [
            (Side.SELL, OrderType.LIMIT),
            (Side.SELL, OrderType.MARKET),
        ]
        assert self.broker.cancelled[-1] == self.broker.placed[-2].broker_id


MakeRun = Callable[[int], Awaitable[Feeding]]


@pytest.fixture
async def make_run() -> AsyncIterator[MakeRun]:
    engines: list[Engine] = []

    async def make(start: int) -> Feeding:
        clock = Clock(start)
        broker = FakeBroker(ES)
        broker.position_reports = [  # long 1 carried in: something to exit
            PositionReport(ES, ES.con_id or 0, "DU1234567", 1, Decimal("250000"), start)
        ]
        engine = Engine(
            broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600,
            staleness=dict.fromkeys(WATCHED, THRESHOLD_S),
        )  # fmt: skip
        engines.append(engine)
        run = Feeding(engine, broker, clock)
        await engine.start()
        await run.deliver(3)
        assert engine.health.state is ConnectionState.OK and engine.health.stale == ()
        return run

    yield make
    for engine in engines:
        await engine.stop()


@DAYS
async def test_a_stalled_feed_is_stale_within_its_threshold(make_run: MakeRun, start: int) -> None:
    run = await make_run(start)
    engine = run.engine
    await run.silence(THRESHOLD_S)  # exactly the threshold: not yet
    assert engine.health.stale == ()
    await run.silence(0.25)
    assert engine.health.stale == WATCHED
    assert engine.health.state is ConnectionState.DEGRADED and "stale" in engine.health.reason
    assert "market data is stale (quotes, depth)" in await run.refused_entry()
    await run.exits_go()
    await run.deliver(1)  # data flows again
    assert engine.health.state is ConnectionState.OK and engine.health.stale == ()
    assert (await engine.submit(PlaceOrder(Side.BUY, 1))).ok


@DAYS
async def test_a_market_data_farm_outage_blocks_entries_at_once(
    make_run: MakeRun, start: int
) -> None:
    run = await make_run(start)
    engine = run.engine
    down = "IB's market data farm is down (usfarm; IB 2103: broken)"
    run.broker.push(FarmChanged(False, down, run.clock()))
    await settle()
    # no time has passed: the data is not stale yet, and entries are refused already
    assert engine.health.stale == () and engine.health.state is ConnectionState.DEGRADED
    assert engine.health.reason == down
    reason = await run.refused_entry()
    assert reason == f"no new entries while the connection is DEGRADED: {down}"
    await run.exits_go()
    await run.silence(THRESHOLD_S + 0.25)  # nothing comes during the outage
    assert engine.health.stale == WATCHED
    run.broker.push(FarmChanged(True, "IB's market data farm is back", run.clock()))
    await settle()
    await engine.tick()
    # back: every feed gets its threshold again to prove it flows
    assert engine.health.state is ConnectionState.OK and engine.health.stale == ()
    assert (await engine.submit(PlaceOrder(Side.BUY, 1))).ok
    await run.silence(THRESHOLD_S + 0.25)
    assert engine.health.stale == WATCHED  # it did not: stale again
    await run.deliver(1)
    assert engine.health.state is ConnectionState.OK and engine.health.stale == ()
