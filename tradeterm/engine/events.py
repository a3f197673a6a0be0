"""What the engine tells its listeners (UI, journal, strategies, tests), and its snapshots.

Events are small frozen dataclasses. Order, fill, position and command events are never
dropped; market-data events are coalesced for a slow listener (see ``Engine.listen``): a
listener that falls behind gets one ``MarketChanged`` with the union of the rows to repaint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from tradeterm.broker.port import (
    AccountPnL,
    AccountValues,
    ConnectionState,
    ContractMargin,
    NoticeLevel,
    OrderReport,
)
from tradeterm.config import RiskConfig
from tradeterm.domain import Bar, Fill, Instrument, Order, OrderChange, OrderStatus, Side
from tradeterm.engine.calendar import CME, SessionCalendar
from tradeterm.engine.commands import CommandResult
from tradeterm.engine.marketdata import Changes, MarketSnapshot
from tradeterm.engine.portfolio import PnL
from tradeterm.engine.staleness import Feed
from tradeterm.engine.types import (
    KillStep,
    OrderRole,
    RiskEventKind,
    StrategyState,
    TradingState,
)


@dataclass(frozen=True, slots=True)
class OrderView:
    """An immutable view of one order: this instance's (``own``) or another client's
    (read-only: ``order_id`` is ``ib:<permId>``). ``unconfirmed``: what IB has not confirmed
    about an own open order (``not acknowledged``, ``cancel not confirmed``, ``change not
    confirmed``, ``not listed at IB``; see ``OrderManager.unconfirmed``), empty when nothing."""

    order_id: str
    side: Side
    quantity: int
    order_type: str
    limit: int | None
    stop: int | None
    tif: str
    status: OrderStatus
    filled: int
    remaining: int
    avg_fill_price: Fraction | Decimal | None
    broker_id: int | None
    perm_id: int | None
    parent_id: str | None
    oca_group: str | None
    role: OrderRole
    own: bool
    reason: str = ""
    pending_change: OrderChange | None = None
    command_id: str = ""
    unconfirmed: str = ""
    placed_by: int | None = None  # another client's order: the API client that placed it

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    @property
    def price(self) -> int | None:
        """Where the order sits on a ladder: its limit, else its stop."""
        return self.limit if self.limit is not None else self.stop

    @classmethod
    def of(
        cls,
        order: Order,
        *,
        role: OrderRole = OrderRole.PLAIN,
        command_id: str = "",
        unconfirmed: str = "",
    ) -> OrderView:
        return cls(
            order_id=order.client_id,
            side=order.side,
            quantity=order.quantity,
            order_type=str(order.order_type),
            limit=order.limit,
            stop=order.stop,
            tif=str(order.tif),
            status=order.status,
            filled=order.filled,
            remaining=order.remaining,
            avg_fill_price=order.avg_fill_price,
            broker_id=order.broker_id,
            perm_id=order.perm_id,
            parent_id=order.parent_id,
            oca_group=order.oca_group,
            role=role,
            own=True,
            reason=order.reject_reason or "",
            pending_change=order.pending_change,
            command_id=command_id,
            unconfirmed=unconfirmed,
        )

    @classmethod
    def foreign(cls, report: OrderReport) -> OrderView:
        return cls(
            order_id=f"ib:{report.perm_id or report.broker_id}",
            side=report.side,
            quantity=report.quantity,
            order_type=report.order_type,
            limit=report.limit,
            stop=report.stop,
            tif=report.tif,
            status=report.status,
            filled=report.filled,
            remaining=report.remaining,
            avg_fill_price=report.avg_fill_price,
            broker_id=report.broker_id,
            perm_id=report.perm_id or None,
            parent_id=None,
            oca_group=report.oca_group or None,
            role=OrderRole.FOREIGN,
            own=False,
            reason=report.reason,
            placed_by=report.client_id,
        )


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HealthChanged:
    """The connection as the trader must see it: the broker's state, SYNCING while connected
    and not reconciled (OK only when orders can go), DEGRADED by IB's link, its market data
    farm or stale feeds; ``retry_in_s`` while RECONNECTING. ``cause``: why it is SYNCING or
    DEGRADED in a word or two, for a narrow status bar (``data farm down``, ``stale
    depth``). ``market_data_down``: IB says no market data comes now, in two words (``data
    farm down``, ``exchange link down``; empty when it does not): what is on hand may be
    frozen, before any feed goes stale."""

    state: ConnectionState
    reason: str
    stale: tuple[Feed, ...]
    ts_ns: int
    retry_in_s: float | None = None
    cause: str = ""
    market_data_down: str = ""


@dataclass(frozen=True, slots=True)
class MarketChanged:
    changes: Changes


@dataclass(frozen=True, slots=True)
class BarsChanged:
    """The forming bar changed, or bars closed (``closed`` > 0)."""

    forming: Bar | None
    closed: int


@dataclass(frozen=True, slots=True)
class OrderUpdated:
    order: OrderView


@dataclass(frozen=True, slots=True)
class OtherMarketOrders:
    """The account's working orders in other contracts than this market's (any client's,
    e.g. another instance's): never this market's orders, views or risk, only counted by
    contract so that nothing at the broker is hidden. Sent when the count changes."""

    markets: tuple[tuple[str, int], ...]  # (local symbol, working orders), by symbol


def other_markets_text(markets: tuple[tuple[str, int], ...]) -> str:
    """``2 orders in other markets: GCZ6 CLF7``; empty when there are none."""
    count = sum(n for _, n in markets)
    if not count:
        return ""
    where = "other markets" if len(markets) > 1 else "another market"
    return f"{count} order{'s' if count > 1 else ''} in {where}: {' '.join(s for s, _ in markets)}"


@dataclass(frozen=True, slots=True)
class FillBooked:
    """A new execution, booked once (``historical``: recovered by reqExecutions)."""

    fill: Fill
    own: bool
    historical: bool


@dataclass(frozen=True, slots=True)
class PositionChanged:
    """The position or its P&L changed. ``cause``: ``"adopted"`` when it is the broker's,
    taken in place of what our fills said (reconciliation): from there on the journal's
    position starts from it (``journal/report.py``, :data:`POSITION_BASES`)."""

    pnl: PnL
    cause: str = "position"


@dataclass(frozen=True, slots=True)
class PositionDivergence:
    """Our fills said ``ours``, the broker holds ``broker``: the broker's position was
    adopted. ``at_start``: found when the engine started (a position carried in), not lost
    fills."""

    ours: int
    broker: int
    broker_avg_cost: Decimal
    at_start: bool
    ts_ns: int


@dataclass(frozen=True, slots=True)
class CommandDone:
    result: CommandResult


@dataclass(frozen=True, slots=True)
class Reconciled:
    """Reconciliation finished: what was found at the broker. ``entries_allowed`` False
    means it could not complete (new entries stay blocked; it is retried)."""

    reason: str
    own_orders: int
    foreign_orders: int
    fills_recovered: int
    orders_closed: int  # open here, gone at the broker
    position: int
    protected: int  # contracts covered by working stop orders of this instance
    entries_allowed: bool
    ts_ns: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RiskUpdate:
    """The risk manager spoke: a trading-state ``transition``, a ``warning`` near a limit, a
    ``kill`` (a loss limit hit: trading is REDUCING at once), or a pre-trade ``refusal``.
    ``state`` is the trading state after it (ACTIVE, REDUCING, HALTED)."""

    kind: RiskEventKind
    rule: str
    reason: str
    state: TradingState
    ts_ns: int
    previous: TradingState | None = None  # a transition's state before it


@dataclass(frozen=True, slots=True)
class KillProgress:
    """One step of the kill switch. ``step``: ``requested``, ``waiting`` (for the
    connection), ``cancelling``, ``flattening``, ``verifying``, ``retrying``, ``halted`` (the
    end: flat at the broker, nothing working), ``done`` (the end of a flatten without a halt:
    the disconnect policy "flatten") or ``failed`` (the end: not flat by the timeout; trading
    is HALTED all the same and the detail says what is left). ``position``: the
    position at the broker as last known; ``working``: this instance's working orders;
    ``others``: other API clients' working orders in this contract, which only they (or TWS)
    can cancel: the detail names them."""

    step: KillStep
    detail: str
    reason: str  # why the kill switch was pressed
    position: int
    working: int
    ts_ns: int
    done: bool = False
    ok: bool = False
    others: int = 0  # other clients' working orders in this contract (it cannot cancel them)


@dataclass(frozen=True, slots=True)
class EngineNotice:
    """A message for the log panel: ``level`` is a logging level name."""

    level: NoticeLevel
    text: str
    ts_ns: int
    code: int = 0


@dataclass(frozen=True, slots=True)
class PriceAlertHit:
    """A price alert fired: a trade at ``traded`` reached the alert at ``price`` (ticks of
    ``instrument``); the alert is gone (one-shot)."""

    instrument: Instrument
    price: int
    traded: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class StrategyStateChanged:
    """The strategy the engine runs started, stopped or faulted (``reason``: why, e.g. the
    exception it raised or the budget it overran). ``params``: its parameters as they are,
    on every start (the journal keeps them with the start: which parameters traded when)."""

    strategy: str
    state: StrategyState
    reason: str
    ts_ns: int
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class StrategySignal:
    """An intent a strategy emitted (``kind``: ``TargetPosition`` or ``EntrySignal``,
    ``detail``: its fields, ``reason``: the strategy's words) and what became of it: ``ok``
    with the command it became (``command_id``, empty when nothing had to be sent) and the
    contracts it sent (``quantity``: an entry's size), or refused with ``outcome`` saying why
    (standing aside, the risk manager, the kill switch)."""

    strategy: str
    kind: str
    detail: str
    reason: str
    ok: bool
    outcome: str
    ts_ns: int
    command_id: str = ""
    quantity: int = 0


@dataclass(frozen=True, slots=True)
class StrategyView:
    """The strategy the engine runs, for a panel: its name, ``module:Class``, parameters
    (name, value as text), state and why, the signed position it owns, and its last
    signals (oldest first); its P&L in the instrument's currency (``realized`` from its
    fills, ``unrealized``: the position it owns marked at the last trade) and the client ids
    of its working orders (the ladder marks them). In CANARY, ``canary`` is the fraction of
    intents sent to IB and ``paper_position`` its paper track's position (the one it trades
    on; ``position`` is then its live leg at IB)."""

    name: str
    target: str
    params: tuple[tuple[str, str], ...]
    state: StrategyState
    reason: str
    position: int
    signals: tuple[StrategySignal, ...]
    realized: Decimal = Decimal(0)
    unrealized: Decimal = Decimal(0)
    orders: frozenset[str] = frozenset()
    canary: float | None = None
    paper_position: int | None = None


@dataclass(frozen=True, slots=True)
class CanaryIntent:
    """An intent of a strategy in CANARY mode (``strategy_runner.py``), ``intent_id`` naming
    it in the journal, and what each side did with it: ``paper_qty``, the signed contracts its
    paper track sent (0: nothing to send); ``live``: picked to go to IB too; ``live_qty``: the
    signed contracts sent to IB (0: nothing sent, or refused: ``outcome`` says why), by the
    command ``command_id``. ``con_id``: the contract (its tick value prices the slippage)."""

    strategy: str
    intent_id: str
    kind: str
    detail: str
    live: bool
    paper_qty: int
    live_qty: int
    command_id: str
    outcome: str
    con_id: int | None
    ts_ns: int


@dataclass(frozen=True, slots=True)
class IntentFill:
    """A fill of CANARY intent ``intent_id``, by ``mode`` ``paper`` (its paper track) or
    ``live`` (IB: ``exec_id`` is the execution's); ``leg``: ``entry`` (a target's order, a
    bracket's entry) or ``exit`` (a bracket's stop or target); ``price`` in ticks; ``ts_ns``:
    when this process learned of it, by the engine's clock, on both sides alike (IB's
    execution times are whole seconds: a time to fill from them could come out negative)."""

    strategy: str
    intent_id: str
    mode: str
    leg: str
    side: Side
    quantity: int
    price: int
    ts_ns: int
    exec_id: str


EngineEvent = (
    HealthChanged
    | MarketChanged
    | BarsChanged
    | OrderUpdated
    | OtherMarketOrders
    | FillBooked
    | PositionChanged
    | PositionDivergence
    | CommandDone
    | Reconciled
    | RiskUpdate
    | KillProgress
    | EngineNotice
    | PriceAlertHit
    | StrategyStateChanged
    | StrategySignal
    | CanaryIntent
    | IntentFill
)


@dataclass(frozen=True, slots=True)
class EngineSnapshot:
    """Everything a screen shows, at one moment."""

    instrument: Instrument | None
    health: HealthChanged
    market: MarketSnapshot | None
    bars: tuple[Bar, ...]
    pnl: PnL | None
    orders: tuple[OrderView, ...]  # this instance's working orders
    foreign_orders: tuple[OrderView, ...]  # other clients' working orders in this contract
    entries_blocked: str | None  # why new entries are refused right now, None if allowed
    account: str | None
    client_id: int | None
    trading_state: TradingState = TradingState.ACTIVE
    trading_reason: str = ""
    last_refusal: str = ""  # the last refusal while still news (``CommandDispatcher.refusal_now``)
    kill: KillProgress | None = None  # the kill switch's last step, None if never pressed
    calendar: SessionCalendar = CME  # the market's sessions: when it is open
    feed_ages: tuple[tuple[Feed, float], ...] = ()  # each watched feed's data age, seconds
    drawdown: Decimal | None = None  # below the session's peak daily P&L; None before start
    order_rate: int | None = None  # order messages sent in the last second; None before start
    risk_limits: RiskConfig | None = None  # the limits the risk manager applies (the risk panel)
    strategy: StrategyView | None = None  # the strategy the engine runs, None when none
    account_values: AccountValues | None = None  # the broker's latest; None: unknown so far
    account_age_s: float | None = None  # seconds since the broker gave them; None: never
    account_pnl: AccountPnL | None = None  # the account's daily P&L (all instances); None: unknown
    contract_margin: ContractMargin | None = None  # margin of one more contract; None: unknown
    protected: int = 0  # contracts of the position covered by this instance's working stops
    other_markets: tuple[tuple[str, int], ...] = ()  # ``OtherMarketOrders.markets`` now
    queue: Mapping[str, int | None] = field(default_factory=dict)  # ahead by order id; None: ?
    price_alerts: tuple[int, ...] = ()  # the prices (ticks) of the price alerts set

    @property
    def equity(self) -> Decimal | None:
        """The account's net liquidation as the broker last gave it; None: unknown."""
        return self.account_values.net_liquidation if self.account_values is not None else None
