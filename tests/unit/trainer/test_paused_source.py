"""A paused replay is silent on purpose: never called stale while paused; a replay still
frozen after its resume is stale one threshold later (never shown live)."""

from __future__ import annotations

from tests.support.clock import Clock
from tradeterm.engine.staleness import Feed, StalenessWatchdog

TH = {Feed.QUOTES: 5.0, Feed.DEPTH: 5.0}


def test_a_held_source_is_not_stale_and_a_frozen_one_after_release_is() -> None:
    clock = Clock()
    w = StalenessWatchdog(TH, clock=clock)
    w.touch(Feed.QUOTES)
    w.touch(Feed.DEPTH)
    w.hold()
    clock.advance(600)  # ten minutes paused
    assert w.check() == []
    assert not w.is_stale(Feed.QUOTES)
    w.release()
    clock.advance(4)
    assert w.check() == []  # the threshold counts from the resume
    clock.advance(2)  # resumed, and still nothing comes: frozen
    assert {c.feed for c in w.check() if c.stale} == {Feed.QUOTES, Feed.DEPTH}


def test_holding_clears_a_stale_state_at_once() -> None:
    clock = Clock()
    w = StalenessWatchdog(TH, clock=clock)
    clock.advance(6)
    assert w.check()  # stale
    w.hold()
    assert {(c.feed, c.stale) for c in w.check()} == {(Feed.QUOTES, False), (Feed.DEPTH, False)}
    assert w.age(Feed.QUOTES) == 6.0
