"""The trading vocabulary: the states, kinds, steps and roles the engine's events carry, for
the engine, the journal and the screen alike.

StrEnums: each member is its string value, so the journal stores the same text it always
has and a comparison with the plain string still holds. No imports from the rest of the
engine, so any module may use them (``risk.py`` imports ``order_manager.py``, and
``events.py`` is imported by both).
"""

from __future__ import annotations

from enum import StrEnum


class TradingState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only orders that reduce the position (and cancels)
    HALTED = "HALTED"  # only cancels and the kill switch's flatten


class RiskEventKind(StrEnum):
    WARNING = "warning"  # a limit is close: tell the user
    KILL = "kill"  # a limit is hit: run the kill switch
    REFUSAL = "refusal"  # an order or a re-arm was refused
    TRANSITION = "transition"  # the trading state changed


class KillStep(StrEnum):
    """One step of the kill switch (see ``KillProgress``)."""

    REQUESTED = "requested"
    WAITING = "waiting"  # for the connection
    CANCELLING = "cancelling"
    FLATTENING = "flattening"
    VERIFYING = "verifying"
    RETRYING = "retrying"
    UNVERIFIED = "unverified"  # not the end: IB has not confirmed yet, it keeps asking
    HALTED = "halted"  # the end: flat at the broker, nothing working
    DONE = "done"  # the end of a flatten without a halt (disconnect policy "flatten")
    FAILED = "failed"  # the end: not flat by the timeout (HALTED all the same)


class OrderRole(StrEnum):
    """What an order is for."""

    PLAIN = ""  # a plain order
    ENTRY = "entry"  # a bracket's legs: entry, stop and target
    STOP = "stop"
    TARGET = "target"
    FLATTEN = "flatten"  # market orders closing the whole position
    REVERSE = "reverse"
    KILL = "kill"
    FOREIGN = "foreign"  # another client's order, shown read-only


class StrategyState(StrEnum):
    """Where a strategy the engine runs stands."""

    RUNNING = "running"
    PAUSED = "paused"  # told everything as when running, but its intents are not sent
    STOPPED = "stopped"  # asked to stop (or the engine stopped): its on_stop ran
    FAULTED = "faulted"  # it raised or overran its time budget: stopped by the runner
