"""A strategy for restart tests: its target is the number in a file, read at every quote, so
a test moves it at will (``tradeterm console --strategy
tests.integration.target_file_strategy:TargetFile --param path=...``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from tradeterm.domain import Quote
from tradeterm.strategies import Intents, Params, Strategy, StrategyContext, TargetPosition

SPEC = "tests.integration.target_file_strategy:TargetFile"


class TargetFileParams(Params):
    path: str = Field(description="the file holding the target, a signed number of contracts")


class TargetFile(Strategy[TargetFileParams]):
    """Holds the target written in a file."""

    parameters = TargetFileParams
    wants_quotes = True

    def __init__(self, params: TargetFileParams) -> None:
        super().__init__(params)
        self.target = 0

    def on_start(self, ctx: StrategyContext) -> Intents:
        self.target = ctx.position
        return ()

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Intents:
        text = Path(self.params.path).read_text().strip()
        target = int(text) if text else self.target
        if target == self.target:
            return ()
        self.target = target
        return (TargetPosition(target, f"the file says {target:+d}"),)
