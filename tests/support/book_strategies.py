"""Strategies that trade from trades, for the event-mode backtest's tests and its parity with
SHADOW (a recorded MBP-1 file is only minutes long: too short for bar strategies)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from tradeterm.domain import Fill, Side, Trade
from tradeterm.strategies import (
    Entry,
    EntrySignal,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)


class EveryParams(Params):
    trades: int = Field(7, ge=1, description="trades between two intents")


class FlipsEvery(Strategy[EveryParams]):
    """Targets +1, -1, +1... every ``trades`` trades (market orders)."""

    parameters = EveryParams
    wants_trades: ClassVar[bool] = True

    def __init__(self, params: EveryParams) -> None:
        super().__init__(params)
        self.seen = 0
        self.intents = 0  # how many it returned (the parity test waits for them)
        self.target = 0

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        self.seen += 1
        if self.seen % self.params.trades:
            return ()
        self.target = 1 if self.target <= 0 else -1
        self.intents += 1
        return (TargetPosition(self.target, f"trade {self.seen}"),)


class BracketParams(EveryParams):
    away: int = Field(1, ge=0, description="ticks the entry limit rests behind the trade")
    stop: int = Field(4, ge=1, description="stop, ticks")
    target: int = Field(4, ge=1, description="target, ticks")


class LimitBrackets(Strategy[BracketParams]):
    """Every ``trades`` trades while flat and not entering: a limit bracket, buying ``away``
    ticks under the trade, then selling ``away`` ticks over it, alternately (queue-aware
    fills: the entry rests at its price, behind what the book shows there)."""

    parameters = BracketParams
    wants_trades: ClassVar[bool] = True

    def __init__(self, params: BracketParams) -> None:
        super().__init__(params)
        self.seen = 0
        self.intents = 0
        self.side = Side.SELL
        self.entering = False  # an entry sent and its position not closed yet

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        self.seen += 1
        if self.seen % self.params.trades or self.entering or ctx.position:
            return ()
        self.side = self.side.opposite
        self.entering = True
        self.intents += 1
        p = self.params
        price = trade.price - self.side.sign * p.away
        return (EntrySignal(self.side, Entry.limit(price), p.stop, p.target, "every trades"),)

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        if not ctx.position:  # its exit closed the position: free to enter again
            self.entering = False
        return ()
