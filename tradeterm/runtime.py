"""One way to bring up an instance: the journal, the gateway (SIM), the broker, the engine.

The console, the trading screen and the tests all start an instance through :func:`open_runtime`,
so what a mode means (SIM embeds the fake gateway; PAPER connects to 4002; LIVE to 4001;
SHADOW reads market data through 4002 and trades on the paper broker) is decided in one
place::

    async with open_runtime(settings, seed=1) as rt:
        await rt.engine.start()
        ...

The journal (one SQLite file per market and mode, ``Settings.journal_path``) is opened first:
the last trading state is restored from it and from the halt latch beside it (HALTED if
either says so; see ``journal/latch.py``; at a mode's first start, the HALTED state an older
version's shared journal kept for that mode is carried into the latch, ``journal/legacy.py``),
and once connected the IB account is checked against the one whose state the journal keeps
(another account's state is never applied: the start is refused), the fills of earlier runs
are read back at start
(``engine.journaled_fills``), orders earlier runs sent and never saw finished are tracked
again (``sent_orders``), every order's intent is committed to it before the order is sent
(``engine.before_send``), a failed journal write halts trading (``engine.halt``, which writes
the latch first) and so does a fill that contradicts a journaled one
(``engine.fill_conflict``), and every engine event is journaled by a task beside the engine.
Another task beside it notifies (``tradeterm/notify``, the ``[notify]`` section): fills,
refusals, risk states, the kill switch, long disconnects and strategy faults, to apprise
channels and the front end's bell (``Runtime.notifier.bell``).
A journal that cannot be opened (corrupt, newer, read-only, in use) is a :class:`ModeError`.
An embedded gateway (SIM without a port, REPLAY) is a new market at every start: the session
starts the journal's market afresh (``Journal.start_session``'s ``new_market``: the earlier
run's orders end, its position with them), so the engine and ``report`` start from its 0.

SHADOW (``--shadow``): the IB adapter is only the market source of a ``PaperBroker``
(``tradeterm/paper``), which the engine trades through: no order ever reaches IB, fills are
simulated in this process against the live book. Its default port is IB Gateway's paper one,
4002 (``config.DEFAULT_PORTS``): it only reads market data, and were an order ever to leak it
would land in a paper account. Its journal is ``journal/shadow/``, its account ``SHADOW``. At a
restart the paper broker starts from the journal (:func:`_carried_fills`): the position its
fills add up to, the orders left working reported cancelled, order ids above the journal's.

REPLAY (``tradeterm ES --replay FILE``): SIM's embedded gateway playing a recorded file on the
replayed market's one clock, which the whole instance reads (``embedded.py``), with a journal of
its own, ``journal/replay/`` (its own halt latch: a replay's HALTED never blocks another mode).

The console and the screen start the engine with :meth:`Runtime.start`, which a quit or a
stop signal cuts short; with ``connection.wait_at_start`` (``--wait-for-gateway``) a gateway
not there yet is waited for (``engine/connectivity.py``: the reconnect's backoff) instead of
ending the start, so that an instance started while IB Gateway restarts comes up with it.

Leaving the block stops the engine, journals what is left and the session's stop
(``Runtime.stop_reason``), closes the journal, then stops the embedded gateway. Critical rows
the journal could not write are then described in ``Runtime.unwritten`` (one line for the
user; the console and the screen raise :class:`UnwrittenError` with it: exit status 3).

SIGTERM and SIGHUP stop an instance the same way as quitting (``stop_signals.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tradeterm import __version__, embedded
from tradeterm.broker.port import Broker
from tradeterm.config import Process, Settings
from tradeterm.control.endpoint import ControlServer
from tradeterm.control.place import ControlError
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.connectivity import GatewayWait
from tradeterm.engine.engine import Engine, JournaledFills
from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.engine.types import TradingState
from tradeterm.journal import Journal, JournalError
from tradeterm.journal.alert_file import AlertFile, alert_file
from tradeterm.journal.latch import LatchFile, latch_file
from tradeterm.journal.legacy import carried_halt
from tradeterm.notify import Notifier
from tradeterm.paths import legacy_journal_file
from tradeterm.shared.ship_process import ShippingProcess
from tradeterm.shared.target import instance_name
from tradeterm.sim.replay_common import ReplayError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from decimal import Decimal

    from tradeterm.domain import Fill, Instrument
    from tradeterm.engine.order_tracking import SentOrder
    from tradeterm.paper.paper_broker import PaperBroker
    from tradeterm.strategies import Loaded

log = logging.getLogger(__name__)

SHADOW_ACCOUNT = "SHADOW"  # the paper broker's account in SHADOW mode (never an IB account)


class ModeError(Exception):
    """A mode or connection problem the user must fix, worded for them."""


class UnwrittenError(Exception):
    """The instance stopped, but critical journal rows were never written (worded for the
    user: how many of which kinds)."""


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    host: str
    port: int
    gateway: Any | None = None  # the embedded FakeGateway in SIM mode
    journal: Journal | None = None
    stop_reason: str = "stopped"  # the session's stop, as journaled
    unwritten: str | None = None  # after the block: what the journal lost, for the user
    notifier: Notifier | None = None  # the front end sets its ``bell``
    control: ControlServer | None = None  # its control socket (``tradeterm status``, ``kill``)
    replay: embedded.ReplayControl | None = None  # REPLAY: the clock the recorded file plays on
    shipping: ShippingProcess | None = None  # [shared] url: the journal's shipping (its lag)

    @property
    def mode(self) -> str:
        return self.settings.mode

    async def strategy_runner(self, loaded: Loaded, **kw: Any) -> StrategyRunner:
        """A runner (not started) for ``loaded`` on the started engine, given what the journal
        knows of the strategy's earlier runs: the orders they sent (``carried``: its position
        and its working orders survive a restart, see ``engine/strategy_carry.py``) and, in
        CANARY (``canary`` in ``kw``), its intents' count and paper position. The
        console and the screen build their runner here; ``kw`` goes to the runner. Raises
        :class:`ModeError` when the journal cannot be read: a strategy never starts on a guess."""
        carried: frozenset[str] = frozenset()
        if self.journal is not None:
            try:
                carried = await self.journal.strategy_orders(loaded.name)
                if kw.get("canary") is not None:
                    kw["canary_carried"] = await self.journal.canary_carry(loaded.name)
            except JournalError as exc:
                raise ModeError(f"cannot start strategy {loaded.name}: {exc}") from None
        return StrategyRunner(self.engine, loaded, carried=carried, **kw)

    async def start(self, stop: asyncio.Event) -> bool:
        """Start the engine (with ``connection.wait_at_start``, once the gateway answers),
        unless ``stop`` is set first (quit, SIGTERM, SIGHUP while waiting): then the start is
        abandoned, the engine stopped, and False. Raises what ``Engine.start`` raises."""
        start = asyncio.ensure_future(self.engine.start())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({start, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not start.done():
                start.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await start
        if start.cancelled():
            log.info("start abandoned: stopped while starting")
            return False
        start.result()
        if self.replay is not None:  # REPLAY: the file plays from its start to a subscribed engine
            self.replay.release()
        return True

    def describe(self) -> str:
        where = f"{self.settings.symbol} in {self.mode.upper()} mode via {self.host}:{self.port}"
        if self.mode == "shadow":
            return f"{where} (market data only: fills simulated here, no order reaches IB)"
        if self.mode == "replay" and self.gateway is not None:
            return f"{where} (replaying {self.gateway.config.replay})"
        return where


def claim_market(settings: Settings) -> ControlServer:
    """Take the market for an instance of ``settings`` (``tradeterm/control``): its market
    and mode and, when it trades at a gateway (not SIM's embedded one, never SHADOW, whose
    orders stay in its own process), the market at that gateway; once connected,
    :func:`_bind_account` adds the market in the account. Raises :class:`ModeError` naming
    the instance that has it. :func:`open_runtime` calls it, or takes what the screen claimed
    before the terminal was taken over."""
    control = ControlServer(settings.symbol, settings.mode,
                            shared=(settings.shared, instance_name(settings)))  # fmt: skip
    port = settings.port()
    at_ib = settings.mode in ("sim", "paper", "live")  # SHADOW's, REPLAY's orders stay here
    trades_at = (settings.connection.host, port) if port is not None and at_ib else None
    try:
        control.claim_instance(trades_at)
    except ControlError as exc:
        raise ModeError(str(exc)) from None
    return control


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings, *, seed: int = 1, gateway_rate: float | None = None,
    process: Process = "screen", calendar: SessionCalendar | None = None,
    control: ControlServer | None = None, replay: embedded.ReplaySource | None = None,
) -> AsyncIterator[Runtime]:  # fmt: skip
    """Open the journal and build (not start) the engine for ``settings``; SIM without a port
    starts the embedded fake gateway first. ``process`` (the screen or the console) chooses
    the market's default API client id (``"watch"``: a watch-only instance, see
    :func:`_watching`); ``calendar`` replaces the contract's trading hours
    (the README's screenshots show an open market on any day). Raises :class:`ModeError` for a mode this build
    cannot run, a journal that cannot be used, or another instance trading this market
    (:func:`claim_market`, unless ``control`` holds its claim already: it is this
    instance's control socket, ``tradeterm/control``, served from the engine's build to the
    end for ``tradeterm status`` and ``tradeterm kill``, and released at the end). ``replay``:
    what REPLAY plays (that mode needs it, no other takes it)."""
    if (settings.mode == "replay") != (replay is not None):
        raise ModeError(
            "REPLAY mode plays a recorded file: tradeterm SYMBOL --replay FILE"
            if replay is None
            else f"--replay plays a file in REPLAY mode, not {settings.mode.upper()}"
        )
    if process == "watch":  # a viewer: no journal, no claim on the market
        async with _watching(settings, calendar) as watching:
            yield watching
        return
    if control is None:
        control = claim_market(settings)
    try:
        async with _open_runtime(
            settings, seed, gateway_rate, process, calendar, control, replay
        ) as rt:
            yield rt
    finally:
        await control.close()


@contextlib.asynccontextmanager
async def _open_runtime(
    settings: Settings, seed: int, gateway_rate: float | None, process: Process,
    calendar: SessionCalendar | None, control: ControlServer, replay: embedded.ReplaySource | None,
) -> AsyncIterator[Runtime]:  # fmt: skip
    from tradeterm.broker.ib import IbBroker
    from tradeterm.paper.paper_broker import PaperBroker

    mode = settings.mode
    client_id = settings.client_id(process)
    market, prepared = settings.market(), None
    if replay is not None:  # one clock, the file's contract and day (embedded.py)
        try:
            prepared = embedded.prepare(replay, settings)
        except ReplayError as exc:
            raise ModeError(str(exc)) from None
        calendar, market = calendar or prepared.calendar, prepared.market
    journal = Journal.configured(
        settings.journal_path(), settings.journal, ship=bool(settings.shared.url)
    )
    latch = LatchFile(latch_file(journal.path))
    if not journal.path.exists():  # this mode's first start: what an older version kept
        _carry_legacy(settings, latch)
    try:
        await journal.open()
    except JournalError as exc:
        raise ModeError(str(exc)) from None
    try:
        await journal.start_session(
            settings.symbol.upper(), mode, __version__, client_id=client_id,
            new_market=embedded.NEW_MARKET if embedded.is_embedded(settings, replay) else None,
        )  # fmt: skip
        risk_state = _stricter(await journal.last_transition(), latch.read())
        sent = await journal.sent_orders()
        owner = await journal.owner() or latch.owner()
    except JournalError as exc:
        await journal.close()
        raise ModeError(str(exc)) from None
    rt: Runtime | None = None
    engine: Engine | None = None
    shipping = ShippingProcess.started(settings, journal.path)  # [shared]: a process apart
    try:
        async with embedded.embedded_gateway(settings, seed, gateway_rate, replay, prepared) as (
            gateway,
            host,
            port,
        ):
            connection = settings.connection.model_copy(
                update={"host": host, "client_id": client_id}
            )
            ib = IbBroker(connection, port=port, gateway_help=_gateway_help(settings, port, replay),
                          clock=prepared.clock.now if prepared else time.time)  # fmt: skip
            wait = (
                GatewayWait(ib.address, connection.backoff_s) if connection.wait_at_start else None
            )
            broker: Broker = ib
            journaled_fills: JournaledFills = journal.fills
            if mode == "shadow":  # IB gives the market; the paper broker takes the orders
                broker = paper = PaperBroker(ib, None, account=SHADOW_ACCOUNT, client_id=client_id)
                journaled_fills = _carried_fills(journal, paper, sent)
            engine = Engine(
                broker, settings.symbol, market, risk_state=risk_state,
                sent_orders=sent, calendar=calendar, before_send=journal.commit_intent,
                journaled_fills=journaled_fills, latch=latch,
                alert_store=AlertFile(alert_file(journal.path)),
                venue="the paper broker" if mode == "shadow" else "IB", wait_for_gateway=wait,
                source=prepared.clock if prepared else None,
                queue_truth=gateway.exact_queue_position if prepared and gateway else None,
                on_connected=lambda: _bind_account(
                    broker.account, broker.client_id, ib.address, journal, latch, owner, mode,
                    control if gateway is None and mode != "shadow" else None,
                ),
            )  # fmt: skip
            journal.on_failure = engine.halt
            journal.on_conflict = engine.fill_conflict
            follower = journal.attach(engine)
            notifier = Notifier(settings.notify, settings.symbol, mode)
            notifying = notifier.attach(engine)
            try:
                if shipping is not None:
                    control.shipping = lambda: shipping.lag().as_status()
                try:
                    await control.serve(engine)
                except OSError as exc:
                    raise ModeError(f"cannot serve the control socket: {exc}") from None
                rt = Runtime(settings, engine, host, port, gateway, journal, notifier=notifier,
                             control=control, replay=prepared.clock if prepared else None,
                             shipping=shipping)  # fmt: skip
                yield rt
            finally:
                await engine.stop()  # closes the event stream: the follower drains it and ends
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(follower, 10)
                if notifying is not None:  # its last alerts (the kill switch's outcome) go
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await asyncio.wait_for(notifying, 10)
                    await notifier.close()
    finally:
        journal.end_session(rt.stop_reason if rt is not None else "stopped")
        await journal.close()
        if shipping is not None:  # what it has not shipped, the next start ships
            await asyncio.to_thread(shipping.stop)
        if rt is not None:
            rt.unwritten = _unwritten(journal, engine)


def _gateway_help(
    settings: Settings, port: int, replay: embedded.ReplaySource | None = None
) -> str:
    """What the IB adapter says to check when the gateway cannot be reached: in SIM, what is
    true of how this instance was started (its gateway embedded, a ``tradeterm tmux``
    session's window, or a ``tradeterm gateway`` of the trader's)."""
    from tradeterm.broker.ib import IB_GATEWAY_HELP

    if settings.mode not in embedded.EMBEDDED:
        return IB_GATEWAY_HELP
    return embedded.sim_gateway_help(
        port, inside=embedded.is_embedded(settings, replay),
        tmux_session=os.environ.get(embedded.TMUX_SESSION_ENV),
    )  # fmt: skip


def watch_refusal(settings: Settings) -> str | None:
    """Why ``settings`` cannot be watched (one line), None when they can. A watch-only
    instance shows what a trading instance trades at IB: in SIM there is nothing to watch but
    a gateway it shares (an embedded one would be a market of its own), and a SHADOW
    instance's orders and fills live in its own process, never at IB."""
    if settings.mode == "shadow":
        return ("--watch-only cannot show a SHADOW instance: its orders and fills are "
                "simulated inside its own process and never reach IB")  # fmt: skip
    if settings.port() is None:
        return ("--watch-only in SIM watches a running gateway (tradeterm gateway): give its "
                "port (--port; tradeterm serve: --ib-port), an embedded gateway would be a "
                "market of its own")  # fmt: skip
    return None


@contextlib.asynccontextmanager
async def _watching(settings: Settings, calendar: SessionCalendar | None) -> AsyncIterator[Runtime]:
    """A watch-only instance (``process="watch"``): its own API client id (the market's watch
    slot, with the next four for more viewers), the broker behind :class:`WatchOnlyBroker`
    (no order message ever leaves), and no journal: it writes nothing of the trading
    instance's (journal, halt latch), so it never contends with it. It starts in the state the
    halt latch holds (read, never written), and knows only the fills IB reports to it."""
    from tradeterm.broker.ib import IbBroker
    from tradeterm.broker.watch_only import WatchOnlyBroker

    refused = watch_refusal(settings)
    if refused is not None:
        raise ModeError(refused)
    port = settings.port()
    assert port is not None
    connection = settings.connection.model_copy(
        update={"client_id": settings.client_id("watch"), "auto_client_id": True}
    )
    broker = WatchOnlyBroker(
        IbBroker(connection, port=port, gateway_help=_gateway_help(settings, port))
    )
    latched = LatchFile(latch_file(settings.journal_path())).read()
    # an instance name of its own (never the market's, which names the trading instance's
    # orderRefs): every order IB lists is another client's to it, read-only, none adopted
    engine = Engine(broker, settings.symbol, settings.market(), risk_state=latched,
                    calendar=calendar, venue="IB", instance=watch_instance(settings.symbol))  # fmt: skip
    try:
        yield Runtime(settings, engine, connection.host, port)
    finally:
        await engine.stop()


def watch_instance(symbol: str) -> str:
    """A watcher's instance name: ``ES-watch``; a trading instance is named by its symbol
    alone (``Engine``'s default), so no watcher owns, or adopts, a trading instance's order."""
    return f"{symbol.split()[0].upper()}-watch"


def _carry_legacy(settings: Settings, latch: LatchFile) -> None:
    """Carry the HALTED state an older version kept for this mode (``journal/legacy.py``)
    into the latch, before this mode's journal exists (a crash in between carries it again).
    Refuses to start when it cannot be written: HALTED is never lost."""
    legacy = legacy_journal_file(settings.symbol, settings.journal.dir)
    carried = carried_halt(legacy, settings.mode)
    if carried is None:
        return
    try:
        latch.set(carried)
    except OSError as exc:
        raise ModeError(
            f"cannot carry the HALTED state of {legacy} into {latch}: {exc.strerror or exc}"
        ) from None
    log.warning("%s HALTED, carried into %s: %s", settings.mode, latch, carried.reason)


def _carried_fills(
    journal: Journal, paper: PaperBroker, sent: Sequence[SentOrder]
) -> JournaledFills:
    """SHADOW's ``engine.journaled_fills``: the journal's fills, which the paper broker is
    also started from (``PaperBroker.carry``) before the engine reconciles against it, so a
    paper position is neither lost nor taken for IB's, and the orders earlier runs left
    working end with a reason instead of being adopted."""

    async def fills(instrument: Instrument) -> Sequence[tuple[Fill, Decimal | None]]:
        journaled = await journal.fills(instrument)
        try:
            next_id = await journal.highest_order_id() + 1
        except JournalError as exc:
            raise ModeError(str(exc)) from None
        paper.carry((fill for fill, _ in journaled), sent, next_id)
        return journaled

    return fills


def _bind_account(
    account: str | None, client_id: int | None, address: str, journal: Journal,
    latch: LatchFile, owner: str | None, mode: str, control: ControlServer | None,
) -> None:  # fmt: skip
    """Once connected (``engine.on_connected``), before anything the journal restored is
    applied: one instance per market per IB account (``control``, when it trades at IB's
    account: another instance of the market in it, even through another gateway address,
    refuses the start, ModeError), and a journal and its latch keep the state of one IB
    account. Another account's HALTED, fills and orders must never be applied to this one,
    nor this one's written beside them, so the start is refused (ModeError); else the
    session names its account."""
    if control is not None and account is not None:
        try:
            control.claim_account(account)
        except ControlError as exc:
            raise ModeError(str(exc)) from None
    if owner is not None and account is not None and account != owner:
        raise ModeError(
            f"journal {journal.path} keeps the {mode.upper()} state of IB account {owner}, "
            f"but {address} is logged into {account}: nothing was applied or sent. "
            f"Give {account} a journal of its own with journal.dir "
            f"(e.g. TRADETERM_JOURNAL__DIR={journal.path.parent.parent}/{account})"
        )
    latch.account = account or owner
    journal.note_broker(account, client_id)


def _stricter(
    journaled: RiskTransition | None, latched: RiskTransition | None
) -> RiskTransition | None:
    """The state to start in: the latch's HALTED when the journal's last transition is not
    HALTED (the journal could not write it), else the journal's."""
    if latched is not None and (journaled is None or journaled.to_state is not TradingState.HALTED):
        return latched
    return journaled


def _unwritten(journal: Journal, engine: Engine | None) -> str | None:
    """One line naming the critical rows ``journal`` could not write (and a HALTED state the
    halt latch could not keep either); None when nothing critical was lost."""
    latch_error = engine.keep_halt() if engine is not None else None  # one more try
    lost = journal.unwritten()
    if not lost:
        return None
    kinds = ", ".join(f"{n} {table}" for table, n in sorted(lost.items()))
    text = (
        f"{journal.failure or f'journal {journal.path} cannot write'}; "
        f"{sum(lost.values())} critical row(s) were never written and are lost ({kinds}); "
        "fills and order states are read back from IB at the next start"
    )
    if latch_error is not None:
        text += f"; trading is HALTED but {latch_error}: the next start may not know it was HALTED"
    log.error("%s", text)
    return text
