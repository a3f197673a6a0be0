"""The clock of a market that runs on time of its own: a replay (``tradeterm ES --replay``).

Live, the engine's clock is the wall clock. A replayed market has its own time, the
recording's, which the trainer pauses, speeds up and jumps ahead: the engine built with a
:class:`SourceClock` (``Engine(source=...)``) reads it for everything that is market time
(bars, the session calendar, the risk clock, the status bar's time) and learns from it that the
source is paused (nothing is stale then: ``StalenessWatchdog.hold``).

Silence (staleness) is measured on :meth:`SourceClock.played_ns`: market time actually played,
which a jump does not advance (the minute a trainer skips, or a quiet gap of the file shortened
to 2 s, is not a minute of silence) and a pause stops. A replay frozen after its resume goes
stale one threshold of played time later, as a live feed would.
"""

from __future__ import annotations

from typing import Protocol


class SourceClock(Protocol):
    @property
    def paused(self) -> bool:
        """Stopped on purpose (a paused replay)."""
        ...

    def now_ns(self) -> int:
        """The market's time, epoch nanoseconds."""
        ...

    def played_ns(self) -> int:
        """Market time played, jumps left out (the watchdog's clock)."""
        ...
