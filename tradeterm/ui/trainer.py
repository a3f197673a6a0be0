"""The trainer's side of the screen (``tradeterm SYMBOL --replay FILE``): what its keys do to
the replay's clock (``embedded.ReplayControl``) and what the status bar says of it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tradeterm.embedded import ReplayControl

SPEEDS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, math.inf)  # comma / full stop
JUMP_S = 60.0  # slash: one minute of the market ahead
NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReplayState:
    """The replay as the status bar shows it: the replayed market's time, the speed, paused,
    ended (the file played to its end: REPLAY ENDED, not an age; or stopped where it could
    not be read on, ``failed``: REPLAY FAILED)."""

    market_ns: int
    speed: float
    paused: bool
    ended: bool = False
    failed: bool = False

    @property
    def speed_text(self) -> str:
        return speed_text(self.speed)


def state_of(control: ReplayControl) -> ReplayState:
    return ReplayState(
        round(control.now() * NS), control.speed, control.paused, control.ended,
        control.failure is not None,
    )  # fmt: skip


def ended_line(working: int, failure: str | None = None) -> str:
    """The log's line when the replay has played its file to the end (or stopped where it
    could not be read on: ``failure`` says why): the market stands still there, and our
    working orders still rest at the gateway (nothing cancels them)."""
    orders = (f"; {working} working order{'s' if working != 1 else ''} still rest at the "
              "gateway (cancel them or quit)" if working else "")  # fmt: skip
    if failure is not None:
        return f"REPLAY FAILED: {failure}; the market stands still{orders}"
    return f"REPLAY ENDED: the file is played to its end, the market stands still{orders}"


def at_max(speed: float) -> bool:
    """A speed that is as fast as the file can be read (``math.inf``, or 0 as ``parse_speed``
    gives for ``max``): a wall second is no length of the market's time then."""
    return math.isinf(speed) or speed <= 0


def speed_text(speed: float) -> str:
    """``x10``, ``x0.25``, ``max``."""
    if at_max(speed):
        return "max"
    return f"x{speed:g}"


def stepped(speed: float, step: int) -> float:
    """The next speed of :data:`SPEEDS` above (``step`` 1) or below (-1) ``speed``; one with
    none beyond it stays where it is (``--speed 0.1`` made slower stays 0.1: slower never
    speeds up, faster never slows down)."""
    speed = math.inf if speed <= 0 else speed
    if step > 0:
        return next((s for s in SPEEDS if s > speed), speed)
    return next((s for s in reversed(SPEEDS) if s < speed), speed)


def control(replay: ReplayControl, verb: str) -> str:
    """Do what a replay key asks (``pause`` toggles, ``slower``, ``faster``, ``jump``);
    returns the line the screen logs."""
    if verb == "pause":
        if replay.paused:
            replay.resume()
            return "replay resumed"
        replay.pause()
        return "replay PAUSED"
    if verb == "jump":
        replay.jump(JUMP_S)
        return (
            f"replay jumped {JUMP_S:g} s ahead: the chart's bars are the file's; volume "
            "at price (VOL, BVOL, AVOL) leaves out the trades skipped"
        )
    speed = stepped(replay.speed, 1 if verb == "faster" else -1)
    replay.set_speed(speed)
    return f"replay speed {speed_text(speed)}"
