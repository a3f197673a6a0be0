"""CANARY mode's two pieces: which intents go live, and the strategy's paper track.

* :class:`CanarySelector` picks the fraction ``f`` of a strategy's intents that also go to
  IB. It is an accumulator, not a random draw: intent ``n`` (from 0) goes live when
  ``floor((n + 1) * f) > floor(n * f)``. After any ``n`` intents the live ones number
  ``floor(n * f)`` (never more than one away from ``n * f``), 0.5 alternates exactly (the 2nd,
  4th...), and a rerun on the same intents picks the same ones. A seeded draw would pick a
  fraction only on average: over a day's handful of intents it can send none or all of them.
  The price: a strategy whose intents alternate in a pattern of the same period could have
  one kind of intent always live; the report shows it (intents per side).
* :class:`PaperTrack` (``tradeterm.paper.track``, shared with the backtester) fills every
  intent of the strategy in this process on the paper broker's fill model.
* **A restart** (:class:`CanaryCarry`, from the journal): the selector goes on counting from
  the intents journaled so far, so ``floor(n * f)`` holds over every run of the strategy on
  one journal, not per run; the track starts at the net position of its journaled paper
  fills, with no working orders (a paper order ends with the process that held it). If
  ``f`` changed between runs the count still carries: the new run picks as ``f``'s sequence
  would from that count on, so the live intents since the restart number
  ``floor(n * f) - floor(c * f)`` (``c``: the count carried); the total is then exact for
  neither fraction.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradeterm.paper.track import ENTRY, EXIT, PaperTrack, TrackFill

__all__ = ["ENTRY", "EXIT", "CanaryCarry", "CanarySelector", "PaperTrack", "TrackFill"]


@dataclass(frozen=True, slots=True)
class CanaryCarry:
    """What a strategy's earlier CANARY runs left (see the module notes): the intents
    journaled, and the signed net of its paper fills."""

    intents: int = 0
    paper_position: int = 0


class CanarySelector:
    """See the module notes; ``fraction`` in (0, 1]; ``count``: the intents seen before (a
    restart)."""

    def __init__(self, fraction: float, count: int = 0) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"the canary fraction must be above 0 and at most 1, got {fraction}")
        self.fraction = fraction
        self.count = count  # intents seen so far

    def pick(self) -> bool:
        """Whether the next intent goes live."""
        n, f = self.count, self.fraction
        self.count += 1
        return int((n + 1) * f) > int(n * f)
