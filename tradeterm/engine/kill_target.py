"""The engine as the kill switch sees it: :class:`~tradeterm.engine.kill.KillTarget` made of
the engine's parts (the trading core, the connection, the reconciliation), so the kill switch
never knows the Engine class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager

from tradeterm.broker.port import Broker
from tradeterm.engine.connectivity import Connectivity
from tradeterm.engine.core import TradingCore
from tradeterm.engine.events import EngineEvent, KillProgress
from tradeterm.engine.order_manager import OrderManager
from tradeterm.engine.reconcile import Reconciler
from tradeterm.engine.types import TradingState


class EngineKillTarget:
    """See the module notes. ``core``: None before the contract is known; ``publish``,
    ``wait_order_change``, ``wait_started`` and ``halt_before_start`` (its trading state's
    halt, kept as the state to start in): the engine's."""

    def __init__(
        self,
        core: Callable[[], TradingCore | None],
        broker: Broker,
        connectivity: Connectivity,
        reconciler: Reconciler,
        *,
        clock: Callable[[], int],
        publish: Callable[[EngineEvent], None],
        wait_order_change: Callable[[float], Awaitable[None]],
        wait_started: Callable[[], Awaitable[object]],
        halt_before_start: Callable[[str], None],
    ) -> None:
        self._core = core
        self._broker = broker
        self._connectivity = connectivity
        self._reconciler = reconciler
        self._clock = clock
        self._publish = publish
        self._wait_order_change = wait_order_change
        self._wait_started = wait_started
        self._halt_before_start = halt_before_start

    @property
    def orders(self) -> OrderManager | None:
        core = self._core()
        return core.orders if core is not None else None

    @property
    def position(self) -> int:
        core = self._core()
        return core.portfolio.position.quantity if core is not None else 0

    @property
    def connected(self) -> bool:
        return self._connectivity.link.connected

    def now(self) -> int:
        return self._clock()

    def publish(self, progress: KillProgress) -> None:
        self._publish(progress)

    def priority(self) -> AbstractContextManager[None]:
        return self._broker.priority()

    async def wait_connected(self) -> None:
        await self._connectivity.wait_connected()

    async def wait_order_change(self, timeout_s: float) -> None:
        await self._wait_order_change(timeout_s)

    async def wait_started(self) -> None:
        await self._wait_started()

    async def sync(self) -> None:
        core = self._core()
        if self._reconciler.needs_reconcile and core is not None:
            await self._reconciler.reconcile(core, "kill switch")

    async def broker_truth(self) -> int:
        core = self._core()
        assert core is not None
        return await self._reconciler.broker_truth(core)

    def reduce(self, reason: str) -> None:
        core = self._core()
        if core is not None:
            core.risk.reduce(reason)

    def halt(self, reason: str) -> bool:
        core = self._core()
        if core is None:  # the engine starts HALTED (and the halt latch has it now)
            self._halt_before_start(reason)
            return True
        core.risk.halt(reason)
        return core.risk.state is TradingState.HALTED
