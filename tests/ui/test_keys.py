"""Keys a trader is never surprised by: digit keys exist only for the quantity presets the
risk limits allow."""

from __future__ import annotations

from textual.widgets import Static

from tests.ui.helpers import (
    gateway,
    gateway_position,
    make_app,
    ready,
    settings,
    settle,
)
from tradeterm.ui.app import TradingApp


def help_shown(app: TradingApp) -> str:
    return str(app.screen.query_one("#help-text", Static).render())


async def test_digit_keys_only_for_the_presets_the_risk_limits_allow() -> None:
    cfg = settings(**{"markets.ES.risk.max_order_qty": 3, "markets.ES.risk.max_position": 5})
    app = make_app(cfg)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot, app)
        assert app.presets == [1, 2, 3]  # 1, 2, 3, 5, 10 up to max_order_qty
        await pilot.press("3")
        assert app.qty == 3
        await pilot.press("4", "5", "9")  # not bound: nothing changes
        assert app.qty == 3
        await pilot.press("f1")
        shown = help_shown(app)
        assert "quantity 3" in shown and "[qty_3]" in shown
        assert "[qty_4]" not in shown and "[qty_9]" not in shown


async def test_the_default_presets_stop_at_the_default_order_limit() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        assert app.presets == [1, 2]
        await pilot.press("3", "a", "b")  # 3 is no key: the order is of the default 1
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 1, "long 1")
        assert app.qty == 1 and app.results[0].ok
