"""Journals of tradeterm 0.1: one file per market for every mode, ``<journal dir>/<SYMBOL>.sqlite``.

Since then each mode has its own journal (``<journal dir>/<mode>/<SYMBOL>.sqlite``), so that a
kill switch pressed in the SIM demo no longer halts paper trading. An old journal is left
where it is and never written (``tradeterm report --journal FILE`` still reads it), but the
HALTED state it kept must not be lost: when a mode's own journal does not exist yet, the
state the old journal or its halt latch held *for that mode* is carried into the new
journal's latch (:func:`carried_halt`), once; a re-arm in that mode then clears it for good.

Whose state is it? Sessions record their mode, and they never overlap (one writer per
journal), so a transition or a latch belongs to the mode of the latest session started at or
before its time. A mode is HALTED when its last transition in the old journal is not ACTIVE
(a kill cut short, REDUCING, is carried as HALTED: the next start finishes it), or when the
old latch was written during one of its sessions. A latch whose mode cannot be told (no
readable journal, no session before it) is carried into every mode: HALTED is never lost.
"""

from __future__ import annotations

import bisect
import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import TradingState
from tradeterm.journal.latch import LatchFile, latch_file
from tradeterm.journal.store import JournalError, open_readonly

log = logging.getLogger(__name__)


def carried_halt(legacy: Path, mode: str) -> RiskTransition | None:
    """The HALTED state that the old journal at ``legacy`` (and its latch) kept for ``mode``,
    worded to say where it came from; None when there is none."""
    latch = LatchFile(latch_file(legacy))
    latched = latch.read()
    if latched is None and not legacy.exists():
        return None
    history = _History.read(legacy)
    if latched is not None and (history is None or history.mode_at(latched.ts_ns) in (mode, None)):
        return _from_legacy(latched, f"halt latch {latch.path}")
    last = history.last_transition(mode) if history is not None else None
    if last is not None and last.to_state is not TradingState.ACTIVE:
        return _from_legacy(last, f"journal {legacy}")
    return None


def _from_legacy(transition: RiskTransition, where: str) -> RiskTransition:
    state = "" if transition.to_state is TradingState.HALTED else f" ({transition.to_state})"
    reason = f"{transition.reason}{state} (kept by an earlier version in {where})"
    return RiskTransition(transition.from_state, TradingState.HALTED, reason, transition.ts_ns)


@dataclass(frozen=True)
class _History:
    """The sessions (start, mode; oldest first) and trading-state transitions of an old
    journal."""

    starts: list[int]
    modes: list[str]
    transitions: list[RiskTransition]

    @classmethod
    def read(cls, path: Path) -> _History | None:
        """None when the file cannot be read as a journal (its latch still counts)."""
        try:
            conn = open_readonly(path)
        except (JournalError, OSError) as exc:
            log.warning("earlier journal %s cannot be read: %s", path, exc)
            return None
        try:
            sessions = conn.execute(
                "SELECT started_ns, mode FROM sessions ORDER BY started_ns"
            ).fetchall()
            rows = conn.execute(
                "SELECT previous, state, reason, ts_ns FROM risk_events"
                " WHERE kind = 'transition' ORDER BY id"
            ).fetchall()
        except sqlite3.Error as exc:
            log.warning("earlier journal %s cannot be read: %s", path, exc)
            return None
        finally:
            conn.close()
        return cls(
            [int(ts) for ts, _ in sessions], [str(m) for _, m in sessions],
            [_transition(*row) for row in rows],
        )  # fmt: skip

    def mode_at(self, ts_ns: int) -> str | None:
        """The mode of the session running at ``ts_ns`` (None: before the first one)."""
        i = bisect.bisect_right(self.starts, ts_ns)
        return self.modes[i - 1] if i else None

    def last_transition(self, mode: str) -> RiskTransition | None:
        return next((t for t in reversed(self.transitions) if self.mode_at(t.ts_ns) == mode), None)


def _transition(previous: str, state: str, reason: str, ts_ns: int) -> RiskTransition:
    try:
        return RiskTransition(TradingState(previous or state), TradingState(state), reason, ts_ns)
    except ValueError:  # a state this build does not know: not ACTIVE, so halted
        return RiskTransition(TradingState.HALTED, TradingState.HALTED, str(reason), ts_ns)
