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
1101/1102; new entries stay blocked until it completes. Before the first one, the core takes
back what earlier runs journaled (``journaled_fills``, ``sent_orders``: ``TradingCore.restore``).

An execution id reported again with other facts (:class:`~tradeterm.domain.FillConflict`, from
the ledger here or from the journal across runs) is not booked: it is logged, shown and
trading goes HALTED (:meth:`Engine.fill_conflict`), as the fills can no longer be trusted.

The account's figures (``AccountValues``: its net liquidation, the equity strategy entries are
sized by) are kept as the broker last gave them, with when (:meth:`Engine.account_age_s`),
from the first one on, before the contract is known; until then they are unknown (None). So
is the account's daily P&L (``AccountPnL``: IB's reqPnL, every instance and market of the
account together). The margin one more contract takes (``ContractMargin``) is asked of the
broker once connected, by the timer, without holding it up (IB: a what-if order, nothing
placed); asked again ``MARGIN_RETRY_S`` after a failure; unknown (None) until answered.

Kept as one module because it is where the parts above are wired together; each part's own
logic lives in its module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from decimal import Decimal

from tradeterm.broker.port import (
    AccountPnL,
    AccountValues,
    BarEvent,
    Broker,
    BrokerError,
    BrokerEvent,
    CommissionEvent,
    ConnectionState,
    ContractMargin,
    DepthEvent,
    ExecutionReport,
    NoticeLevel,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.config import MarketConfig
from tradeterm.domain import ClientOrderIds, Fill, FillConflict, Instrument, Rounding, Side
from tradeterm.engine.bar_builder import BarBuilder
from tradeterm.engine.calendar import CHICAGO, CME, NS, SessionCalendar
from tradeterm.engine.commands import (
    ClearAlerts,
    Command,
    CommandResult,
    PlaceOrder,
    ToggleAlert,
    price_ticks,
)
from tradeterm.engine.connectivity import Connectivity, GatewayWait
from tradeterm.engine.core import TradingCore
from tradeterm.engine.dispatch import CommandDispatcher
from tradeterm.engine.events import (
    EngineEvent,
    EngineNotice,
    EngineSnapshot,
    FillBooked,
    HealthChanged,
    KillProgress,
    OrderUpdated,
    PriceAlertHit,
    Reconciled,
    StrategyView,
)
from tradeterm.engine.exits import ExitManager
from tradeterm.engine.health import ConnectionHealth, default_staleness
from tradeterm.engine.kill import KillSwitch, KillTimings
from tradeterm.engine.kill_target import EngineKillTarget
from tradeterm.engine.marketdata import MarketState
from tradeterm.engine.order_manager import BeforeSend, OrderManager
from tradeterm.engine.order_tracking import SentOrder
from tradeterm.engine.portfolio import Portfolio
from tradeterm.engine.price_alerts import AlertStore, PriceAlert, PriceAlerts
from tradeterm.engine.reconcile import Reconciler
from tradeterm.engine.risk import RiskManager, RiskTransition
from tradeterm.engine.source_clock import SourceClock
from tradeterm.engine.staleness import Feed, StalenessWatchdog
from tradeterm.engine.stream import EventStream
from tradeterm.engine.trading_state import HaltLatch, TradingStateKeeper
from tradeterm.engine.types import TradingState

log = logging.getLogger(__name__)

HISTORY_BAR_NS = 60 * NS  # the bars the broker's history holds (Broker.history: 1 minute)
MARGIN_RETRY_S = 60  # a what-if that failed (not connected, refused) is asked again after this

JournaledFills = Callable[[Instrument], Awaitable[Sequence[tuple[Fill, Decimal | None]]]]
"""Awaited once at start: the fills of ``instrument`` earlier runs journaled, with their
commissions, in execution order."""


class Engine:
    """See the module notes. ``instance`` names this tradeterm process in every orderRef
    (default: the symbol); two instances must not share a name on one account.

    Hooks (the runtime's, all optional): ``before_send`` is awaited before each order goes to
    the broker (the journal commits its intent); ``journaled_fills`` is awaited once at start;
    ``latch`` keeps HALTED outside the journal; ``alert_store`` keeps the price alerts
    (``price_alerts.py``) across restarts; ``on_connected`` is called once connected,
    before anything restored is applied to trading (raising refuses the start);
    ``wait_for_gateway``: a gateway not there yet at start is waited for (``connectivity.py``).
    A replay's: ``source``, the replayed market's clock (the engine's clock, and whether the
    source is paused: ``source_clock.py``); ``queue_truth``, the exact queue place of a resting
    order by IB permId (the queue estimate's ``exact``)."""

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
        venue: str = "IB",
        wait_for_gateway: GatewayWait | None = None,
        alert_store: AlertStore | None = None,
        source: SourceClock | None = None,
        queue_truth: Callable[[int], int | None] | None = None,
    ) -> None:
        if source is not None:  # a replay: the market's own time (engine/source_clock.py)
            clock = source.now_ns
        self.source = source
        self._queue_truth = queue_truth  # a replay's exact queue places (by permId)
        self.broker = broker
        self.alerts = PriceAlerts()
        self.alert_store = alert_store
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
        self.wait_for_gateway = wait_for_gateway
        self._listeners: list[EventStream] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._history_due = False
        self._source_jumps = 0  # the source's jumps already backfilled (source_clock.py)
        self._refill_at = 0  # ask history again then: the minute a jump landed in has closed
        self.core: TradingCore | None = None  # built once the contract is known (start)
        self.source_paused = False  # the source clock is paused (a paused replay)
        self.account_pnl: AccountPnL | None = None  # the account's (reqPnL); None: not said
        self.contract_margin: ContractMargin | None = None  # None: not answered yet
        self._margin_at = 0  # when (engine clock) the margin per contract may be asked
        self._margin_task: asyncio.Task[None] | None = None
        self.account_values: AccountValues | None = None  # the broker's latest; None: not said
        self._account_values_at = 0  # when they came, by the engine's clock
        self._sent_orders = tuple(sent_orders)  # orders earlier runs sent, fate unknown
        self.events_applied = 0  # broker events applied (benchmarks: the ingest rate)
        self._order_change = asyncio.Event()  # an order update or a fill was published
        self.market_taps: list[Callable[[BrokerEvent], None]] = []  # strategy_runner.py
        self.strategy_view: Callable[[], StrategyView] | None = None
        self.link = ConnectionHealth(clock())
        self.reconciler = Reconciler(
            broker, self.link, clock=clock, book=self._on_execution, publish=self.publish,
            notice=self.notice, refresh=lambda: self.connectivity.refresh_health(),
            unfinished_close=lambda command_id: self.dispatcher.finish_flatten(
                command_id, "its close never reached IB"),
            reconciled=lambda: self.exits.after_reconcile(),
        )  # fmt: skip
        self.connectivity = Connectivity(
            broker, self.link, self.reconciler, core=lambda: self.core,
            on_disconnect=self.config.risk.on_disconnect,
            request_kill=lambda why, halt: self.kill_switch.request(why, halt=halt),
            clock=clock, notice=self.notice, publish=self.publish, wake=self._order_change.set,
        )  # fmt: skip
        self.states = TradingStateKeeper(
            lambda: self.risk, restored=risk_state, latch=latch, clock=clock,
            notice=self.notice, publish=self.publish, request_kill=self.request_kill,
        )  # fmt: skip
        self._started = asyncio.Event()  # start() ran to its end: connected, reconciled
        target = EngineKillTarget(
            lambda: self.core, broker, self.connectivity, self.reconciler, clock=clock,
            publish=self.publish, wait_order_change=self.wait_order_change,
            wait_started=self._started.wait, halt_before_start=self.states.halt,
        )  # fmt: skip
        self.kill_switch = KillSwitch(
            target, KillTimings(timeout_s=self.config.risk.kill_timeout_s), venue=venue
        )
        self.exits = ExitManager(
            self.config.exits, orders=lambda: self.orders, submit=self.submit,
            kill_running=lambda: self.kill_switch.running, notice=self.notice,
        )  # fmt: skip
        self.dispatcher = CommandDispatcher(
            broker, self.kill_switch, core=lambda: self.core, notice=self.notice,
            publish=self.publish, exits=self.exits, alerts=self._alert_command, clock=clock,
        )  # fmt: skip

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
        """Connect (with ``wait_for_gateway``: once the gateway answers), resolve the
        contract, subscribe, backfill and reconcile. Raises the broker's
        ``ConnectError``/``BrokerError`` (worded for the user) when it cannot."""
        self._tasks.append(asyncio.create_task(self._pump(), name="engine-pump"))
        try:
            await self.connectivity.start_broker(self.wait_for_gateway)
            if self.on_connected is not None:
                self.on_connected()
            contract = self.config.contract or self.symbol
            instrument = await self.broker.resolve(contract, roll_days=self.config.roll_days)
            if not self._calendar_given:
                self.calendar = self._contract_calendar(instrument)
            core = self.core = self._build(instrument)
            self._restore_alerts(instrument)
            journaled = self.journaled_fills
            fills = await journaled(instrument) if journaled is not None else ()
            core.restore(fills, self._sent_orders)
            self.exits.restore()  # what the journal says the restored orders were sent for
            await self.broker.subscribe_market_data(instrument)
            await self._backfill(core)
            await self.reconcile("start")
        except BaseException:
            await self.stop()
            raise
        self._tasks.append(asyncio.create_task(self._timer(), name="engine-timer"))
        self._started.set()  # a kill switch pressed before this runs now
        unfinished = core.kill_to_finish()
        if unfinished is not None:
            self.request_kill(unfinished)

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
        core = TradingCore(
            instrument, self.broker, self.ids, risk=self.config.risk, calendar=self.calendar,
            clock=self.clock, staleness=self._staleness, link=self.link, emit=self.publish,
            on_transition=self._on_transition, restored=self.states.restored,
            before_send=self.before_send, recent_s=self.config.recent_volume_s,
            watch_clock=self.source.played_ns if self.source is not None else None,
            queue_truth=self._queue_truth,
        )  # fmt: skip
        self._follow_source(core)
        return core

    def _on_transition(self, transition: RiskTransition) -> None:
        """A new trading state: the word on the risk panel now, in place of the last refusal."""
        self.dispatcher.forget_refusal()
        self.states.on_transition(transition)

    def _follow_source(self, core: TradingCore) -> None:
        """A paused source clock (a paused replay) holds the watchdog: its silence is on
        purpose, no feed is stale; at its resume each feed must deliver within its threshold
        again (``StalenessWatchdog.release``), so a replay frozen after its resume goes
        stale."""
        self._follow_jumps(core)
        paused = self.source is not None and self.source.paused
        if paused == self.source_paused and paused == core.watchdog.held:
            return
        self.source_paused = paused
        if paused:
            core.watchdog.hold()
        else:
            core.watchdog.release()
        core.watchdog.check()
        self.connectivity.refresh_health()

    def _follow_jumps(self, core: TradingCore) -> None:
        """A source's jump landed (``source_clock.py``): the trades it skipped never came, so
        the bars built over that span are asked of the history again, now and once the minute
        it landed in has closed (history holds finished minutes only)."""
        now = self.clock()
        if self._refill_at and now >= self._refill_at:
            self._refill_at, self._history_due = 0, True
        jumps = self.source.jumps if self.source is not None else 0
        if jumps != self._source_jumps:
            self._source_jumps, self._history_due = jumps, True
            self._refill_at = now - now % HISTORY_BAR_NS + HISTORY_BAR_NS

    async def stop(self) -> None:
        self.kill_switch.cancel()
        self.exits.stop()
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

    def refusal(self, command: PlaceOrder, without: Collection[str] = ()) -> str | None:
        """Why :meth:`submit` would refuse ``command`` now, were the orders ``without`` names
        gone (``dispatch.py``); None: it would go (IB may still reject it)."""
        return self.dispatcher.refusal(command, without)

    async def submit(self, command: Command) -> CommandResult:
        """Carry out ``command`` (``dispatch.py``); the result (also published as
        ``CommandDone``) says what was sent, or why nothing was."""
        return await self.dispatcher.submit(command)

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
        if isinstance(event, AccountValues):  # the account's, known before the contract is
            self.account_values, self._account_values_at = event, self.clock()
            return
        if isinstance(event, AccountPnL):
            self.account_pnl = event
        core = self.core
        if core is None:
            return  # before the instrument is known: reconciliation will fetch it all
        if isinstance(event, (QuoteEvent, DepthEvent, TradeEvent)):
            core.on_market(event)
            if isinstance(event, TradeEvent) and event.trade.size > 0:
                self.exits.on_trade(event.trade.price)
                self._price_alerts(core.instrument, event.trade.price)
            for tap in self.market_taps:
                tap(event)
        elif isinstance(event, BarEvent):
            core.on_bars(core.bars.apply(event), Feed.BARS)
        elif isinstance(event, OrderReport):
            core.orders.on_report(event)
            core.queue.sync(core.orders.working())
        elif isinstance(event, ExecutionReport):
            self._on_execution(core, event)
        elif isinstance(event, CommissionEvent):
            core.on_commission(event)
        elif isinstance(event, PositionReport):
            if event.con_id == core.instrument.con_id:
                self.reconciler.on_position(event)
        elif isinstance(event, AccountPnL) and event.daily is not None:
            self.states.on_risk_events(core.risk, core.risk.on_account_pnl(event.daily))

    def _on_execution(self, core: TradingCore, report: ExecutionReport) -> bool:
        """Book an execution once (``TradingCore.book``); True when it was new. One reported
        again with other facts halts trading (:meth:`fill_conflict`)."""
        try:
            if not core.book(report):
                return False
        except FillConflict as exc:
            self.fill_conflict(str(exc))
            return False
        self.reconciler.on_fill()
        if not report.historical:
            self.exits.on_fill(report.order_ref, report.quantity, report.price)
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
            self._follow_source(core)
            core.on_bars(core.bars.on_time(now))
            self.connectivity.check_feeds(now)
            self.states.on_risk_events(core.risk, core.risk.on_pnl(core.portfolio.pnl(), now))
        self.states.retry(now)
        if core is not None:
            self._ask_margin(core, now)
        await self.reconciler.on_timer(core, now)
        if self.link.broker_up and self._history_due and core is not None:
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
        core.on_bars(core.bars.backfill(history))

    def _ask_margin(self, core: TradingCore, now: int) -> None:
        """Ask the broker the margin per contract, in a task of its own (a what-if waits for
        IB's answer; the timer must not), until it has answered once."""
        if (self.contract_margin is not None or self._margin_task is not None
                or now < self._margin_at or not self.link.broker_up):  # fmt: skip
            return
        side = Side.SELL if core.portfolio.pnl().quantity < 0 else Side.BUY  # one more contract
        self._margin_task = task = asyncio.create_task(self._margin(core.instrument, side))
        self._tasks.append(task)  # cancelled by stop(); out of the list once done
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def _margin(self, instrument: Instrument, side: Side) -> None:
        try:
            self.contract_margin = await self.broker.contract_margin(instrument, side)
        except BrokerError as exc:
            self._margin_at = self.clock() + MARGIN_RETRY_S * NS
            self.notice("WARNING", f"margin per contract unknown, asked again in "
                        f"{MARGIN_RETRY_S} s: {exc}")  # fmt: skip
        finally:
            self._margin_task = None

    async def reconcile(self, reason: str) -> Reconciled | None:
        """Bring orders, fills and the position in line with the broker (``reconcile.py``).
        Returns what was found, or None when it could not run (retried later)."""
        if self.core is None:
            return None
        return await self.reconciler.reconcile(self.core, reason)

    @property
    def needs_reconcile(self) -> bool:
        return self.reconciler.needs_reconcile

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

    # ---- price alerts (they send no orders: armed or not) ---------------------------------

    def _alert_command(self, command: ToggleAlert | ClearAlerts) -> None:
        """Set or remove a price alert, or clear them all (the dispatcher's, once the core is
        built); told as a notice."""
        core = self.core
        assert core is not None  # the dispatcher refuses every command before it is built
        inst = core.instrument
        if isinstance(command, ClearAlerts):
            self.notice("INFO", f"price alerts cleared ({self.alerts.clear()})")
        else:
            price = price_ticks(inst, command.price, Rounding.NEAREST)
            last, (bid, ask) = core.market.last, core.market.touch()
            set_ = self.alerts.toggle(price, last.price if last else None, bid, ask)
            self.notice("INFO", f"price alert {inst.format_price(price)} "
                        f"{'set' if set_ else 'removed'}")  # fmt: skip
        self._save_alerts()

    def _price_alerts(self, instrument: Instrument, traded: int) -> None:
        learning = self.alerts.unsided  # the trade gives those their sides: kept as well
        fired = self.alerts.on_trade(traded)
        for alert in fired:  # in the log file as its setting is (the screen says it too)
            log.warning("price alert %s traded at %s", instrument.format_price(alert.price),
                        instrument.format_price(traded))  # fmt: skip
            self.publish(PriceAlertHit(instrument, alert.price, traded, self.clock()))
        if fired or learning:
            self._save_alerts()

    def _restore_alerts(self, instrument: Instrument) -> None:
        """The alerts an earlier run kept, on the sides they were set on; a price this
        contract cannot have is dropped."""
        if self.alert_store is None:
            return
        kept: list[PriceAlert] = []
        for text, side in self.alert_store.load():
            try:
                kept.append(PriceAlert(instrument.parse_price(text), side))
            except ValueError:
                log.warning("price alert %r is no %s price: dropped", text, instrument)
        self.alerts.restore(kept)

    def _save_alerts(self) -> None:
        inst = self.instrument
        if self.alert_store is None or inst is None:
            return
        try:
            self.alert_store.save(
                [(inst.format_price(a.price), a.side) for a in self.alerts.alerts]
            )
        except OSError as exc:
            self.notice("WARNING", f"price alerts not kept for the next start: {exc}")

    # ---- snapshots -----------------------------------------------------------------------

    def account_age_s(self) -> float | None:
        """Seconds since the broker last gave the account's figures; None: it never has."""
        if self.account_values is None:
            return None
        return (self.clock() - self._account_values_at) / NS

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
            last_refusal=self.dispatcher.refusal_now(),
            kill=self.kill_switch.last,
            calendar=self.calendar,
            feed_ages=core.feed_ages() if core is not None else (),
            drawdown=core.risk.drawdown if core is not None else None,
            order_rate=core.risk.orders_in_last_second() if core is not None else None,
            risk_limits=self.config.risk,
            strategy=self.strategy_view() if self.strategy_view is not None else None,
            account_values=self.account_values,
            account_age_s=self.account_age_s(),
            account_pnl=self.account_pnl,
            contract_margin=self.contract_margin,
            protected=core.orders.protected() if core is not None else 0,
            other_markets=core.orders.other_markets() if core is not None else (),
            queue=core.queue.positions() if core is not None else {},
            price_alerts=self.alerts.prices,
        )
