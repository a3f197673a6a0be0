"""A restarted strategy takes back what its earlier runs left (``carried``: the client ids of
their orders, from the journal): the position their fills add up to, fitted inside the
account's, and its working orders, whose fills and updates count for it again."""

from __future__ import annotations

from typing import Any

from tests.support.fake_broker import Placed
from tests.support.instruments import PX_5000
from tests.support.waiting import until
from tests.unit.engine import test_strategy_runner as base
from tests.unit.engine.test_strategy_runner import Always, Desk, strategy
from tradeterm.domain import Fill, OrderType, Side
from tradeterm.engine.commands import Command, PlaceBracket, PlaceOrder
from tradeterm.engine.events import EngineNotice, StrategySignal
from tradeterm.strategies import Intents, Params, Strategy, StrategyContext, load

desk = base.desk  # the same engine on the in-memory broker


async def earlier_run(desk: Desk, command: Command, fills: int = 1) -> tuple[str, ...]:
    """What an earlier run of a strategy did: ``command`` sent (its source is the strategy's
    name), its first ``fills`` orders filled. Its client ids, as the journal gives them."""
    result = await desk.engine.submit(command)
    assert result.ok, result.reason
    for order_id in result.order_ids[:fills]:
        desk.fill(placed(desk, order_id))
    return result.order_ids


def placed(desk: Desk, order_id: str) -> Placed:
    (one,) = [p for p in desk.broker.placed if p.client_order_id == order_id]
    return one


def held(desk: Desk) -> int:
    portfolio = desk.engine.portfolio
    assert portfolio is not None
    return portfolio.position.quantity


async def test_a_carried_long_reverses_with_one_order_of_2n_and_a_repeat_sends_nothing(
    desk: Desk,
) -> None:
    ids = await earlier_run(desk, PlaceOrder(Side.BUY, 1, source="sma_cross"))
    await until(lambda: held(desk) == 1, "the account long 1")
    sma = load("sma_cross", ["fast=2", "slow=3", "quantity=1"])
    runner = await desk.runner(sma, carried=ids)
    assert runner.position == 1
    up, down = [PX_5000] * 3 + [PX_5000 + 3] * 2, [PX_5000 - 4] * 2  # long (it is), then short
    for price in up + down:
        desk.close_bar(price)
    await until(lambda: len(desk.broker.placed) == 2, "the reversal")
    _, reversal = desk.broker.placed
    assert reversal.order_type is OrderType.MARKET
    assert (reversal.side, reversal.quantity) == (Side.SELL, 2)  # from +1 to -1
    desk.fill(reversal)
    await until(lambda: runner.position == -1, "the strategy short 1")
    assert held(desk) == -1
    signals = desk.of(StrategySignal)
    assert [(s.detail, s.ok) for s in signals] == [("quantity=-1", True)]  # no second buy


async def test_its_own_carried_contract_does_not_make_it_stand_aside(desk: Desk) -> None:
    ids = await earlier_run(desk, PlaceOrder(Side.BUY, 1, source="always"))
    await until(lambda: held(desk) == 1, "the account long 1")
    runner = await desk.runner(strategy(Always, "always"), carried=ids)
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: desk.of(StrategySignal), "the signal")
    (signal,) = desk.of(StrategySignal)
    assert signal.ok and signal.outcome == "already at the target: nothing sent"
    assert runner.position == 1 and len(desk.broker.placed) == 1


class Fills(Strategy[Params]):
    """Keeps the fills it is told of."""

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.fills: list[tuple[Fill, int]] = []

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        self.fills.append((fill, ctx.position))
        return ()


async def test_the_fill_of_a_carried_bracket_exit_reaches_on_fill_and_its_position(
    desk: Desk,
) -> None:
    ids = await earlier_run(desk, PlaceBracket(Side.BUY, 1, 8, 16, source="fills"))
    await until(lambda: held(desk) == 1, "the entry filled")
    loaded = strategy(Fills, "fills")
    runner = await desk.runner(loaded, carried=ids)
    assert runner.position == 1
    (stop,) = [p for p in desk.broker.placed if p.order_type is OrderType.STOP]
    desk.fill(stop, PX_5000 - 8)
    await until(lambda: runner.position == 0, "the stop's fill counted")
    told: Any = loaded.strategy
    await until(lambda: len(told.fills) == 1, "on_fill")
    assert told.fills[0][0].order_id == stop.client_order_id and told.fills[0][1] == 0


async def test_a_carried_position_the_account_no_longer_holds_is_dropped_with_a_warning(
    desk: Desk,
) -> None:
    ids = await earlier_run(desk, PlaceOrder(Side.BUY, 2, source="always"))
    await earlier_run(desk, PlaceOrder(Side.SELL, 1))  # the trader took one off by hand
    await until(lambda: held(desk) == 1, "the account long 1")
    part = await desk.runner(strategy(Always, "always"), carried=ids)
    assert part.position == 1  # the part the account still holds
    await part.close()
    await earlier_run(desk, PlaceOrder(Side.SELL, 1))  # and flattened
    await until(lambda: held(desk) == 0, "the account flat")
    flat = await desk.runner(strategy(Always, "always"), carried=ids)
    assert flat.position == 0
    warnings = [n.text for n in desk.of(EngineNotice) if "does not match" in n.text]
    assert warnings == [
        "strategy always: position at IB does not match the journal: its fills say it holds "
        "+2, the account holds +1; it starts with +1",
        "strategy always: position at IB does not match the journal: its fills say it holds "
        "+2, the account holds +0; it starts with +0",
    ]
    desk.close_bar(PX_5000)
    desk.close_bar(PX_5000)
    await until(lambda: len(desk.broker.placed) == 4, "its buy from flat")
    assert (desk.broker.placed[3].side, desk.broker.placed[3].quantity) == (Side.BUY, 1)
