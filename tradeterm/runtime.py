"""One way to bring up an instance: the gateway (SIM), the broker, the engine.

The console, the trading screen and the tests all start an instance through :func:`open_runtime`,
so what a mode means (SIM embeds the fake gateway; PAPER connects to 4002; LIVE to 4001) is
decided in one place::

    async with open_runtime(settings, seed=1) as rt:
        await rt.engine.start()
        ...

Leaving the block stops the engine, then the embedded gateway.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from tradeterm.config import Settings
from tradeterm.engine.engine import Engine


class ModeError(Exception):
    """A mode or connection problem the user must fix, worded for them."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    host: str
    port: int
    gateway: Any | None = None  # the embedded FakeGateway in SIM mode

    @property
    def mode(self) -> str:
        return self.settings.mode

    def describe(self) -> str:
        return f"{self.settings.symbol} in {self.mode.upper()} mode via {self.host}:{self.port}"


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, seed: int = 1, gateway_rate: float | None = None
) -> AsyncIterator[Runtime]:
    """Build (not start) the engine for ``settings``; SIM without a port starts the embedded
    fake gateway first. Raises :class:`ModeError` for a mode this build cannot run."""
    from tradeterm.broker.ib import IbBroker

    mode = settings.mode
    if mode == "shadow":
        raise ModeError("SHADOW mode is not built yet; use --sim or --paper")
    gateway = None
    port = settings.port()
    host = settings.connection.host
    if mode == "sim" and port is None:
        from tradeterm.sim.gateway.app import FakeGateway, GatewayConfig

        config = GatewayConfig(port=0, symbols=(settings.symbol,), seed=seed)
        if gateway_rate is not None:
            config.rate = gateway_rate
        gateway = FakeGateway(config)
        await gateway.start()
        host, port = gateway.config.host, gateway.config.port
    assert port is not None
    try:
        connection = settings.connection.model_copy(update={"host": host})
        broker = IbBroker(connection, port=port)
        engine = Engine(broker, settings.symbol, settings.market())
        try:
            yield Runtime(settings, engine, host, port, gateway)
        finally:
            await engine.stop()
    finally:
        if gateway is not None:
            await gateway.stop()
