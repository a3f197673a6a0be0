"""A strategy for the backtest command's Ctrl-C test: sma_cross that writes a file once it
has seen ``after`` bars, so the test knows the run is under way before it presses Ctrl-C."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tradeterm.domain import Bar
from tradeterm.strategies import Intents, StrategyContext
from tradeterm.strategies.sma_cross import SmaCross, SmaCrossParams

SPEC = "tests.integration.backtest_marker_strategy:Marker"


class MarkerParams(SmaCrossParams):
    path: str = Field(description="the file written once the run is under way")
    after: int = Field(1000, description="bars seen before it is written")


class Marker(SmaCross):
    """sma_cross, marking a file after ``after`` bars."""

    parameters = MarkerParams  # type: ignore[assignment]

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        params = self.params
        assert isinstance(params, MarkerParams)
        if len(ctx.bars) == params.after:
            Path(params.path).write_text("under way")
        return super().on_bar(ctx, bar)
