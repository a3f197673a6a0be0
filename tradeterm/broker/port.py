"""The broker as the engine sees it: a protocol of async commands and a stream of plain events.

Only :mod:`tradeterm.broker.ib` touches ib_async; it turns IB's objects into the events below
(prices already integer ticks of the instrument, times UTC nanoseconds, money ``Decimal``) and
turns the engine's domain orders into IB orders. A paper broker for SHADOW mode and backtests
implements the same protocol, so the engine runs the same way on either.

Events are delivered in order to one consumer (the engine) through
:meth:`Broker.events`, an async iterator; they are small frozen slotted dataclasses, in
trading terms: what the broker says about its link, its data farm and our orders comes as a
:class:`Notice` (only shown) or one of its subclasses (``LinkLost``, ``CancelRejected``...),
never as a broker's error number to interpret (IB's are translated in
:mod:`tradeterm.broker.ib.codes`).
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from tradeterm.domain import (
    Bar,
    DepthLevel,
    Instrument,
    Order,
    OrderChange,
    OrderStatus,
    Quote,
    Side,
    Trade,
)


class ConnectionState(enum.StrEnum):
    """One state machine for the broker connection (see ``tradeterm.broker.ib``)."""

    CONNECTING = "CONNECTING"  # opening the socket / API handshake
    SYNCING = "SYNCING"  # connected; startup sync and reconciliation running
    OK = "OK"  # connected, synced, data flowing (not "LIVE": that is a trading mode)
    DEGRADED = "DEGRADED"  # connected but a data farm is broken or a feed is stale
    DISCONNECTED = "DISCONNECTED"  # not connected, not trying (stopped, or gave up)
    RECONNECTING = "RECONNECTING"  # not connected; a reconnect is scheduled


CONNECTED = frozenset({ConnectionState.SYNCING, ConnectionState.OK, ConnectionState.DEGRADED})
"""The states with a connection: order messages can be sent."""


class BrokerError(Exception):
    """A broker command failed; the message is worded for the user."""


class UnknownContract(BrokerError):
    """The broker knows no contract by the name asked (IB error 200): bad input, not an
    outage."""


class ConnectError(BrokerError):
    """Could not connect (nothing listening, client id in use, API disabled...)."""


class GatewayUnreachable(ConnectError):
    """Could not connect because the gateway is not there yet: nothing listening, the
    connection timed out or closed as it opened (a gateway restarting, or not logged in).
    What a start that waits for the gateway tries again; ``why`` says it in a few words.
    Every other ``ConnectError`` (a client id in use) is for the user to fix."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


# ---- events --------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class ConnectionChanged:
    state: ConnectionState
    reason: str
    ts_ns: int
    retry_in_s: float | None = None  # RECONNECTING: when the next attempt starts
    client_id: int | None = None


class NoticeLevel(enum.StrEnum):
    """How loudly a message is shown and logged: a logging level name."""

    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass(slots=True, frozen=True)
class Notice:
    """A message from the broker for the trader: shown and logged. A plain ``Notice`` asks
    nothing more; the subclasses below say, in trading terms, what the engine must act on.
    ``text`` is worded for the user (with the broker's own reference, e.g. ``IB 2104: ...``);
    ``code`` is the broker's number for the message, for display only (0: none)."""

    level: NoticeLevel
    text: str
    ts_ns: int
    code: int = 0


@dataclass(slots=True, frozen=True)
class LinkLost(Notice):
    """The broker lost its own link to the exchange (the socket to it is still up): no market
    data and no order can reach the market until it is restored."""


@dataclass(slots=True, frozen=True, kw_only=True)
class LinkRestored(Notice):
    """The broker's link to the exchange is back. ``data_kept`` False: the market-data
    subscriptions were lost (the broker has asked for them again). Either way, orders and
    fills may have changed meanwhile."""

    data_kept: bool


@dataclass(slots=True, frozen=True, kw_only=True)
class OrderNotice(Notice):
    """A message about the order (or request) the broker knows as ``broker_id``; ``reason``
    is the broker's words for it, for the order's record. About no order of the engine's, it
    is only shown."""

    broker_id: int
    reason: str


@dataclass(slots=True, frozen=True, kw_only=True)
class OrderRejected(OrderNotice):
    """The broker answered the order with an error (or a warning) that none of the notices
    below covers: an order it has not acknowledged yet carries ``reason`` as why it is
    refused. The order's own status still comes as an ``OrderReport``."""


@dataclass(slots=True, frozen=True, kw_only=True)
class ModificationRefused(OrderNotice):
    """The broker refused a change to a working order: the order keeps its old values and
    keeps working."""


class CancelRefusal(enum.StrEnum):
    """Why the broker could not cancel an order (information about that one order, never a
    state for it: look it up)."""

    ALREADY_DONE = "already done"  # finished, or not cancellable now
    NOT_FOUND = "not found"  # the broker has no order of that id for this client


@dataclass(slots=True, frozen=True, kw_only=True)
class CancelRejected(OrderNotice):
    """The broker could not carry out a cancel. ``NOT_FOUND`` said about an order sent on an
    earlier connection, with the order in none of the broker's lists, proves the order is not
    at the broker (an order the broker read is listed at once, and a new connection's
    requests queue behind the old one's)."""

    kind: CancelRefusal


@dataclass(slots=True, frozen=True, kw_only=True)
class RequestDropped(OrderNotice):
    """The broker dropped the last request about the order unread (its message rate): the
    order is as it was before that request (a new order was never taken, a modification or a
    cancel never happened), never cancelled for it."""


@dataclass(slots=True, frozen=True, kw_only=True)
class OrderCancelled(OrderNotice):
    """The broker's word that the order is cancelled (also when its status report is lost)."""


@dataclass(slots=True, frozen=True)
class FarmChanged:
    """The broker's link to its market-data farm, in trading terms: ``up`` False when the
    broker says it is broken (the quotes on hand may be frozen and no more come), True when
    it is back. Sent on a change only; ``reason`` is worded for the user."""

    up: bool
    reason: str
    ts_ns: int


@dataclass(slots=True, frozen=True)
class QuoteEvent:
    quote: Quote


@dataclass(slots=True, frozen=True)
class DepthEvent:
    """The whole visible book after a change (latest wins): best first on each side."""

    ts_ns: int
    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]


@dataclass(slots=True, frozen=True)
class TradeEvent:
    trade: Trade


@dataclass(slots=True, frozen=True)
class BarEvent:
    """A bar from the broker: a 5-second real-time bar, or a keepUpToDate history update
    (``size_s`` 60 for 1-minute bars). ``final`` is False for an update of a bar in progress."""

    bar: Bar
    size_s: int
    final: bool


@dataclass(slots=True, frozen=True)
class OrderReport:
    """What the broker says about one order (openOrder + orderStatus). Every order of the
    account comes, whatever its contract: ``instrument`` says whether it is one this engine
    trades (None: another contract, its prices unknown in ticks, None too), ``con_id`` and
    ``symbol`` (the broker's contract id and local symbol, ``GCZ6``) name the contract
    either way."""

    broker_id: int
    perm_id: int
    client_id: int  # the API client that placed it
    order_ref: str
    instrument: Instrument | None  # None when the contract is not the one this engine trades
    side: Side
    quantity: int
    order_type: str  # "MKT", "LMT", "STP", "STP LMT", or IB's string for others
    limit: int | None
    stop: int | None
    tif: str
    status: OrderStatus
    filled: int
    remaining: int
    avg_fill_price: Decimal | None
    parent_id: int
    oca_group: str
    ts_ns: int
    reason: str = ""  # a reject/cancel reason when the broker gave one
    con_id: int = 0  # the broker's id of the order's contract (0: not said)
    symbol: str = ""  # the contract's local symbol (``GCZ6``), for a trader's eyes
    trail: int | None = None  # a trailing stop's amount (``stop``: its stop price now)


@dataclass(slots=True, frozen=True)
class ExecutionReport:
    """One execution. ``price`` in ticks; ``commission`` arrives separately."""

    exec_id: str
    broker_id: int
    perm_id: int
    client_id: int
    order_ref: str
    instrument: Instrument | None
    side: Side
    quantity: int
    price: int
    ts_ns: int
    historical: bool  # from reqExecutions (recovery), not live


@dataclass(slots=True, frozen=True)
class CommissionEvent:
    exec_id: str
    commission: Decimal
    realized_pnl: Decimal | None


@dataclass(slots=True, frozen=True)
class PositionReport:
    """The broker's position in a contract: the final word on what we hold."""

    instrument: Instrument | None
    con_id: int
    account: str
    quantity: int
    avg_cost: Decimal  # IB's averageCost: price x multiplier
    ts_ns: int


@dataclass(slots=True, frozen=True)
class AccountPnL:
    account: str
    daily: Decimal | None
    unrealized: Decimal | None
    realized: Decimal | None
    ts_ns: int


@dataclass(slots=True, frozen=True)
class AccountValues:
    """The account's money as the broker values it, in ``currency`` (the account's base):
    ``net_liquidation`` is its equity, the figure strategy entries are sized by; available
    funds and the initial / maintenance margin of what it holds. None: the broker has not said.
    Sent again whenever the broker updates one of them (IB: about every 3 minutes, and on a
    change of position)."""

    account: str
    currency: str
    net_liquidation: Decimal | None
    available_funds: Decimal | None
    initial_margin: Decimal | None
    maintenance_margin: Decimal | None
    ts_ns: int


@dataclass(slots=True, frozen=True)
class ContractMargin:
    """The margin one more contract of an instrument takes, in ``currency``: initial and
    maintenance, as the broker computes them for this account (IB: the margin change of a
    what-if order of one contract; nothing is placed). None: the broker did not say."""

    initial: Decimal | None
    maintenance: Decimal | None
    currency: str
    ts_ns: int


@dataclass(slots=True, frozen=True)
class Unsent:
    """Order messages dropped before they left this process (:meth:`Broker.drop_unsent`)."""

    orders: tuple[int, ...] = ()  # broker ids of new orders: never sent, IB never saw them
    changes: tuple[int, ...] = ()  # broker ids of orders whose modification was dropped


BrokerEvent = (
    ConnectionChanged
    | Notice
    | FarmChanged
    | QuoteEvent
    | DepthEvent
    | TradeEvent
    | BarEvent
    | OrderReport
    | ExecutionReport
    | CommissionEvent
    | PositionReport
    | AccountPnL
    | AccountValues
)


# ---- the protocol --------------------------------------------------------------------------


class Broker(Protocol):
    @property
    def state(self) -> ConnectionState: ...

    @property
    def client_id(self) -> int | None: ...

    @property
    def account(self) -> str | None: ...

    def events(self) -> AsyncIterator[BrokerEvent]:
        """The event stream (one consumer)."""
        ...

    async def start(self) -> None:
        """Connect (raising ConnectError with a clear message when that fails the first time),
        sync, and keep the connection up: reconnect with backoff after any drop."""
        ...

    async def stop(self) -> None:
        """Disconnect and stop reconnecting."""
        ...

    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        """The contract to trade: a root (``ES``) resolves to the front month through contract
        details (rolling ``roll_days`` before expiry); a local symbol (``ESZ6``) or
        ``ES 202612`` names one. Tick, multiplier, exchange come from the broker."""
        ...

    def trading_hours(self, instrument: Instrument) -> tuple[str, str] | None:
        """IB's ``tradingHours`` and ``timeZoneId`` of a resolved contract, None if unknown."""
        ...

    async def subscribe_market_data(self, instrument: Instrument) -> None:
        """L1 + trades (tick-by-tick AllLast, RTVolume fallback) + 10-level depth + 5-second
        bars; kept alive by the broker across reconnects and a link lost with its data."""
        ...

    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]:
        """Completed 1-minute bars for the last ``minutes`` (backfill), oldest first."""
        ...

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin:
        """The margin one more contract of ``instrument`` on ``side`` would take (IB: a
        what-if order of one contract; nothing is placed, no order is sent). Raises
        ``BrokerError`` when the broker cannot say."""
        ...

    async def place(self, order: Order, order_ref: str, *, transmit: bool = True,
                    parent_broker_id: int | None = None) -> int:  # fmt: skip
        """Send a new order; returns its broker id. Prices are the order's ticks, already on
        tick by construction. The intent must be journaled before this is called."""
        ...

    async def modify(self, order: Order, change: OrderChange, order_ref: str) -> None: ...

    def reserve_order_id(self) -> int:
        """A fresh broker id for the next order, taken before the order's intent is journaled
        so that the journal always knows the id an order was sent under. Raises
        ``BrokerError`` when not connected."""
        ...

    def never_received(self, broker_id: int, client_id: int) -> bool:
        """True only when the broker has proved it never received an order sent as
        ``broker_id`` by API client ``client_id``: the id was not taken on the current
        connection and is at or above the first id the broker offered when this connection
        opened (IB's nextValidId is above every order id it has received from the client).
        False when it cannot tell."""
        ...

    async def cancel(self, broker_id: int) -> None: ...

    def resubscribe_all(self) -> None:
        """Ask again for every market-data subscription (a feed went stale while connected)."""
        ...

    def priority(self) -> AbstractContextManager[None]:
        """Within this block (the calling task, and the tasks it starts), every message goes
        ahead of those still queued behind the broker's message rate, within that rate: the
        kill switch's lane. Messages about one order never overtake each other."""
        ...

    def drop_unsent(self) -> Unsent:
        """Drop this client's order messages still waiting for their turn to be sent: new
        orders (they never reach the broker) and modifications (the order keeps its old
        values at the broker). Cancels are never dropped."""
        ...

    async def cancel_all_account_orders(self) -> None:
        """reqGlobalCancel: every order of the account, every client. Only on explicit request."""
        ...

    async def open_orders(self) -> list[OrderReport]:
        """This client's working orders, and (read-only) every other client's."""
        ...

    async def completed_orders(self) -> list[OrderReport]:
        """Orders the broker has finished (filled, cancelled, inactive) and still remembers
        (IB: the current day's), with their final status."""
        ...

    async def positions(self) -> list[PositionReport]: ...

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        """Executions of the account since ``since_ns`` (reqExecutions), for recovery."""
        ...
