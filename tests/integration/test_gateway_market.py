"""Market data from the fake gateway as the real ib_async client sees it: contract details and
the front month, L1, depth, tick-by-tick, real-time and historical bars, replay, and the
``tradeterm gateway`` command as a process."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ib_async import IB, ContFuture, Future, LimitOrder, TickByTickAllLast, Ticker

from tests.integration.desk_helpers import qualified
from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

TODAY = date(2026, 11, 21)
ES_TICK = Decimal("0.25")


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def on_tick(price: float, tick: Decimal = ES_TICK) -> bool:
    return (Decimal(repr(price)) / tick) % 1 == 0


@pytest.fixture
async def live_gateway() -> AsyncIterator[FakeGateway]:
    """A busy market: 1,000 synthetic events per second on ES and NQ."""
    gw = FakeGateway(GatewayConfig(port=0, symbols=("ES", "NQ"), rate=1000, seed=11, today=TODAY))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def ib(live_gateway: FakeGateway) -> AsyncIterator[IB]:
    client = IB()
    await client.connectAsync("127.0.0.1", live_gateway.config.port, clientId=3, timeout=5)
    try:
        yield client
    finally:
        client.disconnect()


async def test_contract_details_list_the_real_cycle_and_the_front_month(ib: IB) -> None:
    details = await ib.reqContractDetailsAsync(Future("ES", exchange="CME"))
    contracts = [d.contract for d in details if d.contract is not None]
    assert len(contracts) == len(details)
    expiries = sorted(c.lastTradeDateOrContractMonth for c in contracts)
    expected = [third_friday(y, m) for y, m in ((2026, 12), (2027, 3), (2027, 6), (2027, 9))]
    assert expiries[:4] == [d.strftime("%Y%m%d") for d in expected]
    front = next(
        d for d in details if d.contract and d.contract.lastTradeDateOrContractMonth == expiries[0]
    )
    assert front.contract is not None
    assert front.contract.localSymbol == "ESZ6" and front.contract.multiplier == "50"
    assert front.minTick == 0.25 and front.timeZoneId == "US/Central"
    sessions = front.tradingSessions()
    assert sessions and all(s.end - s.start == timedelta(hours=23) for s in sessions)
    assert all(s.start.hour == 17 for s in sessions)  # Globex opens 17:00 CT


async def test_qualify_the_front_month_explicit_month_and_continuous(ib: IB) -> None:
    [dec] = await qualified(ib, Future("ES", "202612", "CME"))
    assert dec.localSymbol == "ESZ6" and dec.conId
    [cont] = await qualified(ib, ContFuture("ES", "CME"))
    assert cont.conId == dec.conId and cont.lastTradeDateOrContractMonth == "20261218"
    [cl] = await qualified(ib, Future(localSymbol="CLF7", exchange="NYMEX"))
    assert cl.symbol == "CL" and cl.multiplier == "1000"


async def test_old_exchange_names_and_unknown_contracts_get_error_200(ib: IB) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    assert await ib.reqContractDetailsAsync(Future("ES", "202612", "GLOBEX")) == []
    assert await ib.reqContractDetailsAsync(Future("ZZ", "202612", "CME")) == []
    assert codes == [200, 200]


async def test_year_end_front_month_rolls_to_march() -> None:
    gw = FakeGateway(GatewayConfig(port=0, rate=0, today=date(2026, 12, 19)))
    await gw.start()
    client = IB()
    try:
        await client.connectAsync("127.0.0.1", gw.config.port, clientId=1, timeout=5)
        [cont] = await qualified(client, ContFuture("ES", "CME"))
        assert cont.localSymbol == "ESH7"
    finally:
        client.disconnect()
        await gw.stop()


async def test_l1_depth_and_trades_stream_on_tick_with_bid_below_ask(ib: IB) -> None:
    [es] = await qualified(ib, ContFuture("ES", "CME"))
    ticker = ib.reqMktData(es, "233")
    ib.reqMktDepth(es, 10)
    trades = ib.reqTickByTickData(es, "AllLast")
    quotes: list[tuple[float, float]] = []
    prints: list[float] = []

    def record(t: Ticker) -> None:
        if not (math.isnan(t.bid) or math.isnan(t.ask)):
            quotes.append((t.bid, t.ask))
        prints.extend(tick.price for tick in t.tickByTicks if isinstance(tick, TickByTickAllLast))

    ticker.updateEvent += record
    trades.updateEvent += record
    await until(lambda: len(prints) >= 50 and len(quotes) >= 50, "50 trades and 50 quotes")
    assert all(bid < ask for bid, ask in quotes)
    assert all(on_tick(bid) and on_tick(ask) for bid, ask in quotes)
    assert all(on_tick(p) for p in prints)
    assert ticker.volume > 0 and on_tick(ticker.last) and ticker.rtVolume > 0
    assert ticker.low <= ticker.last <= ticker.high
    # a level moves as a delete then an insert (two frames): between them a side shows 9
    await until(lambda: len(ticker.domBids) == len(ticker.domAsks) == 10, "10 levels a side")
    bids, asks = list(ticker.domBids), list(ticker.domAsks)
    assert all(a.price > b.price for a, b in itertools.pairwise(bids))
    assert all(a.price < b.price for a, b in itertools.pairwise(asks))
    assert bids[0].price < asks[0].price and all(level.size > 0 for level in bids + asks)
    await until(lambda: ticker.domBids[0].price == ticker.bid, "depth top to match L1")


async def test_realtime_and_historical_bars_join_without_gap_or_duplicate(ib: IB) -> None:
    [es] = await qualified(ib, ContFuture("ES", "CME"))
    bars = await ib.reqHistoricalDataAsync(
        es, "", "1 D", "1 min", "TRADES", useRTH=False, formatDate=1, keepUpToDate=True
    )
    assert len(bars) >= 60
    steps = {(b.date - a.date).total_seconds() for a, b in itertools.pairwise(bars)}
    assert steps == {60.0}
    assert all(on_tick(x) for b in bars for x in (b.open, b.high, b.low, b.close))
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in bars)
    count = len(bars)
    realtime = ib.reqRealTimeBars(es, 5, "TRADES", False)
    await until(lambda: len(realtime) >= 1, "len(realtime) >= 1")
    bar = realtime[-1]
    assert bar.low <= bar.open_ <= bar.high and on_tick(bar.close)
    await until(lambda: bars[-1].volume > 0, "bars[-1].volume > 0")
    assert len(bars) in (count, count + 1)  # the current minute updates, or one new minute
    dates = [b.date for b in bars]
    assert len(dates) == len(set(dates))


async def test_two_markets_at_once(ib: IB) -> None:
    [es, nq] = await qualified(ib, ContFuture("ES", "CME"), ContFuture("NQ", "CME"))
    es_ticker, nq_ticker = ib.reqMktData(es), ib.reqMktData(nq)
    await until(lambda: es_ticker.last > 0 and nq_ticker.last > 0, "a trade in ES and in NQ")
    assert nq_ticker.last > 3 * es_ticker.last  # NQ trades far above ES


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
MBP1 = SHARED / "ESU4_glbx-mdp3_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.dbn.zst"


@pytest.mark.skipif(not MBP1.exists(), reason="recorded data in ../shared/data not available")
async def test_replay_streams_the_recorded_market_and_orders_match_against_it() -> None:
    gw = FakeGateway(GatewayConfig(port=0, replay=MBP1, speed=20.0, today=TODAY))
    await gw.start()
    client = IB()
    try:
        await client.connectAsync("127.0.0.1", gw.config.port, clientId=1, timeout=5)
        [es] = await qualified(client, ContFuture("ES", "CME"))
        ticker = client.reqMktData(es)
        await until(
            lambda: ticker.volume > 20 and not math.isnan(ticker.ask), "replayed trades and an ask"
        )
        assert 5528.5 <= ticker.last <= 5529.5  # the recorded prices of 2024-07-01
        ask = ticker.ask
        trade = client.placeOrder(es, _limit("BUY", 1, ask))
        await until(lambda: trade.orderStatus.status == "Filled", "the order to fill")
        assert trade.fills[0].execution.price <= ask
    finally:
        client.disconnect()
        await gw.stop()


def _limit(action: str, qty: int, price: float) -> LimitOrder:
    return LimitOrder(action, qty, price)


async def test_gateway_command_runs_as_a_process(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeterm.cli", "gateway", "--port", "0", "--seed", "5",
        "--rate", "200", stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    client = IB()
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().strip()
        assert line.startswith("listening on 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        await client.connectAsync("127.0.0.1", port, clientId=1, timeout=5)
        [es] = await qualified(client, ContFuture("ES", "CME"))
        ticker = client.reqMktData(es)
        await until(lambda: ticker.last > 0, "ticker.last > 0")
    finally:
        client.disconnect()
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    assert b"Traceback" not in err and b"gateway stopped" in err
    assert (tmp_path / "state" / "tradeterm" / "log" / "gateway.jsonl").exists()


async def test_history_is_refused_during_an_hmds_outage(live_gateway: FakeGateway, ib: IB) -> None:
    [es] = await qualified(ib, ContFuture("ES", "CME"))
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, msg, contract: codes.append(code)
    outage = asyncio.ensure_future(live_gateway.faults.hmds_outage(1.0))
    await until(lambda: 2105 in codes, "2105 in codes")
    refused = await ib.reqHistoricalDataAsync(es, "", "1 D", "1 min", "TRADES", False)
    assert len(refused) == 0  # BarDataList compares by identity, so compare the length
    assert 162 in codes
    await outage
    bars = await ib.reqHistoricalDataAsync(es, "", "1 D", "1 min", "TRADES", False)
    assert bars and 2106 in codes
