"""The strategy runner on the in-memory broker: intents become the engine's own commands
(market orders for a target, brackets for an entry), the strategy stands aside while the
trader holds a position, and a strategy that raises or sleeps is stopped without stopping
the engine, manual trading or the kill switch."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from tests.support.clock import TUESDAY_10 as T0
from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker, Placed
from tests.support.instruments import ES, PX_5000
from tests.support.waiting import until
from tradeterm.broker.port import (
    AccountValues,
    ExecutionReport,
    OrderReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import Bar, OrderStatus, OrderType, Quote, Side, Trade
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import (
    CommandDone,
    EngineEvent,
    EngineNotice,
    StrategySignal,
    StrategyStateChanged,
)
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.engine.stream import EventStream
from tradeterm.engine.types import StrategyState, TradingState
from tradeterm.strategies import (
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
    load,
)
from tradeterm.strategies.loader import Loaded

MINUTE = 60 * NS


class Desk:
    def __init__(self, engine: Engine, broker: FakeBroker, clock: Clock) -> None:
        self.engine, self.broker, self.clock = engine, broker, clock
        self.stream: EventStream = engine.listen()
        self.events: list[EngineEvent] = []
        self.minute = 0
        self.execs = 0
        self.runners: list[StrategyRunner] = []

    def of(self, kind: type[Any]) -> list[Any]:
        self.events.extend(self.stream.drain())
        return [e for e in self.events if isinstance(e, kind)]

    def close_bar(self, price: int) -> None:
        """A trade in the next minute at ``price``: it closes the bar before it."""
        self.clock.now = T0 + self.minute * MINUTE + NS
        self.broker.push(TradeEvent(Trade(self.clock.now, price, 1)))
        self.minute += 1

    def fill(self, placed: Placed, price: int = PX_5000) -> None:
        self.execs += 1
        self.broker.push(ExecutionReport(
            f"e{self.execs}", placed.broker_id, 900 + self.execs, 1, placed.order_ref, ES,
            placed.side, placed.quantity, price, self.clock.now, False,
        ))  # fmt: skip

    async def runner(self, loaded: Loaded, **kw: Any) -> StrategyRunner:
        runner = StrategyRunner(self.engine, loaded, **kw)
        self.runners.append(runner)
        await runner.start()
        return runner


@pytest.fixture
async def desk() -> AsyncIterator[Desk]:
    async with open_desk(MarketConfig()) as d:
        yield d


@asynccontextmanager
async def open_desk(market: MarketConfig) -> AsyncIterator[Desk]:
    clock = Clock(T0)
    broker = FakeBroker(ES)
    engine = Engine(broker, "ES", market, clock=clock, calendar=CME, session=2, timer_s=3600)
    d = Desk(engine, broker, clock)
    await engine.start()
    broker.push(QuoteEvent(Quote(T0, PX_5000 - 1, 10, PX_5000, 10)))
    try:
        yield d
    finally:  # as the console and the screen do: the runners first, then the engine (a
        for runner in d.runners:  # runner's hook call left in flight hangs the loop's close)
            await runner.close()
        await engine.stop()


def strategy(cls: type[Strategy[Any]], name: str = "test") -> Loaded:
    return Loaded(name, f"{cls.__module__}:{cls.__qualname__}", cls(cls.parameters()))


async def test_sma_cross_target_changes_become_market_orders_a_reversal_one_of_2n(
    desk: Desk,
) -> None:
    runner = await desk.runner(load("sma_cross", ["fast=2", "slow=3", "quantity=1"]))
    for price in (PX_5000, PX_5000, PX_5000, PX_5000 + 3):  # SMA(2) above SMA(3) at the 4th
        desk.close_bar(price)
    desk.close_bar(PX_5000 + 3)  # closes the 4th bar
    await until(lambda: len(desk.broker.placed) == 1, "the buy")
    (buy,) = desk.broker.placed
    assert (buy.side, buy.quantity, buy.order_type) == (Side.BUY, 1, OrderType.MARKET)
    desk.fill(buy)
    await until(lambda: runner.position == 1, "the strategy owning its fill")
    for price in (PX_5000 - 4, PX_5000 - 4):  # [5000.00, 5000.75, 4999.00]: below
        desk.close_bar(price)
    await until(lambda: len(desk.broker.placed) == 2, "the reversal")
    reversal = desk.broker.placed[1]
    assert (reversal.side, reversal.quantity, reversal.order_type) == (
        Side.SELL, 2, OrderType.MARKET,
    )  # fmt: skip
    done = [e.result for e in desk.of(CommandDone)]
    assert [r.command.source for r in done] == ["sma_cross", "sma_cross"]
    signals = desk.of(StrategySignal)
    assert [(s.kind, s.ok) for s in signals] == [("TargetPosition", True)] * 2
    assert signals[1].reason.startswith("SMA(2)") and "<" in signals[1].reason
    snap = desk.engine.snapshot().strategy
    assert snap is not None and snap.position == 1 and len(snap.signals) == 2
    assert ("fast", "2") in snap.params and snap.state is StrategyState.RUNNING
    (started,) = desk.of(StrategyStateChanged)  # its parameters go with its start (journal)
    assert started.params == (("fast", "2"), ("slow", "3"), ("quantity", "1"))


class Enter(Strategy[Params]):
    """Enters long at the first closed bar, at a limit or at market."""

    limit: ClassVar[int | None] = None

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        entry = Entry.market() if self.limit is None else Entry.limit(self.limit)
        return (EntrySignal(Side.BUY, entry, 8, 16, "first bar"),)


async def test_an_entry_signal_is_one_bracket_with_its_stop_and_target_in_ticks(
    desk: Desk,
) -> None:
    class AtLimit(Enter):
        limit = PX_5000 - 2

    await desk.runner(strategy(AtLimit))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket's three legs")
    entry = desk.broker.placed[0]
    (stop,) = [p for p in desk.broker.placed if p.order_type is OrderType.STOP]
    (target,) = [p for p in desk.broker.placed[1:] if p.order_type is OrderType.LIMIT]
    assert (entry.side, entry.order_type, entry.limit, entry.quantity) == (
        Side.BUY, OrderType.LIMIT, PX_5000 - 2, desk.engine.config.default_qty,
    )  # fmt: skip
    assert (stop.side, stop.stop) == (Side.SELL, PX_5000 - 2 - 8)
    assert (target.side, target.limit) == (Side.SELL, PX_5000 - 2 + 16)
    assert stop.parent_id == entry.client_order_id == target.parent_id


async def test_entries_are_sized_by_risk_per_trade_never_above_the_max_position(
    desk: Desk,
) -> None:
    from decimal import Decimal

    # 1% of 25,000 = 250 over 8 ticks x 12.50 = 100 a contract: 2 contracts (the max is 2)
    await desk.runner(strategy(Enter), equity=Decimal(25_000))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket")
    assert desk.broker.placed[0].quantity == 2


class EnterTenTicks(Strategy[Params]):
    """Enters long at market at the first closed bar, its stop 10 ticks away."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        return (EntrySignal(Side.BUY, Entry.market(), 10, 20, "first bar"),)


def account(net_liquidation: str, ts_ns: int = T0) -> AccountValues:
    return AccountValues("DU1234567", "USD", Decimal(net_liquidation), None, None, None, ts_ns)


@pytest.mark.parametrize("max_position", [10, 5])
async def test_entries_are_sized_by_the_net_liquidation_ib_gives_never_above_the_max(
    max_position: int,
) -> None:
    # 1% of 100,000 = 1,000 over 10 ticks x 12.50 = 125 a contract: 8 contracts, capped at 5
    limits = RiskConfig(max_position=max_position, max_order_qty=max_position)
    async with open_desk(MarketConfig(risk=limits)) as desk:
        desk.broker.push(account("100000.00"))
        await until(lambda: desk.engine.account_values is not None, "the account's figures")
        await desk.runner(strategy(EnterTenTicks))  # no equity given: the engine's
        desk.close_bar(PX_5000)
        desk.close_bar(PX_5000)
        await until(lambda: len(desk.broker.placed) == 3, "the bracket")
        assert desk.broker.placed[0].quantity == min(8, max_position)
        (signal,) = desk.of(StrategySignal)  # at the second bar's close: 61 s after T0
        assert signal.ok and signal.quantity == min(8, max_position)  # the panel shows it
        assert signal.outcome.endswith(
            f"; sized {min(8, max_position)}: 1.0% of the account's net liquidation "
            f"100000.00 USD (61s old) at a 10-tick stop (at most max_position {max_position})"
        )


async def test_with_no_equity_from_ib_yet_an_entry_is_the_default_qty_and_says_why() -> None:
    limits = RiskConfig(max_position=10, max_order_qty=10)
    async with open_desk(MarketConfig(default_qty=3, risk=limits)) as desk:
        assert desk.engine.snapshot().equity is None  # unknown, never a guess
        assert desk.engine.snapshot().account_age_s is None
        await desk.runner(strategy(EnterTenTicks))
        desk.close_bar(PX_5000)
        desk.close_bar(PX_5000)
        await until(lambda: len(desk.broker.placed) == 3, "the bracket")
        assert desk.broker.placed[0].quantity == 3
        (signal,) = desk.of(StrategySignal)
        assert signal.outcome.endswith(
            "; sized 3: the account's equity is not known yet (no net liquidation from IB), "
            "so the market's default_qty 3 (at most max_position 10)"
        )


async def test_the_snapshot_shows_the_latest_account_figures_and_their_age(desk: Desk) -> None:
    desk.broker.push(account("100000.00"))
    desk.broker.push(account("99875.50", T0 + NS))
    await until(
        lambda: desk.engine.snapshot().equity == Decimal("99875.50"), "the latest net liquidation"
    )
    desk.clock.now += 12 * NS
    snap = desk.engine.snapshot()
    assert snap.account_values is not None and snap.account_values.currency == "USD"
    assert snap.account_age_s == 12


def test_the_account_figures_are_kept_before_the_contract_is_known() -> None:
    engine = Engine(FakeBroker(ES), "ES", clock=Clock(T0), calendar=CME)
    assert engine.core is None
    engine.apply(account("50000"))
    assert engine.snapshot().equity == Decimal(50000)


class Breakout(Strategy[Params]):
    """Enters with a stop order at ``at``, once."""

    at: ClassVar[int]
    side: ClassVar[Side] = Side.BUY

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        if len(ctx.bars) > 1:
            return ()
        return (EntrySignal(self.side, Entry.stop(self.at), 8, 16, "breakout"),)


async def test_a_stop_entry_is_a_bracket_with_a_stp_parent_its_exits_from_the_stop_price(
    desk: Desk,
) -> None:
    class Above(Breakout):
        at = PX_5000 + 4  # the ask is PX_5000: a buy stop above the market rests

    runner = await desk.runner(strategy(Above, "breakout"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket's three legs")
    entry, target, stop = desk.broker.placed
    assert (entry.side, entry.order_type, entry.stop, entry.limit) == (
        Side.BUY, OrderType.STOP, PX_5000 + 4, None,
    )  # fmt: skip
    assert (stop.side, stop.order_type, stop.stop) == (Side.SELL, OrderType.STOP, PX_5000 - 4)
    assert (target.side, target.limit) == (Side.SELL, PX_5000 + 20)
    assert stop.parent_id == entry.client_order_id == target.parent_id
    assert [s.ok for s in desk.of(StrategySignal)] == [True]
    desk.fill(entry, PX_5000 + 6)  # triggered, and slipped 2 ticks: the exits stay put
    await until(lambda: runner.position == 1, "the strategy owning its fill")
    orders = desk.engine.orders
    assert orders is not None and orders.protected() == 1
    assert sorted(o.order_id for o in desk.engine.snapshot().orders) == sorted(
        (stop.client_order_id, target.client_order_id)
    )


async def test_a_stop_entry_on_the_wrong_side_of_the_market_is_refused_with_one_reason(
    desk: Desk,
) -> None:
    class Below(Breakout):
        at = PX_5000 - 4  # a buy stop below the ask would trigger at once

    await desk.runner(strategy(Below, "breakout"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: desk.of(StrategySignal), "the signal")
    (signal,) = desk.of(StrategySignal)
    assert not signal.ok
    assert "buy stop 4999.00 is at or below the ask 5000.00: it would trigger at once" in (
        signal.outcome
    )
    assert desk.broker.placed == []


class Boom(Strategy[Params]):
    """Buys one at its first bar and raises at its second."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        if len(ctx.bars) >= 2:
            raise ZeroDivisionError("the strategy's own bug")
        return (EntrySignal(Side.BUY, Entry.limit(PX_5000 - 4), 8, 16, "dip"),)


async def test_a_strategy_that_raises_is_stopped_its_entry_cancelled_trading_goes_on(
    desk: Desk,
) -> None:
    runner = await desk.runner(strategy(Boom, "boom"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket")
    entry = desk.broker.placed[0]
    desk.close_bar(PX_5000)
    await until(lambda: runner.state is StrategyState.FAULTED, "the fault")
    (faulted,) = [e for e in desk.of(StrategyStateChanged) if e.state is StrategyState.FAULTED]
    assert "ZeroDivisionError: the strategy's own bug" in faulted.reason
    assert any("strategy boom faulted" in n.text for n in desk.of(EngineNotice))
    await until(lambda: entry.broker_id in desk.broker.cancelled, "its unfilled entry cancelled")
    result = await desk.engine.submit(PlaceOrder(Side.BUY, 1))  # manual trading goes on
    assert result.ok, result.reason
    desk.engine.request_kill("test")  # the kill switch still works
    await until(lambda: desk.engine.trading_state[0] is TradingState.REDUCING, "REDUCING")
    manual = desk.broker.placed[-1]
    await until(lambda: manual.broker_id in desk.broker.cancelled, "the kill's cancel")


class Sleepy(Strategy[Params]):
    """Blocks in ``on_bar`` until told to go on."""

    entered: ClassVar[threading.Event]
    release: ClassVar[threading.Event]

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        self.entered.set()
        self.release.wait(30)
        return (TargetPosition(1, "too late"),)


async def test_a_hook_that_sleeps_past_its_budget_is_abandoned_and_never_blocks_the_loop(
    desk: Desk,
) -> None:
    Sleepy.entered, Sleepy.release = threading.Event(), threading.Event()
    runner = await desk.runner(strategy(Sleepy, "sleepy"), budget_s=0.2)
    ticks = 0
    seen_while_sleeping = 0

    async def other() -> None:
        nonlocal ticks, seen_while_sleeping
        while True:
            await asyncio.sleep(0.01)
            ticks += 1
            if Sleepy.entered.is_set() and runner.state is StrategyState.RUNNING:
                seen_while_sleeping += 1

    beside = asyncio.create_task(other())
    try:
        desk.close_bar(PX_5000)
        desk.close_bar(PX_5000)
        await until(lambda: runner.state is StrategyState.FAULTED, "the overrun")
        assert seen_while_sleeping > 0  # the loop ran while the hook slept
        assert "on_bar overran its 0.2s budget" in runner.reason
    finally:
        Sleepy.release.set()
        beside.cancel()
    assert desk.broker.placed == []  # what the abandoned hook returned is never applied
    result = await desk.engine.submit(PlaceOrder(Side.BUY, 1))
    assert result.ok, result.reason


class Always(Strategy[Params]):
    """Wants one long at every bar."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        return (TargetPosition(1, "always long"),)


async def test_a_strategy_stands_aside_while_the_trader_holds_a_manual_position(
    desk: Desk,
) -> None:
    result = await desk.engine.submit(PlaceOrder(Side.SELL, 1))
    assert result.ok
    desk.fill(desk.broker.placed[0])
    await until(lambda: desk.engine.portfolio is not None
                and desk.engine.portfolio.position.quantity == -1, "the manual short")  # fmt: skip
    await desk.runner(strategy(Always, "always"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: desk.of(StrategySignal), "the signal")
    (signal,) = desk.of(StrategySignal)
    assert not signal.ok and "standing aside: the trader holds -1" in signal.outcome
    assert len(desk.broker.placed) == 1  # only the manual order


async def test_stopping_runs_on_stop_and_publishes_stopped(desk: Desk) -> None:
    class Flat(Strategy[Params]):
        def on_stop(self, ctx: StrategyContext) -> Intents:
            return (TargetPosition(0, "done"),)

    runner = await desk.runner(strategy(Flat, "flat"))
    await runner.stop("typed in the console")
    assert runner.state is StrategyState.STOPPED
    states = [(e.state, e.reason) for e in desk.of(StrategyStateChanged)]
    assert states == [
        (StrategyState.RUNNING, "started"), (StrategyState.STOPPED, "typed in the console"),
    ]  # fmt: skip
    (signal,) = desk.of(StrategySignal)
    assert signal.ok and signal.outcome == "already at the target: nothing sent"
    await runner.close()


async def test_a_faulted_strategys_bracket_exits_stay_once_its_entry_filled(desk: Desk) -> None:
    runner = await desk.runner(strategy(Boom, "boom"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket")
    desk.fill(desk.broker.placed[0], PX_5000 - 4)
    await until(lambda: runner.position == 1, "the entry filled")
    desk.close_bar(PX_5000)
    await until(lambda: runner.state is StrategyState.FAULTED, "the fault")
    assert desk.broker.cancelled == []  # the stop and target protect the long
    assert len(desk.engine.snapshot().orders) == 2


class EnterThenFlat(Strategy[Params]):
    """Enters long with a bracket, then wants to be flat at the next bar it holds the long."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        if ctx.position:
            return (TargetPosition(0, "time stop"),)
        return (EntrySignal(Side.BUY, Entry.market(), 8, 16, "first bar"),)


def ended(placed: Placed, status: OrderStatus, ts_ns: int) -> OrderReport:
    """The broker's word that ``placed`` ended (cancelled) with nothing filled."""
    kind = {OrderType.STOP: "STP", OrderType.LIMIT: "LMT"}.get(placed.order_type, "MKT")
    return OrderReport(
        placed.broker_id, 0, 1, placed.order_ref, ES, placed.side, placed.quantity, kind,
        placed.limit, placed.stop, placed.tif, status, 0, 0, None,
        placed.parent_broker_id or 0, placed.oca_group or "", ts_ns,
    )  # fmt: skip


async def test_a_flat_target_cancels_the_brackets_exits_before_it_closes_the_position(
    desk: Desk,
) -> None:
    """Without this, the market order closes the long while the bracket's stop and target
    still work: the first of them to fill later opens a short nobody asked for."""
    runner = await desk.runner(strategy(EnterThenFlat, "scalp"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket")
    entry, *exits = desk.broker.placed
    desk.fill(entry)
    await until(lambda: runner.position == 1, "the entry filled")
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.cancelled) == 2, "the exits' cancels")
    assert sorted(desk.broker.cancelled) == sorted(p.broker_id for p in exits)
    await asyncio.sleep(0.05)
    assert len(desk.broker.placed) == 3  # nothing sent while the exits may still fill
    desk.broker.push(*(ended(p, OrderStatus.CANCELLED, desk.clock.now) for p in exits))
    await until(lambda: len(desk.broker.placed) == 4, "the closing order")
    close = desk.broker.placed[3]
    assert (close.side, close.quantity, close.order_type) == (Side.SELL, 1, OrderType.MARKET)
    (signal,) = [s for s in desk.of(StrategySignal) if s.reason == "time stop"]
    assert signal.ok and "cancelled its exits" in signal.outcome


async def test_a_flat_target_sends_nothing_when_an_exit_filled_while_it_was_cancelled(
    desk: Desk,
) -> None:
    runner = await desk.runner(strategy(EnterThenFlat, "scalp"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 3, "the bracket")
    entry, stop, target = desk.broker.placed
    desk.fill(entry)
    await until(lambda: runner.position == 1, "the entry filled")
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.cancelled) == 2, "the exits' cancels")
    desk.fill(target, PX_5000 + 16)  # the target filled before the cancel reached it
    desk.broker.push(ended(stop, OrderStatus.CANCELLED, desk.clock.now))
    await until(lambda: runner.position == 0, "the target's fill")
    await until(lambda: any(s.reason == "time stop" for s in desk.of(StrategySignal)), "signal")
    await asyncio.sleep(0.05)
    assert len(desk.broker.placed) == 3  # already flat: no order, no accidental short


class EnterThenReverse(Strategy[Params]):
    """Enters long 1 with a bracket, then wants short 1 at the next bar it holds the long."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        if ctx.position:
            return (TargetPosition(-ctx.position, "reverse"),)
        return (EntrySignal(Side.BUY, Entry.market(), 8, 16, "first bar"),)


async def test_a_target_the_engine_would_refuse_keeps_the_brackets_exits() -> None:
    """The reversal (SELL 2) is above max_order_qty: refused. Had its exits been cancelled
    first, the long would be left without its stop (the matrix's strategy column)."""
    async with open_desk(MarketConfig(risk=RiskConfig(max_order_qty=1))) as desk:
        runner = await desk.runner(strategy(EnterThenReverse, "rev"))
        desk.close_bar(PX_5000)
        desk.close_bar(PX_5000)
        await until(lambda: len(desk.broker.placed) == 3, "the bracket")
        desk.fill(desk.broker.placed[0])
        await until(lambda: runner.position == 1, "the entry filled")
        desk.close_bar(PX_5000)

        def answered() -> bool:  # IB ends the exits once cancelled (before the fix, they were)
            if len(desk.broker.cancelled) == 2 and not desk.of(StrategySignal)[1:]:
                exits = desk.broker.placed[1:]
                desk.broker.push(*(ended(p, OrderStatus.CANCELLED, desk.clock.now) for p in exits))
            return any(s.reason == "reverse" for s in desk.of(StrategySignal))

        await until(answered, "the reversal's signal")
        (signal,) = [s for s in desk.of(StrategySignal) if s.reason == "reverse"]
        assert not signal.ok and "above the maximum of 1" in signal.outcome, signal
        assert desk.broker.cancelled == []  # the stop and target still protect the long
        assert len(runner.view().orders) == 2


class Scripted(Strategy[Params]):
    """Holds the next of ``targets`` at each bar (then the last), noting how many bars of
    history each call saw."""

    targets: ClassVar[list[int]] = []
    seen: ClassVar[list[int]] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        self.seen.append(len(ctx.bars))
        target = self.targets.pop(0) if len(self.targets) > 1 else self.targets[0]
        return (TargetPosition(target, f"scripted {target:+d}"),)


def scripted(*targets: int) -> Loaded:
    Scripted.targets, Scripted.seen = list(targets), []
    return strategy(Scripted, "scripted")


async def test_a_paused_strategy_is_told_its_bars_but_sends_nothing_until_resumed(
    desk: Desk,
) -> None:
    runner = await desk.runner(scripted(1))
    runner.pause("paused on the screen")
    assert runner.state is StrategyState.PAUSED
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)  # closes the first bar: told, its intent not sent
    await until(lambda: desk.of(StrategySignal), "the paused signal")
    (signal,) = desk.of(StrategySignal)
    assert (signal.ok, signal.outcome) == (False, "paused")
    assert Scripted.seen == [1] and desk.broker.placed == []
    runner.resume()
    desk.close_bar(PX_5000)  # closes the second bar: sent
    await until(lambda: len(desk.broker.placed) == 1, "the buy after the resume")
    assert desk.broker.placed[0].side is Side.BUY
    states = [(e.state, e.reason) for e in desk.of(StrategyStateChanged)]
    assert states == [
        (StrategyState.RUNNING, "started"), (StrategyState.PAUSED, "paused on the screen"),
        (StrategyState.RUNNING, "resumed"),
    ]  # fmt: skip
    await runner.stop()
    assert runner.state is StrategyState.STOPPED
    await runner.close()


async def test_a_paused_strategy_stops_and_a_stopped_one_starts_again_where_it_was(
    desk: Desk,
) -> None:
    runner = await desk.runner(scripted(1))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 1, "the buy")
    desk.fill(desk.broker.placed[0])
    await until(lambda: runner.position == 1, "long 1")
    runner.pause()
    await runner.stop("stopped on the screen")
    assert runner.state is StrategyState.STOPPED
    desk.close_bar(PX_5000)  # a bar closes while it is stopped: its history, no call
    await until(lambda: desk.engine.bars is not None and len(desk.engine.bars.closed) >= 2,
                "the second bar")  # fmt: skip
    await runner.start()
    assert runner.state is StrategyState.RUNNING and runner.position == 1
    desk.close_bar(PX_5000)
    await until(lambda: len(Scripted.seen) == 2, "the bar after the restart")
    assert Scripted.seen == [1, 3]  # each bar once in its history
    assert len(desk.broker.placed) == 1  # it owns its long: nothing more to send
    await runner.close()


async def test_its_view_has_its_pnl_from_its_own_fills_and_its_working_orders(
    desk: Desk,
) -> None:
    runner = await desk.runner(scripted(1, 0))
    manual_bid = PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=ES.to_price(PX_5000 - 20))
    assert (await desk.engine.submit(manual_bid)).ok
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 2, "its buy")
    manual, buy = desk.broker.placed
    view = runner.view()
    assert view.orders == {buy.client_order_id} and manual.client_order_id not in view.orders
    desk.fill(buy, PX_5000)
    await until(lambda: runner.position == 1, "long 1")
    desk.close_bar(PX_5000 + 4)  # marked 4 ticks up: +50.00 open (ES: 12.50 a tick)
    await until(lambda: len(desk.broker.placed) == 3, "its sell (target 0)")
    view = runner.view()
    assert (view.realized, view.unrealized, view.orders) == (
        0, 50, {desk.broker.placed[2].client_order_id},
    )  # fmt: skip
    desk.fill(desk.broker.placed[2], PX_5000 + 8)
    await until(lambda: runner.position == 0, "flat")
    view = runner.view()
    assert (view.realized, view.unrealized, view.orders) == (100, 0, frozenset())
    assert desk.engine.snapshot().strategy == view
    await runner.close()


class LongThenFlatAtStop(Strategy[Params]):
    """Long 1 at every bar; asks to be flat when stopped."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        return (TargetPosition(1, "long"),)

    def on_stop(self, ctx: StrategyContext) -> Intents:
        return (TargetPosition(0, "flat at stop"),)


async def test_the_kill_switch_stops_the_strategy_without_its_on_stop_orders_racing_the_flatten(
    desk: Desk,
) -> None:
    """Without this the strategy trades on through the kill (its next bar's intent, its
    on_stop's flat target beside the kill's own flatten: two sells for a long of one), and
    once the kill has flattened it still counts its old long, so it stands aside for good."""
    runner = await desk.runner(strategy(LongThenFlatAtStop, "long"))
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 1, "its buy")
    desk.fill(desk.broker.placed[0])
    await until(lambda: runner.position == 1, "its long")
    desk.engine.request_kill("test")
    await until(lambda: runner.state is StrategyState.STOPPED, "the strategy stopped")
    assert "kill switch (test)" in runner.reason
    desk.close_bar(PX_5000)  # a bar after the kill: the strategy is told nothing
    await until(lambda: len(desk.broker.placed) == 2, "the kill's flatten")
    await asyncio.sleep(0.1)
    sells = [p for p in desk.broker.placed if p.side is Side.SELL]
    assert [(p.quantity, p.order_type) for p in sells] == [(1, OrderType.MARKET)]
    assert not [s for s in desk.of(StrategySignal) if s.reason == "flat at stop"]
    desk.fill(sells[0])
    await until(lambda: desk.engine.portfolio is not None
                and desk.engine.portfolio.position.quantity == 0, "flat")  # fmt: skip
    view = runner.view()  # what a panel shows of the stopped strategy: not the long it had
    assert (view.position, view.unrealized) == (0, 0)
    await runner.start("started again")
    assert runner.position == 0  # what the account still holds of its long: nothing
    assert any("does not match what it owned when it stopped: +1" in n.text
               for n in desk.of(EngineNotice))  # fmt: skip
