"""Issue 15: ``sma_cross`` on the recorded ESH0 1-minute bars of 2020-01-06 gives the same fills
through SHADOW on a replayed gateway as a hand-written loop over the file.

The chain is the real one: the fake gateway replays the whole bar file (each bar a book and
trades, ``tradeterm/sim/bar_market.py``), the real ``IbBroker`` (ib_async) takes its market
data over TCP, the ``PaperBroker`` over it fills the orders (SHADOW, built as runtime.py builds
it for ``--shadow``, without the journal: ``open_runtime`` takes no clock), the engine builds its bars from the trades and the strategy runner runs
``sma_cross`` on them. Nothing reaches the gateway's order desk.

Time is one virtual clock for the gateway, the client, the paper broker and the engine, moved
by the test only (:class:`LockstepClock`): the replay plays each event when that clock reaches
the event's time in the file, and the test moves it to the replay's next event only once
everything before has settled: the client holds all the gateway sent, the engine has closed
the bars that are over, the runner has handled them and no order of ours is in flight. So the
22 hours of the file replay in seconds, the same way on any machine.

The fill convention (the hand loop's): after a bar closes, a change of target is one market
order, filled at the next bar's opening book: a buy at the open + 1 tick, a sell at the open.
A change on the file's last bar has no next bar and is not compared (the replay stops there).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import pytest

from tests.real_data import DERIVED, rows, ts_ns
from tests.support.waiting import until
from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import BrokerEvent, TradeEvent
from tradeterm.config import ConnectionConfig, MarketConfig, RiskConfig
from tradeterm.domain import Bar, Side
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.engine import Engine
from tradeterm.engine.staleness import Feed
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.paper.paper_broker import PaperBroker
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe
from tradeterm.sim.market_events import BookSide
from tradeterm.strategies import Intents, StrategyContext
from tradeterm.strategies.loader import Loaded, load
from tradeterm.strategies.sma_cross import SmaCross, SmaCrossParams

pytestmark = pytest.mark.integration

FILE = "ESH0_1min_trades_2020-01-06_UTC.csv"
TICK = Decimal("0.25")
NS = 1_000_000_000
MINUTE = 60 * NS
STEP_POLL = 0.001  # seconds; the lockstep waits twice a step, up to four steps a bar


# ---- the file, and the hand-written loop ---------------------------------------------------------


def file_bars() -> list[Bar]:
    """The file's bars, prices in ticks (skips the test when ../shared is absent)."""

    def ticks(text: str) -> int:
        return int(Decimal(text) / TICK)

    bars = []
    for r in rows(FILE):
        o, h, lo, c = (ticks(r[k]) for k in ("open", "high", "low", "close"))
        bars.append(Bar(ts_ns(r["ts_utc"]), o, h, lo, c, int(r["volume"])))
    return bars


def hand_fills(bars: list[Bar], fast: int, slow: int, quantity: int) -> list[Fill]:
    """sma_cross by hand: after each bar, the target is +quantity when the average of the last
    ``fast`` closes is above that of the last ``slow``, -quantity when below, unchanged when
    equal (flat until they first differ); a change is one market order for the difference,
    filled at the next bar's opening book (buy at the open + 1 tick, sell at the open)."""
    fills: list[Fill] = []
    closes: list[int] = []
    target = 0
    for i, bar in enumerate(bars):
        closes.append(bar.close)
        if len(closes) < slow:
            continue
        fast_avg = Fraction(sum(closes[-fast:]), fast)
        slow_avg = Fraction(sum(closes[-slow:]), slow)
        if fast_avg > slow_avg:
            new_target = quantity
        elif fast_avg < slow_avg:
            new_target = -quantity
        else:
            new_target = target
        if new_target != target and i + 1 < len(bars):
            following = bars[i + 1]
            difference = new_target - target
            if difference > 0:
                fills.append(Fill(following.start_ns, Side.BUY, difference, following.open + 1))
            else:
                fills.append(Fill(following.start_ns, Side.SELL, -difference, following.open))
        target = new_target
    return fills


@dataclass(frozen=True, slots=True)
class Fill:
    ts_ns: int
    side: Side
    quantity: int
    price: int  # ticks


# ---- one virtual clock -----------------------------------------------------------------------------


class LockstepClock:
    """Virtual time, moved only by :meth:`advance_to`. Called: epoch ns (the engine and the
    paper broker); :meth:`seconds`: epoch seconds (the gateway and the IB client);
    :meth:`now` / :meth:`sleep`: the replay pacer's clock, whose sleeps wait for the test.
    ``resolution_ns``: the events due within one step of it play in one step (at most a
    microsecond: the pacer's float epoch seconds are exact to about 0.24 us)."""

    def __init__(self, start_ns: int, resolution_ns: int = 1_000_000) -> None:
        self.ns = start_ns
        self.resolution_ns = resolution_ns
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def __call__(self) -> int:
        return self.ns

    def seconds(self) -> float:
        return self.ns / NS

    def now(self) -> float:
        return self.ns / NS

    async def sleep(self, seconds: float) -> None:
        step = self.resolution_ns
        deadline = round((self.ns / NS + seconds) * (NS // step)) * step  # to the resolution
        if deadline <= self.ns:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        self._sleepers.append((deadline, future))
        await future

    def next_deadline(self) -> int | None:
        """When the earliest sleeper wakes; None while nobody sleeps (the replay is busy)."""
        waiting = [deadline for deadline, f in self._sleepers if not f.done()]
        return min(waiting) if waiting else None

    def advance_to(self, ns: int) -> None:
        self.ns = ns
        keep: list[tuple[int, asyncio.Future[None]]] = []
        for deadline, future in self._sleepers:
            if future.done():
                continue
            if deadline <= ns:
                future.set_result(None)
            else:
                keep.append((deadline, future))
        self._sleepers = keep


# ---- the chain ---------------------------------------------------------------------------------------


class Observed(SmaCross):
    """sma_cross itself, telling the test what it has been shown and what it asked for."""

    def __init__(self, params: SmaCrossParams) -> None:
        super().__init__(params)
        self.seen: list[Bar] = []
        self.intents = 0

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        intents = super().on_bar(ctx, bar)
        self.intents += len(intents)
        self.seen.append(bar)
        return intents


@dataclass
class Chain:
    clock: LockstepClock
    gateway: FakeGateway
    probe: WireProbe
    engine: Engine
    paper: PaperBroker
    volume: int  # the file's
    traded: int = 0  # contracts the engine saw trade
    runners: list[StrategyRunner] = field(default_factory=list)

    def on_market(self, event: BrokerEvent) -> None:
        if isinstance(event, TradeEvent):
            self.traded += event.trade.size

    def caught_up(self) -> bool:
        """The replay waits for its next event (or is done) and the client holds everything
        the gateway published: every contract traded, the same top of book."""
        feed = self.gateway.market.feed_for_symbol("ES")
        if self.clock.next_deadline() is None and feed.volume < self.volume:
            return False  # the replay is still pushing events
        market = self.engine.market
        if market is None or self.traded != feed.volume:
            return False
        book = feed.engine.book
        bid, ask = book.best_bid, book.best_ask
        if bid is None or ask is None:
            quote = market.quote  # nothing published yet
            return quote is None or (quote.bid, quote.ask) == (None, None)
        quote = market.quote
        return (
            quote is not None
            and (quote.bid, quote.bid_size, quote.ask, quote.ask_size)
            == (bid, book.size(BookSide.BID, bid), ask, book.size(BookSide.ASK, ask))
            and bool(market.bids) and bool(market.asks)
            and (market.bids[0].price, market.asks[0].price) == (bid, ask)
        )  # fmt: skip

    def settled(self) -> bool:
        """Every closed bar handled by every runner, their intents applied, their orders
        filled: nothing of ours in flight."""
        bars, orders = self.engine.bars, self.engine.orders
        assert bars is not None and orders is not None
        if orders.working():
            return False
        last = bars.closed[-1].start_ns if bars.closed else None
        for runner in self.runners:
            strategy = runner.strategy
            assert isinstance(strategy, Observed)
            if last is not None and (not strategy.seen or strategy.seen[-1].start_ns != last):
                return False
            if len(runner.signals) != strategy.intents or runner.position != strategy.target:
                return False
        return True


ChainT = TypeVar("ChainT", bound=Chain)


@contextlib.asynccontextmanager
async def shadow_chain(
    make: Callable[..., ChainT], path: Path, clock: LockstepClock, today: dt.date,
    span: tuple[int, int], volume: int,
) -> AsyncIterator[ChainT]:  # fmt: skip
    """The SHADOW chain over ``path`` replayed on ``clock`` (``make``: :class:`Chain` or a
    subclass; ``span``: the file's first and last event times; ``volume``: its contracts)."""
    gateway = FakeGateway(
        GatewayConfig(
            port=0, symbols=("ES",), replay=path, replay_clock=clock, clock=clock.seconds,
            today=today,
        )
    )  # fmt: skip
    await gateway.start()
    probe = WireProbe()
    probe.install(gateway.server)
    connection = ConnectionConfig(
        port=gateway.config.port, client_id=1, connect_timeout_s=5, request_timeout_s=10
    )
    ib = IbBroker(connection, port=gateway.config.port, clock=clock.seconds)
    paper = PaperBroker(ib, None, clock=clock, account="SHADOW", client_id=1)
    risk = RiskConfig(
        no_entry_before_break_min=0, daily_loss_limit=Decimal(10**9), max_drawdown=Decimal(10**9)
    )
    day = SessionCalendar([(span[0] - 3600 * NS, span[1] + 3600 * NS)])
    engine = Engine(
        paper, "ES", MarketConfig(risk=risk), clock=clock, calendar=day,
        # a bar file is silent between prints (16 minutes in 2020's 15:15 CT halt): staleness
        # is not what this test is about
        staleness=dict.fromkeys(Feed, 86_400.0),
        timer_s=3600,  # the test calls engine.tick() itself, at the moments it chooses
    )  # fmt: skip
    chain = make(clock, gateway, probe, engine, paper, volume)
    engine.market_taps.append(chain.on_market)
    try:
        await engine.start()
        yield chain
    finally:
        for runner in chain.runners:
            await runner.close()
        await engine.stop()
        await gateway.stop()


@pytest.fixture
async def chain() -> AsyncIterator[Chain]:
    bars = file_bars()
    clock = LockstepClock(bars[0].start_ns - MINUTE)
    span = (bars[0].start_ns, bars[-1].start_ns)
    volume = sum(b.volume for b in bars)
    async with shadow_chain(Chain, DERIVED / FILE, clock, dt.date(2020, 1, 6), span, volume) as c:
        yield c


async def lockstep(chain: Chain) -> None:
    """Replay the whole file in lockstep (see the module notes)."""
    while True:
        await until(chain.caught_up, "the client to catch up with the replay", poll=STEP_POLL)
        await chain.engine.tick()  # closes the bar that is over, as the engine's timer does
        await until(chain.settled, "the runners to handle the closed bars", poll=STEP_POLL)
        deadline = chain.clock.next_deadline()
        if deadline is None:
            return
        chain.clock.advance_to(deadline)


async def run(chain: Chain, *specs: tuple[int, int, int]) -> None:
    """Start one sma_cross runner per ``(fast, slow, quantity)``, replay the whole file in
    lockstep (see the module notes)."""
    for fast, slow, quantity in specs:
        loaded = load("sma_cross", [f"fast={fast}", f"slow={slow}", f"quantity={quantity}"])
        params = loaded.strategy.params
        assert isinstance(params, SmaCrossParams)
        runner = StrategyRunner(
            # a name of its own: a runner takes the orders of its name for its own
            chain.engine, Loaded(f"sma_cross-{fast}-{slow}", loaded.target, Observed(params)),
            stand_aside=False, keep_signals=100_000,
        )  # fmt: skip
        await runner.start()
        chain.runners.append(runner)
    await lockstep(chain)


async def paper_fills(chain: Chain, runner: StrategyRunner) -> list[Fill]:
    """The paper broker's executions of ``runner``'s orders (the orders its signals sent)."""
    orders = chain.engine.orders
    assert orders is not None
    sent = [orders.get(s.outcome) for s in runner.signals if s.ok]
    ours = {o.broker_id for o in sent if o is not None}
    assert len(ours) == len(runner.signals)  # every signal sent one order, each known here
    executions = await chain.paper.executions()
    return [Fill(e.ts_ns, e.side, e.quantity, e.price) for e in executions if e.broker_id in ours]


SETS = ((10, 30, 1), (20, 60, 1))  # (fast, slow, quantity): the issue's, and a slower one


async def test_sma_cross_in_shadow_on_the_replayed_esh0_day_fills_as_the_hand_loop(
    chain: Chain,
) -> None:
    bars = file_bars()
    await run(chain, *SETS)
    built = chain.engine.bars
    assert built is not None
    assert list(built.bars()) == bars  # the engine's bars from the replayed ticks: the file's
    for runner, (fast, slow, quantity) in zip(chain.runners, SETS, strict=True):
        expected = hand_fills(bars, fast, slow, quantity)
        assert len(expected) > 20
        assert await paper_fills(chain, runner) == expected, (fast, slow, quantity)
    assert chain.probe.orders == [] and chain.probe.what_ifs == [] and chain.probe.cancels == []
    assert not chain.gateway.oms.orders  # nothing reached the gateway's order desk
