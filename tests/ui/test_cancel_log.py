"""trial22: every cancel was logged as a warning, twice (`order SELL 1 STP 6001.75 CANCELLED:
Error 202, reqId 15: Order Canceled - reason:` and `IB 202: Order Canceled - reason:`), the
cancels the trader asked for included. A cancel we asked for is said once, as information;
one IB made on its own (a day order expired, here) stays a warning with IB's reason."""

from __future__ import annotations

from typing import Any

from tests.ui.helpers import gateway, make_app, own_working, ready, settle
from tradeterm.ui.app import TradingApp


def recording(app: TradingApp) -> list[tuple[str, str]]:
    """Every line the log panel is given from now on, with its level."""
    lines: list[tuple[str, str]] = []
    write = app.log_line

    def log_line(level: str, text: str) -> None:
        lines.append((level, text))
        write(level, text)

    app.log_line = log_line  # type: ignore[method-assign]
    return lines


def about_cancel(lines: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(level, text) for level, text in lines if "cancel" in text.lower()]


async def place(pilot: Any, app: TradingApp) -> None:
    await pilot.press("down", "left_square_bracket")
    await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy limit")


async def test_a_cancel_we_asked_for_is_said_once_as_information() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a")
        await place(pilot, app)
        lines = recording(app)
        await pilot.press("c")
        await settle(pilot, app, lambda: not own_working(app), "the cancel")
        await settle(pilot, app, lambda: "CANCELLED" in str(lines), "the cancel said")
        await pilot.pause(0.5)
        said = about_cancel(lines)
        cancelled = [(level, text) for level, text in said if "CANCELLED" in text or "202" in text]
        assert len(cancelled) == 1, said
        assert cancelled[0][0] == "INFO", said
        assert "Error 202" not in cancelled[0][1] and "reason:" not in cancelled[0][1], said


async def test_a_cancel_ib_made_is_a_warning_with_ibs_reason() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a")
        await place(pilot, app)
        lines = recording(app)
        gw = gateway(app)
        gw.desk.dispatch(gw.oms.expire_day_orders(gw.now_ns()))
        await settle(pilot, app, lambda: not own_working(app), "IB's cancel")
        await settle(pilot, app, lambda: "CANCELLED" in str(lines), "the cancel said")
        await pilot.pause(0.5)
        warned = [text for level, text in about_cancel(lines) if level == "WARNING"]
        assert any("CANCELLED" in text and "day order expired" in text for text in warned), lines
