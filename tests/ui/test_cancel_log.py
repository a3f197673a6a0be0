"""trial21: every cancel was logged as a warning, twice (`order SELL 1 STP 6001.75 CANCELLED:
Error 202, reqId 15: Order Canceled - reason:` and `IB 202: Order Canceled - reason:`), the
cancels the trader asked for included. A cancel we asked for is said once, as information;
one IB made on its own (a day order expired, here) stays a warning with IB's reason."""

from __future__ import annotations

import pytest

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


def ib_cancels(app: TradingApp) -> None:
    """IB cancels our orders on its own: a day order expired."""
    gw = gateway(app)
    gw.desk.dispatch(gw.oms.expire_day_orders(gw.now_ns()))


@pytest.mark.parametrize("ours", [True, False], ids=["asked", "ibs-own"])
async def test_a_cancel_we_asked_for_is_information_and_ibs_own_a_warning(ours: bool) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "down", "left_square_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy limit")
        lines = recording(app)
        if ours:
            await pilot.press("c")
        else:
            ib_cancels(app)
        await settle(pilot, app, lambda: not own_working(app), "the cancel")
        await settle(pilot, app, lambda: "CANCELLED" in str(lines), "the cancel said")
        await pilot.pause(0.5)
        said = about_cancel(lines)
        cancelled = [(level, text) for level, text in said if "CANCELLED" in text or "202" in text]
        assert len(cancelled) == 1, said  # said once
        level, text = cancelled[0]
        if ours:
            assert level == "INFO", said
            assert "Error 202" not in text and "reason:" not in text, said
        else:
            assert level == "WARNING" and text.endswith("CANCELLED: day order expired"), said
