"""A broker that watches and never trades: the guard of a watch-only instance.

A watch-only screen (``tradeterm SYMBOL --watch-only``, every browser tab of ``tradeterm serve
--watch-only``) trades through :class:`WatchOnlyBroker`: market data, positions, orders and
executions come from the broker it wraps; every message that would place, change or cancel an
order is refused here, before it reaches the wire (:class:`WatchOnlyError`). Whatever asks (a
key, the command palette, the kill switch, the engine's own risk checks, a strategy), this is
the one door out of the process, so nothing a viewer does can trade.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

from tradeterm.broker.port import (
    Broker,
    BrokerError,
    BrokerEvent,
    ConnectionState,
    ContractMargin,
    ExecutionReport,
    OrderReport,
    PositionReport,
    Unsent,
)
from tradeterm.domain import Bar, Instrument, Order, OrderChange, Side

WATCH_ONLY = "watch-only: this instance sends no orders, changes and cancels"


class WatchOnlyError(BrokerError):
    """An order message a watch-only instance refused to send."""


class WatchOnlyBroker:
    """``broker`` for everything it tells; every order message refused (see the module)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    @property
    def state(self) -> ConnectionState:
        return self._broker.state

    @property
    def client_id(self) -> int | None:
        return self._broker.client_id

    @property
    def account(self) -> str | None:
        return self._broker.account

    def events(self) -> AsyncIterator[BrokerEvent]:
        return self._broker.events()

    async def start(self) -> None:
        await self._broker.start()

    async def stop(self) -> None:
        await self._broker.stop()

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        return await self._broker.resolve(symbol, roll_days=roll_days)

    def trading_hours(self, instrument: Instrument) -> tuple[str, str] | None:
        return self._broker.trading_hours(instrument)

    async def subscribe_market_data(self, instrument: Instrument) -> None:
        await self._broker.subscribe_market_data(instrument)

    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]:
        return await self._broker.history(instrument, minutes)

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin:
        """Not known: IB's answer is a what-if, an order message (placeOrder, whatIf=1), and
        a watch-only screen sends no order message of any kind."""
        return ContractMargin(None, None, instrument.currency, time.time_ns())

    def resubscribe_all(self) -> None:
        self._broker.resubscribe_all()

    def never_received(self, broker_id: int, client_id: int) -> bool:
        return self._broker.never_received(broker_id, client_id)

    def priority(self) -> AbstractContextManager[None]:
        return self._broker.priority()

    def drop_unsent(self) -> Unsent:
        return self._broker.drop_unsent()  # nothing was ever queued: nothing is dropped

    async def open_orders(self) -> list[OrderReport]:
        return await self._broker.open_orders()

    async def completed_orders(self) -> list[OrderReport]:
        return await self._broker.completed_orders()

    async def positions(self) -> list[PositionReport]:
        return await self._broker.positions()

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        return await self._broker.executions(since_ns)

    # ---- every order message: refused --------------------------------------------------

    def reserve_order_id(self) -> int:
        raise WatchOnlyError(WATCH_ONLY)

    async def place(self, order: Order, order_ref: str, *, transmit: bool = True,
                    parent_broker_id: int | None = None) -> int:  # fmt: skip
        raise WatchOnlyError(WATCH_ONLY)

    async def modify(self, order: Order, change: OrderChange, order_ref: str) -> None:
        raise WatchOnlyError(WATCH_ONLY)

    async def cancel(self, broker_id: int) -> None:
        raise WatchOnlyError(WATCH_ONLY)

    async def cancel_all_account_orders(self) -> None:
        raise WatchOnlyError(WATCH_ONLY)
