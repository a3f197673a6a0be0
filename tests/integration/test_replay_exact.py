"""The fake gateway's replay, seen by ib_async, against an independent reading of the recorded
files (databento-dbn, tests/real_data.py): one clock for ticks, 5-second bars and history; a
quote snapshot for a request made while the feed is quiet; depth rows that keep every book the
client holds sorted; top of book once per exchange event; the whole session as history."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime

import pytest
from ib_async import IB, ContFuture, Contract, RealTimeBar

from tests.integration.desk_helpers import qualified
from tests.real_data import NS, dbn_path, dbn_records, dbn_trades
from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.request_types import ReqMktData
from tradeterm.sim.replay_clock import ReplayClock

MBO = "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"
MBP1 = "ESU4_glbx-mdp3_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.dbn.zst"
TODAY = {MBO: date(2023, 12, 22), MBP1: date(2024, 7, 1)}  # the catalog's day: the file's month
TICK_BY_TICK = "99"
GUARD = 240.0  # seconds; a whole file replayed on a busy machine


class Replay:
    """A fake gateway replaying one file, and an ib_async client on it."""

    def __init__(self, gateway: FakeGateway, ib: IB, contract: Contract) -> None:
        self.gateway, self.ib, self.contract = gateway, ib, contract

    @property
    def clock(self) -> ReplayClock:
        clock = self.gateway.replay_clock
        assert isinstance(clock, ReplayClock)
        return clock

    def wire(self) -> list[list[str]]:
        """Every message the client receives from now on, as its fields."""
        seen: list[list[str]] = []
        interpret = self.ib.client.decoder.interpret

        def spy(fields: list[str]) -> None:
            seen.append(fields)
            interpret(fields)

        self.ib.client.decoder.interpret = spy  # type: ignore[method-assign]
        return seen

    def ended(self) -> bool:
        return self.gateway.market.replay_state() == "ended"


@contextlib.asynccontextmanager
async def replay(name: str, speed: str, *, paused: bool = False) -> AsyncIterator[Replay]:
    clock = ReplayClock(speed=speed, paused=paused)
    gw = FakeGateway(GatewayConfig(port=0, replay=dbn_path(name), replay_clock=clock,
                                   today=TODAY[name]))  # fmt: skip
    await gw.start()
    ib = IB()
    try:
        await ib.connectAsync("127.0.0.1", gw.config.port, clientId=1, timeout=10)
        [es] = await qualified(ib, ContFuture("ES", "CME"))
        yield Replay(gw, ib, es)
    finally:
        ib.disconnect()
        await gw.stop()


def buckets(trades: list[tuple[int, float, int]], seconds: int) -> dict[int, int]:
    """Volume of each ``seconds`` bar (start, epoch s) with trades."""
    out: dict[int, int] = defaultdict(int)
    for ts, _, size in trades:
        s = ts // NS
        out[s - s % seconds] += size
    return dict(out)


def stamp_of(moment: date) -> float:
    """A bar's date as epoch seconds (intraday bars carry a datetime)."""
    assert isinstance(moment, datetime)
    return moment.timestamp()


def stamp(bar: RealTimeBar) -> int:
    return int(bar.time.timestamp())


# ---- 1. one clock ---------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "speed", "span_s"), [(MBO, "max", None), (MBP1, "10", 60)])
async def test_ticks_and_bars_carry_the_files_time_at_any_speed(
    name: str, speed: str, span_s: int | None
) -> None:
    trades = dbn_trades(name)
    first_s = trades[0][0] // NS
    if span_s is not None:  # the first minute of trading only (speed 10: six seconds)
        trades = [t for t in trades if t[0] // NS < first_s - first_s % 5 + span_s]
    expected = buckets(trades, 5)
    async with replay(name, speed, paused=True) as r:
        bars = r.ib.reqRealTimeBars(r.contract, 5, "TRADES", False)
        wire = r.wire()
        r.ib.reqTickByTickData(r.contract, "AllLast")
        await r.ib.reqCurrentTimeAsync()  # the requests have reached the gateway
        r.clock.resume()
        last_bar = max(expected)
        await until(lambda: r.ended() or any(stamp(b) >= last_bar for b in bars),
                    "the replay to pass the last bar", GUARD)  # fmt: skip
        traded = [b for b in bars if b.volume > 0]
        assert traded, "no 5-second bar with trades"
        # the first bar contains the first trade and is stamped at its time
        assert stamp(traded[0]) == first_s - first_s % 5
        assert traded[0].volume == expected[stamp(traded[0])]
        # (ib_async stamps a tick-by-tick trade with its own clock: the wire's time is read)
        ticks = [int(fields[3]) for fields in wire if fields[0] == TICK_BY_TICK]
        assert ticks[0] == first_s
        # every bar as the file says: no drift, quiet gaps shortened without moving stamps
        drift = [stamp(b) - start for b, start in zip(traded, sorted(expected), strict=False)]
        assert max(map(abs, drift)) == 0, f"5-second bars drift by up to {max(drift)} s"
        assert {stamp(b): int(b.volume) for b in traded} == {
            t: v for t, v in expected.items() if t <= stamp(traded[-1])
        }


# ---- 2. a request during a stall -------------------------------------------------------------


async def test_a_quote_request_made_during_a_stall_gets_bid_and_ask() -> None:
    async with replay(MBP1, "max", paused=True) as r:
        r.clock.resume()
        await until(r.ended, "the replay to end", GUARD)  # no events from now on
        market = r.gateway.market

        async def during_a_stall(session: ClientSession, request: ReqMktData) -> None:
            held = market.hold()  # market data stops (as 1100 or 2103 stop it) ...
            try:
                await market.on_mkt_data(session, request)
            finally:
                market.release(held)  # ... and flows again, before the pump looks

        r.gateway.server.register(ReqMktData, during_a_stall)
        ticker = r.ib.reqMktData(r.contract)
        book = r.ib.reqMktDepth(r.contract, 5)
        await until(lambda: bool(book.domBids) and bool(book.domAsks), "the depth snapshot")
        await until(lambda: not math.isnan(ticker.bid) and not math.isnan(ticker.ask),
                    "the bid/ask snapshot")  # fmt: skip
        assert (ticker.bid, ticker.ask) == (book.domBids[0].price, book.domAsks[0].price)
        assert (ticker.bidSize, ticker.askSize) == (book.domBids[0].size, book.domAsks[0].size)


# ---- 3. depth rows and top of book ------------------------------------------------------------


def disorder(prices: list[float], descending: bool) -> bool:
    """Out of order or a price twice."""
    pairs = itertools.pairwise(prices)
    return any(a <= b if descending else a >= b for a, b in pairs)


async def test_every_book_the_client_holds_is_sorted_with_no_price_twice() -> None:
    async with replay(MBO, "max", paused=True) as r:
        ticker = r.ib.reqMktDepth(r.contract, 10)
        messages = 0
        bad: list[tuple[list[float], list[float]]] = []
        update = r.ib.wrapper.updateMktDepthL2

        def spy(*args: object, **kwargs: object) -> None:
            nonlocal messages
            update(*args, **kwargs)  # type: ignore[arg-type]
            messages += 1
            bids = [level.price for level in ticker.domBids]
            asks = [level.price for level in ticker.domAsks]
            if disorder(bids, descending=True) or disorder(asks, descending=False):
                bad.append((bids, asks))

        r.ib.wrapper.updateMktDepthL2 = spy  # type: ignore[method-assign]
        await r.ib.reqCurrentTimeAsync()
        r.clock.resume()
        await until(r.ended, "the replay to end", GUARD)
        await r.ib.reqCurrentTimeAsync()  # everything sent has been read
        assert messages > 1000
        assert not bad, f"{len(bad)} of {messages} depth messages leave a book like {bad[0]}"


F_LAST = 1 << 7


async def test_top_of_book_is_published_once_per_exchange_event() -> None:
    best: list[tuple[float, float]] = []  # (bid, ask) after each exchange event of the file
    for rec in dbn_records(MBP1):
        level = rec.levels[0]
        if int(rec.flags) & F_LAST:
            quote = (level.bid_px / NS, level.ask_px / NS)
            if not best or best[-1] != quote:
                best.append(quote)
    async with replay(MBP1, "max", paused=True) as r:
        wire = r.wire()
        r.ib.reqMktData(r.contract)
        await r.ib.reqCurrentTimeAsync()
        r.clock.resume()
        await until(r.ended, "the replay to end", GUARD)
        await r.ib.reqCurrentTimeAsync()
        seen: dict[str, list[float]] = {"1": [], "2": []}  # tick type BID, ASK -> prices
        for fields in wire:
            if fields[0] == "1" and fields[3] in seen:
                seen[fields[3]].append(float(fields[4]))
        # each side's prices as the file's events changed them: no removal of the old best
        # before the new one (-1, "no quote"), no state that no exchange event left
        for side, tick_type in ((0, "1"), (1, "2")):
            expected = [
                q[side] for i, q in enumerate(best) if i == 0 or q[side] != best[i - 1][side]
            ]
            assert seen[tick_type] == expected


# ---- 4. history -------------------------------------------------------------------------------


async def test_one_day_of_minute_bars_is_the_session_so_far_from_the_file() -> None:
    trades = dbn_trades(MBO)
    async with replay(MBO, "max", paused=True) as r:
        r.clock.resume()
        middle = trades[len(trades) // 2][0]  # stop the replay half-way through the session
        await until(lambda: r.clock.now_ns() >= middle, "the replay to reach half-way", GUARD)
        r.clock.pause()
        now = r.clock.now_ns()
        await r.ib.reqCurrentTimeAsync()
        bars = await r.ib.reqHistoricalDataAsync(
            r.contract, "", "1 D", "1 min", "TRADES", useRTH=False, formatDate=2
        )
        expected = buckets([t for t in trades if t[0] <= now], 60)
        got = {int(stamp_of(b.date)): int(b.volume) for b in bars}
        assert got == expected
        assert min(got) == trades[0][0] // NS // 60 * 60  # the session's first minute
