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
that it has none. Its parts: the event stream (``stream.py``), the connection health
(``health.py``), the reconciliation (``reconcile.py``) and the kill switch (``kill.py``).

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

Over 500 lines because the broker event handlers (``_on_connection``, ``_on_notice``,
``_on_market_farm``, ``_resubscribe_stale``) stay here unchanged until the broker port
rewrites them in trading terms; the trading state and halt latch glue is the next seam.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Generic, Protocol, TypeVar, cast

from tradeterm.broker.port import (
    BarEvent,
    Broker,
    BrokerError,
    BrokerEvent,
    CommissionEvent,
    ConnectionChanged,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    FarmChanged,
    LinkLost,
    LinkRestored,
    Notice,
    NoticeLevel,
    OrderNotice,
    OrderReport,
    PositionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.config import MarketConfig
from tradeterm.domain import ClientOrderIds, Fill, FillConflict, Instrument
from tradeterm.engine.bar_builder import BarBuilder, BarUpdate
from tradeterm.engine.calendar import CHICAGO, CME, NS, SessionCalendar
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
from tradeterm.engine.health import CONNECTED, ConnectionHealth, default_staleness
from tradeterm.engine.kill import KillSwitch, KillTimings
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
from tradeterm.engine.types import RiskEventKind, TradingState

log = logging.getLogger(__name__)

RETRY_S = 5.0  # history / halt latch retry interval
RESUBSCRIBE_S = 30.0  # at most one resubscription of a stale feed per this many seconds

JournaledFills = Callable[[Instrument], Awaitable[Sequence[tuple[Fill, Decimal | None]]]]
"""Awaited once at start: the fills of ``instrument`` earlier runs journaled, with their
commissions, in execution order."""

T = TypeVar("T")


class HaltLatch(Protocol):
    """HALTED kept outside the journal (``tradeterm.journal.latch``): :meth:`set` when trading
    goes HALTED, :meth:`clear` before a re-arm may go back to ACTIVE. Both raise ``OSError``;
    ``str()`` names where it is kept."""

    def set(self, transition: RiskTransition) -> None: ...

    def clear(self) -> None: ...


class _Kept(Generic[T]):
    """An engine attribute under its old name, kept in one of the engine's parts: the broker
    event handlers (``_on_connection``, ``_on_notice``, ``_on_market_farm``,
    ``_resubscribe_stale``) still use these names."""

    def __init__(self, part: str, name: str) -> None:
        self._part, self._name = part, name

    def __get__(self, engine: Engine, owner: type[Engine] | None = None) -> T:
        return cast(T, getattr(getattr(engine, self._part), self._name))

    def __set__(self, engine: Engine, value: T) -> None:
        setattr(getattr(engine, self._part), self._name, value)


class Engine:
    """See the module notes. ``instance`` names this tradeterm process in every orderRef
    (default: the symbol); two instances must not share a name on one account.

    Hooks (the runtime's, all optional): ``before_send`` is awaited before each order goes to
    the broker (the journal commits its intent); ``journaled_fills`` is awaited once at start;
    ``latch`` keeps HALTED outside the journal; ``on_connected`` is called once connected,
    before anything restored is applied to trading (raising refuses the start)."""

    _broker_state = _Kept[ConnectionState]("link", "state")
    _broker_reason = _Kept[str]("link", "reason")
    _retry_in = _Kept["float | None"]("link", "retry_in")
    _link_down = _Kept[bool]("link", "link_down")
    _farm_down = _Kept["str | None"]("link", "farm_down")
    _reconciled_once = _Kept[bool]("reconciler", "once")
    _reconcile_due = _Kept[bool]("reconciler", "due")

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
        self.latch = latch
        self.on_connected = on_connected
        self._listeners: list[EventStream] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._commands = 0
        self._history_due = False
        self._last_resubscribe = 0
        self.link = ConnectionHealth(clock())
        self.reconciler = Reconciler(
            broker, self.link, clock=clock, book=self._on_execution, publish=self.publish,
            notice=self.notice, refresh=self._refresh_health,
        )  # fmt: skip
        self.core: TradingCore | None = None  # built once the contract is known (start)
        self.account_pnl: object | None = None
        self._restored_risk = risk_state  # the last journaled trading-state transition
        self._sent_orders = tuple(sent_orders)  # orders earlier runs sent, fate unknown
        self.latch_error: str | None = None  # HALTED could not be latched: kept in memory only
        self._latch_retry_at = 0
        self.last_refusal = ""
        self.events_applied = 0  # broker events applied (benchmarks: the ingest rate)
        self._connected = asyncio.Event()  # connected to IB and IB to the exchange
        self._order_change = asyncio.Event()  # an order update or a fill was published
        self.kill_switch = KillSwitch(
            _KillTarget(self), KillTimings(timeout_s=self.config.risk.kill_timeout_s)
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
            on_transition=self._on_risk_transition, restored=self._restored_risk,
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
        self._refresh_health()
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
        if isinstance(event, ConnectionChanged):
            self._on_connection(event)
            return
        if isinstance(event, Notice):
            self._on_notice(event)
            return
        if isinstance(event, FarmChanged):
            self._on_market_farm(event)
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
        else:
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

    def _on_notice(self, notice: Notice) -> None:
        """A message from the broker: acted on by what it says (about one of our orders, the
        broker's link to the exchange), then shown."""
        if isinstance(notice, OrderNotice):
            if self.orders is not None:
                self.orders.on_notice(notice)
        elif isinstance(notice, LinkLost):
            self._link_down = True
            self._block("IB lost its connection to the exchange (1100)")
            self._on_disconnect("IB lost its connection to the exchange (1100)")
        elif isinstance(notice, LinkRestored):
            self._link_down = False
            if self.watchdog is not None:
                self.watchdog.rearm(self.clock())
            if self._reconciled_once:
                self._reconcile_due = True
                self._block(f"reconciling after IB {notice.code}")
        self.notice(notice.level, notice.text, notice.code)
        self._update_connected()
        self._refresh_health()

    def _on_market_farm(self, event: FarmChanged) -> None:
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

    def _resubscribe_stale(self, now: int) -> None:
        """A stale feed while connected (IB failure #1): ask again. Not while IB says its
        link or its market data farm is down: nothing would come."""
        stale = self._stale()
        if not stale or self._broker_state not in CONNECTED or self._degraded() is not None:
            return
        if now - self._last_resubscribe < RESUBSCRIBE_S * NS:
            return
        self._last_resubscribe = now
        self.notice("WARNING", "no data on " + ", ".join(stale) + ": resubscribing")
        self.broker.resubscribe_all()

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
        if self.core is not None:
            self.core.orders.blocked = reason

    def _stale(self) -> tuple[Feed, ...]:
        return self.core.stale() if self.core is not None else ()

    def _degraded(self) -> str | None:
        return self.link.degraded()

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

    def _refresh_health(self) -> None:
        """Publish the health the trader sees when it changed (``health.py``)."""
        core = self.core
        blocked = core.orders.blocked if core is not None else None
        health = self.link.assess(
            self._stale(), syncing=self.syncing, blocked=blocked, now=self.clock()
        )
        if health is not None:
            self.publish(health)

    async def wait_connected(self) -> None:
        await self._connected.wait()

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
                self._refresh_health()
            self._resubscribe_stale(now)
            self._risk_events(core, core.risk.on_pnl(core.portfolio.pnl(), now))
        if self.latch_error is not None and now >= self._latch_retry_at:
            self._latch_retry_at = now + int(RETRY_S * NS)
            self.keep_halt()
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

    def _on_risk_transition(self, transition: RiskTransition) -> None:
        to = transition.to_state
        if to is TradingState.HALTED:
            self._latch(transition)  # first: before a notice (a log line) takes the last bytes
        self.notice("WARNING" if to is not TradingState.ACTIVE else "INFO",
                     f"trading {to}: {transition.reason}")  # fmt: skip
        self.publish(
            RiskUpdate(
                RiskEventKind.TRANSITION, "state", transition.reason, to, transition.ts_ns,
                transition.from_state,
            )
        )  # fmt: skip

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
        if self.core is not None:
            self.core.risk.halt(reason)
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
        if self.core is not None:
            risk = self.core.risk
            return risk.state, risk.state_reason, risk.state_since_ns
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

    def rearm(self, reason: str) -> str | None:
        """Back to ACTIVE with a typed reason; the refusal (cooldown, no reason, a loss limit
        hit this session) as text, or None when re-armed."""
        if self.core is None:
            return "the engine has not started"
        risk = self.core.risk
        if self.kill_switch.running:
            last = self.kill_switch.last
            return "the kill switch is still running" + (
                f" ({last.step}: {last.detail})" if last is not None else ""
            )
        refusal = risk.rearm_refusal(reason) or self._unlatch()
        if refusal is None:
            risk.rearm(reason)
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


class _KillTarget:
    """The engine as the kill switch sees it (:class:`~tradeterm.engine.kill.KillTarget`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def orders(self) -> OrderManager | None:
        return self._engine.orders

    @property
    def position(self) -> int:
        core = self._engine.core
        return core.portfolio.position.quantity if core is not None else 0

    @property
    def connected(self) -> bool:
        return self._engine.connected

    def now(self) -> int:
        return self._engine.clock()

    def publish(self, progress: KillProgress) -> None:
        self._engine.publish(progress)

    def priority(self) -> AbstractContextManager[None]:
        return self._engine.broker.priority()

    async def wait_connected(self) -> None:
        await self._engine.wait_connected()

    async def wait_order_change(self, timeout_s: float) -> None:
        await self._engine.wait_order_change(timeout_s)

    async def sync(self) -> None:
        if self._engine.needs_reconcile:
            await self._engine.reconcile("kill switch")

    async def broker_truth(self) -> int:
        return await self._engine.broker_truth()

    def reduce(self, reason: str) -> None:
        if self._engine.core is not None:
            self._engine.core.risk.reduce(reason)

    def halt(self, reason: str) -> bool:
        core = self._engine.core
        if core is None:
            return False
        core.risk.halt(reason)
        return core.risk.state is TradingState.HALTED
