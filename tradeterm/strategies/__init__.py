"""Automated trading strategies: the strategy API (``api``), finding and building strategies
(``loader``) and the built-ins (``sma_cross``, ``ema_scalp``, ``trend_pullback``,
``opening_range``, sharing ``indicators``).

A strategy emits intents (a target position, an entry signal), never broker orders; whoever
runs it (the engine, a backtest) turns them into risk-checked orders. The package imports only
the domain, pydantic and the standard library, so the engine can run strategies and a backtest
can run them without an engine.
"""

from tradeterm.strategies.api import (
    BarHistory,
    BarsView,
    Entry,
    EntrySignal,
    EntryType,
    Intent,
    Intents,
    Params,
    Strategy,
    StrategyContext,
    TargetPosition,
)
from tradeterm.strategies.loader import (
    BUILTINS,
    GROUP,
    Installed,
    Loaded,
    StrategyError,
    installed,
    load,
)

__all__ = [
    "BUILTINS",
    "GROUP",
    "BarHistory",
    "BarsView",
    "Entry",
    "EntrySignal",
    "EntryType",
    "Installed",
    "Intent",
    "Intents",
    "Loaded",
    "Params",
    "Strategy",
    "StrategyContext",
    "StrategyError",
    "TargetPosition",
    "installed",
    "load",
]
