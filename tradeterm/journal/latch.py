"""The halt latch: HALTED kept in a small file beside the journal, ``<journal>.halted``.

The journal keeps every trading-state transition, but a journal that cannot write (disk full,
read-only, locked) is the very reason trading halts, so its HALTED row may never reach the
file. The latch is the second record that does not depend on SQLite: a few hundred bytes
written when trading goes HALTED (before anything else writes: a small write may still fit
where SQLite's pages cannot), removed only by a successful re-arm, and read at start. The
engine is HALTED at start when either the journal's last transition or the latch says so.

Writes are atomic and durable: a temporary file (0600) is written and fsynced, renamed over
the latch, and the directory is fsynced. A latch that exists but cannot be read halts all the
same (it can only have been written by a halt). A latch names the IB account it was written
for (once known), like the journal's sessions: the state of one account is never applied to
another (``runtime.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import TradingState
from tradeterm.paths import ensure_dir


def latch_file(journal: Path) -> Path:
    """The latch of the journal at ``journal``: ``<SYMBOL>.sqlite.halted`` beside it."""
    return journal.with_name(journal.name + ".halted")


class LatchFile:
    """The halt latch at ``path`` (see the module notes). ``set`` and ``clear`` raise
    ``OSError``; ``read`` never does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.account: str | None = None  # the account this run trades, written with a halt

    def __str__(self) -> str:
        return str(self.path)

    def read(self) -> RiskTransition | None:
        """The latched halt, or None when there is no latch."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            return self._unreadable(exc.strerror or str(exc))
        try:
            doc = json.loads(text)
            previous = TradingState(doc.get("previous") or TradingState.ACTIVE)
            return RiskTransition(previous, TradingState.HALTED, str(doc["reason"]),
                                  int(doc["ts_ns"]))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return self._unreadable(f"not a halt latch ({exc})")

    def owner(self) -> str | None:
        """The account the latch was written for (None: no latch, or no account in it)."""
        try:
            account = json.loads(self.path.read_text(encoding="utf-8")).get("account")
        except (OSError, ValueError, AttributeError):
            return None
        return account if isinstance(account, str) and account else None

    def _unreadable(self, why: str) -> RiskTransition:
        ts_ns = 0
        with contextlib.suppress(OSError):
            ts_ns = self.path.stat().st_mtime_ns
        reason = f"halt latch {self.path} cannot be read ({why}); delete it to clear it"
        return RiskTransition(TradingState.HALTED, TradingState.HALTED, reason, ts_ns)

    def set(self, transition: RiskTransition) -> None:
        """Write the latch for ``transition`` (to HALTED): atomically, fsynced."""
        doc = {
            "state": str(TradingState.HALTED),
            "previous": str(transition.from_state),
            "reason": transition.reason,
            "ts_ns": transition.ts_ns,
            "pid": os.getpid(),
            "account": self.account,
        }
        data = (json.dumps(doc, ensure_ascii=False) + "\n").encode()
        ensure_dir(self.path.parent)
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self._sync_dir()

    def clear(self) -> None:
        """Remove the latch (no latch: nothing to do), durably."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        self._sync_dir()

    def _sync_dir(self) -> None:
        fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
