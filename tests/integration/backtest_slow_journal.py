"""``python -m tests.integration.backtest_slow_journal ARGS``: ``tradeterm ARGS`` with a test
seam in the journal writer: its first flush writes ``$SLOW_JOURNAL_MARKER`` and waits until the
file ``$SLOW_JOURNAL_GO`` exists, so a test can press Ctrl-C while the journal is written, as a
user does during a long write, without timing anything."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tradeterm.cli.main import main
from tradeterm.journal.journal import Journal

GUARD_S = 120  # a guard against a hang, not a timing


def _patch() -> None:
    marker = Path(os.environ["SLOW_JOURNAL_MARKER"])
    go = Path(os.environ["SLOW_JOURNAL_GO"])
    flush = Journal.flush

    async def slow_flush(self: Journal) -> None:
        if not marker.exists():
            marker.write_text("writing the journal")
            guard = time.monotonic() + GUARD_S
            while not go.exists() and time.monotonic() < guard:
                time.sleep(0.01)
        await flush(self)

    Journal.flush = slow_flush  # type: ignore[method-assign]


if __name__ == "__main__":
    _patch()
    sys.exit(main())
