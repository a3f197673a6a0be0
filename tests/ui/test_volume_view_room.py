"""trial21: `d` (the traded-volume views) in a terminal with no room for their columns changed
nothing visible while the toast said `traded volume: recent and by side`. It now says there
is no room at this width and the width where the columns show."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.helpers import ladder, make_app, ready, settle
from tradeterm.ui.app import TradingApp


def toasts(app: TradingApp) -> list[str]:
    """Every notification from now on."""
    said: list[str] = []
    notify = app.notify

    def record(message: str, *args: Any, **kwargs: Any) -> None:
        said.append(message)
        notify(message, *args, **kwargs)

    app.notify = record  # type: ignore[method-assign]
    return said


def columns(app: TradingApp) -> set[str]:
    return {name for name, _ in ladder(app)._layout}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_d_says_there_is_no_room_for_the_volume_columns(size: tuple[int, int]) -> None:
    app = make_app(fixed_clock=True)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        said = toasts(app)
        volume = {"RCNT", "BVOL", "AVOL"}
        for _ in range(3):  # recent / session only / recent and by side
            await pilot.press("d")
            await pilot.pause(0.2)
            assert not volume & columns(app)  # no view shows at this width
        assert said[1] == "traded volume: session volume only"  # nothing to make room for
        for text in (said[0], said[2]):
            room = re.search(r"no room at this width; it shows at (\d+) columns or wider", text)
            assert room is not None, said
            await pilot.resize_terminal(int(room.group(1)), size[1])
            await settle(pilot, app, lambda: "RCNT" in columns(app), f"the columns ({text})")
            await pilot.resize_terminal(*size)
            await settle(pilot, app, lambda: not volume & columns(app), "the narrow ladder")


async def test_d_at_a_wide_terminal_says_the_view() -> None:
    app = make_app(fixed_clock=True)
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        said = toasts(app)
        await pilot.press("d")
        await pilot.pause(0.2)
        assert said == ["traded volume: recent"]
        assert "RCNT" in columns(app) and "BVOL" not in columns(app)
