"""Shared fixtures for tests that drive the real ib_async client against the fake gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from ib_async import IB

from tests.integration.broker_helpers import make  # noqa: F401 (fixture)
from tests.integration.engine_helpers import make_engine, moving, still  # noqa: F401 (fixtures)
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.protocol.server import GatewayServer


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayServer]:
    """A fake IB Gateway listening on a free 127.0.0.1 port, stopped after the test."""
    server = GatewayServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def connect(gateway: GatewayServer) -> AsyncIterator[Callable[..., Awaitable[IB]]]:
    """``await connect(client_id=1, **connectAsync_kwargs)`` -> a synced ``IB``;
    every client is disconnected after the test."""
    clients: list[IB] = []

    async def _connect(client_id: int = 1, **kwargs: Any) -> IB:
        ib = IB()
        clients.append(ib)
        await ib.connectAsync(gateway.host, gateway.port, clientId=client_id, **kwargs)
        return ib

    yield _connect
    for ib in clients:
        ib.disconnect()


@pytest.fixture
async def fake_gateway() -> AsyncIterator[FakeGateway]:
    """The assembled fake gateway on a free port: a still market (the opening ES book and no
    synthetic events after it, so tests move prices themselves) and master client id 99."""
    gw = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, master_client_id=99))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def fake_connect(fake_gateway: FakeGateway) -> AsyncIterator[Callable[..., Awaitable[IB]]]:
    """``await fake_connect(client_id=1, **connectAsync_kwargs)`` -> an ``IB`` synced with
    ``fake_gateway``; every client is disconnected after the test."""
    clients: list[IB] = []

    async def _connect(client_id: int = 1, **kwargs: Any) -> IB:
        ib = IB()
        clients.append(ib)
        cfg = fake_gateway.config
        await ib.connectAsync(cfg.host, cfg.port, clientId=client_id, **kwargs)
        return ib

    yield _connect
    for ib in clients:
        ib.disconnect()


@pytest.fixture
async def start_gateway() -> AsyncIterator[Callable[..., Awaitable[FakeGateway]]]:
    """``await start_gateway(rate=500, faults="...")`` -> a started ``FakeGateway`` on a free
    port (seed 7 unless given; any ``GatewayConfig`` field); every one is stopped after the test."""
    gateways: list[FakeGateway] = []

    async def _start(**config: Any) -> FakeGateway:
        gw = FakeGateway(GatewayConfig(**{"port": 0, "seed": 7, **config}))
        gateways.append(gw)
        await gw.start()
        return gw

    yield _start
    for gw in gateways:
        await gw.stop()


@pytest.fixture
async def connect_to(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
) -> AsyncIterator[Callable[..., Awaitable[IB]]]:
    """``await connect_to(gateway, client_id=1, ib=None, **connectAsync_kwargs)`` -> a synced
    ``IB`` (pass ``ib`` to watch its events from the handshake on); every client is
    disconnected after the test, before its gateway stops."""
    clients: list[IB] = []

    async def _connect(
        gw: FakeGateway, client_id: int = 1, ib: IB | None = None, **kwargs: Any
    ) -> IB:
        ib = ib or IB()
        clients.append(ib)
        await ib.connectAsync(gw.config.host, gw.config.port, clientId=client_id, **kwargs)
        return ib

    yield _connect
    for ib in clients:
        ib.disconnect()
