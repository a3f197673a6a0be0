"""The fault × action matrix (issue 20): every fault the fake gateway injects crossed with
every action a trader takes, each cell checked through an independent client connected as the
gateway's master (see ``observe.py``).

A cell (:meth:`Cell.run`):

1. a fake gateway in this process (a slow synthetic market, master client id 99), the master
   client, and tradeterm: an instance in this process (``open_runtime``: the journal in the
   cell's directory, the real IbBroker and ib_async, an always-open calendar), or, for the
   restart column, a ``tradeterm console`` process on the same configuration and journal;
2. the book: long 2 from a market bracket (its stop and target working) and a limit-entry
   bracket resting 10 points below the market (the entry working, its exits held at IB);
3. the fault begins and the action is fired during it (``during``: once the engine has seen
   the fault), or just before it (``before``: the fault begins the moment the gateway has
   handled the action's first request, so IB's answer is in flight);
4. the fault ends (windows of about a second), then the cell waits, each wait with a timeout,
   for the gateway's held requests, the action's end, and the engine connected, LIVE,
   reconciled, with no order of ours unconfirmed;
5. the invariants are read until they hold; if they never do, or a wait times out, the cell
   fails with what is wrong and the timeline of what was sent and what came back.

The strategy column (:class:`StrategyCell`) has a strategy's bracket instead of the book and
its reversal as the action, and checks the strategy's own invariants and a kill switch after.

Restart and quit end the instance (a console killed with SIGKILL; an instance quitting as
``q`` does) and start a new one on the same journal during the fault; the new one is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.integration.engine_helpers import TODAY, always_open
from tests.integration.journal_helpers import GatewayState, query, read_journal
from tests.integration.kill_helpers import CONSOLE_TOML, Console, Failed, wait_for
from tests.reliability.observe import (
    OURS,
    Expect,
    Master,
    Timeline,
    Wire,
    orphans,
    violations,
)
from tests.support.strategies import Reverses
from tradeterm.broker.port import BrokerError, ConnectError, ConnectionState
from tradeterm.config import load_settings
from tradeterm.console import parse_command
from tradeterm.domain import OrderStatus, Side
from tradeterm.engine.commands import (
    CancelOrder,
    Command,
    CommandResult,
    Flatten,
    ModifyOrder,
    PlaceBracket,
)
from tradeterm.engine.engine import Engine
from tradeterm.engine.strategy_carry import within
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.engine.types import StrategyState
from tradeterm.runtime import ModeError, Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.strategies.loader import load

MASTER = 99
RATE = 20.0  # synthetic market events a second: data flows, prices barely move
WINDOW_S = 1.0  # how long a fault with a duration lasts
SETTLE_S = 60.0  # the longest any wait of a cell may take (the kill switch's own timeout: 30 s)
CONFIG_TOML = (
    """
[connection]
connect_timeout_s = 3
request_timeout_s = 5
reconnect_min_s = 0.1
reconnect_max_s = 0.5
"""
    + CONSOLE_TOML
)


def book(bid: Decimal) -> list[str]:
    """The console lines that build every cell's book."""
    return [
        "bracket buy 2 stop 40 target 80",
        f"bracket buy 1 stop 40 target 80 limit {bid - 10}",
    ]


BOOK_POSITION, BOOK_WORKING = 2, 5


# ---- faults ---------------------------------------------------------------------------------


def _nothing(gw: FakeGateway) -> None:
    return None


def _seen(engine: Engine) -> bool:
    return True


def _disconnected(engine: Engine) -> bool:
    return not engine.connected


def _degraded(engine: Engine) -> bool:
    return engine.health.state is ConnectionState.DEGRADED


def _clear_reject(gw: FakeGateway) -> None:
    gw.oms.reject_next = None


def _clear_pacing(gw: FakeGateway) -> None:
    gw.server.pacing_violations = 0


@dataclass(frozen=True)
class Fault:
    """One row of the matrix. ``start`` begins the fault (what it returns, if awaitable, is
    the fault running its course); after ``window_s`` the cell awaits that and calls ``stop``
    (what is left of the fault ends). ``noticed``: the engine has seen it, so an action
    fired now is fired during it. ``before``: the row also runs with the fault beginning
    just after the action's first request."""

    name: str
    text: str
    start: Callable[[FakeGateway], object]
    window_s: float = 0.0
    stop: Callable[[FakeGateway], None] = _nothing
    noticed: Callable[[Engine], bool] = _seen
    before: bool = False

    def begin(self, gw: FakeGateway) -> FaultRun:
        """Begin the fault on ``gw``; :meth:`FaultRun.end` ends it."""
        began = time.monotonic()
        started = self.start(gw)
        task = asyncio.ensure_future(started) if inspect.isawaitable(started) else None
        return FaultRun(self, gw, began, task)


@dataclass
class FaultRun:
    """A fault under way (:meth:`Fault.begin`)."""

    fault: Fault
    gw: FakeGateway
    began: float
    task: asyncio.Future[Any] | None

    async def end(self) -> None:
        """Once ``window_s`` has passed since it began: wait for it to run its course, then
        end what is left of it."""
        left = self.began + self.fault.window_s - time.monotonic()
        if left > 0:
            await asyncio.sleep(left)
        if self.task is not None:
            await asyncio.wait_for(self.task, SETTLE_S)
        self.fault.stop(self.gw)


W = WINDOW_S
FAULTS = [
    Fault("none", "no fault (the control row)", _nothing),
    Fault("drop", "every socket closed", lambda gw: gw.faults.drop(), noticed=_disconnected,
          before=True),
    Fault("lost-1101", "1100, then 1101 (data lost)",
          lambda gw: gw.faults.connectivity_lost(W, data_lost=True), W, noticed=_degraded),
    Fault("lost-1102", "1100, then 1102 (data kept)",
          lambda gw: gw.faults.connectivity_lost(W), W, noticed=_degraded),
    Fault("farm", "market data farm down (2103, 2104)", lambda gw: gw.faults.farm_outage(W), W,
          noticed=_degraded),
    Fault("hmds", "HMDS farm down (2105, 2106)", lambda gw: gw.faults.hmds_outage(W), W),
    Fault("stall", "market data stops, no message", lambda gw: gw.faults.stall(W), W),
    Fault("reject", "the next order rejected (201)", lambda gw: gw.faults.reject_next(), W,
          _clear_reject),
    Fault("delay", "acknowledgements 1 s late", lambda gw: gw.faults.set_ack_delay(W), 1.5 * W,
          lambda gw: gw.faults.set_ack_delay(0)),
    Fault("hide", "requests invisible at IB for 1 s",
          lambda gw: gw.faults.set_ack_delay(W, hide=True), 1.5 * W,
          lambda gw: gw.faults.set_ack_delay(0)),
    Fault("offline-fill", "dropped, working orders filled meanwhile",
          lambda gw: gw.faults.fill_while_disconnected(), noticed=_disconnected, before=True),
    Fault("restart", "the gateway restarts (down 1 s, state kept)", lambda gw: gw.restart(W),
          noticed=_disconnected, before=True),
    Fault("pacing", "the next request answered 100", lambda gw: gw.faults.pacing_violation(), W,
          _clear_pacing),
    Fault("malformed", "a malformed frame", lambda gw: gw.faults.malformed_frame()),
    Fault("no-tbt", "tick-by-tick refused (10190)", lambda gw: gw.faults.refuse_tick_by_tick(),
          W, lambda gw: gw.faults.refuse_tick_by_tick(False)),
    Fault("refuse-data", "depth refused: no L2 permission (354)",
          lambda gw: gw.faults.refuse_data("depth", 354), W,
          lambda gw: gw.faults.refuse_data("depth", None)),
]  # fmt: skip


# ---- actions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One column. ``fire`` does it (the cell's ``result`` keeps what it returned);
    ``expect`` says, once everything settled, what it promises beyond the invariants."""

    name: str
    guarantee: str
    fire: Callable[[Cell], Coroutine[Any, Any, None]]
    expect: Callable[[Cell], Expect] = lambda cell: Expect()
    console: bool = False  # tradeterm runs as a console process until the action


async def _kill(cell: Cell) -> None:
    cell.result = await cell.engine.kill("matrix")


async def _flatten(cell: Cell) -> None:
    cell.result = await cell.submit(Flatten())


def _flatten_expect(cell: Cell) -> Expect:
    """Flat, unless the flatten was refused (it says why; a position left keeps its stop) or
    IB rejected its close."""
    result = cell.result
    assert isinstance(result, CommandResult)
    orders = cell.engine.orders
    assert orders is not None
    rejected = any(
        (o := orders.get(i)) is not None and o.status is OrderStatus.REJECTED
        for i in result.order_ids
    )
    return Expect(flat=result.ok and not rejected, new_orders=(0, 1), new_type="MKT",
                  protected=not result.ok)  # fmt: skip


async def _bracket(cell: Cell) -> None:
    cell.result = await cell.submit(PlaceBracket(Side.BUY, 1, stop_ticks=40, target_ticks=80))


async def _modify(cell: Cell) -> None:
    stop_id = cell.book_ids[0][2]
    orders, instrument = cell.engine.orders, cell.engine.instrument
    stop = orders.get(stop_id) if orders is not None else None
    assert stop is not None and stop.stop is not None and instrument is not None
    cell.result = await cell.submit(ModifyOrder(stop_id, stop=(stop.stop + 4) * instrument.tick))


async def _cancel(cell: Cell) -> None:
    cell.result = await cell.submit(CancelOrder(cell.book_ids[1][0]))


async def _restart(cell: Cell) -> None:
    assert cell.console is not None
    await cell.console.kill9()
    cell.timeline.add("cell", "console #1 killed (SIGKILL)")
    await cell.start_instance()


async def _quit(cell: Cell) -> None:
    instance = cell.instances[-1]
    unwritten = await instance.stop()
    cell.timeline.add("cell", f"instance #{instance.n} quit")
    if unwritten:
        raise Failed(f"quitting lost journal rows: {unwritten}")
    await cell.start_instance()


STRATEGY_GUARANTEE = (
    "a strategy trading through the fault (a market bracket, then the reverse of its "
    "position as a target): its position is its fills' and within the account's, no exit of "
    "its brackets left behind its position, every order of ours at IB sent by one of its "
    "intents, once; running and at its target, or stopped saying why; quit and started "
    "again, it holds the same position; then the kill switch brings IB flat and stops it"
)


async def _reverse(cell: Cell) -> None:
    """The strategy reverses: its next trade makes a target that cancels its bracket's exits
    first (returns once that intent was applied, so ``before`` catches its first request)."""
    assert isinstance(cell, StrategyCell)
    runner = cell.runner
    signals = len(runner.signals)
    cell.strategy.reverse()
    await wait_for(lambda: len(runner.signals) > signals or not runner.active,
                   "the strategy's reversal", SETTLE_S)  # fmt: skip
    cell.result = runner.signals[-1] if len(runner.signals) > signals else runner.reason


ACTIONS = [
    Action("kill", "HALTED, flat at IB, nothing of ours working, one close at most", _kill,
           lambda cell: Expect(flat=True, trading_state="HALTED", new_orders=(0, 1),
                               new_type="MKT")),
    Action("flatten", "flat at IB, nothing working (cut short by the connection: finished once "
           "IB is back); or refused, the position keeping its stop; or IB's rejection of the "
           "close shown", _flatten, _flatten_expect),
    Action("bracket", "the bracket whole at IB or not at all", _bracket,
           lambda cell: Expect(new_orders=(0, 3))),
    Action("modify", "the stop at IB is the one the engine shows: moved, or refused and "
           "unmoved", _modify),
    Action("cancel", "the entry and its exits cancelled at IB (or, if the entry filled first, "
           "its exits protect the position)", _cancel),
    Action("restart", "kill -9 and a new instance: everything found again, nothing twice",
           _restart, console=True),
    Action("quit", "a new instance finds everything again, nothing twice", _quit),
    Action("strategy", STRATEGY_GUARANTEE, _reverse,
           lambda cell: Expect(new_orders=tuple(range(4)), new_type="MKT")),
]  # fmt: skip
NOT_APPLICABLE = {
    ("reject", "modify"): "the gateway's reject fault refuses new orders; a modification is "
    "not one (refused modifications: tests/unit/engine/test_orders.py)",
    ("reject", "cancel"): "a cancel sends no order for IB to reject",
    ("reject", "restart"): "restarting sends no order for IB to reject",
    ("reject", "quit"): "quitting sends no order for IB to reject",
}


KNOWN_FAILURES: dict[tuple[str, str, str], str] = {}


def cells() -> list[tuple[Fault, str, Action]]:
    """Every (fault, timing, action) of the matrix."""
    out = []
    for fault in FAULTS:
        for timing in ("during", "before") if fault.before else ("during",):
            for action in ACTIONS:
                out.append((fault, timing, action))
    return out


def not_applicable(fault: Fault, timing: str, action: Action) -> str | None:
    if timing == "before" and action.name in ("restart", "quit"):
        return "restart and quit send no request to IB for the fault to catch in flight"
    return NOT_APPLICABLE.get((fault.name, action.name))


def readme_table() -> str:
    """The matrix as the README shows it (``test_matrix`` checks that it does)."""
    head = "| fault | " + " | ".join(a.name for a in ACTIONS) + " |"
    lines = [head, "|---" * (len(ACTIONS) + 1) + "|"]
    notes: list[str] = []
    known: list[str] = []
    for fault in FAULTS:
        row = []
        for action in ACTIONS:
            timings = [_shown(f, t, a, known) for f, t, a in cells()
                       if f is fault and a is action and not not_applicable(f, t, a)]  # fmt: skip
            if timings:
                row.append(", ".join(timings))
                continue
            why = not_applicable(fault, "during", action) or ""
            if why not in notes:
                notes.append(why)
            row.append(f"n/a ({notes.index(why) + 1})")
        lines.append(f"| `{fault.name}`: {fault.text} | " + " | ".join(row) + " |")
    lines += ["", "What each action promises, on top of the invariants every cell checks:", ""]
    lines += ["| action | guaranteed |", "|---|---|"]
    lines += [f"| {a.name} | {a.guarantee} |" for a in ACTIONS]
    lines += [""]
    lines += [f"n/a ({i}): {why}." for i, why in enumerate(notes, 1)]
    lines += [f"known failure (x{i}, an xfail that must fail): {why}."
              for i, why in enumerate(known, 1)]  # fmt: skip
    return "\n".join(lines)


def _shown(fault: Fault, timing: str, action: Action, known: list[str]) -> str:
    """A cell's timing as the table shows it, with its note when it is a known failure."""
    why = KNOWN_FAILURES.get((fault.name, timing, action.name))
    if why is None:
        return timing
    if why not in known:
        known.append(why)
    return f"{timing} (x{known.index(why) + 1})"


# ---- the cell -------------------------------------------------------------------------------


class OnGateway:
    """A run against ``gateway`` (once started) with tradeterm's configuration in
    ``workdir``/tradeterm.toml: a matrix cell, the soak."""

    workdir: Path
    gateway: FakeGateway | None

    @property
    def gw(self) -> FakeGateway:
        assert self.gateway is not None
        return self.gateway

    def settings(self) -> Any:
        """The settings of an instance on the gateway (its journal, API client id 1)."""
        cli = {"connection.port": self.gw.config.port, "connection.client_id": 1}
        return load_settings(self.workdir / "tradeterm.toml", cli).settings


async def open_gateway(seed: int, timeline: Timeline) -> tuple[FakeGateway, Wire, Master]:
    """A started fake gateway (a slow synthetic market, master client id ``MASTER``), its
    wire on ``timeline``, and the master client connected."""
    gateway = FakeGateway(GatewayConfig(port=0, rate=RATE, seed=seed, master_client_id=MASTER,
                                        today=TODAY))  # fmt: skip
    await gateway.start()
    wire = Wire(gateway.server, timeline)
    master = Master(gateway.config.port, MASTER, timeline)
    await master.connect()
    return gateway, wire, master


class Instance:
    """tradeterm in this process: the runtime (journal, engine) on ``settings()``'s journal,
    what it publishes on ``timeline``."""

    def __init__(self, settings: Callable[[], Any], timeline: Timeline, n: int) -> None:
        self.settings, self.timeline, self.n = settings, timeline, n
        self.rt: Runtime | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._follow: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        assert self.rt is not None
        return self.rt.engine

    async def start(self) -> None:
        """Start it; when it cannot start (IB down, its client id not yet free), start it
        again, as a trader would."""
        end = time.monotonic() + SETTLE_S
        while True:
            self._stack = contextlib.AsyncExitStack()
            try:
                self.rt = await self._stack.enter_async_context(
                    open_runtime(self.settings(), calendar=always_open())
                )
                self._follow = self.timeline.follow_engine(self.rt.engine, f"engine#{self.n}")
                await self.rt.engine.start()
                return
            except (ConnectError, BrokerError, ModeError) as exc:
                self.timeline.add("cell", f"instance #{self.n} cannot start: {exc}")
                await self._stack.aclose()
                if time.monotonic() > end:
                    raise Failed(f"instance #{self.n} never started: {exc}") from None
                await asyncio.sleep(0.3)

    async def stop(self) -> str | None:
        """Stop it as quitting does; returns what the journal could not write (None: all)."""
        if self._stack is not None:
            stack, self._stack = self._stack, None
            await stack.aclose()
        if self._follow is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._follow, 5)
        return self.rt.unwritten if self.rt is not None else None


async def settle(gw: FakeGateway, engine: Engine) -> None:
    """Wait (each wait ``SETTLE_S`` at most) for the gateway's held requests, then for the
    engine connected, OK, reconciled, its kill switch done, no order of ours unconfirmed and
    entries not blocked; raises :class:`Failed` saying what never came."""
    await wait_for(lambda: gw.desk.pending_acks == 0, "the gateway's held requests", SETTLE_S)
    orders = engine.orders
    assert orders is not None

    def settled() -> bool:
        return (
            engine.connected and engine.health.state is ConnectionState.OK
            and not engine.needs_reconcile and not engine.kill_switch.running
            and not orders.unconfirmed() and engine.snapshot().entries_blocked is None
        )  # fmt: skip

    try:
        await wait_for(settled, "the engine to settle", SETTLE_S)
    except Failed as exc:
        snap = engine.snapshot()
        unknown = "; ".join(f"{o.client_id} {what}" for o, what in orders.unconfirmed())
        raise Failed(f"{exc}: {snap.health.state} {snap.health.reason}; entries blocked: "
                     f"{snap.entries_blocked}; unconfirmed: {unknown or 'none'}; kill "
                     f"running: {engine.kill_switch.running}") from None  # fmt: skip


async def hold(
    master: Master, journal_dir: Path, engine: Engine, expect: Expect, book: set[str],
    timeline: Timeline, within_s: float = 20,
) -> GatewayState:  # fmt: skip
    """Read the invariants (:func:`violations`) until they hold, at most ``within_s``; raises
    :class:`Failed` with those that do not. Returns the gateway's state that passed."""
    assert engine.instrument is not None
    end = time.monotonic() + within_s
    while True:
        view = await master.view()
        problems = violations(view, read_journal(journal_dir), engine.snapshot(),
                              engine.instrument.tick, expect, book)  # fmt: skip
        if not problems:
            ours = sorted(r for r in view.working if r.startswith(OURS))
            timeline.add("cell", f"invariants hold: position {view.position}, working {ours}")
            return view
        if time.monotonic() > end:
            raise Failed("invariants violated:\n  - " + "\n  - ".join(problems))
        await asyncio.sleep(0.3)


@dataclass
class Cell(OnGateway):
    fault: Fault
    timing: str
    action: Action
    workdir: Path
    timeline: Timeline = field(default_factory=Timeline)
    gateway: FakeGateway | None = None
    master: Master | None = None
    wire: Wire | None = None
    console: Console | None = None
    instances: list[Instance] = field(default_factory=list)
    book_ids: list[tuple[str, ...]] = field(default_factory=list)
    book_refs: set[str] = field(default_factory=set)  # the orderRefs at IB before the action
    result: Any = None
    _tail: asyncio.Task[None] | None = None
    _fault: FaultRun | None = None

    @property
    def name(self) -> str:
        return f"{self.fault.name}:{self.timing} × {self.action.name}"

    @property
    def engine(self) -> Engine:
        return self.instances[-1].engine

    async def submit(self, command: Command) -> CommandResult:
        result = await self.engine.submit(command)
        self.timeline.add("cell", f"{type(command).__name__}: "
                          + ("ok " + ", ".join(result.order_ids) if result.ok
                             else f"refused: {result.reason}"))  # fmt: skip
        return result

    async def start_instance(self) -> None:
        n = len(self.instances) + 1 + (self.console is not None)
        instance = Instance(self.settings, self.timeline, n)
        self.instances.append(instance)
        await instance.start()

    # ---- the run -------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the cell; raises :class:`Failed` with what broke and the timeline."""
        try:
            await self._setup()
            await self._act()
            await self._settle()
            await self._check()
        except (Failed, TimeoutError) as exc:
            raise Failed(f"{self.name}: {str(exc) or 'timed out'}\n"
                         f"timeline (s since the cell began):\n{self.timeline.render()}") from None  # fmt: skip
        finally:
            await self._teardown()

    async def _setup(self) -> None:
        (self.workdir / "tradeterm.toml").write_text(CONFIG_TOML.format(journal=self.workdir / "j"))
        self.gateway, self.wire, self.master = await open_gateway(7, self.timeline)
        feed = self.gw.market.feed_for_symbol("ES")
        bid = (feed.engine.best_bid or 0) * feed.tick
        if self.action.console:
            self.console = Console(self.workdir, self.gw.config.port, 1)
            await self.console.start()
            self._tail = asyncio.create_task(
                self.timeline.follow_file(self.console.out, "engine#1")
            )
            await wait_for(lambda: "RECONCILED (start)" in self.console.text(),  # type: ignore[union-attr]
                           "the console ready", SETTLE_S)  # fmt: skip
            for line in book(bid):
                await self.console.type(line)
        else:
            await self.start_instance()
            for line in book(bid):
                command = parse_command(line, 1)
                assert not isinstance(command, str)
                result = await self.submit(command)
                if not result.ok:
                    raise Failed(f"the book was refused: {result.reason}")
                self.book_ids.append(result.order_ids)
        view = await self._until_view(lambda v: v.position == BOOK_POSITION
                                      and len(v.working) == BOOK_WORKING, "the book at IB")  # fmt: skip
        self.book_refs = set(view.refs)
        if not self.action.console:
            await wait_for(lambda: len(self.engine.snapshot().orders) == BOOK_WORKING,
                           "the book in the engine", SETTLE_S)  # fmt: skip
        self.timeline.add("cell", "the book is ready")

    async def _until_view(self, check: Callable[[GatewayState], bool], what: str) -> GatewayState:
        assert self.master is not None
        end = time.monotonic() + SETTLE_S
        while not check(view := await self.master.view()):
            if time.monotonic() > end:
                raise Failed(f"timed out waiting for {what}")
            await asyncio.sleep(0.1)
        return view

    def _begin_fault(self) -> None:
        if self._fault is not None:
            return
        self.timeline.add("cell", f"fault {self.fault.name} begins")
        self._fault = self.fault.begin(self.gw)

    async def _end_fault(self) -> None:
        assert self._fault is not None
        await self._fault.end()
        self.timeline.add("cell", f"fault {self.fault.name} ends")

    async def _act(self) -> None:
        self.timeline.add("cell", f"action {self.action.name} ({self.timing} the fault)")
        if self.timing == "before":
            assert self.wire is not None
            self.wire.then = self._begin_fault
            act = asyncio.create_task(self.action.fire(self))
            await wait_for(lambda: self._fault is not None or act.done(),
                           "the action's first request", SETTLE_S)  # fmt: skip
            self._begin_fault()  # the action sent nothing: the fault right after it
        else:
            self._begin_fault()
            if not self.action.console:
                with contextlib.suppress(Failed):  # fired all the same, a little later
                    await wait_for(lambda: self.fault.noticed(self.engine), "the fault seen", 3)
            act = asyncio.create_task(self.action.fire(self))
        await self._end_fault()
        await asyncio.wait_for(act, SETTLE_S)
        self.timeline.add("cell", f"action {self.action.name} returned: {self.result}")

    async def _settle(self) -> None:
        await settle(self.gw, self.engine)
        self.timeline.add("cell", "settled")

    async def _check(self) -> None:
        assert self.master is not None
        await hold(self.master, self.workdir / "j", self.engine, self.action.expect(self),
                   self.book_refs, self.timeline)  # fmt: skip

    async def _teardown(self) -> None:
        for instance in reversed(self.instances):
            with contextlib.suppress(Exception):
                await instance.stop()
        console = self.console
        if console is not None and console.proc is not None and console.proc.returncode is None:
            await console.kill9()
        if self._tail is not None:
            self._tail.cancel()
        if self.master is not None:
            self.master.close()
        if self.gateway is not None:
            await self.gateway.stop()


# ---- the strategy column --------------------------------------------------------------------

STRATEGY_SPEC = "tests.support.strategies:Reverses"


def make_cell(fault: Fault, timing: str, action: Action, workdir: Path) -> Cell:
    """The cell of ``action``'s column (the strategy's has its own setup and checks)."""
    kind = StrategyCell if action.name == "strategy" else Cell
    return kind(fault, timing, action, workdir)


@dataclass
class StrategyCell(Cell):
    """A cell of the strategy column: no book of the trader's; the strategy (``Reverses``) runs
    in the instance and holds a market bracket (its stop and target working); the action is
    its reversal (a target that cancels the exits first, asked for again on each trade until
    reached). Besides the invariants every cell checks (:meth:`strategy_problems`): its
    position is what its own fills add up to and within the account's, no exit of its brackets
    works behind its position, every order of ours at IB is one its intents sent, it is
    running and at its target or stopped saying why; then the kill switch brings IB flat and
    stops it."""

    _runner: StrategyRunner | None = None

    @property
    def runner(self) -> StrategyRunner:
        assert self._runner is not None
        return self._runner

    @property
    def strategy(self) -> Reverses:
        strategy = self.runner.strategy
        assert isinstance(strategy, Reverses)
        return strategy

    async def _setup(self) -> None:
        (self.workdir / "tradeterm.toml").write_text(CONFIG_TOML.format(journal=self.workdir / "j"))
        self.gateway, self.wire, self.master = await open_gateway(7, self.timeline)
        await self._start_strategy()
        view = await self._until_view(lambda v: v.position != 0 and len(v.working) == 2,
                                      "the strategy's bracket at IB")  # fmt: skip
        self.book_refs = set(view.refs)
        await wait_for(lambda: self.runner.position == self.strategy.held == view.position
                       and len(self.engine.snapshot().orders) == 2,
                       "the strategy's bracket in the engine", SETTLE_S)  # fmt: skip
        self.timeline.add("cell", f"the strategy holds {self.runner.position}, its exits working")

    async def _start_strategy(self) -> None:
        """A new instance, and the strategy in it as the console starts one (the runtime's
        runner: what the journal knows of its earlier runs carried)."""
        await self.start_instance()
        rt = self.instances[-1].rt
        assert rt is not None
        self._runner = await rt.strategy_runner(load(STRATEGY_SPEC), equity=EQUITY)
        await self.runner.start()

    async def _check(self) -> None:
        await self._strategy_holds()
        held = self.runner.position
        await self.runner.close()
        if unwritten := await self.instances[-1].stop():
            raise Failed(f"quitting lost journal rows: {unwritten}")
        await self._start_strategy()
        self.timeline.add("cell", f"quit and started again: the strategy holds "
                          f"{self.runner.position}")  # fmt: skip
        if self.runner.position != held:
            raise Failed(f"the strategy held {held} when it quit, {self.runner.position} "
                         "when started again")  # fmt: skip
        await self._settle()
        await self._strategy_holds()
        was_active = self.runner.active
        assert self.master is not None
        kill = await self.engine.kill("matrix")
        self.timeline.add("cell", f"kill switch after the fault: {kill}")
        await hold(self.master, self.workdir / "j", self.engine,
                   Expect(flat=True, trading_state="HALTED", new_orders=tuple(range(6)),
                          new_type="MKT"), self.book_refs, self.timeline)  # fmt: skip
        await wait_for(lambda: not self.runner.active, "the kill switch to stop it", SETTLE_S)
        if was_active and "kill switch" not in self.runner.reason:
            raise Failed(f"the kill switch stopped the strategy saying {self.runner.reason!r}")

    async def _strategy_holds(self) -> None:
        """The invariants of every cell and the strategy's (:meth:`strategy_problems`) read
        until they hold, at most 20 s."""
        assert self.master is not None
        end = time.monotonic() + 20
        while True:
            await super()._check()
            problems = self.strategy_problems(await self.master.view())
            if not problems:
                return
            if time.monotonic() > end:
                raise Failed("the strategy's invariants violated:\n  - " + "\n  - ".join(problems))
            await asyncio.sleep(0.3)

    def strategy_problems(self, view: GatewayState) -> list[str]:
        """The strategy's invariants that do not hold (see the class notes)."""
        runner, target, problems = self.runner, self.strategy.target, []
        state, reason = runner.state, runner.reason
        if state is StrategyState.RUNNING:
            if target is not None and runner.position != target:
                problems.append(f"the strategy runs holding {runner.position}, its target {target}")
        elif state not in (StrategyState.STOPPED, StrategyState.FAULTED) or not reason:
            problems.append(f"the strategy is {state} ({reason!r}), not saying why")
        journal = self.workdir / "j"
        sent = [(kind, ids.split(",")) for kind, ids in query(journal, SENT, (runner.name,))]
        orders = {i for _, ids in sent for i in ids}
        if sum(len(ids) for _, ids in sent) != len(orders):
            problems.append(f"one order in two of its commands: {sent}")
        fills = [(i, side, q) for i, side, q in query(journal, FILLS) if i in orders]
        owned = sum(q if side == "BUY" else -q for _, side, q in fills)
        targets = {i for kind, ids in sent if kind == "PlaceOrder" for i in ids}
        if len({side for i, side, _ in fills if i in targets}) > 1:  # one overshot, one back
            problems.append(f"its target orders filled on both sides: {sorted(targets)}")
        if owned != runner.position:
            problems.append(f"the strategy holds {runner.position}, its fills add up to {owned}")
        if within(runner.position, view.position) != runner.position:
            problems.append(f"the strategy holds {runner.position}, the account {view.position}")
        working = [o for o in view.orders if o.working and o.ref in orders]
        problems += [f"an exit of its bracket works behind its position {runner.position}: "
                     f"{o.ref} {o.action} {o.order_type}"
                     for o in orphans(working, runner.position)]  # fmt: skip
        strays = {o.ref for o in view.orders if o.ref.startswith(OURS)} - orders
        if strays:
            problems.append(f"orders at IB that no intent of the strategy sent: {sorted(strays)}")
        return problems

    async def _teardown(self) -> None:
        if self._runner is not None:
            with contextlib.suppress(Exception):
                await self._runner.close()
        await super()._teardown()


EQUITY = Decimal(100_000)  # its entry sized by the risk rules: 2 contracts at a 40-tick stop
SENT = ("SELECT kind, order_ids FROM signals WHERE source = ? AND kind IN ('PlaceOrder', "
        "'PlaceBracket') AND order_ids != ''")  # fmt: skip
FILLS = "SELECT order_id, side, quantity FROM fills"
