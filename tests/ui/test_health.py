"""What the screen says about the connection is true: SYNCING until the engine has reconciled
(OK only when orders can go), the connection never called LIVE, DEGRADED with its cause even
at 80x24."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from tests.support.waiting import until
from tests.ui.helpers import gateway, make_app, ready, settings, settle, still_opener
from tradeterm.runtime import Runtime
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel


def status_bar(app: TradingApp) -> Panel:
    main = app.screen_stack[1]
    return main.query_one("#status", Panel)


def visible(panel: Panel) -> str:
    """The status bar as drawn: what fits its width (the rest is cut with an ellipsis)."""
    return panel.shown[: panel.size.width - 1]


async def test_the_status_bar_says_syncing_until_the_engine_has_reconciled() -> None:
    """IB connected but the start's reconciliation not done: the screen says SYNCING and the
    keys say so; 'IB OK' appears only when the first press of a arms."""
    cfg = settings()
    release = asyncio.Event()
    inner = still_opener(cfg)

    @contextlib.asynccontextmanager
    async def held_reconciliation() -> AsyncIterator[Runtime]:
        async with inner() as rt:
            broker = rt.engine.broker
            open_orders = broker.open_orders

            async def held() -> Any:  # the start's reconciliation waits for the test
                await release.wait()
                return await open_orders()

            broker.open_orders = held
            yield rt

    app = TradingApp(cfg, opener=held_reconciliation)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            await until(lambda: app.engine is not None and app.engine.broker.state == "OK",
                        "IB connected")  # fmt: skip
            bar = status_bar(app)
            await settle(pilot, app, lambda: "IB SYNCING" in bar.shown, "SYNCING shown")
            await pilot.pause(0.3)
            assert "IB OK" not in bar.shown and not app.started.is_set()
            await pilot.press("a")
            assert not app.armed  # "not connected yet": and the screen did not say otherwise
        finally:
            release.set()  # a failure must not leave the start hanging
        await settle(pilot, app, lambda: "IB OK" in bar.shown, "IB OK in the status bar")
        await pilot.press("a")  # the first press arms: OK means orders can go
        assert app.armed and "ARMED" in bar.shown


async def test_degraded_says_why_at_80x24() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        bar = status_bar(app)
        outage = asyncio.create_task(gateway(app).faults.farm_outage(30))
        try:
            await settle(pilot, app, lambda: "DEGRADED" in bar.shown, "DEGRADED")
            assert "DEGRADED data farm down" in visible(bar), visible(bar)
        finally:
            outage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await outage


async def test_a_live_session_says_live_once_the_connection_is_ib_ok() -> None:
    """LIVE is the trading mode; the connection is 'IB OK', so 'LIVE ... LIVE' never shows."""
    app = make_app(settings(mode="live"))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        bar = status_bar(app)
        # the status bar repaints at its own rate: SYNCING may still show just after start
        await settle(pilot, app, lambda: "UNCONFIRMED" in bar.shown and "IB OK" in bar.shown,
                     "the LIVE status bar, connected")  # fmt: skip
        assert bar.shown.count("LIVE") == 1, bar.shown
