"""The paper broker: the broker port with our orders filled in-process by the fill model.

For SHADOW mode: market data come from a real source (the IB adapter, or any ``MarketSource``)
and pass through unchanged; orders never leave this process. Market events are forwarded to the
engine first, then fed to the ``FillModel``, and what it answers comes out as the events any
broker sends: ``OrderReport``, ``ExecutionReport``, ``CommissionEvent``, ``PositionReport``.
Order events the source itself sends (the real account's) are not ours and are dropped. The
real account's figures (``AccountValues``) pass through: a strategy in SHADOW sizes its
entries by the net liquidation of the account it shadows, as it would trading it live.

For a restart (``carry``): the position the journal's fills add up to is carried in, so the
engine's reconciliation finds it here rather than a flat account; the orders an earlier run
left working are reported cancelled with the reason (a paper order lives only as long as its
process: its queue position is gone with it), never adopted and never silently dropped; and
order ids continue above every id the journal has seen, so execution ids never repeat.

The instrument may be left for ``resolve`` to set (the runtime builds the broker before the
contract is known).

Native brackets work as at IB: held orders (``transmit=False``), child orders
(``parent_broker_id``) and OCA groups are linked by ``order_graph.OrderGraph`` (held until the
family transmits, children working once their parent has filled, the OCA sibling cancelled or
reduced, children cancelled with their parent). A restart ends a bracket's exits with the rest
of the earlier run's orders, and a position carried in is then unprotected: ``carry`` says so
with a warning notice, and never invents a stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tradeterm.broker.port import (
    AccountPnL,
    Broker,
    BrokerError,
    BrokerEvent,
    CancelRefusal,
    CancelRejected,
    CommissionEvent,
    ConnectionState,
    ContractMargin,
    DepthEvent,
    ExecutionReport,
    ModificationRefused,
    Notice,
    NoticeLevel,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
    Unsent,
)
from tradeterm.domain import (
    Bar,
    Fill,
    Instrument,
    Order,
    OrderChange,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from tradeterm.paper.fill_model import FillModel, PaperFill, PaperRejected
from tradeterm.paper.order_graph import Linked, OrderGraph, PaperResized

_ORDER_EVENTS = (OrderReport, ExecutionReport, CommissionEvent, PositionReport, AccountPnL)

ENDED_BY_RESTART = "a paper order ends with its process: cancelled at restart"
"""The reason an order an earlier run left working is reported cancelled with (``carry``)."""


def unprotected(quantity: int) -> str:
    """The warning for a paper position carried in at a restart (``carry``)."""
    return (
        f"paper position {quantity:+d} carried in without a protective stop: paper orders "
        "(a bracket's stop too) end with their process; place a stop or flatten"
    )


class EarlierOrder(Protocol):
    """An order an earlier run sent and never saw finished, as the journal keeps it (the
    engine's ``SentOrder`` is one)."""

    @property
    def order_id(self) -> str: ...
    @property
    def broker_id(self) -> int | None: ...
    @property
    def side(self) -> Side: ...
    @property
    def quantity(self) -> int: ...
    @property
    def order_type(self) -> OrderType: ...
    @property
    def limit(self) -> int | None: ...
    @property
    def stop(self) -> int | None: ...
    @property
    def tif(self) -> TimeInForce: ...


class MarketSource(Protocol):
    """Where the market comes from: the market-data half of the broker port."""

    @property
    def state(self) -> ConnectionState: ...

    def events(self) -> AsyncIterator[BrokerEvent]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument: ...

    def trading_hours(self, instrument: Instrument) -> tuple[str, str] | None: ...

    async def subscribe_market_data(self, instrument: Instrument) -> None: ...

    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]: ...

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin: ...

    def resubscribe_all(self) -> None: ...


@dataclass(slots=True, eq=False)
class _Paper:
    """One order as the paper broker reports it."""

    order: Order  # as placed (the engine's own object is not touched after ``place``)
    order_ref: str
    quantity: int
    limit: int | None
    stop: int | None
    parent: int = 0  # the parent's broker id, 0 for none (as IB's parentId)
    status: OrderStatus = OrderStatus.NEW  # until the model reports it (held: not yet)
    filled: int = 0
    cost: int = 0  # sum of quantity x price in ticks
    reason: str = ""  # why it ended, when not by the fill model (``carry``)


class PaperBroker:
    """The broker port over a ``FillModel``; see the module notes. ``clock`` gives UTC ns."""

    def __init__(self, source: MarketSource, instrument: Instrument | None, *,
                 clock: Callable[[], int] = time.time_ns,
                 commission_per_contract: Decimal = Decimal("2.25"),
                 protection_ticks: int = 40, account: str = "PAPER", client_id: int = 0,
                 first_id: int = 1) -> None:  # fmt: skip
        self.source = source
        self._instrument = instrument
        self.model = FillModel(protection_ticks=protection_ticks)
        self.graph = OrderGraph(self.model)
        self._clock = clock
        self._commission = commission_per_contract
        self._account = account
        self._client_id = client_id
        self._first_id = first_id
        self._next_id = first_id
        self._orders: dict[int, _Paper] = {}
        self._trailing: set[int] = set()  # the trailing stops placed, until they end
        self._held: Position | None = Position(instrument) if instrument is not None else None
        self._executions: list[ExecutionReport] = []
        self._queue: asyncio.Queue[BrokerEvent | None] = asyncio.Queue()
        self._pump: asyncio.Task[None] | None = None

    @property
    def instrument(self) -> Instrument:
        """The one contract this broker trades; a ``BrokerError`` before it is known."""
        if self._instrument is None:
            raise BrokerError("the paper broker's contract is not known yet")
        return self._instrument

    @property
    def _position(self) -> Position:
        if self._held is None:
            self._held = Position(self.instrument)
        return self._held

    def carry(self, fills: Iterable[Fill], earlier: Iterable[EarlierOrder], next_id: int) -> None:
        """Start from what earlier runs left (see the module notes): the position ``fills``
        add up to, the ``earlier`` orders reported cancelled (``ENDED_BY_RESTART``), order
        ids from ``next_id`` on (above every id the journal knows). A position carried in has
        no working order to protect it (its bracket's stop ended too): a warning says so."""
        for fill in fills:
            self._position.apply(fill.side, fill.quantity, fill.price)
        if self._position.quantity:
            self._queue.put_nowait(Notice(
                NoticeLevel.WARNING, unprotected(self._position.quantity), self._clock()
            ))  # fmt: skip
        for sent in earlier:
            if sent.broker_id is None or sent.broker_id in self._orders:
                continue
            order = Order(
                sent.order_id, self.instrument, sent.side, sent.quantity, sent.order_type,
                limit=sent.limit, stop=sent.stop, tif=sent.tif,
            )  # fmt: skip
            self._orders[sent.broker_id] = _Paper(
                order, sent.order_id, sent.quantity, sent.limit, sent.stop,
                status=OrderStatus.CANCELLED, reason=ENDED_BY_RESTART,
            )  # fmt: skip
        self._next_id = max(self._next_id, next_id)

    # ---- the connection: the source's ------------------------------------------------------

    @property
    def state(self) -> ConnectionState:
        return self.source.state

    @property
    def client_id(self) -> int | None:
        return self._client_id

    @property
    def account(self) -> str | None:
        return self._account

    async def events(self) -> AsyncIterator[BrokerEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def start(self) -> None:
        if self._pump is None or self._pump.done():  # a start tried again keeps its one pump
            self._pump = asyncio.create_task(self._run(), name="paper-broker-pump")
        await self.source.start()

    async def stop(self) -> None:
        await self.source.stop()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        self._queue.put_nowait(None)

    async def _run(self) -> None:
        async for event in self.source.events():
            self.on_source_event(event)

    def on_source_event(self, event: BrokerEvent) -> None:
        """One event from the market source: forwarded, then the fills it causes."""
        if isinstance(event, _ORDER_EVENTS):
            return  # the real account's: never ours in paper trading
        self._queue.put_nowait(event)
        if isinstance(event, QuoteEvent):
            self._report(self.graph.follow(self.model.on_quote(event.quote)))
        elif isinstance(event, DepthEvent):
            self._report(
                self.graph.follow(self.model.on_depth(event.ts_ns, event.bids, event.asks))
            )
        elif isinstance(event, TradeEvent):
            outcomes = self.model.on_trade(event.trade)
            self._trailed(event.trade.ts_ns)
            self._report(self.graph.follow(outcomes))

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        instrument = await self.source.resolve(symbol, roll_days=roll_days)
        if self._instrument is None:
            self._instrument = instrument
        return instrument

    def trading_hours(self, instrument: Instrument) -> tuple[str, str] | None:
        return self.source.trading_hours(instrument)

    async def subscribe_market_data(self, instrument: Instrument) -> None:
        await self.source.subscribe_market_data(instrument)

    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]:
        return await self.source.history(instrument, minutes)

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin:
        """Not known: IB's answer is a what-if, an order message (placeOrder, whatIf=1), and
        SHADOW sends no order message to IB at all."""
        return ContractMargin(None, None, instrument.currency, self._clock())

    def resubscribe_all(self) -> None:
        self.source.resubscribe_all()

    # ---- orders ----------------------------------------------------------------------------

    def reserve_order_id(self) -> int:
        broker_id = self._next_id
        self._next_id += 1
        return broker_id

    def never_received(self, broker_id: int, client_id: int) -> bool:
        """Paper orders live in this process: one never placed here was never received."""
        return broker_id not in self._orders

    async def place(self, order: Order, order_ref: str, *, transmit: bool = True,
                    parent_broker_id: int | None = None) -> int:  # fmt: skip
        if order.instrument != self.instrument:
            raise BrokerError(f"the paper broker trades {self.instrument}, not {order.instrument}")
        broker_id = order.broker_id if order.broker_id is not None else self.reserve_order_id()
        if broker_id in self._orders:
            raise BrokerError(f"order id {broker_id} is already in use")
        try:
            outcomes = self.graph.place(
                broker_id, order.side, order.quantity, order.order_type,
                limit=order.limit, stop=order.stop, ts_ns=self._clock(),
                parent=parent_broker_id, oca=order.oca_group or "", transmit=transmit,
                trail=order.trail,
            )  # fmt: skip
        except PaperRejected as exc:
            raise BrokerError(f"paper: {exc}") from None
        self._orders[broker_id] = _Paper(
            order, order_ref, order.quantity, order.limit, order.stop, parent_broker_id or 0
        )
        if order.trail is not None:
            self._trailing.add(broker_id)
        self._report(outcomes)
        return broker_id

    async def modify(self, order: Order, change: OrderChange, order_ref: str) -> None:
        broker_id = order.broker_id
        paper = self._orders.get(broker_id) if broker_id is not None else None
        now = self._clock()
        if broker_id is None or paper is None or paper.status.is_terminal:
            self._refuse_change(broker_id or 0, "the order is not working", now)
            return
        try:
            outcomes = self.model.modify(
                broker_id, quantity=change.quantity, limit=change.limit, stop=change.stop,
                ts_ns=now,
            )  # fmt: skip
        except PaperRejected as exc:
            self._refuse_change(broker_id, str(exc), now)
            return
        paper.quantity = change.quantity or paper.quantity
        paper.limit = change.limit if change.limit is not None else paper.limit
        paper.stop = change.stop if change.stop is not None else paper.stop
        self._queue.put_nowait(self._order_report(broker_id, now))
        self._report(self.graph.follow(outcomes))

    async def cancel(self, broker_id: int) -> None:
        now = self._clock()
        outcomes = self.graph.cancel(broker_id, ts_ns=now)
        if outcomes:
            self._report(outcomes)
            return
        kind = CancelRefusal.ALREADY_DONE if broker_id in self._orders else CancelRefusal.NOT_FOUND
        self._queue.put_nowait(CancelRejected(
            NoticeLevel.WARNING, f"paper: cannot cancel order {broker_id} ({kind})", now,
            broker_id=broker_id, reason=str(kind), kind=kind,
        ))  # fmt: skip

    @contextlib.contextmanager
    def priority(self) -> Iterator[None]:
        yield  # nothing queues behind a message rate here

    def drop_unsent(self) -> Unsent:
        return Unsent()  # every command is carried out at once

    async def cancel_all_account_orders(self) -> None:
        for broker_id in self.model.working_keys():
            if self.model.working(broker_id) is not None:  # not ended with its parent meanwhile
                await self.cancel(broker_id)

    async def open_orders(self) -> list[OrderReport]:
        now = self._clock()
        return [self._order_report(k, now) for k, p in self._orders.items() if p.status.is_open]

    async def completed_orders(self) -> list[OrderReport]:
        now = self._clock()
        return [self._order_report(k, now) for k, p in self._orders.items() if p.status.is_terminal]

    async def positions(self) -> list[PositionReport]:
        return [self._position_report(self._clock())]

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        return [e for e in self._executions if since_ns is None or e.ts_ns >= since_ns]

    # ---- reports ---------------------------------------------------------------------------

    def _report(self, outcomes: list[Linked]) -> None:
        """The model's outcomes as broker events, in the order IB sends them."""
        for outcome in outcomes:
            paper = self._orders[outcome.key]
            if isinstance(outcome, PaperFill):
                self._execution(outcome, paper)
                continue
            if isinstance(outcome, PaperResized):
                paper.quantity = outcome.quantity
                self._queue.put_nowait(self._order_report(outcome.key, outcome.ts_ns))
                continue
            paper.status = outcome.status
            self._queue.put_nowait(self._order_report(outcome.key, outcome.ts_ns, outcome.reason))
            if outcome.status is OrderStatus.FILLED:
                self._queue.put_nowait(self._position_report(outcome.ts_ns))

    def _trailed(self, ts_ns: int) -> None:
        """Each trailing stop the model moved is reported at its new price, as IB reports
        a TRAIL order's ``trailStopPrice``."""
        for broker_id in list(self._trailing):
            paper, working = self._orders[broker_id], self.model.working(broker_id)
            if working is None:
                self._trailing.discard(broker_id)
            elif working.price is None and working.stop != paper.stop:
                paper.stop = working.stop
                self._queue.put_nowait(self._order_report(broker_id, ts_ns))

    def _execution(self, fill: PaperFill, paper: _Paper) -> None:
        paper.filled += fill.quantity
        paper.cost += fill.quantity * fill.price
        realized = self._position.apply(fill.side, fill.quantity, fill.price)
        exec_id = f"paper.{fill.key}.{len(self._executions) + 1}"
        report = ExecutionReport(
            exec_id, fill.key, fill.key, self._client_id, paper.order_ref, self.instrument,
            fill.side, fill.quantity, fill.price, fill.ts_ns, historical=False,
        )  # fmt: skip
        self._executions.append(report)
        self._queue.put_nowait(report)
        commission = self._commission * fill.quantity
        self._queue.put_nowait(
            CommissionEvent(exec_id, commission, self.instrument.money(realized) - commission)
        )
        if fill.remaining:  # the last fill's status comes with the model's FILLED
            self._queue.put_nowait(self._order_report(fill.key, fill.ts_ns))
            self._queue.put_nowait(self._position_report(fill.ts_ns))

    def _order_report(self, broker_id: int, ts_ns: int, reason: str = "") -> OrderReport:
        p = self._orders[broker_id]
        reason = reason or p.reason
        o = p.order
        avg = Decimal(p.cost) / p.filled * self.instrument.tick if p.filled else None
        return OrderReport(
            broker_id=broker_id,
            perm_id=broker_id,
            client_id=self._client_id,
            order_ref=p.order_ref,
            instrument=self.instrument,
            side=o.side,
            quantity=p.quantity,
            order_type=str(o.order_type),
            limit=p.limit,
            stop=p.stop,
            trail=o.trail,
            tif=str(o.tif),
            status=p.status,
            filled=p.filled,
            remaining=0 if p.status.is_terminal else p.quantity - p.filled,
            avg_fill_price=avg,
            parent_id=p.parent,
            oca_group=o.oca_group or "",
            ts_ns=ts_ns,
            reason=reason,
        )

    def _position_report(self, ts_ns: int) -> PositionReport:
        pos = self._position
        avg = pos.avg_price
        cost = Decimal(0)
        if avg is not None:
            price = Decimal(avg.numerator) / Decimal(avg.denominator) * self.instrument.tick
            cost = price * self.instrument.multiplier
        return PositionReport(
            self.instrument, self.instrument.con_id or 0, self._account, pos.quantity, cost, ts_ns
        )

    def _refuse_change(self, broker_id: int, reason: str, ts_ns: int) -> None:
        self._queue.put_nowait(ModificationRefused(
            NoticeLevel.WARNING, f"paper: modification of order {broker_id} refused: {reason}",
            ts_ns, broker_id=broker_id, reason=reason,
        ))  # fmt: skip


def _conforms(source: MarketSource, instrument: Instrument) -> Broker:
    """mypy checks here that PaperBroker implements the broker port."""
    return PaperBroker(source, instrument)
