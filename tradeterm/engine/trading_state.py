"""The trading state across the engine's life: HALTED kept in the halt latch, a halt before
the engine has started, the re-arm, and what the risk manager reports.

The risk manager (in the trading core) owns the state once the contract is known; before that
:class:`TradingStateKeeper` keeps the one restored from the journal (and a halt that came
first: the risk manager then starts HALTED). Every transition to HALTED is written to the halt
latch (``tradeterm.journal.latch``) before anything else; when the latch cannot be written,
HALTED stays in memory, the trader is told once, and the engine's timer and shutdown try
again (:meth:`TradingStateKeeper.keep_halt`). A re-arm removes the latch first: a latch left
behind would halt the next start. The risk manager's events (a loss limit near or hit) are
said and published; a KILL one runs the kill switch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from tradeterm.engine.calendar import NS
from tradeterm.engine.events import EngineEvent, RiskUpdate
from tradeterm.engine.risk import RiskEvent, RiskManager, RiskTransition
from tradeterm.engine.types import RiskEventKind, TradingState

RETRY_S = 5.0  # halt latch retry interval


class HaltLatch(Protocol):
    """HALTED kept outside the journal (``tradeterm.journal.latch``): :meth:`set` when trading
    goes HALTED, :meth:`clear` before a re-arm may go back to ACTIVE. Both raise ``OSError``;
    ``str()`` names where it is kept."""

    def set(self, transition: RiskTransition) -> None: ...

    def clear(self) -> None: ...


class TradingStateKeeper:
    """See the module notes. ``risk``: the trading core's risk manager, None before the
    contract is known; ``restored``: the last journaled transition; ``notice``, ``publish`` and
    ``request_kill``: the engine's."""

    def __init__(
        self,
        risk: Callable[[], RiskManager | None],
        *,
        restored: RiskTransition | None,
        latch: HaltLatch | None,
        clock: Callable[[], int],
        notice: Callable[[str, str], None],
        publish: Callable[[EngineEvent], None],
        request_kill: Callable[[str], None],
    ) -> None:
        self._risk = risk
        self.restored = restored  # the state before the risk manager exists
        self.latch = latch
        self.latch_error: str | None = None  # HALTED could not be latched: kept in memory only
        self._latch_retry_at = 0
        self._clock = clock
        self._notice = notice
        self._publish = publish
        self._request_kill = request_kill

    @property
    def state(self) -> tuple[TradingState, str, int | None]:
        """The trading state, its reason and since when (before start: the restored one)."""
        risk = self._risk()
        if risk is not None:
            return risk.state, risk.state_reason, risk.state_since_ns
        restored = self.restored
        if restored is None:
            return TradingState.ACTIVE, "", None
        return restored.to_state, restored.reason, restored.ts_ns

    def on_transition(self, transition: RiskTransition) -> None:
        """The risk manager's: latched when HALTED, said and published."""
        to = transition.to_state
        if to is TradingState.HALTED:
            self._latch(transition)  # first: before a notice (a log line) takes the last bytes
        self._notice("WARNING" if to is not TradingState.ACTIVE else "INFO",
                     f"trading {to}: {transition.reason}")  # fmt: skip
        self._publish(
            RiskUpdate(
                RiskEventKind.TRANSITION, "state", transition.reason, to, transition.ts_ns,
                transition.from_state,
            )
        )  # fmt: skip

    def on_risk_events(self, risk: RiskManager, events: list[RiskEvent]) -> None:
        """What ``risk`` reported (see the module notes)."""
        for event in events:
            level = "ERROR" if event.kind is RiskEventKind.KILL else "WARNING"
            self._notice(level, f"risk {event.kind}: {event.reason}")
            self._publish(RiskUpdate(event.kind, event.rule, event.reason, risk.state, event.ts_ns))
            if event.kind is RiskEventKind.KILL:
                self._request_kill(event.reason)

    def halt(self, reason: str) -> None:
        """HALTED at once (see ``Engine.halt``); before start, kept as the restored state."""
        risk = self._risk()
        if risk is not None:
            risk.halt(reason)
            return
        restored = self.restored
        if restored is not None and restored.to_state is TradingState.HALTED:
            return
        transition = RiskTransition(
            restored.to_state if restored is not None else TradingState.ACTIVE,
            TradingState.HALTED, reason.strip() or "halted", self._clock(),
        )  # fmt: skip
        self.restored = transition
        self.on_transition(transition)

    def _latch(self, transition: RiskTransition) -> None:
        """Keep HALTED in the halt latch; when it cannot be written, say so loudly (HALTED
        stays in memory, and the latch is tried again by the timer and at shutdown)."""
        if self.latch is None:
            return
        try:
            self.latch.set(transition)
        except OSError as exc:
            first = self.latch_error is None
            self.latch_error = f"cannot write the halt latch {self.latch}: {exc.strerror or exc}"
            if first:
                self._notice("ERROR", f"{self.latch_error}; trading stays HALTED, but only in "
                             "memory until the latch or the journal can be written")  # fmt: skip
            return
        if self.latch_error is not None:
            self.latch_error = None
            self._notice("INFO", f"halt latch {self.latch} written")

    def keep_halt(self) -> str | None:
        """Write the halt latch again if HALTED could not be latched; the error, or None."""
        state, reason, since = self.state
        if self.latch_error is not None and state is TradingState.HALTED:
            self._latch(RiskTransition(state, state, reason, since or self._clock()))
        return self.latch_error

    def retry(self, now: int) -> None:
        """The timer's: try the halt latch again, at most every ``RETRY_S``."""
        if self.latch_error is not None and now >= self._latch_retry_at:
            self._latch_retry_at = now + int(RETRY_S * NS)
            self.keep_halt()

    def rearm(self, risk: RiskManager, reason: str) -> str | None:
        """Back to ACTIVE with a typed reason, the latch removed first; the refusal as text,
        or None when re-armed."""
        refusal = risk.rearm_refusal(reason) or self._unlatch()
        if refusal is None:
            risk.rearm(reason)
        return refusal

    def _unlatch(self) -> str | None:
        """Remove the halt latch before a re-arm; the refusal when it cannot be removed (a
        latch left behind would halt the next start, a journal that says ACTIVE with it)."""
        if self.latch is None:
            return None
        try:
            self.latch.clear()
        except OSError as exc:
            return (
                f"re-arm refused: cannot remove the halt latch {self.latch} "
                f"({exc.strerror or exc}); trading stays {self.state[0]}"
            )
        self.latch_error = None
        return None
