"""Strategies the console tests name as ``module:Class`` (``tests.support.strategies:...``)."""

from __future__ import annotations

from tradeterm.domain import Bar
from tradeterm.strategies import Intents, Params, Strategy, StrategyContext, TargetPosition


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
