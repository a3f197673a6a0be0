"""An in-memory broker for unit tests of the engine: no sockets, no matching.

It implements the ``Broker`` protocol of :mod:`tradeterm.broker.port` and does nothing on its
own: it records the commands it is given (``placed``, ``modified``, ``cancelled``,
``global_cancels``), hands out increasing broker ids, returns whatever a test put in
``open_order_reports`` / ``completed_order_reports`` / ``position_reports`` /
``execution_reports``, proves "never received" for the ids in ``never_got``, and delivers the
events a test ``push``-es, in order. ``fail`` makes a command raise ``BrokerError``.
``queued`` holds what a test says is still waiting to be sent (``drop_unsent`` empties it);
``urgent`` records which commands were given inside ``priority``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from tradeterm.broker.port import (
    Broker,
    BrokerError,
    BrokerEvent,
    ConnectionChanged,
    ConnectionState,
    ContractMargin,
    ExecutionReport,
    OrderReport,
    PositionReport,
    Unsent,
)
from tradeterm.domain import Bar, Instrument, Order, OrderChange, OrderType, Side


@dataclass(frozen=True, slots=True)
class Placed:
    """One ``place`` call, with the order as it was when sent (``Order`` is mutable)."""

    broker_id: int
    order_ref: str
    client_order_id: str
    side: Side
    quantity: int
    order_type: OrderType
    limit: int | None
    stop: int | None
    tif: str
    parent_id: str | None
    oca_group: str | None
    transmit: bool
    parent_broker_id: int | None


@dataclass(frozen=True, slots=True)
class Modified:
    broker_id: int | None
    order_ref: str
    change: OrderChange


class FakeBroker:
    """See the module notes. ``first_id`` is the first broker id ``place`` returns."""

    def __init__(
        self,
        instrument: Instrument,
        *,
        client_id: int = 1,
        account: str = "DU1234567",
        first_id: int = 100,
    ) -> None:
        self.instrument = instrument
        self._client_id = client_id
        self._account = account
        self._state = ConnectionState.DISCONNECTED
        self._queue: asyncio.Queue[BrokerEvent | None] = asyncio.Queue()
        self._next_id = first_id
        self._failures: dict[str, list[tuple[int, str]]] = {}
        self._calls: dict[str, int] = {}
        # what the test reads
        self.placed: list[Placed] = []
        self.modified: list[Modified] = []
        self.cancelled: list[int] = []
        self.global_cancels = 0
        self.subscribed: list[Instrument] = []
        self.resubscribes = 0  # resubscribe_all calls
        self.executions_since: list[int | None] = []
        # what the test sets
        self.open_order_reports: list[OrderReport] = []
        self.position_reports: list[PositionReport] = []
        self.execution_reports: list[ExecutionReport] = []
        self.history_bars: list[Bar] = []
        self.margin = ContractMargin(None, None, "USD", 0)  # what contract_margin answers
        self.margin_asked: list[Side] = []
        self.completed_order_reports: list[OrderReport] = []
        self.never_got: set[int] = set()  # ids the broker proves it never received
        self.reserved: set[int] = set()
        self.hours: tuple[str, str] | None = None  # (tradingHours, timeZoneId) to report
        self.queued = Unsent()  # order messages still waiting to be sent
        self.urgent: list[str] = []  # the commands given inside ``priority``
        self._priority = 0

    # ---- test controls -------------------------------------------------------------------

    def push(self, *events: BrokerEvent) -> None:
        """Queue events for ``events()``, in order."""
        for event in events:
            self._queue.put_nowait(event)

    def set_state(self, state: ConnectionState, reason: str = "", ts_ns: int = 0) -> None:
        """Change the connection state and report it, as the real adapter does."""
        self._state = state
        self.push(ConnectionChanged(state, reason or state.lower(), ts_ns))

    def fail(self, method: str, message: str = "refused", *, after: int = 0) -> None:
        """The call of ``method`` that follows ``after`` more successful ones raises
        ``BrokerError(message)`` (once)."""
        done = self._calls.get(method, 0)
        self._failures.setdefault(method, []).append((done + after, message))

    def _enter(self, method: str) -> None:
        if self._priority:
            self.urgent.append(method)
        n = self._calls.get(method, 0)
        self._calls[method] = n + 1
        pending = self._failures.get(method, [])
        for i, (at, message) in enumerate(pending):
            if at == n:
                del pending[i]
                raise BrokerError(message)

    # ---- the protocol --------------------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def client_id(self) -> int | None:
        return self._client_id

    @property
    def account(self) -> str | None:
        return self._account

    async def events(self) -> AsyncIterator[BrokerEvent]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def start(self) -> None:
        self._enter("start")
        self.set_state(ConnectionState.OK, "connected")
        await asyncio.sleep(0)

    async def stop(self) -> None:
        self._state = ConnectionState.DISCONNECTED
        self._queue.put_nowait(None)

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        self._enter("resolve")
        return self.instrument

    def trading_hours(self, instrument: Instrument) -> tuple[str, str] | None:
        return self.hours

    async def subscribe_market_data(self, instrument: Instrument) -> None:
        self._enter("subscribe_market_data")
        self.subscribed.append(instrument)

    def resubscribe_all(self) -> None:
        self.resubscribes += 1

    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]:
        self._enter("history")
        return list(self.history_bars)

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin:
        self._enter("contract_margin")
        self.margin_asked.append(side)
        return self.margin

    def reserve_order_id(self) -> int:
        self._enter("reserve_order_id")
        broker_id = self._next_id
        self._next_id += 1
        self.reserved.add(broker_id)
        return broker_id

    def never_received(self, broker_id: int, client_id: int) -> bool:
        return broker_id in self.never_got

    async def place(self, order: Order, order_ref: str, *, transmit: bool = True,
                    parent_broker_id: int | None = None) -> int:  # fmt: skip
        self._enter("place")
        if order.broker_id is None:
            order.broker_id = self.reserve_order_id()
        broker_id = order.broker_id
        sent = Placed(
            broker_id, order_ref, order.client_id, order.side, order.quantity,
            order.order_type, order.limit, order.stop, str(order.tif), order.parent_id,
            order.oca_group, transmit, parent_broker_id,
        )  # fmt: skip
        self.placed.append(sent)
        return broker_id

    async def modify(self, order: Order, change: OrderChange, order_ref: str) -> None:
        self._enter("modify")
        self.modified.append(Modified(order.broker_id, order_ref, change))

    async def cancel(self, broker_id: int) -> None:
        self._enter("cancel")
        self.cancelled.append(broker_id)

    @contextlib.contextmanager
    def priority(self) -> Iterator[None]:
        self._priority += 1
        try:
            yield
        finally:
            self._priority -= 1

    def drop_unsent(self) -> Unsent:
        dropped, self.queued = self.queued, Unsent()
        return dropped

    async def cancel_all_account_orders(self) -> None:
        self._enter("cancel_all_account_orders")
        self.global_cancels += 1

    async def open_orders(self) -> list[OrderReport]:
        self._enter("open_orders")
        return list(self.open_order_reports)

    async def completed_orders(self) -> list[OrderReport]:
        self._enter("completed_orders")
        return list(self.completed_order_reports)

    async def positions(self) -> list[PositionReport]:
        self._enter("positions")
        return list(self.position_reports)

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        self._enter("executions")
        self.executions_since.append(since_ns)
        return [r for r in self.execution_reports if since_ns is None or r.ts_ns >= since_ns]


def _conforms(instrument: Instrument) -> Broker:
    """mypy checks here that FakeBroker implements the protocol."""
    return FakeBroker(instrument)
