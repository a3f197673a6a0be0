"""IbBroker test helpers shared by the broker and engine integration tests: an event
recorder, the connection settings the tests use (fast timeouts and reconnects), and the
``make`` fixture (a started IbBroker with its recorder, stopped after the test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import pytest

from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import BrokerEvent, ConnectionChanged, ConnectionState
from tradeterm.config import ConnectionConfig
from tradeterm.sim.gateway.fake_gateway import FakeGateway

E = TypeVar("E")


class Recorder:
    """Drains the broker's event stream into a list."""

    def __init__(self, broker: IbBroker) -> None:
        self.events: list[BrokerEvent] = []
        self._task = asyncio.ensure_future(self._run(broker))

    async def _run(self, broker: IbBroker) -> None:
        async for event in broker.events():
            self.events.append(event)

    def of(self, kind: type[E], start: int = 0) -> list[E]:
        return [e for e in self.events[start:] if isinstance(e, kind)]

    def states(self, start: int = 0) -> list[ConnectionState]:
        return [e.state for e in self.of(ConnectionChanged, start)]

    def mark(self) -> int:
        return len(self.events)

    def stop(self) -> None:
        self._task.cancel()


def cfg(**kw: Any) -> ConnectionConfig:
    base: dict[str, Any] = dict(
        client_id=1, connect_timeout_s=3, request_timeout_s=5, reconnect_min_s=0.1,
        reconnect_max_s=0.4,
    )  # fmt: skip
    base.update(kw)
    return ConnectionConfig(**base)


Make = Callable[..., Any]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    made: list[tuple[IbBroker, Recorder]] = []

    async def _make(gateway: FakeGateway, **kw: Any) -> tuple[IbBroker, Recorder]:
        broker = IbBroker(cfg(**kw), port=gateway.config.port)
        rec = Recorder(broker)
        made.append((broker, rec))
        await broker.start()
        return broker, rec

    yield _make
    for broker, rec in made:
        await broker.stop()
        rec.stop()
