"""trial21: while disconnected, the risk panel's `entries blocked: reconnecting: cannot connect
… Check that IB Gateway …` ran to about 12 lines and pushed the account and working-orders
panels out of view, exactly when the working orders matter most. The panel keeps the reason
to its first sentence on at most two lines (the whole text is in the log)."""

from __future__ import annotations

import asyncio

import pytest
from textual.visual import Visual, visualize
from textual.widgets import Static

from tests.ui.helpers import gateway, make_app, ready, settings, settle
from tests.ui.test_layout import shown
from tradeterm.ui.widgets.panel import Panel


def screen_rows(widget: Static) -> list[str]:
    """The rows ``widget`` shows on the screen now, wrapped at its width."""
    visual = visualize(widget, widget.render())
    size = widget.content_size
    strips = Visual.to_strips(widget, visual, size.width, size.height, widget.visual_style)
    return [strip.text.rstrip() for strip in strips]


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
async def test_a_long_block_reason_leaves_the_orders_panel_in_view(
    size: tuple[int, int],
) -> None:
    app = make_app(settings(**{"connection": {"reconnect_min_s": 0.5}}))
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        restart = asyncio.create_task(gateway(app).restart(30.0))
        try:
            risk = app.screen.query_one("#risk", Panel)
            engine = app.engine
            assert engine is not None

            def failed() -> bool:  # the reason is the long one, and the panel shows it
                blocked = engine.snapshot().entries_blocked or ""
                shows = "entries blocked" in risk.shown and "lost" not in risk.shown
                return "Check that IB Gateway" in blocked and shows

            await settle(pilot, app, failed, "the reconnect's failure")
            await pilot.pause(0.3)
            rows = screen_rows(risk)
            first = next(i for i, row in enumerate(rows) if row.startswith("entries blocked"))
            blocked = [row for row in rows[first:] if row]
            assert len(blocked) <= 2, rows
            assert "Check that IB Gateway" not in risk.shown
            assert blocked[-1].endswith("…"), rows
            orders = app.screen.query_one("#orders")
            assert shown(orders)
            assert orders.region.height > 0 and orders.region.bottom <= size[1], orders.region
        finally:
            restart.cancel()
