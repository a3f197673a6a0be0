"""The clock a replay's silence is judged on (``TrainerClock.played_ns``, the engine's
watchdog clock): it runs only while the recording owes an event. The recording's own quiet
(the hour before an open has no trade), jumps and shortened gaps are not silence, at any speed;
a replay that stops delivering what is due ages as a live feed would: at the market's pace up to
x1, at the wall's above (a busy burst played in 50 ms at x100 is not 5 s of silence)."""

from __future__ import annotations

from tests.unit.sim.test_replay_clock import T0, Wall, trades
from tradeterm.embedded import TrainerClock
from tradeterm.sim.replay_clock import NS, play

MS = 1_000_000


async def test_the_recordings_quiet_is_not_silence_a_frozen_replay_is() -> None:
    wall = Wall()
    clock = TrainerClock(T0, 10, wall=wall, wall_sleep=wall.sleep)
    events = play(trades(0, 1, 100, 101), clock, max_gap=2.0)
    start = clock.played_ns()
    await anext(events)  # due at once
    await anext(events)  # the replay waited 1 s of market time for it: the file was quiet
    assert abs(clock.played_ns() - start) < MS
    await anext(events)  # 99 s without an event: cut to 2 s of waiting, none of it silence
    assert clock.now() >= T0 + 100
    assert abs(clock.played_ns() - start) < MS

    wall.t += 1.0  # the event at +100 s is still being delivered a second later: frozen
    assert abs(clock.played_ns() - start - NS) < MS

    clock.jump(60)  # the trainer's jump: market time skipped, not played
    assert abs(clock.played_ns() - start - NS) < MS
    clock.pause()
    wall.t += 30.0
    assert abs(clock.played_ns() - start - NS) < MS


async def test_a_replay_that_keeps_up_at_speed_never_ages() -> None:
    wall = Wall()
    clock = TrainerClock(T0, 50, wall=wall, wall_sleep=wall.sleep)
    start = clock.played_ns()
    async for _ in play(trades(*range(0, 600, 3)), clock, max_gap=2.0):  # 10 min, x50
        assert abs(clock.played_ns() - start) < MS
    assert clock.now() >= T0 + 597


async def test_catching_up_with_a_jump_is_not_silence() -> None:
    wall = Wall()
    clock = TrainerClock(T0, 10, wall=wall, wall_sleep=wall.sleep)
    events = play(trades(0, 1, 30, 40, 200), clock, max_gap=2.0)
    await anext(events)
    await anext(events)
    start = clock.played_ns()
    clock.jump(50)  # the events at +30 and +40 are due at once
    assert clock.jumping
    await anext(events)
    wall.t += 1.0  # a long catch-up (a jump over a busy hour): 10 s of market time at x10
    await anext(events)
    assert abs(clock.played_ns() - start) < MS
    await anext(events)  # landed, then the file was quiet until +200
    assert not clock.jumping
    assert abs(clock.played_ns() - start) < MS
    wall.t += 1.0  # the event at +200 played and not done with a second later: frozen
    assert abs(clock.played_ns() - start - NS) < MS


async def test_silence_runs_at_the_markets_pace_up_to_real_time() -> None:
    wall = Wall()
    slow = TrainerClock(T0, 0.25, wall=wall, wall_sleep=wall.sleep)
    events = play(trades(0, 1), slow)
    await anext(events)
    start = slow.played_ns()
    wall.t += 2.0  # owed, not delivered: half a second of market time at x1/4
    assert abs(slow.played_ns() - start - NS // 2) < MS
    slow.set_speed(100)
    wall.t += 2.0  # two seconds of wall time at x100: two seconds, not 200
    assert abs(slow.played_ns() - start - 5 * NS // 2) < MS
