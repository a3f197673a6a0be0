"""The trainer's slower/faster keys step through the speeds one way only: a speed given with
``--speed`` below the slowest step (or between steps) never goes the other way."""

from __future__ import annotations

import math

import pytest

from tradeterm.ui.trainer import SPEEDS, stepped


@pytest.mark.parametrize("speed", [0.01, 0.1, 0.3, 1.0, 3.0, 100.0, 250.0, math.inf, 0.0])
def test_slower_never_speeds_up_and_faster_never_slows_down(speed: float) -> None:
    now = math.inf if speed <= 0 else speed
    assert stepped(speed, -1) <= now
    assert stepped(speed, 1) >= now


def test_a_speed_below_the_slowest_step_stays_and_steps_up_from_there() -> None:
    assert stepped(0.1, -1) == 0.1
    assert stepped(0.1, 1) == SPEEDS[0]
    assert stepped(0.3, -1) == 0.25 and stepped(0.3, 1) == 0.5
    assert stepped(SPEEDS[0], -1) == SPEEDS[0] and stepped(math.inf, 1) == math.inf
