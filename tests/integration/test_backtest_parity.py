"""Issue 16: the backtest and SHADOW take the same intents to the same fills on the same data.

The recorded ESU4 MBP-1 file (4 minutes, 120 trades) is replayed twice with one strategy:

* through SHADOW, the real chain: the fake gateway replays the file, the real ``IbBroker``
  takes its quotes, depth and trades over TCP, the ``PaperBroker`` fills the orders, the
  engine and the strategy runner run the strategy (as ``test_shadow_replay.py`` does for a bar
  file, in lockstep on one virtual clock: each step plays the file's events due, then waits
  until everything they set off has settled, so the run is the same on any machine);
* through the backtester (``run_book``) on the same file.

The fills must be the same, one for one and in order: side, quantity and price. The
strategies trade from trades (the file is too short for bars): market-order flips, and limit
brackets whose entries rest in the queue and whose exits are one-cancels-the-other.

What differed at first: the lockstep played a millisecond of the file per step, so in SHADOW
an intent set off by the first event of a millisecond reached the paper broker after all the
others (the 5th flip bought at 22116, after a seller had taken the 22117 offer down to the
bid; the backtest, whose intent arrives after its own timestamp's events, bought at 22117).
The lockstep now steps once per timestamp (``resolution_ns``), as the backtest does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.integration.test_shadow_replay import Chain, LockstepClock, lockstep, shadow_chain
from tests.real_data import DERIVED, rows, ts_ns
from tests.support.book_strategies import (
    BracketParams,
    EveryParams,
    FlipsEvery,
    LimitBrackets,
)
from tradeterm.backtest.book_run import run_book
from tradeterm.backtest.spec import BacktestSpec
from tradeterm.broker.port import BrokerEvent, TradeEvent
from tradeterm.domain import Fill, Side, Trade
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.strategies import Intents, StrategyContext
from tradeterm.strategies.loader import Loaded

pytestmark = pytest.mark.integration

FILE = "ESU4_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.csv"
NS = 1_000_000_000
EQUITY = Decimal(100_000)
STEP_POLL = 0.001


class Counted:
    """What a strategy has been told, for the lockstep to wait on: trades and fills handled
    (counted when the hook returns) and intents returned."""

    handled_trades = 0
    handled_fills = 0
    intents: int

    def counted_trade(self, intents: Intents) -> Intents:
        self.handled_trades += 1
        return intents

    def counted_fill(self, intents: Intents) -> Intents:
        self.handled_fills += 1
        return intents


class ObservedFlips(FlipsEvery, Counted):
    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        return self.counted_trade(super().on_trade(ctx, trade))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        return self.counted_fill(super().on_fill(ctx, fill))


class ObservedBrackets(LimitBrackets, Counted):
    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        return self.counted_trade(super().on_trade(ctx, trade))

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        return self.counted_fill(super().on_fill(ctx, fill))


@dataclass
class BookChain(Chain):
    """The SHADOW chain, waiting on what trades and fills set off (not on bars)."""

    trades: int = 0  # trade prints the engine saw

    def on_market(self, event: BrokerEvent) -> None:
        super().on_market(event)
        if isinstance(event, TradeEvent):
            self.trades += 1

    def settled(self) -> bool:
        """Every trade and fill handled by the strategy, its intents applied, the paper
        broker's reports taken in by the engine: nothing of ours in flight."""
        executions = len(self.paper._executions)
        if not self.paper._queue.empty():
            return False
        for runner in self.runners:
            strategy = runner.strategy
            assert isinstance(strategy, Counted)
            if strategy.handled_trades != self.trades or strategy.handled_fills != executions:
                return False
            if len(runner.signals) != strategy.intents:
                return False
        return True


@pytest.fixture
async def chain() -> AsyncIterator[BookChain]:
    records = list(rows(FILE))  # skips the test when ../shared is absent
    span = (ts_ns(records[0]["ts_recv"]), ts_ns(records[-1]["ts_recv"]))
    volume = sum(int(r["size"]) for r in records if r["action"] == "T")
    # one step per timestamp of the file (its closest two are 4 us apart): a millisecond's
    # events in one step would reach the paper broker before the intent the first one set off
    clock = LockstepClock(span[0] - NS, resolution_ns=1000)
    today = dt.date(2024, 7, 1)
    async with shadow_chain(BookChain, DERIVED / FILE, clock, today, span, volume) as c:
        yield c


async def shadow(chain: BookChain, name: str, strategy: FlipsEvery | LimitBrackets) -> list[Fill]:
    """Run ``strategy`` in SHADOW over the whole file in lockstep; the paper fills."""
    runner = StrategyRunner(
        chain.engine, Loaded(name, f"tests.support.book_strategies:{name}", strategy),
        stand_aside=False, equity=EQUITY, keep_signals=100_000,
    )  # fmt: skip
    await runner.start()
    chain.runners.append(runner)
    await lockstep(chain)
    assert all(s.ok for s in runner.signals), [s.outcome for s in runner.signals if not s.ok]
    instrument = chain.engine.instrument
    assert instrument is not None
    return [
        Fill(e.exec_id, None, instrument, e.side, e.quantity, e.price, e.ts_ns)
        for e in await chain.paper.executions()
    ]


def backtest(name: str, params: tuple[tuple[str, str], ...]) -> list[Fill]:
    spec = BacktestSpec(
        DERIVED / FILE, f"tests.support.book_strategies:{name}", params, equity=EQUITY
    )
    result = run_book(spec)
    assert result.complete and result.count > 2000
    return result.fills


def facts(fills: list[Fill]) -> list[tuple[Side, int, int]]:
    return [(f.side, f.quantity, f.price) for f in fills]


async def test_market_flips_fill_alike_in_shadow_and_in_the_backtest(chain: BookChain) -> None:
    params = (("trades", "7"),)
    paper = await shadow(chain, "FlipsEvery", ObservedFlips(EveryParams(trades=7)))
    tested = backtest("FlipsEvery", params)
    assert len(tested) >= 15
    assert facts(tested) == facts(paper)
    assert chain.probe.orders == chain.probe.what_ifs == [] and not chain.gateway.oms.orders


async def test_limit_brackets_fill_alike_in_shadow_and_in_the_backtest(chain: BookChain) -> None:
    params = (("trades", "5"), ("away", "1"), ("stop", "2"), ("target", "2"))
    strategy = ObservedBrackets(BracketParams(trades=5, away=1, stop=2, target=2))
    paper = await shadow(chain, "LimitBrackets", strategy)
    tested = backtest("LimitBrackets", params)
    assert len(tested) >= 4
    assert facts(tested) == facts(paper)
    assert chain.probe.orders == chain.probe.what_ifs == [] and not chain.gateway.oms.orders
