"""The trading screen: one Textual app driving one engine.

The app opens the runtime (SIM: the embedded fake gateway) in a worker, starts the engine,
and reads its event stream. Events never paint: they mark what changed (ladder, orders,
position, tape, bars, log) and a timer paints at ``ui.paint_hz`` from one snapshot
(``painter.py``, into the widgets of ``widgets/``, laid out by ``screen.py``). Keys turn into
engine commands sent at once in a task (key -> order on the wire in a few ms); what a key
sends, or why it sends nothing, is decided by ``order_entry.py``.

Every error lands in :meth:`TradingApp.report` (log panel + notification): the app never dies
with a traceback on the user's screen. Kept as one module because it is the one
holder of the screen's state (armed, confirmed, quantity, the kill switch's dialog) and every
path that changes it (lifecycle, engine events, keys, the re-arm, LIVE and quit dialogs) is
kept beside that state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.screen import Screen
from textual.theme import Theme
from textual.widgets import RichLog

from tradeterm.broker.port import ConnectionState, UnknownContract
from tradeterm.config import Process, Settings
from tradeterm.control.endpoint import ControlServer
from tradeterm.domain import Instrument, OrderStatus, Side
from tradeterm.embedded import ReplaySource
from tradeterm.engine.commands import (
    CancelAll,
    ClearAlerts,
    Command,
    CommandResult,
    Flatten,
    StopsToBreakeven,
    ToggleAlert,
)
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import (
    BarsChanged,
    CommandDone,
    EngineEvent,
    EngineNotice,
    FillBooked,
    HealthChanged,
    KillProgress,
    MarketChanged,
    OrderUpdated,
    OrderView,
    OtherMarketOrders,
    PositionChanged,
    PositionDivergence,
    PriceAlertHit,
    Reconciled,
    RiskUpdate,
    StrategySignal,
    StrategyStateChanged,
)
from tradeterm.engine.marketdata import Changed
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.engine.types import OrderRole, RiskEventKind, StrategyState, TradingState
from tradeterm.runtime import ModeError, Runtime
from tradeterm.stop_signals import on_stop_signals
from tradeterm.strategies import Loaded
from tradeterm.ui import order_entry, order_moves, trainer
from tradeterm.ui.dialogs import (
    ConfirmScreen,
    HelpScreen,
    KillScreen,
    NotStartedScreen,
    TypedScreen,
)
from tradeterm.ui.keys import (
    WATCH_REFUSED,
    check_keymap,
    first_key,
    kill_binding,
)
from tradeterm.ui.painter import Painter
from tradeterm.ui.screen import TradingScreen
from tradeterm.ui.styles import resolve
from tradeterm.ui.themes import DEFAULT_VARIABLES
from tradeterm.ui.widgets.ladder import Ladder
from tradeterm.ui.widgets.ladder_data import LadderData
from tradeterm.ui.widgets.orders_table import order_words
from tradeterm.ui.widgets.status import ScreenState, ct_clock
from tradeterm.ui.widgets.strategy_panel import outcome

log = logging.getLogger(__name__)

Opener = Callable[[], AbstractAsyncContextManager[Runtime]]


class TradingApp(App[int]):
    """See the module notes. ``opener`` builds the runtime (default: :func:`open_runtime`
    for ``settings``); tests pass their own to trade against a gateway they hold.
    ``strategy``: the strategy of ``--strategy``, started with the engine (in LIVE it waits
    for the start key, armed: see :meth:`control_strategy`). ``watch_only``: a screen that
    trades nothing (:meth:`check_action`), on a watch-only runtime of its own (its own client
    id, no journal, every order message refused by its broker: ``runtime._watching``).
    ``control``: the market already claimed for it (``runtime.claim_market``), handed to the
    runtime. ``replay``: the recorded file REPLAY plays (the trainer; its keys drive the
    replay's clock: :meth:`replay_key`)."""

    CSS_PATH = "app.tcss"
    TITLE = "tradeterm"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        kill_binding(),
        # Textual's own quit keys: asking first, like q (Textual's ctrl+q quits at once)
        Binding("ctrl+c,ctrl+q", "quit_app", "quit", show=False, priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        theme: Theme | None = None,
        themes: dict[str, Theme] | None = None,
        opener: Opener | None = None,
        seed: int = 1,
        clock: Callable[[], int] = time.time_ns,
        strategy: Loaded | None = None,
        canary: float | None = None,
        watch_only: bool = False,
        control: ControlServer | None = None,
        replay: ReplaySource | None = None,
    ) -> None:
        super().__init__()
        self.watch_only = watch_only
        self.settings = settings
        self.mode = settings.mode
        self.market_config = settings.market()
        self.keymap = check_keymap(settings.ui.keymap)  # every key in force
        if opener is None:
            from tradeterm.runtime import open_runtime

            process: Process = "watch" if watch_only else "screen"
            opener = lambda: open_runtime(  # noqa: E731
                settings, seed=seed, process=process, control=control, replay=replay
            )
        self._opener = opener
        self.clock = clock
        for t in (themes or {}).values():
            self.register_theme(t)
        if theme is not None:
            self.register_theme(theme)
            self.theme = theme.name
        self.runtime: Runtime | None = None
        self.engine: Engine | None = None
        self.started = asyncio.Event()
        self.startup_error: str | None = None
        self.startup_bad_input = False  # the broker knows no such market: the user's to fix
        self.armed = False
        self.confirmed = settings.mode != "live"  # LIVE: the account id must be typed first
        self.presets = self.market_config.presets()  # keys 1..9
        self.quantities = sorted(set(self.presets) | {self.market_config.default_qty})
        self.qty = self.market_config.default_qty
        self.exit_choice: str | None = None  # the exit strategy for the next entry (key X)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop = asyncio.Event()
        self.painter = Painter(settings.ui.paint_hz, self.market_now)
        self._ended_said = False  # REPLAY: the end of the file has been logged
        self._instrument: Instrument | None = None
        self._kill_screen: KillScreen | None = None
        self._reported: set[str] = set()
        self.results: list[CommandResult] = []  # every command's result (tests read it)
        self.stopped_by: str | None = None  # SIGTERM / SIGHUP, when a signal stopped it
        self.unwritten: str | None = None  # at the end: critical rows the journal lost
        self._signals = contextlib.ExitStack()
        self._engine_task: asyncio.Task[None] | None = None
        self.strategy = strategy
        self.canary = canary
        self.runner: StrategyRunner | None = None  # once the engine has started
        self.carried: order_moves.Pickup | None = None  # picked up (v), to be dropped (v)

    def get_driver_class(self) -> type[Driver]:
        """Textual's own driver, made safe for a terminal that goes away (``terminal.py``)."""
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from tradeterm.ui.terminal import HangupSafeDriver

            return HangupSafeDriver
        return driver

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The gate every key passes (the trading screen asks it too): watch-only, the kill
        switch and every trading and strategy key do nothing."""
        return not (self.watch_only and action in WATCH_REFUSED)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return {**super().get_theme_variable_defaults(), **DEFAULT_VARIABLES}

    # ---- lifecycle -----------------------------------------------------------------------

    def on_mount(self) -> None:
        self._signals.enter_context(on_stop_signals(self.stop_on_signal))
        self.set_keymap(self.keymap)
        self.push_screen(TradingScreen())
        # a task of its own, not a Textual worker: however the app ends, Textual never cancels
        # it half way through closing the journal (on_unmount waits for it)
        self._engine_task = asyncio.create_task(self._run_engine(), name="engine")
        self.set_interval(1 / self.settings.ui.paint_hz, self._paint, name="paint")
        self.set_interval(1.0, self._tick, name="clock")

    async def _run_engine(self) -> None:
        try:
            async with self._opener() as rt:
                self.runtime, self.engine = rt, rt.engine
                if rt.notifier is not None:  # notifications ring the bell (notify.bell)
                    rt.notifier.bell = self.bell
                stream = rt.engine.listen()
                consumer = asyncio.create_task(self._consume(stream))
                self.log_line("INFO", f"starting {rt.describe()}")
                try:
                    started = await rt.start(self._stop)  # q or a signal may cut it short
                except Exception as exc:
                    self.startup_bad_input = isinstance(exc, UnknownContract)
                    self.fail_start(f"cannot start {rt.describe()}: {exc}")
                    return
                if started:
                    await self._trade(rt)
                if self.stopped_by:
                    rt.stop_reason = f"stopped by {self.stopped_by}"
                consumer.cancel()
            self.unwritten = rt.unwritten
        except Exception as exc:  # ModeError and anything else opening the runtime
            self.fail_start(str(exc))

    async def _trade(self, rt: Runtime) -> None:
        """Started: trade until stopped (q, a signal), then stop the strategy."""
        self.started.set()
        self.dirty_all()
        self.log_line("INFO", "engine started")
        if not self.confirmed:
            self.call_later(self.ask_account)
        if self.strategy is not None:
            await self._configure_strategy(rt, self.strategy)
        await self._stop.wait()
        if self.runner is not None:  # on_stop, its orders cancelled, before the engine
            await self.runner.close()

    async def _configure_strategy(self, rt: Runtime, strategy: Loaded) -> None:
        """The strategy of ``--strategy``: started at once (the command line asked for it, as
        the console's does), but in LIVE, where nothing is sent before the account is typed
        and the keys armed: there it waits for the start key. Built by the runtime, so a
        restart carries its position and orders on (a journal it cannot read: not started)."""
        try:
            runner = self.runner = await rt.strategy_runner(strategy, canary=self.canary)
        except ModeError as exc:
            self.log_line("ERROR", str(exc))
            self.notify(str(exc), severity="error")
            return
        if self.mode == "live":
            self.log_line("WARNING", f"strategy {runner.name} not started: in LIVE, type the "
                          f"account, arm ({self.key_of('arm')}) and press "
                          f"{self.key_of('strategy_start')}")  # fmt: skip
            self.painter.mark("strategy")
            return
        await runner.start("started with --strategy")

    def control_strategy(self, verb: str) -> None:
        """A strategy key: ``start`` (or resume) sends orders, so only when an order key
        could (connected, the LIVE account typed, armed, not halted); ``pause`` and ``stop``
        send none of their own and always work."""
        runner = self.runner
        if runner is None:
            self.notify("no strategy: start tradeterm with --strategy NAME [--param KEY=VALUE]",
                        severity="warning")  # fmt: skip
            return
        if verb == "start":
            refused = order_entry.refusal(self.desk(), f"start strategy {runner.name}")
            if refused is not None:
                self.act(refused)
                return

        async def control() -> None:
            refusal = await runner.control(verb, "on the screen")
            if refusal:
                self.notify(refusal, severity="warning", timeout=3)

        self.spawn(control(), f"strategy {verb}")

    def fail_start(self, text: str) -> None:
        """End with ``text``, the one line the command prints on exit; in a browser tab
        (``tradeterm serve``) that line goes nowhere the user sees: shown until a key."""
        log.error("startup failed: %s", text)
        self.startup_error = text
        if self.is_web:
            self.push_screen(NotStartedScreen(text), lambda _: self.exit(1, return_code=1))
            return
        self.exit(1, return_code=1)

    async def on_unmount(self) -> None:
        await self.shutdown()  # whatever ended the app (q, a signal, a crash)
        self._signals.close()

    def stop_on_signal(self, name: str) -> None:
        """SIGTERM or SIGHUP (tmux or SSH closing): the orderly stop of ``q``, without the
        question (what is open stays at IB, as with ``q``)."""
        if self.stopped_by is None:
            self.stopped_by = name
            log.warning("%s received: stopping", name)
            self.spawn(self._quit(), f"stopping on {name}")

    async def shutdown(self) -> None:
        """Stop the engine (and the embedded gateway) and close the journal, before the app
        exits. Safe to call again; the close is never cut short by cancelling the caller."""
        self._stop.set()
        task = self._engine_task
        if task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(task)

    async def _consume(self, stream: AsyncIterator[EngineEvent]) -> None:
        async for event in stream:
            try:
                self.on_engine_event(event)
            except Exception as exc:
                self.report(exc, "showing an engine event")

    # ---- errors: one place ---------------------------------------------------------------

    def report(self, error: BaseException | str, where: str) -> None:
        text = f"{where}: {error if isinstance(error, str) else f'{type(error).__name__}: {error}'}"
        if isinstance(error, BaseException):
            log.error("%s", text, exc_info=error)
        self.log_line("ERROR", text)
        if text not in self._reported:  # the same error at 15 Hz is one notification
            self._reported.add(text)
            self.notify(text, severity="error", timeout=8)

    def spawn(self, coro: Awaitable[Any], where: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:
                self.report(exc, where)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- events -> dirty flags -------------------------------------------------------------

    def dirty_all(self) -> None:
        self.painter.mark_all()

    def on_engine_event(self, event: EngineEvent) -> None:
        mark = self.painter.mark
        match event:
            case MarketChanged(changes=changes):
                mark("ladder", "orders")  # the queue ahead (the table redraws when it changed)
                if changes.kinds & Changed.TRADE:
                    mark("tape", "position")
            case BarsChanged(closed=closed):
                if closed:  # a chart redraw costs ~30 KB of output at 200x60: on close only
                    self.painter.chart_due = True
            case OtherMarketOrders():
                mark("orders")
            case OrderUpdated(order=o):
                mark("orders", "ladder", "ladder-now", "risk")
                if not o.status.is_open and (o.reason or o.status is OrderStatus.CANCELLED):
                    inst = self.instrument
                    said = order_words(inst, o) if inst is not None else o.order_id
                    if o.reason:  # refused, or cancelled by IB on its own: its reason
                        self.log_line("WARNING", f"order {said} {o.status}: {o.reason}")
                    else:  # a cancel we asked for
                        self.log_line("INFO", f"order {said} {o.status}")
            case FillBooked(fill=f):
                inst = self.instrument
                px = inst.format_price(f.price) if inst else str(f.price)
                self.log_line("INFO", f"FILL {f.side} {f.quantity} @ {px}"
                              + (" (recovered)" if event.historical else ""))  # fmt: skip
            case PositionChanged():
                mark("position", "ladder", "ladder-now", "risk")
                self.painter.chart_due = True
            case PositionDivergence():
                self.log_line("WARNING", f"position at IB is {event.broker}, fills said {event.ours}: using IB's")  # fmt: skip
            case CommandDone(result=r):
                self.results.append(r)
                mark("risk")
                if not r.ok:
                    self.log_line("WARNING", f"refused: {r.reason}")
                    self.notify(r.reason, title="refused", severity="warning", timeout=5)
            case HealthChanged():
                mark("status", "ladder", "ladder-now")
                retry_in_s = event.retry_in_s
                self.painter.retry_at = time.monotonic() + retry_in_s if retry_in_s else None
                self.log_line("INFO" if event.state is ConnectionState.OK else "WARNING",
                              f"connection {event.state}: {event.reason}")  # fmt: skip
            case RiskUpdate():
                mark("risk", "status")
                if (
                    event.kind is RiskEventKind.TRANSITION
                    and event.state is not TradingState.ACTIVE
                ):
                    self.armed = False
                self.log_line("WARNING" if event.kind is not RiskEventKind.TRANSITION or event.state is not TradingState.ACTIVE else "INFO",
                              f"risk {event.kind} ({event.state}): {event.reason}")  # fmt: skip
            case KillProgress():
                mark("risk", "status")
                self.armed = False
                self.log_line("ERROR" if event.done and not event.ok else "WARNING",
                              f"KILL {event.step}: {event.detail}")  # fmt: skip
                if self._kill_screen is not None and self._kill_screen.is_attached:
                    self._kill_screen.add(event)
            case Reconciled():
                mark("orders", "position", "risk")  # the engine's notice says it in the log
            case EngineNotice():
                self.log_line(event.level, event.text)
            case PriceAlertHit(instrument=inst):  # the notifier rings the bell (notify.bell)
                mark("ladder", "ladder-now")
                text = f"price alert {inst.format_price(event.price)} traded"
                self.log_line("WARNING", f"{text} at {inst.format_price(event.traded)}")
                self.notify(text, title="price alert", severity="warning", timeout=8)
            case StrategyStateChanged():
                mark("strategy")
                if event.state is StrategyState.FAULTED:  # the engine's notice logs it
                    self.notify(f"strategy {event.strategy} faulted: {event.reason}",
                                severity="error", timeout=8)  # fmt: skip
                else:
                    self.log_line("INFO", f"strategy {event.strategy} {event.state}: {event.reason}")  # fmt: skip
            case StrategySignal():
                mark("strategy", "ladder", "ladder-now")  # its orders known: marked at once
                self.log_line("INFO" if event.ok else "WARNING",
                              f"SIGNAL {event.kind} {event.detail} ({event.reason}): {outcome(event, full=True)}")  # fmt: skip

    # ---- painting --------------------------------------------------------------------------

    @property
    def instrument(self) -> Instrument | None:
        """The engine's instrument once resolved, from its snapshot (it never changes)."""
        if self._instrument is None and self.engine is not None:
            self._instrument = self.engine.snapshot(tape=0).instrument
        return self._instrument

    def log_line(self, level: str, text: str) -> None:
        """A line in the trading screen's log panel, also while a dialog is on top (the kill
        switch's, a re-arm): the log is the trading screen's, not the top screen's."""
        main = self._main()
        if main is None:
            return
        try:
            widget = main.query_one("#log", RichLog)
        except NoMatches:
            return
        style = {"ERROR": "bold $error", "WARNING": "$warning"}.get(level, "")
        stamp = ct_clock(self.market_now())[:8]
        widget.write(resolve(Text.assemble((f"{stamp} ", "dim"), (text, style)), self))

    def _paint(self) -> None:
        try:
            self.paint()
        except Exception as exc:
            self.report(exc, "painting")

    def paint(self) -> None:
        """What changed since the last paint, from one snapshot (``painter.py``)."""
        main = self._main()
        if main is None:
            return
        engine = self.engine
        if engine is None or self.instrument is None:  # starting: the connection as it goes
            snap = engine.snapshot(tape=0) if engine is not None else None
            self.painter.paint_status(main, snap, self.screen_state())
            return
        kill = self._kill_screen
        self.painter.paint(
            main,
            lambda: engine.snapshot(tape=40),
            self.screen_state(),
            kill if kill is not None and kill.is_attached else None,
        )

    def screen_state(self) -> ScreenState:
        control = self.runtime.replay if self.runtime is not None else None
        carried = self.carried.label if self.carried is not None else ""
        exits = (self.exit_choice or "off") if self.market_config.exits else ""
        shipping = self.runtime.shipping if self.runtime is not None else None
        return ScreenState(self.mode, self.settings.symbol, self.armed, self.confirmed, self.qty,
                           self.watch_only,
                           trainer.state_of(control) if control is not None else None,
                           exits, carried,
                           shipping.lag() if shipping is not None else None)  # fmt: skip

    def replay_key(self, verb: str) -> None:
        """A replay key (``ui/trainer.py``): pause/resume, slower, faster, jump ahead, on the
        replay's clock (the engine reads it: a paused replay is not stale)."""
        control = self.runtime.replay if self.runtime is not None else None
        if control is None:
            self.notify("not a replay: start tradeterm SYMBOL --replay FILE to train on "
                        "recorded data", severity="warning", timeout=3)  # fmt: skip
            return
        try:
            said = trainer.control(control, verb)
        except ValueError as exc:
            self.notify(str(exc), severity="warning", timeout=3)
            return
        self.log_line("INFO", said)
        self.painter.status_now()

    def _main(self) -> TradingScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, TradingScreen):
                return screen
        return None

    def market_now(self) -> int:
        """The screen's clock (ns): the market's time, the replayed market's in REPLAY (the
        status bar's, the log's stamps, the ladder's banner), else ``clock``, the wall's."""
        control = self.runtime.replay if self.runtime is not None else None
        return round(control.now() * trainer.NS) if control is not None else self.clock()

    def _tick(self) -> None:
        # the clock, data age, rate, banner; the account's figures (IB sends them unasked)
        self.painter.mark("status", "risk", "ladder", "account")
        control = self.runtime.replay if self.runtime is not None else None
        if control is not None and control.ended and not self._ended_said:
            self._ended_said = True
            engine = self.engine
            working = len(engine.snapshot(tape=0).orders) if engine is not None else 0
            failure = control.failure
            self.log_line("ERROR" if failure else "WARNING", trainer.ended_line(working, failure))

    # ---- trading ---------------------------------------------------------------------------

    def key_of(self, action_id: str) -> str:
        return first_key(self.keymap, action_id)

    def desk(self) -> order_entry.Desk:
        """What order entry knows now: the engine's snapshot and the screen's state."""
        engine = self.engine
        snap = engine.snapshot(tape=0) if engine is not None else None
        return order_entry.Desk(
            instrument=snap.instrument if snap is not None else None,
            connected=engine is not None and self.started.is_set(),
            confirmed=self.confirmed, armed=self.armed,
            trading_state=snap.trading_state if snap is not None else TradingState.ACTIVE,
            trading_reason=snap.trading_reason if snap is not None else "",
            qty=self.qty, bracket=self.market_config.bracket, arm_key=self.key_of("arm"),
            exits=self.exit_choice,
        )  # fmt: skip

    def act(self, decision: order_entry.Decision) -> None:
        """Send the command order entry decided on, or say why nothing was sent."""
        match decision:
            case order_entry.Send(command=command, what=what):
                self.send(command, what)
            case order_entry.Refusal(text=text, timeout=timeout) if text:
                if timeout is None:
                    self.notify(text, severity="warning")
                else:
                    self.notify(text, severity="warning", timeout=timeout)

    def trade(self, command: Command, what: str) -> None:
        self.act(order_entry.guarded(self.desk(), command, what))

    def send(self, command: Command, what: str) -> None:
        engine = self.engine
        assert engine is not None
        self.spawn(engine.submit(command), what)

    def market(self, side: Side) -> None:
        self.act(order_entry.market(self.desk(), side))

    def join(self, side: Side) -> None:
        """A limit at the touch the ladder shows (what the trader sees is what is joined),
        the ladder painted from the engine's book first: the touch it shows is at most one
        paint old (``painter.py``), and the one joined is the market's as the key is read."""
        self.painter.mark("ladder", "ladder-now")
        self.paint()
        data = self._ladder_data()
        bid, ask = (data.best_bid, data.best_ask) if data is not None else (None, None)
        self.act(order_entry.join(self.desk(), side, bid, ask))

    def _ladder_data(self) -> LadderData | None:
        main = self._main()
        return main.query_one(Ladder).data if main is not None else None

    def _cursor(self) -> int | None:
        main = self._main()
        return main.query_one(Ladder).cursor if main is not None else None

    def at_cursor(self, side: Side, *, stop: bool) -> None:
        """A limit or a stop of ``side`` at the ladder cursor, sent to rest. The engine refuses
        it if, when it processes it, the limit would trade or the stop would trigger at once
        (a market that moved onto the cursor)."""
        self.act(order_entry.at_cursor(self.desk(), side, self._cursor(), stop=stop))

    def cancel_at_cursor(self) -> None:
        self.act(order_entry.cancel_at_cursor(self.desk(), self._cursor()))

    # ---- moving working orders (order_moves.py) ------------------------------------------------

    def _own_orders(self) -> tuple[tuple[OrderView, ...], frozenset[str]]:
        """This instance's working orders and the running strategy's ids among them."""
        engine = self.engine
        if engine is None:
            return (), frozenset()
        snap = engine.snapshot(tape=0)
        return snap.orders, frozenset(snap.strategy.orders if snap.strategy else ())

    def act_all(self, moves: order_moves.Moves) -> None:
        """Send every command of ``moves``, or say why nothing was sent."""
        if isinstance(moves, order_entry.Refusal):
            self.act(moves)
            return
        for send in moves:
            self.act(send)

    def move_order(self, ticks: int) -> None:
        """Our order at the cursor ``ticks`` up (down when negative); the cursor follows it
        once the engine has sent the move (a move its checks refuse leaves the order, and the
        cursor with it, where it was)."""
        orders, strategy = self._own_orders()
        cursor = self._cursor()
        moves = order_moves.step(self.desk(), orders, strategy, cursor, ticks)
        if isinstance(moves, order_entry.Refusal):
            self.act(moves)
            return
        self.spawn(self._follow(moves, cursor, ticks), "move order")

    async def _follow(self, moves: tuple[order_entry.Send, ...], cursor: int | None,
                      ticks: int) -> None:  # fmt: skip
        """Send ``moves``; when every one went, the cursor (still at ``cursor``) follows."""
        engine = self.engine
        assert engine is not None
        results = [await engine.submit(send.command) for send in moves]
        main = self._main()
        if main is not None and all(r.ok for r in results):
            ladder = main.query_one(Ladder)
            if ladder.cursor == cursor:  # not moved by the trader meanwhile
                ladder.move_cursor(ticks)

    def carry(self) -> None:
        """``v``: pick up our order at the cursor, or drop the one picked up at the cursor (a
        second ``v`` ends the pick-up whatever becomes of the drop)."""
        orders, strategy = self._own_orders()
        carried = self.carried
        if carried is not None:
            self.carried = None
            self.painter.status_now()
            self.act_all(order_moves.drop(self.desk(), orders, strategy, carried, self._cursor()))
            return
        picked = order_moves.pick_up(self.desk(), orders, strategy, self._cursor())
        if isinstance(picked, order_entry.Refusal):
            self.act(picked)
            return
        self.carried = picked
        self.log_line("INFO", f"picked up {picked.label}: {self.key_of('carry_order')} drops it "
                      f"at the cursor, {self.key_of('ladder')} leaves it")  # fmt: skip
        self.painter.status_now()

    def leave_carried(self) -> None:
        """Escape: the order picked up stays where it is."""
        if self.carried is not None:
            self.log_line("INFO", f"{self.carried.label} left where it is")
            self.carried = None
            self.painter.status_now()

    def exit_to(self, role: OrderRole) -> None:
        orders, strategy = self._own_orders()
        self.act_all(order_moves.exit_to(self.desk(), orders, strategy, self._cursor(), role))

    def resize(self, step: int) -> None:
        orders, strategy = self._own_orders()
        self.act_all(order_moves.resize(self.desk(), orders, strategy, self._cursor(), step))

    def cancel_order(self, order_id: str) -> None:
        self.act(order_entry.cancel_order(self.desk(), order_id))

    def cycle_exits(self) -> None:
        """The next exit strategy for the next entry (the working ones keep theirs)."""
        strategies = self.market_config.exits
        if not strategies:
            symbol = self.settings.symbol
            self.notify(f"no exit strategy: add [markets.{symbol}.exits.NAME] to the config "
                        "(see the README)", severity="warning")  # fmt: skip
            return
        names = [None, *strategies]
        self.exit_choice = names[(names.index(self.exit_choice) + 1) % len(names)]
        name = self.exit_choice
        said = f"{name}: {strategies[name].summary()}" if name is not None else "off"
        self.notify(f"exit strategy for the next entry: {said}", timeout=3)
        self.painter.status_now()

    def breakeven(self) -> None:
        """The exit strategies' working stops to breakeven now, where the market allows."""
        self.trade(StopsToBreakeven(), "stops to breakeven")

    def step_qty(self, step: int) -> None:
        qs = self.quantities
        i = qs.index(self.qty) if self.qty in qs else 0
        self.qty = qs[max(0, min(len(qs) - 1, i + step))]
        self.painter.status_now()

    def preset_qty(self, n: int) -> None:
        qs = self.presets
        if 1 <= n <= len(qs):
            self.qty = qs[n - 1]
            self.painter.status_now()

    def toggle_alert(self) -> None:
        """A price alert at the ladder cursor, or the one there removed; no orders, so armed
        or not."""
        inst, cursor = self.instrument, self._cursor()
        if inst is None or cursor is None:
            self.notify("no market yet: no price alert", severity="warning")
            return
        self._alert(ToggleAlert(inst.to_price(cursor)))

    def clear_alerts(self) -> None:
        self._alert(ClearAlerts())

    def _alert(self, command: ToggleAlert | ClearAlerts) -> None:
        """An alert command to the engine (its notice says what it did), the ladder marked."""
        engine = self.engine
        if engine is None:
            return

        async def send() -> None:
            await engine.submit(command)
            self.painter.mark("ladder", "ladder-now")

        self.spawn(send(), "price alert")

    def toggle_arm(self) -> None:
        engine = self.engine
        if engine is None or not self.started.is_set():
            self.notify("not connected yet", severity="warning")
            return
        if not self.confirmed:
            self.ask_account()
            return
        state = engine.snapshot(tape=0).trading_state
        if state is not TradingState.ACTIVE and not self.armed:
            self.ask_rearm()
            return
        self.armed = not self.armed
        self.log_line("INFO", "ARMED: trading keys live" if self.armed else "DISARMED")
        self.painter.status_now()

    def ask_rearm(self) -> None:
        engine = self.engine
        if engine is None:
            return
        snap = engine.snapshot(tape=0)

        def check(reason: str) -> str | None:
            refusal = engine.rearm(reason)
            if refusal:
                log.warning("re-arm refused: %s", refusal)
                self.log_line("WARNING", f"re-arm refused: {refusal}")
            return refusal

        def done(reason: str | None) -> None:
            if reason:
                self.log_line("INFO", f"re-armed: {reason}")
                self.armed = False
                self.dirty_all()
                self.notify(f"trading ACTIVE again; press {self.key_of('arm')} to arm the keys")

        self.push_screen(
            TypedScreen(
                f"RE-ARM — trading is {snap.trading_state}",
                f"{snap.trading_reason}\nType why it is safe to trade again (kept in the "
                f"journal). Enter lifts the halt; then {self.key_of('arm')} arms the keys. "
                "Esc stays halted.",
                check, placeholder="reason",
            ),
            done,
        )  # fmt: skip

    def ask_account(self) -> None:
        engine = self.engine
        account = engine.snapshot(tape=0).account if engine is not None else None
        if not account:
            self.notify("waiting for the account from IB", severity="warning")
            return

        def check(text: str) -> str | None:
            return None if text == account else "that is not the account this gateway trades"

        def done(text: str | None) -> None:
            if text == account:
                self.confirmed = True
                self.log_line("WARNING", f"LIVE account {account} confirmed")
                self.dirty_all()

        self.push_screen(
            TypedScreen("LIVE TRADING — REAL MONEY",
                        "Type the account id this gateway trades to allow orders.",
                        check, placeholder="account id"),
            done,
        )  # fmt: skip

    # ---- kill switch, quit --------------------------------------------------------------

    def action_kill(self) -> None:
        engine = self.engine
        if engine is None:  # the journal still opening: there is no engine to stop yet
            self.notify("kill switch: not started yet; nothing was sent", severity="error")
            return
        # before the start has ended (waiting for the gateway) the engine halts at once and
        # runs the kill switch first thing once connected
        self.armed = False
        if self._kill_screen is None or not self._kill_screen.is_attached:
            self._kill_screen = KillScreen(self.key_of("arm"))
            self.push_screen(self._kill_screen)
        try:
            engine.request_kill(f"kill switch pressed ({self.key_of('kill')})")
        except Exception as exc:
            self.report(exc, "kill switch")

    def action_quit_app(self) -> None:
        self.ask_quit()

    def ask_quit(self) -> None:
        snap = self.engine.snapshot(tape=0) if self.engine is not None else None
        position = snap.pnl.quantity if snap and snap.pnl else 0
        working = len(snap.orders) if snap else 0
        if not position and not working:
            self.spawn(self._quit(), "quitting")
            return
        what = []
        if position:
            what.append(f"a position of {position}")
        if working:
            what.append(f"{working} working order{'s' if working > 1 else ''}")
        after = self._after_quit(position=bool(position), orders=working)
        question = f"You have {' and '.join(what)}.\nQuit anyway? {after}"

        def done(yes: bool | None) -> None:
            if yes:
                self.spawn(self._quit(), "quitting")

        self.push_screen(ConfirmScreen(question), done)

    def _after_quit(self, *, position: bool, orders: int) -> str:
        """What becomes of the position and the ``orders`` working orders once this screen
        quits: an embedded gateway (its account, its orders) ends with the instance; anywhere
        else they stay. Worded for what there is: a position, orders, or both."""
        kept = "order" if orders == 1 else "orders"
        if position and orders:
            held, they = f"position and {kept} are", "They stay"
        elif position:
            held, they = "position is", "It stays"
        else:
            held, they = (f"{kept} are", "They stay") if orders > 1 else ("order is", "It stays")
        if self.runtime is not None and self.runtime.gateway is not None:
            return (f"The embedded market ends with this screen: its {held} gone "
                    "(the next start is a new market).")  # fmt: skip
        where = "in the paper account (SHADOW)" if self.mode == "shadow" else "at IB"
        return f"{they} {where} (quitting does not flatten or cancel)."

    async def _quit(self) -> None:
        await self.shutdown()
        self.exit(0)

    def get_system_commands(self, screen: Screen[Any]) -> Any:
        """Textual's commands (theme, screenshot, maximize) and tradeterm's; where both have
        one of a name, tradeterm's replaces Textual's: its Keys shows this keymap, its Quit
        asks first with a position or orders (Textual's quits at once)."""
        trading = [
            SystemCommand(
                "Re-arm trading", "back to ACTIVE after a halt, with a typed reason", self.ask_rearm
            ),
            SystemCommand("Kill switch", "cancel all, flatten, halt", self.action_kill),
            SystemCommand(
                "Flatten",
                "cancel orders and close the position",
                lambda: self.trade(Flatten(), "flatten"),
            ),
            SystemCommand(
                "Cancel all",
                "cancel this instance's orders",
                lambda: self.trade(CancelAll(), "cancel all"),
            ),
        ]
        own = [
            *([] if self.watch_only else trading),  # the keys' gate: none of these either
            SystemCommand("Keys", "the keymap in force",
                          lambda: self.push_screen(HelpScreen(self.keymap, self.presets))),
            SystemCommand("P&L in money / ticks", "toggle the ladder's P&L column",
                          self._toggle_pnl),
            SystemCommand("Quit", "quit (asks first with a position or orders)", self.ask_quit),
        ]  # fmt: skip
        names = {c.title for c in own}
        yield from (c for c in super().get_system_commands(screen) if c.title not in names)
        yield from own

    def _toggle_pnl(self) -> None:
        main = self._main()
        if main is not None:
            main.query_one(Ladder).toggle_pnl()
