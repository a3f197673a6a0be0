"""The headless engine: one market, one broker, one event loop.

The UI, tests, benchmarks and backtests all drive it the same way::

    engine = Engine(broker, "ES", market_config)
    await engine.start()                 # connect, resolve, subscribe, backfill, reconcile
    stream = engine.listen()             # async iterator of EngineEvents
    result = await engine.submit(PlaceOrder(Side.BUY, 1))
    snap = engine.snapshot()             # everything a screen shows, immutable
    await engine.stop()

Workers (asyncio tasks on the caller's loop): the *pump* applies each broker event to the
market state, bars, orders and portfolio, in arrival order, and publishes what changed; the
*timer* (4 Hz) closes bars, checks feed staleness, confirms the broker's position, and
retries what failed (history backfill, reconciliation).

Reconciliation runs at start, after every reconnect and after IB's 1101/1102: executions since
the last known one (fills missed while disconnected are booked once), open and completed
orders (own ones re-linked, foreign ones shown read-only; an own order IB does not list is
closed only on IB's word and otherwise looked for again, see ``OrderManager.settle``), then
the broker's position, which is the final word. New entries stay blocked until it completes. Before the
first one, the fills earlier runs journaled are restored (``journaled_fills``), so that only
fills new to this instance count as recovered.

An execution id reported again with other facts (:class:`~tradeterm.domain.FillConflict`, from
the ledger here or from the journal across runs) is not booked: it is logged, shown and
trading goes HALTED (:meth:`Engine.fill_conflict`), as the fills can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Protocol

from tradeterm.broker.base import (
    LINK_LOST,
    LINK_RESTORED,
    LINK_RESTORED_DATA_LOST,
    BarEvent,
    Broker,
    BrokerError,
    BrokerEvent,
    BrokerNotice,
    CommissionEvent,
    ConnectionChanged,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    MarketDataFarm,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
    severity,
)
from tradeterm.config import MarketConfig
from tradeterm.domain import ClientOrderIds, Fill, FillConflict, Instrument, Order, Side
from tradeterm.engine.bars import BarBuilder, BarUpdate
from tradeterm.engine.commands import (
    CancelAll,
    CancelOrder,
    Command,
    CommandResult,
    Flatten,
    GlobalCancel,
    ModifyOrder,
    NotSent,
    PlaceBracket,
    PlaceOrder,
    Refused,
    Reverse,
)
from tradeterm.engine.events import (
    BarsChanged,
    CommandDone,
    EngineEvent,
    EngineNotice,
    EngineSnapshot,
    FillBooked,
    HealthChanged,
    KillProgress,
    MarketChanged,
    OrderUpdated,
    PositionChanged,
    PositionDivergence,
    Reconciled,
    RiskUpdate,
)
from tradeterm.engine.kill import KillSwitch, KillTimings
from tradeterm.engine.marketdata import Changes, Feed, MarketState, StalenessWatchdog
from tradeterm.engine.orders import BeforeSend, OrderManager, SentOrder
from tradeterm.engine.portfolio import Portfolio
from tradeterm.engine.risk import (
    RiskContext,
    RiskEvent,
    RiskEventKind,
    RiskManager,
    RiskTransition,
    TradingState,
)
from tradeterm.engine.session import CHICAGO, CME, NS, SessionCalendar

log = logging.getLogger(__name__)

CONNECTED = frozenset({ConnectionState.OK, ConnectionState.DEGRADED})
POSITION_GRACE_S = 1.0  # the broker's position may trail our fills by this much
RETRY_S = 5.0  # history / reconciliation retry interval
RECHECK_S = 1.0  # how often an order of ours that IB does not list is looked for again
RESUBSCRIBE_S = 30.0  # at most one resubscription of a stale feed per this many seconds

JournaledFills = Callable[[Instrument], Awaitable[Sequence[tuple[Fill, Decimal | None]]]]
"""Awaited once at start: the fills of ``instrument`` earlier runs journaled, with their
commissions, in execution order."""


class HaltLatch(Protocol):
    """HALTED kept outside the journal (``tradeterm.journal.latch``): :meth:`set` when trading
    goes HALTED, :meth:`clear` before a re-arm may go back to ACTIVE. Both raise ``OSError``;
    ``str()`` names where it is kept."""

    def set(self, transition: RiskTransition) -> None: ...

    def clear(self) -> None: ...


def default_staleness(quotes_s: float) -> dict[Feed, float]:
    """Quotes and depth go stale after ``quotes_s``; trades and bars are quiet in a slow
    market and get longer."""
    return {
        Feed.QUOTES: quotes_s,
        Feed.DEPTH: quotes_s,
        Feed.TRADES: max(quotes_s * 6, 30.0),
        Feed.BARS: max(quotes_s * 4, 15.0),
    }


class EventStream:
    """One listener's queue. Market and bar events coalesce while the listener is behind;
    everything else is kept in order, never dropped."""

    def __init__(self, on_close: Callable[[EventStream], None]) -> None:
        self._items: deque[EngineEvent] = deque()
        self._wake = asyncio.Event()
        self._on_close = on_close
        self.closed = False

    def push(self, event: EngineEvent) -> None:
        items = self._items
        if items:
            last = items[-1]
            if isinstance(event, MarketChanged) and isinstance(last, MarketChanged):
                a, b = last.changes, event.changes
                items[-1] = MarketChanged(
                    Changes(a.kinds | b.kinds, a.rows | b.rows, a.all_rows or b.all_rows)
                )
                return
            if isinstance(event, BarsChanged) and isinstance(last, BarsChanged):
                items[-1] = BarsChanged(event.forming, last.closed + event.closed)
                return
        items.append(event)
        self._wake.set()

    def drain(self) -> list[EngineEvent]:
        """Everything queued, without waiting."""
        out = list(self._items)
        self._items.clear()
        return out

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self

    async def __anext__(self) -> EngineEvent:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._on_close(self)


class Engine:
    """See the module notes. ``instance`` names this tradeterm process in every orderRef
    (default: the symbol); two instances must not share a name on one account."""

    def __init__(
        self,
        broker: Broker,
        symbol: str = "ES",
        market: MarketConfig | None = None,
        *,
        instance: str | None = None,
        session: int | None = None,
        clock: Callable[[], int] = time.time_ns,
        calendar: SessionCalendar | None = None,
        history_minutes: int = 600,
        staleness: Mapping[Feed, float] | None = None,
        timer_s: float = 0.25,
        risk_state: RiskTransition | None = None,
        sent_orders: Sequence[SentOrder] = (),
    ) -> None:
        self.broker = broker
        self.symbol = symbol.upper()
        self.config = market or MarketConfig()
        self.clock = clock
        self.calendar = calendar or CME  # replaced by the contract's hours at start if not given
        self._calendar_given = calendar is not None
        self.history_minutes = history_minutes
        self.timer_s = timer_s
        self.ids = ClientOrderIds(
            instance or self.symbol.split()[0],
            session if session is not None else time.time_ns() // 1_000_000,
        )
        self._staleness = dict(staleness or default_staleness(self.config.risk.stale_after_s))
        self._listeners: list[EventStream] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._commands = 0
        self._reconcile_lock = asyncio.Lock()
        self._reconciled_once = False
        self._reconcile_due = False
        self._reconciling = False  # a reconciliation is running (entries wait)
        self._history_due = False
        self._last_resubscribe = 0
        self._broker_state = ConnectionState.DISCONNECTED
        self._broker_reason = "not started"
        self._retry_in: float | None = None
        self._link_down = False
        self._farm_down: str | None = None  # why IB's market data farm is down
        self._broker_position: PositionReport | None = None
        self._broker_position_at = 0  # when it was last heard or read (local clock)
        self._last_fill_at = 0  # when our last fill was booked (local clock)
        self._position_due: int | None = None
        self._recheck_at = 0  # when to look again for our orders IB does not list
        self.health = HealthChanged(ConnectionState.DISCONNECTED, "not started", (), clock())
        self.account_pnl: object | None = None
        # built once the instrument is known (start)
        self.instrument: Instrument | None = None
        self.market: MarketState | None = None
        self.bars: BarBuilder | None = None
        self.portfolio: Portfolio | None = None
        self.orders: OrderManager | None = None
        self.watchdog: StalenessWatchdog | None = None
        self.risk: RiskManager | None = None
        self._restored_risk = risk_state  # the last journaled trading-state transition
        self._sent_orders = tuple(sent_orders)  # orders earlier runs sent, fate unknown
        self.before_send: BeforeSend | None = None  # set before start (the journal's hook)
        self.journaled_fills: JournaledFills | None = None  # likewise
        self.latch: HaltLatch | None = None  # set before start (the journal's halt latch)
        # set before start: called once connected, before anything restored is applied to
        # trading (the runtime checks the account the journal belongs to); raising refuses it
        self.on_connected: Callable[[], None] | None = None
        self.latch_error: str | None = None  # HALTED could not be latched: kept in memory only
        self._latch_retry_at = 0
        self.last_refusal = ""
        self.events_applied = 0  # broker events applied (benchmarks: the ingest rate)
        self._connected = asyncio.Event()  # connected to IB and IB to the exchange
        self._order_change = asyncio.Event()  # an order update or a fill was published
        self.kill_switch = KillSwitch(self, KillTimings(timeout_s=self.config.risk.kill_timeout_s))

    # ---- listeners -----------------------------------------------------------------------

    def listen(self) -> EventStream:
        stream = EventStream(self._listeners.remove)
        self._listeners.append(stream)
        return stream

    def publish(self, event: EngineEvent) -> None:
        for stream in self._listeners:
            stream.push(event)
        if isinstance(event, (OrderUpdated, FillBooked)):
            self._order_change.set()

    def notice(self, level: str, text: str, code: int = 0) -> None:
        getattr(log, level.lower())("%s", text)
        self.publish(EngineNotice(level, text, self.clock(), code))

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, resolve the contract, subscribe, backfill and reconcile. Raises the
        broker's ``ConnectError``/``BrokerError`` (worded for the user) when it cannot."""
        self._tasks.append(asyncio.create_task(self._pump(), name="engine-pump"))
        try:
            await self.broker.start()
            if self.on_connected is not None:
                self.on_connected()
            contract = self.config.contract or self.symbol
            instrument = await self.broker.resolve(contract, roll_days=self.config.roll_days)
            if not self._calendar_given:
                self.calendar = self._contract_calendar(instrument)
            self._build(instrument)
            await self._restore_fills(instrument)
            for sent in self._sent_orders:  # with their fills; the reconciliation finds them
                self._orders().restore(sent)
            await self.broker.subscribe_market_data(instrument)
            await self._backfill()
            await self.reconcile("start")
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._timer(), name="engine-timer"))
        self._resume_kill()

    def _resume_kill(self) -> None:
        """A restart in a restored REDUCING state (a kill that had not finished) or HALTED
        with something still open at IB runs the kill switch again."""
        risk, orders, portfolio = self.risk, self._orders(), self._portfolio()
        if risk is None or risk.state is TradingState.ACTIVE:
            return
        open_ = portfolio.position.quantity != 0 or bool(orders.working())
        if risk.state is TradingState.REDUCING or open_:
            self.request_kill(f"restarted {risk.state} ({risk.state_reason}): finishing the kill")

    async def _restore_fills(self, instrument: Instrument) -> None:
        """The fills earlier runs journaled, known before IB reports any again (see the
        module notes)."""
        if self.journaled_fills is None:
            return
        portfolio = self._portfolio()
        fills = await self.journaled_fills(instrument)
        for fill, commission in fills:
            portfolio.restore(fill, commission)
        if fills:
            self.publish(PositionChanged(portfolio.pnl()))

    def _contract_calendar(self, instrument: Instrument) -> SessionCalendar:
        """The sessions from the contract's details (IB's tradingHours in its time zone);
        the CME Globex rules when IB gave none or they cannot be read."""
        hours = self.broker.trading_hours(instrument)
        if hours is None:
            return CME
        text, zone = hours
        try:
            return SessionCalendar.from_trading_hours(text, zone or CHICAGO)
        except (ValueError, KeyError) as exc:
            self.notice("WARNING", f"cannot read IB's trading hours ({exc}): using CME rules")
            return CME

    def _build(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.market = MarketState(instrument, calendar=self.calendar)
        self.bars = BarBuilder(instrument)
        self.portfolio = portfolio = Portfolio(instrument, clock=self.clock, calendar=self.calendar)
        self.orders = OrderManager(
            self.broker, instrument, self.ids,
            position=lambda: portfolio.position,
            fills_of=portfolio.ledger.for_order,
            emit=self.publish, clock=self.clock,
        )  # fmt: skip
        self.orders.blocked = "reconciling (start)"
        self.risk = RiskManager(
            self.config.risk, calendar=self.calendar, clock=self.clock,
            restored=self._restored_risk, on_transition=self._on_risk_transition,
            instrument=instrument,
        )  # fmt: skip
        self.orders.checks.append(self.risk.as_check(self._risk_context))
        risk = self.risk
        self.orders.price_check = lambda i: risk.fat_finger(i, self._risk_context(), entry=i.entry)
        self.orders.on_action = self.risk.record_send
        self.orders.before_send = self.before_send
        self.watchdog = StalenessWatchdog(self._staleness, clock=self.clock, calendar=self.calendar)

    async def stop(self) -> None:
        self.kill_switch.cancel()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.broker.stop()
        self._set_health(ConnectionState.DISCONNECTED, "stopped")
        for stream in list(self._listeners):
            stream.close()

    # ---- commands ------------------------------------------------------------------------

    async def submit(self, command: Command) -> CommandResult:
        """Carry out ``command``; the result (also published as ``CommandDone``) says what
        was sent, or why nothing was."""
        self._commands += 1
        command_id = f"cmd-{self._commands}"
        try:
            if self.kill_switch.running:
                raise Refused("the kill switch is running: nothing else is sent until it ends")
            order_ids = await self._run(command, command_id)
            result = CommandResult(command_id, command, True, order_ids=order_ids)
        except Refused as exc:
            result = CommandResult(command_id, command, False, reason=str(exc))
        except BrokerError as exc:
            result = CommandResult(command_id, command, False, reason=str(exc))
        if not result.ok:
            self.last_refusal = result.reason
        log.info("command %s %s: %s", command_id, command, "ok" if result.ok else result.reason)
        self.publish(CommandDone(result))
        return result

    async def _run(self, command: Command, command_id: str) -> tuple[str, ...]:
        orders = self.orders
        if orders is None:
            raise Refused("the engine has not started")
        match command:
            case PlaceOrder():
                return await orders.place(command, command_id)
            case PlaceBracket():
                return await orders.place_bracket(
                    command, command_id, self._reference(command.side)
                )
            case ModifyOrder():
                return await orders.modify(command)
            case CancelOrder():
                return await orders.cancel(command.order_id)
            case CancelAll():
                return await orders.cancel_all(command.at_price)
            case Flatten():
                try:
                    return await orders.close_position(command_id, reverse=False)
                except NotSent as exc:  # the connection dropped after its cancels went
                    return self._finish_flatten(command_id, str(exc))
            case Reverse():
                return await orders.close_position(command_id, reverse=True)
            case GlobalCancel():
                await self.broker.cancel_all_account_orders()
                return ()
        raise Refused(f"unknown command {command!r}")

    def _finish_flatten(self, command_id: str, why: str) -> tuple[str, ...]:
        """A flatten cut short by the connection (its close could not be sent; IB may have
        carried out some of its cancels, leaving the position without its stop) finishes
        once IB is back: the kill switch's sequence without the halt (cancel, close, checked
        at IB), as the disconnect policy "flatten" runs it."""
        self.notice("WARNING", f"flatten {command_id} cut short ({why}): it finishes once IB "
                    "is back (cancel, close, checked at IB; no halt)")  # fmt: skip
        self.kill_switch.request(f"flatten {command_id} cut short by the connection", halt=False)
        return ()

    def _reference(self, side: Side) -> int | None:
        """The price a market entry is expected at: the touch it would take, else the last."""
        market = self.market
        if market is None:
            return None
        quote = market.quote
        if quote is not None:
            touch = quote.ask if side is Side.BUY else quote.bid
            if touch is not None:
                return touch
        return market.last.price if market.last is not None else None

    # ---- the pump ------------------------------------------------------------------------

    async def _pump(self) -> None:
        async for event in self.broker.events():
            try:
                self.apply(event)
            except Exception as exc:  # one bad event must not stop the engine
                log.exception("error applying %r", event)
                self.notice("ERROR", f"internal error applying {type(event).__name__}: {exc!r}")

    def apply(self, event: BrokerEvent) -> None:
        """Apply one broker event (the pump calls this; tests and backtests may too)."""
        self.events_applied += 1
        if isinstance(event, ConnectionChanged):
            self._on_connection(event)
        elif isinstance(event, BrokerNotice):
            self._on_notice(event)
        elif isinstance(event, MarketDataFarm):
            self._on_market_farm(event)
        elif self.market is None:
            return  # before the instrument is known: reconciliation will fetch it all
        elif isinstance(event, (QuoteEvent, DepthEvent, TradeEvent)):
            self._on_market(event)
        elif isinstance(event, BarEvent):
            self._on_bars(self._bars_apply(event), Feed.BARS)
        elif isinstance(event, OrderReport):
            self._orders().on_report(event)
        elif isinstance(event, ExecutionReport):
            self._on_execution(event)
        elif isinstance(event, CommissionEvent):
            if self._portfolio().add_commission(event.exec_id, event.commission):
                self.publish(PositionChanged(self._portfolio().pnl()))
        elif isinstance(event, PositionReport):
            if event.con_id == self._instrument().con_id:
                self._broker_position = event
                self._broker_position_at = self.clock()
                self._position_due = self._broker_position_at + int(POSITION_GRACE_S * NS)
        else:
            self.account_pnl = event
            if event.daily is not None and self.risk is not None:
                self._risk_events(self.risk.on_account_pnl(event.daily))

    def _instrument(self) -> Instrument:
        assert self.instrument is not None
        return self.instrument

    def _portfolio(self) -> Portfolio:
        assert self.portfolio is not None
        return self.portfolio

    def _orders(self) -> OrderManager:
        assert self.orders is not None
        return self.orders

    def _bars_apply(self, event: BarEvent) -> list[BarUpdate]:
        assert self.bars is not None
        return self.bars.apply(event)

    def _on_market(self, event: QuoteEvent | DepthEvent | TradeEvent) -> None:
        assert self.market is not None and self.watchdog is not None
        changes = self.market.apply(event)
        now = self.clock()
        if isinstance(event, TradeEvent):
            self.watchdog.touch(Feed.TRADES, now)
            if event.trade.size > 0:
                self._portfolio().on_mark(event.trade.price)
                assert self.bars is not None
                self._on_bars(self.bars.on_trade(event.trade), None)
        elif isinstance(event, QuoteEvent):
            self.watchdog.touch(Feed.QUOTES, now)
        elif event.bids or event.asks:
            self.watchdog.touch(Feed.DEPTH, now)
        if changes:
            self.publish(MarketChanged(changes))

    def _on_bars(self, updates: list[BarUpdate], feed: Feed | None) -> None:
        if feed is not None and self.watchdog is not None:
            self.watchdog.touch(feed, self.clock())
        if updates and self.bars is not None:
            closed = sum(1 for u in updates if u.closed)
            self.publish(BarsChanged(self.bars.forming, closed))

    def _on_execution(self, report: ExecutionReport) -> bool:
        orders, portfolio = self._orders(), self._portfolio()
        fill = orders.fill_of(report)
        try:
            if fill is None or not portfolio.add_fill(fill):
                return False
        except FillConflict as exc:
            self.fill_conflict(str(exc))
            return False
        orders.on_fill(fill)
        if fill.order_id is not None and self.risk is not None:
            self.risk.record_execution()
        self.publish(FillBooked(fill, fill.order_id is not None, report.historical))
        self.publish(PositionChanged(portfolio.pnl()))
        self._last_fill_at = self.clock()
        self._position_due = self._last_fill_at + int(POSITION_GRACE_S * NS)
        return True

    # ---- connection ----------------------------------------------------------------------

    def _on_connection(self, event: ConnectionChanged) -> None:
        was = self._broker_state
        self._broker_state = event.state
        self._broker_reason = event.reason
        self._retry_in = event.retry_in_s
        if event.state in CONNECTED:
            if was not in CONNECTED and self.orders is not None:
                self.orders.on_reconnect()
            if was not in CONNECTED and self._reconciled_once:
                self._reconcile_due = True  # a reconnect: reconcile before trading again
                self._block("reconciling after reconnect")
        else:
            self._block(f"{event.state.lower()}: {event.reason}")
            if was in CONNECTED:
                self._on_disconnect(f"connection {event.state.lower()}: {event.reason}")
        self._update_connected()
        if event.state is ConnectionState.SYNCING and self.watchdog is not None:
            self.watchdog.rearm(self.clock())
        self._refresh_health()

    def _on_notice(self, notice: BrokerNotice) -> None:
        code = notice.code
        if self.orders is not None:
            self.orders.on_notice(notice)
        if code == LINK_LOST:
            self._link_down = True
            self._block("IB lost its connection to the exchange (1100)")
            self._on_disconnect("IB lost its connection to the exchange (1100)")
        elif code in (LINK_RESTORED_DATA_LOST, LINK_RESTORED):
            self._link_down = False
            if self.watchdog is not None:
                self.watchdog.rearm(self.clock())
            if self._reconciled_once:
                self._reconcile_due = True
                self._block(f"reconciling after IB {code}")
        self.notice(severity(code), f"IB {code}: {notice.text}" if code else notice.text, code)
        self._update_connected()
        self._refresh_health()

    def _on_market_farm(self, event: MarketDataFarm) -> None:
        """IB's market data farm down: no new entries at once (the quotes on hand may be
        frozen), exits still go. Back: every feed must deliver within its threshold again."""
        if event.up:
            self._farm_down = None
            if self.watchdog is not None:
                self.watchdog.rearm(self.clock())
            self.notice("INFO", f"{event.reason}: new entries allowed again")
        else:
            self._farm_down = event.reason
            self.notice("WARNING", f"{event.reason}: no new entries until it is back")
        self._refresh_health()

    def _update_connected(self) -> None:
        if self.connected:
            self._connected.set()
        else:
            self._connected.clear()
        self._order_change.set()  # wake a kill switch waiting on orders: it re-checks

    def _on_disconnect(self, why: str) -> None:
        """The disconnect policy (``risk.on_disconnect``): keep (orders and protective stops
        rest at IB; reconcile on reconnect), flatten on reconnect, or halt (the kill switch,
        run on reconnect)."""
        policy = self.config.risk.on_disconnect
        if policy == "keep" or not self._reconciled_once:
            return
        self.notice("WARNING", f"{why}: on_disconnect = {policy}, runs on reconnection")
        self.kill_switch.request(f"{why} (on_disconnect = {policy})", halt=policy == "halt")

    def _block(self, reason: str) -> None:
        if self.orders is not None:
            self.orders.blocked = reason

    def _stale(self) -> tuple[Feed, ...]:
        watchdog = self.watchdog
        if watchdog is None:
            return ()
        return tuple(f for f in watchdog.thresholds if watchdog.is_stale(f))

    def _degraded(self) -> str | None:
        """Why entries must wait though IB is connected: IB's link to the exchange or its
        market data farm is down."""
        if self._link_down:
            return "IB lost its connection to the exchange (1100)"
        return self._farm_down

    @property
    def syncing(self) -> bool:
        """Entries wait for a reconciliation: none has completed yet (start), one is due (a
        reconnect, IB's 1101/1102, a failed one) or one is running."""
        return not self._reconciled_once or self._reconcile_due or self._reconciling

    def _refresh_health(self) -> None:
        """The health the trader sees: the broker's state, SYNCING while connected but not
        reconciled (OK only when orders can go), DEGRADED with its cause (IB's link, its
        market data farm, a stale feed)."""
        state, reason, cause = self._broker_state, self._broker_reason, ""
        connected = state in CONNECTED
        stale = self._stale() if connected else ()
        degraded = self._degraded()
        down = ""  # IB's word that no market data comes now, in two words
        if connected and degraded is not None:
            down = "exchange link down" if self._link_down else "data farm down"
        if connected and self.syncing:
            blocked = self.orders.blocked if self.orders is not None else None
            state, reason, cause = ConnectionState.SYNCING, blocked or "starting", "reconciling"
        elif degraded is not None and connected:
            state, reason, cause = ConnectionState.DEGRADED, degraded, down
        elif stale and state is ConnectionState.OK:
            state, reason = ConnectionState.DEGRADED, "stale: " + ", ".join(stale)
            cause = "stale " + "+".join(stale)
        elif state is ConnectionState.DEGRADED:  # the broker's own: a (historical) data farm
            cause = "farm"
        health = HealthChanged(state, reason, stale, self.clock(), self._retry_in, cause, down)
        if replace(health, ts_ns=self.health.ts_ns) != self.health:  # a change, not the time
            self.health = health
            self.publish(health)

    def _set_health(self, state: ConnectionState, reason: str) -> None:
        self._broker_state, self._broker_reason, self._retry_in = state, reason, None
        self._refresh_health()

    # ---- the timer -----------------------------------------------------------------------

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self.timer_s)
            try:
                await self.tick()
            except Exception as exc:
                log.exception("engine timer")
                self.notice("ERROR", f"internal error in the engine timer: {exc!r}")

    async def tick(self) -> None:
        """One timer step (public for tests driving a fake clock)."""
        now = self.clock()
        if self.bars is not None:
            self._on_bars(self.bars.on_time(now), None)
        if self.watchdog is not None:
            if self.watchdog.check(now):
                self._refresh_health()
            self._resubscribe_stale(now)
        if self.risk is not None and self.portfolio is not None:
            self._risk_events(self.risk.on_pnl(self.portfolio.pnl(), now))
        if self.latch_error is not None and now >= self._latch_retry_at:
            self._latch_retry_at = now + int(RETRY_S * NS)
            self.keep_halt()
        if self._position_due is not None and now >= self._position_due:
            self._position_due = None
            await self._verify_position()
        connected = self._broker_state in CONNECTED
        if connected and self._reconcile_due and not self._reconcile_lock.locked():
            self._reconcile_due = False
            await self.reconcile("reconnect")
        orders = self.orders
        if (
            connected and orders is not None and not self._reconcile_lock.locked()
            and (orders.lookups or (orders.missing and now >= self._recheck_at))
        ):  # fmt: skip
            with contextlib.suppress(BrokerError):
                await self.look_up_orders()
        if connected and self._history_due:
            await self._backfill()

    # ---- risk ----------------------------------------------------------------------------

    def _risk_context(self) -> RiskContext:
        market, orders, portfolio = self.market, self._orders(), self._portfolio()
        quote = market.quote if market is not None else None
        last = market.last if market is not None else None
        working = orders.working()
        state, degraded = self._broker_state, self._degraded()
        if state in CONNECTED:  # a broken HMDS farm is no reason to stop; stale data is
            state = ConnectionState.DEGRADED if degraded is not None else ConnectionState.OK
        return RiskContext(
            now_ns=self.clock(),
            position=portfolio.position.quantity,
            working_buy=sum(o.remaining for o in working if o.side is Side.BUY),
            working_sell=sum(o.remaining for o in working if o.side is Side.SELL),
            bid=quote.bid if quote is not None else None,
            ask=quote.ask if quote is not None else None,
            last=last.price if last is not None else None,
            connection=state,
            connection_reason=degraded or "",
            stale=tuple(str(f) for f in self._stale()),
        )

    def _on_risk_transition(self, transition: RiskTransition) -> None:
        to = transition.to_state
        if to is TradingState.HALTED:
            self._latch(transition)  # first: before a notice (a log line) takes the last bytes
        self.notice("WARNING" if to is not TradingState.ACTIVE else "INFO",
                     f"trading {to}: {transition.reason}")  # fmt: skip
        self.publish(
            RiskUpdate(
                "transition", "state", transition.reason, to, transition.ts_ns,
                transition.from_state,
            )
        )  # fmt: skip

    def _risk_events(self, events: list[RiskEvent]) -> None:
        assert self.risk is not None
        for event in events:
            level = "ERROR" if event.kind is RiskEventKind.KILL else "WARNING"
            self.notice(level, f"risk {event.kind}: {event.reason}")
            self.publish(
                RiskUpdate(event.kind, event.rule, event.reason, self.risk.state, event.ts_ns)
            )
            if event.kind is RiskEventKind.KILL:
                self.request_kill(event.reason)

    # ---- the kill switch (see kill.py) ------------------------------------------------------

    async def kill(self, reason: str) -> KillProgress:
        """Run the kill switch (or join the run under way) and return its last step."""
        return await self.kill_switch.request(reason)

    def request_kill(self, reason: str) -> None:
        """Start the kill switch without waiting for it (a key handler's call)."""
        self.kill_switch.request(reason)

    def halt(self, reason: str) -> None:
        """HALTED at once, without cancelling or flattening (the journal cannot write: what
        cannot be recorded cannot be traded; the protective orders stay at IB). Before the
        engine has started, the halt is kept and the risk manager starts HALTED."""
        if self.risk is not None:
            self.risk.halt(reason)
            return
        restored = self._restored_risk
        if restored is not None and restored.to_state is TradingState.HALTED:
            return
        transition = RiskTransition(
            restored.to_state if restored is not None else TradingState.ACTIVE,
            TradingState.HALTED, reason.strip() or "halted", self.clock(),
        )  # fmt: skip
        self._restored_risk = transition
        self._on_risk_transition(transition)

    @property
    def trading_state(self) -> tuple[TradingState, str, int | None]:
        """The trading state, its reason and since when (before start: the restored one)."""
        if self.risk is not None:
            return self.risk.state, self.risk.state_reason, self.risk.state_since_ns
        restored = self._restored_risk
        if restored is None:
            return TradingState.ACTIVE, "", None
        return restored.to_state, restored.reason, restored.ts_ns

    def _latch(self, transition: RiskTransition) -> None:
        """Keep HALTED in the halt latch; when it cannot be written, say so loudly (HALTED
        stays in memory, and the latch is tried again by the timer and at shutdown)."""
        if self.latch is None:
            return
        try:
            self.latch.set(transition)
        except OSError as exc:
            first = self.latch_error is None
            self.latch_error = f"cannot write the halt latch {self.latch}: {exc.strerror or exc}"
            if first:
                self.notice("ERROR", f"{self.latch_error}; trading stays HALTED, but only in "
                            "memory until the latch or the journal can be written")  # fmt: skip
            return
        if self.latch_error is not None:
            self.latch_error = None
            self.notice("INFO", f"halt latch {self.latch} written")

    def keep_halt(self) -> str | None:
        """Write the halt latch again if HALTED could not be latched; the error, or None."""
        state, reason, since = self.trading_state
        if self.latch_error is not None and state is TradingState.HALTED:
            self._latch(RiskTransition(state, state, reason, since or self.clock()))
        return self.latch_error

    def fill_conflict(self, text: str) -> None:
        """One execution id with other facts (here or in the journal): logged, shown, and
        HALTED, as :meth:`halt` (the ledger can no longer be trusted)."""
        self.notice("ERROR", text)
        self.halt(text)

    @property
    def connected(self) -> bool:
        """Connected to IB, and IB to the exchange: orders can be sent."""
        return self._broker_state in CONNECTED and not self._link_down

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def wait_order_change(self, timeout_s: float) -> None:
        """Until an order update or fill is published (or the connection changes), at most
        ``timeout_s``."""
        self._order_change.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._order_change.wait(), timeout_s)

    @property
    def needs_reconcile(self) -> bool:
        return self._reconcile_due or self._reconcile_lock.locked()

    async def broker_truth(self) -> int:
        """IB's word: its open and completed orders and recent executions (applied: see
        :meth:`look_up_orders`), then its position (read twice when it differs from ours,
        then adopted). Returns the position. Raises ``BrokerError``."""
        await self.look_up_orders()
        async with self._reconcile_lock:
            await self._reconcile_position(at_start=False)
        return self._portfolio().position.quantity

    async def look_up_orders(self) -> None:
        """Ask IB what became of our orders, without blocking entries: executions since the
        last fill, open orders, completed orders. An order is closed only on IB's word (see
        ``OrderManager.settle``). Raises ``BrokerError``."""
        async with self._reconcile_lock:
            await self._read_orders()

    async def _read_orders(
        self, *, all_executions: bool = False
    ) -> tuple[int, list[Order], list[Order]]:
        """Executions, open and completed orders from IB, applied. Returns how many fills
        were new, the orders closed, and the orders still unconfirmed. ``all_executions``:
        every execution IB has (at start the journal's last fill may have outrun one it never
        got), else those since the last one known."""
        orders, portfolio = self._orders(), self._portfolio()
        last = portfolio.ledger.last_ts_ns
        since = None if all_executions or last is None else last - NS
        executions = await self.broker.executions(since)
        recovered = sum(1 for r in executions if self._on_execution(r))
        listed = await self.broker.open_orders()
        for report in listed:
            orders.on_report(report)
        completed = await self.broker.completed_orders() if orders.working() else []
        closed, unknown = orders.settle(listed, completed)
        orders.drop_foreign(listed)
        await orders.resend_cancels()
        self._recheck_at = self.clock() + int(RECHECK_S * NS)
        for order in closed:
            if order.reject_reason:
                self.notice("WARNING", f"{order.client_id}: {order.reject_reason}")
        return recovered, closed, unknown

    def rearm(self, reason: str) -> str | None:
        """Back to ACTIVE with a typed reason; the refusal (cooldown, no reason, a loss limit
        hit this session) as text, or None when re-armed."""
        if self.risk is None:
            return "the engine has not started"
        if self.kill_switch.running:
            last = self.kill_switch.last
            return "the kill switch is still running" + (
                f" ({last.step}: {last.detail})" if last is not None else ""
            )
        refusal = self.risk.rearm_refusal(reason) or self._unlatch()
        if refusal is None:
            self.risk.rearm(reason)
        return refusal

    def _unlatch(self) -> str | None:
        """Remove the halt latch before a re-arm; the refusal when it cannot be removed (a
        latch left behind would halt the next start, a journal that says ACTIVE with it)."""
        if self.latch is None:
            return None
        try:
            self.latch.clear()
        except OSError as exc:
            return (
                f"re-arm refused: cannot remove the halt latch {self.latch} "
                f"({exc.strerror or exc}); trading stays {self.trading_state[0]}"
            )
        self.latch_error = None
        return None

    def _resubscribe_stale(self, now: int) -> None:
        """A stale feed while connected (IB failure #1): ask again. Not while IB says its
        link or its market data farm is down: nothing would come."""
        stale = self._stale()
        if not stale or self._broker_state not in CONNECTED or self._degraded() is not None:
            return
        if now - self._last_resubscribe < RESUBSCRIBE_S * NS:
            return
        resubscribe = getattr(self.broker, "resubscribe_all", None)
        if resubscribe is None:
            return
        self._last_resubscribe = now
        self.notice("WARNING", "no data on " + ", ".join(stale) + ": resubscribing")
        resubscribe()

    async def _verify_position(self) -> None:
        """After the grace period: compare with what IB said *after* our last fill; when IB
        has said nothing since (a slow or silent position stream), ask it."""
        if self._broker_position_at <= self._last_fill_at:
            if self._broker_state not in CONNECTED:
                self._position_due = self.clock() + int(POSITION_GRACE_S * NS)
                return
            try:
                await self._read_broker_position()
            except BrokerError:
                self._position_due = self.clock() + int(POSITION_GRACE_S * NS)
                return
        self._check_position(at_start=False)

    async def _read_broker_position(self) -> int:
        """Ask IB for its position in our contract; remember it and return its quantity."""
        con_id = self._instrument().con_id
        mine = [p for p in await self.broker.positions() if p.con_id == con_id]
        self._broker_position = mine[0] if mine else None
        self._broker_position_at = self.clock()
        return self._broker_position.quantity if self._broker_position else 0

    def _check_position(self, *, at_start: bool) -> bool:
        """Compare the broker's position with ours; adopt the broker's when they differ.
        True when they agreed."""
        report = self._broker_position
        portfolio = self.portfolio
        if portfolio is None:
            return True
        quantity = report.quantity if report is not None else 0
        avg_cost = report.avg_cost if report is not None else Decimal(0)
        divergence = portfolio.check_broker(quantity, avg_cost)
        if divergence is None:
            return True
        portfolio.adopt(quantity, avg_cost)
        level = "INFO" if at_start else "WARNING"
        self.notice(
            level,
            f"position at IB is {quantity}, fills here said {divergence.ours}: using IB's"
            + (" (carried in)" if at_start else ""),
        )
        self.publish(
            PositionDivergence(divergence.ours, quantity, avg_cost, at_start, self.clock())
        )
        self.publish(PositionChanged(portfolio.pnl()))
        return False

    # ---- history and reconciliation ------------------------------------------------------

    async def _backfill(self) -> None:
        assert self.instrument is not None and self.bars is not None
        try:
            history = await self.broker.history(self.instrument, self.history_minutes)
        except BrokerError as exc:
            self._history_due = True
            self.notice("WARNING", f"bar history unavailable, will retry: {exc}")
            return
        self._history_due = False
        self._on_bars(self.bars.backfill(history), None)

    async def reconcile(self, reason: str) -> Reconciled | None:
        """Bring orders, fills and the position in line with the broker (see the module
        notes). Returns what was found, or None when it could not run (retried later)."""
        orders, portfolio = self.orders, self.portfolio
        if orders is None or portfolio is None:
            return None
        async with self._reconcile_lock:
            self._reconcile_due = False
            at_start = not self._reconciled_once
            orders.blocked = f"reconciling ({reason})"
            self._reconciling = True
            self._refresh_health()
            try:
                result = await self._reconcile(reason, at_start)
            except BrokerError as exc:
                self._reconcile_due = True
                orders.blocked = f"reconciliation failed, retrying: {exc}"
                self.notice("WARNING", f"reconciliation ({reason}) failed: {exc}")
                return None
            else:
                self._reconciled_once = True
                if self._broker_state in CONNECTED and not self._link_down:
                    orders.blocked = None
            finally:
                self._reconciling = False
                self._refresh_health()  # OK only now that orders can go
            self.publish(result)
            self.notice("INFO", f"reconciled ({reason}): {result.detail}")
            return result

    async def _reconcile(self, reason: str, at_start: bool) -> Reconciled:
        orders, portfolio = self._orders(), self._portfolio()
        recovered, closed, unknown = await self._read_orders(all_executions=at_start)
        agreed = await self._reconcile_position(at_start)
        own = len(orders.working())
        position = portfolio.position.quantity
        protected = orders.protected()
        detail = (
            f"{own} own working order(s), {len(orders.foreign)} foreign, "
            f"{recovered} fill(s) recovered, {len(closed)} order(s) closed, position "
            f"{position}" + (f" ({protected} protected by stops)" if position else "")
            + (f"; {len(unknown)} order(s) not confirmed by IB yet" if unknown else "")
            + ("" if agreed else "; position taken from IB")
        )  # fmt: skip
        return Reconciled(
            reason, own, len(orders.foreign), recovered, len(closed), position, protected,
            True, self.clock(), detail,
        )  # fmt: skip

    async def _reconcile_position(self, at_start: bool) -> bool:
        """Two reads of IB's position must agree with ours before we call it different (a
        fill in flight shows in one before the other)."""
        for attempt in range(2):
            if await self._read_broker_position() == self._portfolio().position.quantity:
                return True
            if attempt == 0 and not at_start:
                await asyncio.sleep(POSITION_GRACE_S / 2)
        return self._check_position(at_start=at_start)

    # ---- snapshots -----------------------------------------------------------------------

    def snapshot(self, tape: int | None = 200) -> EngineSnapshot:
        orders, risk = self.orders, self.risk
        trading = self.trading_state
        return EngineSnapshot(
            instrument=self.instrument,
            health=self.health,
            market=self.market.snapshot(tape) if self.market is not None else None,
            bars=self.bars.bars() if self.bars is not None else (),
            pnl=self.portfolio.pnl() if self.portfolio is not None else None,
            orders=orders.views() if orders is not None else (),
            foreign_orders=tuple(orders.foreign.values()) if orders is not None else (),
            entries_blocked=orders.blocked if orders is not None else "not started",
            account=self.broker.account,
            client_id=self.broker.client_id,
            trading_state=trading[0],
            trading_reason=trading[1],
            last_refusal=self.last_refusal,
            kill=self.kill_switch.last,
            calendar=self.calendar,
            feed_ages=self._feed_ages(),
            drawdown=risk.drawdown if risk is not None else None,
            order_rate=risk.orders_in_last_second() if risk is not None else None,
        )

    def _feed_ages(self) -> tuple[tuple[Feed, float], ...]:
        watchdog = self.watchdog
        if watchdog is None:
            return ()
        now = self.clock()
        return tuple((feed, watchdog.data_age(feed, now)) for feed in watchdog.thresholds)
