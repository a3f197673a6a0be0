"""What a backtest is asked (:class:`BacktestSpec`) and what it returns (:class:`BacktestResult`).

Both are plain, picklable values: a sweep sends specs to worker processes (or a Dask cluster)
and gets results back. Prices are integer ticks of the instrument and times UTC nanoseconds,
as everywhere in tradeterm; money is ``Decimal`` in the instrument's currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path

from tradeterm.config import MarketConfig
from tradeterm.domain import Bar, Fill, Instrument
from tradeterm.paper.track import TrackOrder
from tradeterm.sim.gateway.accounts import DEFAULT_COMMISSION
from tradeterm.strategies import Loaded, StrategyError, load

__all__ = [
    "DEFAULT_COMMISSION",
    "BacktestError",
    "BacktestResult",
    "BacktestSpec",
    "FillAt",
    "load_strategy",
]


class FillAt(StrEnum):
    """When a market order sent on a bar's close fills, in bar mode."""

    NEXT_OPEN = "next-open"  # at the next bar's open (the default, as the peers do)
    CLOSE = "close"  # at the close of the bar that made the signal


@dataclass(frozen=True, slots=True)
class BacktestSpec:
    """One run. ``params``: the strategy's parameters as given on the command line (``k=v``
    pairs, validated by the strategy's own model); ``commission``: per contract per side (None:
    :attr:`commission_used`'s default); ``equity``: the account value entries are sized by;
    ``market``: the market's settings (its risk rules size entries; None: the defaults)."""

    data: Path
    strategy: str
    params: tuple[tuple[str, str], ...] = ()
    symbol: str = "ES"
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    fill: FillAt = FillAt.NEXT_OPEN
    commission: Decimal | None = None
    slippage_ticks: int = 0
    latency_ms: int = 0
    equity: Decimal = Decimal(100_000)
    market: MarketConfig | None = None

    @property
    def commission_used(self) -> Decimal:
        """Per contract per side: ``commission``, else the simulated broker's (2.25, IB's
        tiered CME rate; the market settings have none)."""
        return self.commission if self.commission is not None else DEFAULT_COMMISSION


class BacktestError(Exception):
    """A run that cannot be done as asked (a bad file, strategy or parameter, a strategy that
    failed), worded for the user: one line."""


@dataclass(slots=True)
class BacktestResult:
    """What a run did. ``kind`` is "bars" (a bar file) or "events" (quotes, trades or a book);
    ``count`` how many of them were run through; ``fills`` the executions in time order, each
    of one of ``orders`` (``Fill.order_id``: the orders placed, in the order they were
    placed, a bracket's entry, stop and target each its own); ``bars`` the closed 1-minute
    bars (marks for the equity curve); ``last_price`` the last price seen (marks the open
    position); ``complete`` False when the run was stopped early (Ctrl-C: the result is
    partial)."""

    spec: BacktestSpec
    instrument: Instrument
    kind: str
    count: int
    commission: Decimal  # per contract per side, as used
    fills: list[Fill] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    last_price: int | None = None
    seconds: float = 0.0
    complete: bool = True
    orders: list[TrackOrder] = field(default_factory=list)


def load_strategy(spec: BacktestSpec) -> Loaded:
    """The strategy ``spec`` names, built with its parameters; :class:`BacktestError`."""
    try:
        return load(spec.strategy, [f"{key}={value}" for key, value in spec.params])
    except StrategyError as exc:
        raise BacktestError("; ".join(str(exc).splitlines())) from None
