"""The clock of a market that runs on time of its own: a replay (``tradeterm ES --replay``).

Live, the engine's clock is the wall clock. A replayed market has its own time, the
recording's, which the trainer pauses, speeds up and jumps ahead: the engine built with a
:class:`SourceClock` (``Engine(source=...)``) reads it for everything that is market time
(bars, the session calendar, the risk clock, the status bar's time) and learns from it that the
source is paused (nothing is stale then: ``StalenessWatchdog.hold``).

Silence (staleness) is measured on :meth:`SourceClock.played_ns`: the time during which
the recording owed the client an event. A jump does not advance it (the minute a trainer skips,
or a quiet gap of the file shortened to 2 s, is not a minute of silence), a pause stops it, and
so does the recording's own quiet (the hour before an open has no trade; the replay that has
played everything due is not stale, at any speed). It runs at the market's pace up to real
time and at the wall's above x1, so a replay that stops delivering what the file holds (stalled,
frozen) goes stale one threshold later, as a live feed would, and a busy burst played in 50 ms
at x100 is not 5 s of silence.

A jump's trades are not sent (nor its 5-second bars): the gateway shows the book where it lands.
When :attr:`SourceClock.jumps` grows, the engine asks the bar history again (the bars it built
over the span skipped, the minute in progress at the jump included, are replaced by the
source's, which saw every trade), and once more when the minute it landed in has closed (IB's
history leaves out the bar in progress). Volume at price (the ladder's VOL, BVOL, AVOL) has no
history: it leaves out the trades a jump skipped, and the trainer says so when it jumps.
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
        """Time during which the source owed data (the watchdog's clock): jumps,
        skipped gaps and the recording's own quiet left out."""
        ...

    @property
    def jumps(self) -> int:
        """Jumps ahead that have landed: the trades each skipped never reached the client,
        so the engine's bars over that span are short until history replaces them."""
        ...
