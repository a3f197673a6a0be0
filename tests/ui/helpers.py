"""Helpers for the trading-screen tests: the real app on a still fake gateway (seed 7, no
synthetic events, tests move prices themselves), started on the app's own event loop."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from textual.pilot import Pilot

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import (
    TODAY,
    always_open,
    gateway_position,
    working_at_gateway,
)
from tests.support.waiting import until
from tradeterm.broker.ib import IbBroker
from tradeterm.config import Settings, load_settings
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.engine import Engine
from tradeterm.runtime import Runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.oms import SimOrder
from tradeterm.strategies import Loaded
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import KillScreen, TypedScreen
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.ladder import Ladder

__all__ = ["Market", "gateway_position", "working_at_gateway"]

FIXED_NS = 1_795_190_400_000_000_000  # 2026-11-20 10:00 CT: the status bar's clock in tests


def settings(**cli: Any) -> Settings:
    return load_settings(None, cli).settings


def still_opener(
    settings: Settings,
    *,
    rate: float = 0.0,
    seed: int = 7,
    calendar: SessionCalendar | None = None,
    engine_clock: Callable[[], int] | None = None,
    symbols: tuple[str, ...] = ("ES",),
    master_client_id: int = 99,
) -> Callable[..., Any]:
    """Open a runtime on a fake gateway started inside the app's loop, with ``calendar`` or
    else one open for the whole test (the real one is closed at weekends), and the engine on
    ``engine_clock`` when given (a test clock: feed ages, the session); the gateway quotes
    ``symbols`` and shows every client's orders to ``master_client_id`` too."""

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        gw = FakeGateway(GatewayConfig(
            port=0, rate=rate, seed=seed, today=TODAY, master_client_id=master_client_id,
            symbols=symbols,
        ))  # fmt: skip
        await gw.start()
        try:
            connection = settings.connection.model_copy(
                update={"host": gw.config.host, "client_id": settings.client_id()}
            )
            broker = IbBroker(connection, port=gw.config.port)
            engine = Engine(
                broker, settings.symbol, settings.market(),
                calendar=calendar or always_open(), timer_s=0.05,
                clock=engine_clock or time.time_ns,
            )  # fmt: skip
            try:
                yield Runtime(settings, engine, gw.config.host, gw.config.port, gw)
            finally:
                await engine.stop()
        finally:
            await gw.stop()

    return opener


def make_app(
    cfg: Settings | None = None,
    *,
    theme: str | None = None,
    rate: float = 0.0,
    fixed_clock: bool = False,
    clock: Callable[[], int] | None = None,
    calendar: SessionCalendar | None = None,
    engine_clock: Callable[[], int] | None = None,
    strategy: Loaded | None = None,
    watch_only: bool = False,
    **gateway_kw: Any,
) -> TradingApp:
    """The app on a still fake gateway; the screen's clock fixed at ``FIXED_NS`` or given
    (``clock``), the engine's calendar given or open for the whole test, the engine's clock
    given (``engine_clock``) or the real one; ``strategy`` as ``--strategy`` gives it;
    ``watch_only``: the screen's watch-only gate (on the gateway's ordinary broker);
    ``gateway_kw``: ``symbols`` and ``master_client_id`` of the gateway (``still_opener``)."""
    cfg = cfg or settings()
    chosen, themes = select_theme(theme or cfg.ui.theme)
    clock = (lambda: FIXED_NS) if fixed_clock else clock
    kw: dict[str, Any] = {"clock": clock} if clock else {}
    opener = still_opener(cfg, rate=rate, calendar=calendar, engine_clock=engine_clock,
                          **gateway_kw)  # fmt: skip
    return TradingApp(cfg, theme=chosen, themes=themes, opener=opener, strategy=strategy,
                      watch_only=watch_only, **kw)  # fmt: skip


def gateway(app: TradingApp) -> FakeGateway:
    assert app.runtime is not None and app.runtime.gateway is not None
    gw = app.runtime.gateway
    assert isinstance(gw, FakeGateway)
    return gw


def ladder(app: TradingApp) -> Ladder:
    return (
        app.screen_stack[1].query_one(Ladder)
        if len(app.screen_stack) > 1
        else app.screen.query_one(Ladder)
    )


async def ready(pilot: Pilot[Any], app: TradingApp) -> Market:
    """The engine started and the ladder painted; returns the gateway's ES market."""
    await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
    assert app.startup_error is None, app.startup_error

    def painted() -> bool:
        data = ladder(app).data
        return data is not None and data.best_bid is not None

    await until(painted, "a painted ladder")
    await pilot.pause()
    return Market(gateway(app))


async def book_shown(app: TradingApp) -> tuple[int | None, int | None]:
    """Started, and the ladder's best bid and ask once both show (a replay's recorded book)."""
    await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
    assert app.startup_error is None, app.startup_error

    def both() -> bool:
        data = ladder(app).data
        return data is not None and data.best_bid is not None and data.best_ask is not None

    await until(both, "the recorded book on the ladder")
    data = ladder(app).data
    assert data is not None
    return data.best_bid, data.best_ask


def resting_at_gateway(gw: FakeGateway) -> list[int]:
    """The matching engines' resting client orders (their perm ids; synthetic depth has none)."""
    keys = [k for f in gw.market.feeds.values() for k in f.engine.working_keys()]
    return [k for k in keys if isinstance(k, int)]


async def settle(
    pilot: Pilot[Any], app: TradingApp, predicate: Callable[[], object], what: str
) -> None:
    """Wait for ``predicate`` (orders to reach the gateway, a screen to update)."""
    await until(predicate, what)
    await pilot.pause()


async def long_one(pilot: Pilot[Any], app: TradingApp) -> Market:
    """Ready, armed, bought 1 at market, and long 1 at the gateway; returns the market."""
    market = await ready(pilot, app)
    await pilot.press("a", "b")
    await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 1, "long 1")
    return market


def own_working(app: TradingApp) -> list[SimOrder]:
    return [o for o in working_at_gateway(gateway(app)) if o.client_id == app.settings.client_id()]


async def halted(pilot: Pilot[Any], app: TradingApp, key: str = "ctrl+k") -> KillScreen:
    """The kill switch pressed (``key``) and finished: trading HALTED, its dialog on top."""
    await pilot.press(key)
    kill = app.screen
    assert isinstance(kill, KillScreen)
    await settle(pilot, app, lambda: kill.done is not None, "the kill switch to finish")
    return kill


async def rearm_dialog(pilot: Pilot[Any], app: TradingApp) -> TypedScreen:
    """HALTED by the kill switch, its dialog closed and the re-arm dialog asked for (a)."""
    await halted(pilot, app)
    await pilot.press("escape", "a")
    dialog = app.screen
    assert isinstance(dialog, TypedScreen)
    return dialog
