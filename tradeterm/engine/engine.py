"""The headless engine: one market, one broker, one event loop.

The UI, tests, benchmarks and backtests all drive it the same way::

    engine = Engine(broker, "ES", market_config)
    await engine.start()                 # connect, resolve, subscribe, backfill, reconcile
    stream = engine.listen()             # async iterator of EngineEvents
    result = await engine.submit(PlaceOrder(Side.BUY, 1))
    snap = engine.snapshot()             # everything a screen shows, immutable
    await engine.stop()

Once the broker has resolved the contract, the engine builds its :class:`TradingCore`
(``engine/core.py``: market state, bars, portfolio, risk and orders, built together); before
that it has none. Its parts: the event stream (``stream.py``), the connection
(``connectivity.py``, the health shown in ``health.py``), the reconciliation
(``reconcile.py``), the trading state and halt latch (``trading_state.py``) and the kill
switch (``kill.py``, acting on the engine through ``kill_target.py``).

Workers (asyncio tasks on the caller's loop): the *pump* applies each broker event to the
market state, bars, orders and portfolio, in arrival order, and publishes what changed; the
*timer* (4 Hz) closes bars, checks feed staleness, confirms the broker's position, and
retries what failed (history backfill, reconciliation).

Reconciliation (``reconcile.py``) runs at start, after every reconnect and after IB's
1101/1102; new entries stay blocked until it completes. Before the first one, the fills earlier
runs journaled are restored (``journaled_fills``), so that only fills new to this instance
count as recovered.

An execution id reported again with other facts (:class:`~tradeterm.domain.FillConflict`, from
the ledger here or from the journal across runs) is not booked: it is logged, shown and
trading goes HALTED (:meth:`Engine.fill_conflict`), as the fills can no longer be trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal

from tradeterm.broker.port import (
    AccountPnL,
    BarEvent,
    Broker,
    BrokerError,
    BrokerEvent,
    CommissionEvent,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    NoticeLevel,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.config import MarketConfig
from tradeterm.domain import ClientOrderIds, Fill, FillConflict, Instrument
from tradeterm.engine.bar_builder import BarBuilder, BarUpdate
from tradeterm.engine.calendar import CHICAGO, CME, SessionCalendar
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
from tradeterm.engine.connectivity import Connectivity
from tradeterm.engine.core import TradingCore
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
    Reconciled,
    RiskUpdate,
)
from tradeterm.engine.health import ConnectionHealth, default_staleness
from tradeterm.engine.kill import KillSwitch, KillTimings
from tradeterm.engine.kill_target import EngineKillTarget
from tradeterm.engine.marketdata import Feed, MarketState, StalenessWatchdog
from tradeterm.engine.order_manager import BeforeSend, OrderManager, SentOrder
from tradeterm.engine.portfolio import Portfolio
from tradeterm.engine.reconcile import Reconciler
from tradeterm.engine.risk import (
    RiskEvent,
    RiskManager,
    RiskTransition,
)
from tradeterm.engine.stream import EventStream
from tradeterm.engine.trading_state import HaltLatch, TradingStateKeeper
from tradeterm.engine.types import RiskEventKind, TradingState

log = logging.getLogger(__name__)

JournaledFills = Callable[[Instrument], Awaitable[Sequence[tuple[Fill, Decimal | None]]]]
"""Awaited once at start: the fills of ``instrument`` earlier runs journaled, with their
commissions, in execution order."""


class Engine:
    """See the module notes. ``instance`` names this tradeterm process in every orderRef
    (default: the symbol); two instances must not share a name on one account.

    Hooks (the runtime's, all optional): ``before_send`` is awaited before each order goes to
    the broker (the journal commits its intent); ``journaled_fills`` is awaited once at start;
    ``latch`` keeps HALTED outside the journal; ``on_connected`` is called once connected,
    before anything restored is applied to trading (raising refuses the start)."""

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
        before_send: BeforeSend | None = None,
        journaled_fills: JournaledFills | None = None,
        latch: HaltLatch | None = None,
        on_connected: Callable[[], None] | None = None,
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
        self.before_send = before_send
        self.journaled_fills = journaled_fills
        self.on_connected = on_connected
        self._listeners: list[EventStream] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._commands = 0
        self._history_due = False
        self.core: TradingCore | None = None  # built once the contract is known (start)
        self.account_pnl: object | None = None
        self._sent_orders = tuple(sent_orders)  # orders earlier runs sent, fate unknown
        self.last_refusal = ""
        self.events_applied = 0  # broker events applied (benchmarks: the ingest rate)
        self._order_change = asyncio.Event()  # an order update or a fill was published
        self.link = ConnectionHealth(clock())
        self.reconciler = Reconciler(
            broker, self.link, clock=clock, book=self._on_execution, publish=self.publish,
            notice=self.notice, refresh=lambda: self.connectivity.refresh_health(),
        )  # fmt: skip
        self.connectivity = Connectivity(
            broker, self.link, self.reconciler, core=lambda: self.core,
            on_disconnect=self.config.risk.on_disconnect,
            request_kill=lambda why, halt: self.kill_switch.request(why, halt=halt),
            clock=clock, notice=self.notice, publish=self.publish, wake=self._order_change.set,
        )  # fmt: skip
        self.states = TradingStateKeeper(
            lambda: self.risk, restored=risk_state, latch=latch, clock=clock,
            notice=self.notice, publish=self.publish,
        )  # fmt: skip
        target = EngineKillTarget(
            lambda: self.core, broker, self.connectivity, self.reconciler, clock=clock,
            publish=self.publish, wait_order_change=self.wait_order_change,
        )  # fmt: skip
        self.kill_switch = KillSwitch(
            target, KillTimings(timeout_s=self.config.risk.kill_timeout_s)
        )

    # ---- the core's parts, for callers (None before the contract is known) --------------

    @property
    def instrument(self) -> Instrument | None:
        return self.core.instrument if self.core is not None else None

    @property
    def market(self) -> MarketState | None:
        return self.core.market if self.core is not None else None

    @property
    def bars(self) -> BarBuilder | None:
        return self.core.bars if self.core is not None else None

    @property
    def portfolio(self) -> Portfolio | None:
        return self.core.portfolio if self.core is not None else None

    @property
    def orders(self) -> OrderManager | None:
        return self.core.orders if self.core is not None else None

    @property
    def risk(self) -> RiskManager | None:
        return self.core.risk if self.core is not None else None

    @property
    def watchdog(self) -> StalenessWatchdog | None:
        return self.core.watchdog if self.core is not None else None

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
        self.publish(EngineNotice(NoticeLevel(level), text, self.clock(), code))

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
            core = self.core = self._build(instrument)
            await self._restore_fills(core)
            for sent in self._sent_orders:  # with their fills; the reconciliation finds them
                core.orders.restore(sent)
            await self.broker.subscribe_market_data(instrument)
            await self._backfill(core)
            await self.reconcile("start")
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._timer(), name="engine-timer"))
        self._resume_kill(core)

    def _resume_kill(self, core: TradingCore) -> None:
        """A restart in a restored REDUCING state (a kill that had not finished) or HALTED
        with something still open at IB runs the kill switch again."""
        risk = core.risk
        if risk.state is TradingState.ACTIVE:
            return
        open_ = core.portfolio.position.quantity != 0 or bool(core.orders.working())
        if risk.state is TradingState.REDUCING or open_:
            self.request_kill(f"restarted {risk.state} ({risk.state_reason}): finishing the kill")

    async def _restore_fills(self, core: TradingCore) -> None:
        """The fills earlier runs journaled, known before IB reports any again (see the
        module notes)."""
        if self.journaled_fills is None:
            return
        portfolio = core.portfolio
        fills = await self.journaled_fills(core.instrument)
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

    def _build(self, instrument: Instrument) -> TradingCore:
        return TradingCore(
            instrument, self.broker, self.ids, risk=self.config.risk, calendar=self.calendar,
            clock=self.clock, staleness=self._staleness, link=self.link, emit=self.publish,
            on_transition=self.states.on_transition, restored=self.states.restored,
            before_send=self.before_send,
        )  # fmt: skip

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
        self.link.set(ConnectionState.DISCONNECTED, "stopped")
        self.connectivity.refresh_health()
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
        core = self.core
        if core is None:
            raise Refused("the engine has not started")
        orders = core.orders
        match command:
            case PlaceOrder():
                return await orders.place(command, command_id)
            case PlaceBracket():
                return await orders.place_bracket(command, command_id, core.reference(command.side))
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
        if self.connectivity.apply(event):
            return
        core = self.core
        if core is None:
            return  # before the instrument is known: reconciliation will fetch it all
        if isinstance(event, (QuoteEvent, DepthEvent, TradeEvent)):
            self._on_market(core, event)
        elif isinstance(event, BarEvent):
            self._on_bars(core, core.bars.apply(event), Feed.BARS)
        elif isinstance(event, OrderReport):
            core.orders.on_report(event)
        elif isinstance(event, ExecutionReport):
            self._on_execution(core, event)
        elif isinstance(event, CommissionEvent):
            if core.portfolio.add_commission(event.exec_id, event.commission):
                self.publish(PositionChanged(core.portfolio.pnl()))
        elif isinstance(event, PositionReport):
            if event.con_id == core.instrument.con_id:
                self.reconciler.on_position(event)
        elif isinstance(event, AccountPnL):
            self.account_pnl = event
            if event.daily is not None:
                self._risk_events(core, core.risk.on_account_pnl(event.daily))

    def _on_market(self, core: TradingCore, event: QuoteEvent | DepthEvent | TradeEvent) -> None:
        changes = core.market.apply(event)
        now = self.clock()
        watchdog = core.watchdog
        if isinstance(event, TradeEvent):
            watchdog.touch(Feed.TRADES, now)
            if event.trade.size > 0:
                core.portfolio.on_mark(event.trade.price)
                self._on_bars(core, core.bars.on_trade(event.trade), None)
        elif isinstance(event, QuoteEvent):
            watchdog.touch(Feed.QUOTES, now)
        elif event.bids or event.asks:
            watchdog.touch(Feed.DEPTH, now)
        if changes:
            self.publish(MarketChanged(changes))

    def _on_bars(self, core: TradingCore, updates: list[BarUpdate], feed: Feed | None) -> None:
        if feed is not None:
            core.watchdog.touch(feed, self.clock())
        if updates:
            closed = sum(1 for u in updates if u.closed)
            self.publish(BarsChanged(core.bars.forming, closed))

    def _on_execution(self, core: TradingCore, report: ExecutionReport) -> bool:
        """Book an execution once (by its id); True when it was new."""
        orders, portfolio = core.orders, core.portfolio
        fill = orders.fill_of(report)
        try:
            if fill is None or not portfolio.add_fill(fill):
                return False
        except FillConflict as exc:
            self.fill_conflict(str(exc))
            return False
        orders.on_fill(fill)
        if fill.order_id is not None:
            core.risk.record_execution()
        self.publish(FillBooked(fill, fill.order_id is not None, report.historical))
        self.publish(PositionChanged(portfolio.pnl()))
        self.reconciler.on_fill()
        return True

    @property
    def health(self) -> HealthChanged:
        return self.link.current

    @property
    def connected(self) -> bool:
        """Connected to IB, and IB to the exchange: orders can be sent."""
        return self.link.connected

    @property
    def syncing(self) -> bool:
        """Entries wait for a reconciliation: none has completed yet (start), one is due (a
        reconnect, IB's 1101/1102, a failed one) or one is running."""
        return self.reconciler.syncing

    async def wait_connected(self) -> None:
        await self.connectivity.wait_connected()

    async def wait_order_change(self, timeout_s: float) -> None:
        """Until an order update or fill is published (or the connection changes), at most
        ``timeout_s``."""
        self._order_change.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._order_change.wait(), timeout_s)

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
        core = self.core
        if core is not None:
            self._on_bars(core, core.bars.on_time(now), None)
            if core.watchdog.check(now):
                self.connectivity.refresh_health()
            self.connectivity.resubscribe_stale(now)
            self._risk_events(core, core.risk.on_pnl(core.portfolio.pnl(), now))
        self.states.retry(now)
        rec = self.reconciler
        if core is not None and rec.position_due is not None and now >= rec.position_due:
            rec.position_due = None
            await rec.verify_position(core)
        connected = self.link.broker_up
        if connected and rec.due and not rec.lock.locked():
            rec.due = False
            await self.reconcile("reconnect")
        if (
            connected and core is not None and not rec.lock.locked()
            and (core.orders.lookups or (core.orders.missing and now >= rec.recheck_at))
        ):  # fmt: skip
            with contextlib.suppress(BrokerError):
                await self.look_up_orders()
        if connected and self._history_due and core is not None:
            await self._backfill(core)

    # ---- history and reconciliation ------------------------------------------------------

    async def _backfill(self, core: TradingCore) -> None:
        try:
            history = await self.broker.history(core.instrument, self.history_minutes)
        except BrokerError as exc:
            self._history_due = True
            self.notice("WARNING", f"bar history unavailable, will retry: {exc}")
            return
        self._history_due = False
        self._on_bars(core, core.bars.backfill(history), None)

    async def reconcile(self, reason: str) -> Reconciled | None:
        """Bring orders, fills and the position in line with the broker (``reconcile.py``).
        Returns what was found, or None when it could not run (retried later)."""
        if self.core is None:
            return None
        return await self.reconciler.reconcile(self.core, reason)

    @property
    def needs_reconcile(self) -> bool:
        return self.reconciler.needs_reconcile

    async def broker_truth(self) -> int:
        """IB's word on orders, executions and the position (``Reconciler.broker_truth``);
        the position. Raises ``BrokerError``."""
        assert self.core is not None
        return await self.reconciler.broker_truth(self.core)

    async def look_up_orders(self) -> None:
        """Ask IB what became of our orders, without blocking entries. Raises
        ``BrokerError``."""
        assert self.core is not None
        await self.reconciler.look_up_orders(self.core)

    # ---- risk ----------------------------------------------------------------------------

    def _risk_events(self, core: TradingCore, events: list[RiskEvent]) -> None:
        for event in events:
            level = "ERROR" if event.kind is RiskEventKind.KILL else "WARNING"
            self.notice(level, f"risk {event.kind}: {event.reason}")
            self.publish(
                RiskUpdate(event.kind, event.rule, event.reason, core.risk.state, event.ts_ns)
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
        self.states.halt(reason)

    @property
    def trading_state(self) -> tuple[TradingState, str, int | None]:
        """The trading state, its reason and since when (before start: the restored one)."""
        return self.states.state

    @property
    def latch(self) -> HaltLatch | None:
        """Where HALTED is kept outside the journal (``trading_state.py``)."""
        return self.states.latch

    @latch.setter
    def latch(self, latch: HaltLatch | None) -> None:
        self.states.latch = latch

    @property
    def latch_error(self) -> str | None:
        """Why HALTED could not be latched (kept in memory only), or None."""
        return self.states.latch_error

    def keep_halt(self) -> str | None:
        """Write the halt latch again if HALTED could not be latched; the error, or None."""
        return self.states.keep_halt()

    def fill_conflict(self, text: str) -> None:
        """One execution id with other facts (here or in the journal): logged, shown, and
        HALTED, as :meth:`halt` (the ledger can no longer be trusted)."""
        self.notice("ERROR", text)
        self.halt(text)

    def rearm(self, reason: str) -> str | None:
        """Back to ACTIVE with a typed reason; the refusal (cooldown, no reason, a loss limit
        hit this session, the halt latch not removable) as text, or None when re-armed."""
        if self.core is None:
            return "the engine has not started"
        if self.kill_switch.running:
            last = self.kill_switch.last
            return "the kill switch is still running" + (
                f" ({last.step}: {last.detail})" if last is not None else ""
            )
        return self.states.rearm(self.core.risk, reason)

    # ---- snapshots -----------------------------------------------------------------------

    def snapshot(self, tape: int | None = 200) -> EngineSnapshot:
        core = self.core
        trading = self.trading_state
        return EngineSnapshot(
            instrument=core.instrument if core is not None else None,
            health=self.health,
            market=core.market.snapshot(tape) if core is not None else None,
            bars=core.bars.bars() if core is not None else (),
            pnl=core.portfolio.pnl() if core is not None else None,
            orders=core.orders.views() if core is not None else (),
            foreign_orders=tuple(core.orders.foreign.values()) if core is not None else (),
            entries_blocked=core.orders.blocked if core is not None else "not started",
            account=self.broker.account,
            client_id=self.broker.client_id,
            trading_state=trading[0],
            trading_reason=trading[1],
            last_refusal=self.last_refusal,
            kill=self.kill_switch.last,
            calendar=self.calendar,
            feed_ages=core.feed_ages(self.clock()) if core is not None else (),
            drawdown=core.risk.drawdown if core is not None else None,
            order_rate=core.risk.orders_in_last_second() if core is not None else None,
        )
