"""Strategies the console tests name as ``module:Class`` (``tests.support.strategies:...``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tradeterm.domain import Bar, Quote, Side, Trade
from tradeterm.strategies import (
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)


class LongAtStart(Strategy[Params]):
    """Holds one contract long from the start."""

    def on_start(self, ctx: StrategyContext) -> Intents:
        return (TargetPosition(1, "long from the start"),)


class FailsAtStart(Strategy[Params]):
    """Raises in on_start."""

    def on_start(self, ctx: StrategyContext) -> Intents:
        raise RuntimeError("broken on purpose")

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        return (TargetPosition(1, "never"),)


class BelowParams(Params):
    ticks: int = Field(4, ge=1, description="ticks under the bid")


class BidsBelow(Strategy[BelowParams]):
    """Enters long with a limit ``ticks`` under the first trade it sees (a bracket 8/16)."""

    parameters = BelowParams
    wants_trades: ClassVar[bool] = True

    def __init__(self, params: BelowParams) -> None:
        super().__init__(params)
        self.entered = False

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        if self.entered:
            return ()
        self.entered = True
        price = trade.price - self.params.ticks
        return (EntrySignal(Side.BUY, Entry.limit(price), 8, 16, f"{self.params.ticks} under"),)


class Reverses(Strategy[Params]):
    """The matrix's strategy (tests/reliability): a market bracket (stop 40, target 80) on
    the first trade or quote it sees when flat; once :meth:`reverse` is called, on every trade
    and quote after it, the reverse of the last position it held before then (the bracket's
    exits may have closed it since) until it holds that: the runner cancels the bracket's
    exits first, and a target refused meanwhile is asked for again."""

    wants_trades: ClassVar[bool] = True
    wants_quotes: ClassVar[bool] = True

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.entered = False
        self.reversing = False  # set by the harness, from the loop's thread
        self.held = 0  # the last position it held before reversing
        self.target: int | None = None

    def reverse(self) -> None:
        self.reversing = True

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        return self._act(ctx)

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Intents:
        return self._act(ctx)

    def _act(self, ctx: StrategyContext) -> Intents:
        if not self.entered:
            self.entered = True
            if not ctx.position:  # not started again holding its position
                return (EntrySignal(Side.BUY, Entry.market(), 40, 80, "the matrix's entry"),)
        if not self.reversing:
            self.held = ctx.position or self.held
            return ()
        if self.target is None:
            self.target = -self.held
        if ctx.position == self.target:
            return ()
        return (TargetPosition(self.target, "the matrix's reversal"),)
