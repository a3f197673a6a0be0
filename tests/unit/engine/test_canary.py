"""CANARY mode: the selector, the paper track (the paper broker's fill model, queue-aware),
and the strategy runner with both (which intents reach the broker, what the strategy sees)."""

from __future__ import annotations

import math
from typing import ClassVar

import pytest

from tests.support.clock import TUESDAY_10 as T0
from tests.support.instruments import PX_5000
from tests.support.waiting import until
from tests.unit.engine import test_strategy_runner
from tests.unit.engine.test_strategy_runner import Desk, strategy
from tradeterm.broker.port import DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import Bar, DepthLevel, OrderType, Quote, Side, Trade
from tradeterm.engine.canary import ENTRY, EXIT, CanaryCarry, CanarySelector, PaperTrack, TrackFill
from tradeterm.engine.events import CanaryIntent, IntentFill
from tradeterm.strategies import (
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)

desk = test_strategy_runner.desk  # the fixture: an engine on a fake broker, a test clock

# ---- the selector --------------------------------------------------------------------------


def test_half_alternates_exactly_the_second_of_each_pair_going_live() -> None:
    selector = CanarySelector(0.5)
    assert [selector.pick() for _ in range(8)] == [False, True] * 4


@pytest.mark.parametrize("fraction", [0.1, 0.25, 1 / 3, 0.5, 0.7, 0.9, 1.0])
def test_after_any_number_of_intents_the_live_ones_are_the_fraction_rounded_down(
    fraction: float,
) -> None:
    selector = CanarySelector(fraction)
    live = 0
    for n in range(1, 101):
        live += selector.pick()
        assert live == math.floor(n * fraction), n


def test_the_same_intents_pick_the_same_ones_on_a_rerun() -> None:
    first, second = CanarySelector(0.3), CanarySelector(0.3)
    assert [first.pick() for _ in range(20)] == [second.pick() for _ in range(20)]


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
def test_a_fraction_outside_zero_to_one_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="above 0 and at most 1"):
        CanarySelector(fraction)


# ---- the paper track -----------------------------------------------------------------------


def quoted(bid: int = PX_5000 - 1, ask: int = PX_5000, size: int = 10) -> PaperTrack:
    track = PaperTrack()
    track.on_market(QuoteEvent(Quote(T0, bid, size, ask, size)))
    return track


def trade(price: int, size: int, ts: int = T0 + 1) -> TradeEvent:
    return TradeEvent(Trade(ts, price, size))


def test_a_target_is_a_market_order_for_the_difference_filled_against_the_book() -> None:
    track = quoted()
    sent, fills = track.target("a", 3, T0)
    assert sent == 3
    assert fills == [TrackFill("a", ENTRY, Side.BUY, 3, PX_5000, T0, "a")]
    assert track.position == 3
    sent, fills = track.target("b", -1, T0)  # a reversal: one order of 4
    assert sent == -4 and [(f.side, f.quantity, f.price) for f in fills] == [
        (Side.SELL, 4, PX_5000 - 1)
    ]
    assert track.target("c", -1, T0) == (0, [])  # already there
    assert track.position == -1


def test_a_market_target_walks_the_book_level_by_level() -> None:
    track = PaperTrack()
    asks = (DepthLevel(PX_5000, 2), DepthLevel(PX_5000 + 1, 5))
    track.on_market(DepthEvent(T0, (DepthLevel(PX_5000 - 1, 5),), asks))
    _, fills = track.target("a", 4, T0)
    assert [(f.quantity, f.price) for f in fills] == [(2, PX_5000), (2, PX_5000 + 1)]


def test_a_resting_entry_fills_only_once_the_queue_ahead_of_it_has_traded() -> None:
    """A limit behind 300 lots does not fill when 10 trade (the paper broker's fill model)."""
    track = PaperTrack()
    bids = (DepthLevel(PX_5000 - 1, 300),)
    track.on_market(DepthEvent(T0, bids, (DepthLevel(PX_5000, 10),)))
    assert track.bracket("a", Side.BUY, 1, PX_5000 - 1, 8, 16, T0) == []
    assert track.on_market(trade(PX_5000 - 1, 10)) == []
    assert track.position == 0
    assert track.on_market(trade(PX_5000 - 1, 290)) == []  # the 300 ahead: now first
    (fill,) = track.on_market(trade(PX_5000 - 1, 1, T0 + 2))
    assert (fill.intent_id, fill.leg, fill.side, fill.price) == ("a", ENTRY, Side.BUY, PX_5000 - 1)
    assert track.position == 1


def test_a_filled_entry_gets_its_stop_and_target_one_cancelling_the_other() -> None:
    track = quoted()
    (entry,) = track.bracket("a", Side.BUY, 2, None, 8, 4, T0)  # at market: basis the ask
    assert (entry.leg, entry.quantity, entry.price) == (ENTRY, 2, PX_5000)
    working = [track.model.working(k) for k in track.model.working_keys()]
    assert sorted((w.order_type, w.stop, w.limit) for w in working if w is not None) == [
        (OrderType.LIMIT, None, PX_5000 + 4),
        (OrderType.STOP, PX_5000 - 8, None),
    ]
    fills = track.on_market(trade(PX_5000 + 5, 3))  # through the target: it fills
    assert [(f.leg, f.side, f.quantity, f.price) for f in fills] == [
        (EXIT, Side.SELL, 2, PX_5000 + 4)
    ]
    assert track.position == 0 and track.model.working_keys() == []  # the stop went with it
    assert track.on_market(trade(PX_5000 - 20, 5)) == []


def test_stopping_cancels_the_working_entries_and_keeps_the_exits() -> None:
    track = quoted()
    track.bracket("a", Side.BUY, 1, None, 8, None, T0)  # filled: its stop works
    track.bracket("b", Side.BUY, 1, PX_5000 - 5, 8, None, T0)  # resting entry
    track.cancel_entries(T0)
    (left,) = [track.model.working(k) for k in track.model.working_keys()]
    assert left is not None and left.order_type is OrderType.STOP


# ---- the runner in CANARY ------------------------------------------------------------------


def book(desk: Desk) -> None:
    """The book the paper track fills against (it sees the market from its start on)."""
    desk.broker.push(QuoteEvent(Quote(desk.clock.now, PX_5000 - 1, 50, PX_5000, 50)))


def live_fills(desk: Desk) -> int:
    return sum(f.mode == "live" for f in desk.of(IntentFill))


def ib_position(desk: Desk) -> int:
    portfolio = desk.engine.portfolio
    return portfolio.position.quantity if portfolio is not None else 0


class Targets(Strategy[Params]):
    """One target per closed bar, from ``plan``; records the positions it was told."""

    plan: ClassVar[list[int]] = [1, -1, 0, 2]
    seen: ClassVar[list[int]] = []

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        self.seen.append(ctx.position)
        n = len(self.seen) - 1
        return (TargetPosition(self.plan[n], f"step {n}"),) if n < len(self.plan) else ()


async def test_canary_half_sends_the_picked_targets_and_zero_for_the_others(desk: Desk) -> None:
    Targets.seen = []
    runner = await desk.runner(strategy(Targets), canary=0.5)
    book(desk)
    desk.close_bar(PX_5000)
    for n in range(4):  # each bar closes, its intent is applied, IB fills what was sent
        desk.close_bar(PX_5000)
        await until(lambda: len(desk.of(CanaryIntent)) == n + 1, f"intent {n}")  # noqa: B023
        for placed in desk.broker.placed[desk.execs :]:
            desk.fill(placed)
        await until(lambda: live_fills(desk) == desk.execs, "IB's fills told")
    # intent 0 (+1) not picked: IB stays flat, nothing sent; 1 (-1) picked: sell 1;
    # 2 (0) not picked: back to 0 at IB, buy 1; 3 (+2) picked: buy 2
    assert [(p.side, p.quantity) for p in desk.broker.placed] == [
        (Side.SELL, 1), (Side.BUY, 1), (Side.BUY, 2),
    ]  # fmt: skip
    intents = desk.of(CanaryIntent)
    assert [(i.live, i.paper_qty, i.live_qty) for i in intents] == [
        (False, 1, 0), (True, -2, -1), (False, 1, 1), (True, 2, 2),
    ]  # fmt: skip
    await until(lambda: ib_position(desk) == 2, "IB's position: the last picked target")
    assert runner.position == 2
    assert Targets.seen[:4] == [0, 1, -1, 0]  # its paper track's position, all filled
    assert runner.track is not None and runner.track.position == 2
    fills = desk.of(IntentFill)
    paper = [(f.intent_id, f.side, f.quantity) for f in fills if f.mode == "paper"]
    assert [q for _, _, q in paper] == [1, 2, 1, 2]
    live = [(f.intent_id, f.side, f.quantity) for f in fills if f.mode == "live"]
    ids = [i.intent_id for i in intents]
    assert live == [(ids[1], Side.SELL, 1), (ids[2], Side.BUY, 1), (ids[3], Side.BUY, 2)]


class Entries(Strategy[Params]):
    """A market entry signal on each of the first four closed bars."""

    count: ClassVar[int] = 0

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        type(self).count += 1
        if type(self).count > 4:
            return ()
        return (EntrySignal(Side.BUY, Entry.market(), 8, 16, "entry"),)


async def test_canary_sends_only_the_picked_entry_signals_as_brackets(desk: Desk) -> None:
    Entries.count = 0
    desk.engine.config.risk.max_position = 10
    runner = await desk.runner(strategy(Entries), canary=0.5)
    book(desk)
    for _ in range(5):
        desk.close_bar(PX_5000)
    await until(lambda: len(desk.of(CanaryIntent)) == 4, "four intents")
    intents = desk.of(CanaryIntent)
    assert [i.live for i in intents] == [False, True, False, True]
    entries = [p for p in desk.broker.placed if p.parent_id is None]
    assert len(entries) == 2 and len(desk.broker.placed) == 6  # two brackets of three
    assert runner.track is not None and runner.track.position == 4  # every one paper-filled
    assert runner.position == 0  # nothing filled at IB yet: its portfolio is untouched


class Carried(Targets):
    """Targets after a restart: +1, then 0."""

    plan: ClassVar[list[int]] = [1, 0]
    seen: ClassVar[list[int]] = []


async def test_a_restart_continues_the_selectors_count_and_the_paper_position(desk: Desk) -> None:
    """Three intents went before (one live at 0.5), the paper track left short 1: the next
    intent is the fourth, picked (floor(4/2) > floor(3/2)), and the paper order for the
    target +1 is the difference from -1; the fifth is not picked."""
    Carried.seen = []
    before = CanaryCarry(intents=3, paper_position=-1)
    runner = await desk.runner(strategy(Carried), canary=0.5, canary_carried=before)
    assert runner.track is not None and runner.track.model.working_keys() == []
    book(desk)
    desk.close_bar(PX_5000)
    for n in range(2):
        desk.close_bar(PX_5000)
        await until(lambda: len(desk.of(CanaryIntent)) == n + 1, f"intent {n}")  # noqa: B023
        for placed in desk.broker.placed[desk.execs :]:
            desk.fill(placed)
        await until(lambda: live_fills(desk) == desk.execs, "IB's fills told")
    intents = desk.of(CanaryIntent)
    assert [(i.live, i.paper_qty, i.live_qty) for i in intents] == [(True, 2, 1), (False, -1, -1)]
    assert Carried.seen[:2] == [-1, 1]  # the strategy is told the carried paper position
    assert runner.track.position == 0
    assert runner.selector is not None and runner.selector.count == 5
    expected = CanarySelector(0.5)
    assert [i.live for i in intents] == [expected.pick() for _ in range(5)][3:]
