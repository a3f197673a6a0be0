"""Running one strategy inside the engine's event loop.

:class:`StrategyRunner` feeds a loaded strategy (``tradeterm.strategies``) what the engine
sees and turns its intents into commands through :meth:`Engine.submit`, the path manual orders
take: one risk manager, one position, the journal. Its commands carry the strategy's name as
their ``source`` (the journal and ``report`` group by it). Kept as one module because it is
the one holder of a running strategy's state (its state, orders, position, history, hook
thread and queue) and every path that changes it (lifecycle and control, what it is told,
the hooks' containment, intents into commands) is kept beside that state.

* **What it is told.** ``on_start`` once; ``on_bar`` for each bar that closes after the start
  (the closed bars of the backfill are its history, without a call); ``on_fill`` and
  ``on_order`` for its own orders only; ``on_trade`` / ``on_quote`` / ``on_book`` only when the
  class asks (``on_book`` gets the levels that changed as ``DepthDelta``-s); ``on_stop`` last.
  Calls come one at a time, in the order the engine published what caused them.
* **Intents into orders.** ``TargetPosition``: one market order for the difference between the
  target and the position the strategy owns (its fills) plus its market orders still working
  (a reversal is one order); a target that reduces, closes or reverses a position its
  brackets protect first cancels their exits and waits for IB to end them (an exit left
  working would open a position when it fills later), unless the engine would refuse its
  order: then nothing is cancelled (refused after the cancels, it would leave the position
  without its stop). ``EntrySignal``: one native bracket
  (``PlaceBracket``) with the signal's stop and target in ticks, a market, limit or stop
  entry (a stop entry's exits are priced from its stop price: see ``PlaceBracket``), sized by
  the risk rules: ``risk_per_trade_pct`` of the account's equity (``Engine.account_values``'
  net liquidation, or the runner's ``equity``) over the stop distance; while it is unknown,
  the market's ``default_qty``; never above ``max_position``; the outcome says how. With
  ``stand_aside``, every intent is refused
  while the trader holds a position of his own (the account's minus the strategy's).
  Every intent is published as a :class:`StrategySignal` with what became of it.
* **Containment.** A hook runs in the strategy's own daemon thread, under ``budget_s`` and an
  exception guard, so one that sleeps never blocks the loop. A hook that raises, overruns or
  returns something other than intents faults the strategy: no more calls (a thread cannot be
  killed: one that overran is abandoned), its working orders cancelled except the exits of its
  brackets (its protective stops and targets stay), the fault published as
  :class:`StrategyStateChanged`. The engine and the kill switch go on as before.
* **A restart** (``carried``: the client ids of the orders its earlier runs sent): they are
  its orders again (the fills and updates of those still working count) and its position
  starts as what their fills add up to, within the account's (``strategy_carry.py``).
* **CANARY** (``canary=f``, see ``canary.py``): the strategy runs on its paper track, filled
  in this process from the market events the engine applies (``ctx.position`` and ``on_fill``
  are the track's; ``on_order`` is not called, the track has no broker orders), and the
  selector picks the fraction ``f`` of its intents that also go to IB as above, each with its
  own id: a picked target is sent as it is, one not picked as a target of 0 (IB never holds a
  position the strategy no longer wants); a picked entry signal is sent as its bracket, one
  not picked only paper-filled. The engine's portfolio stays IB's: paper fills never reach
  it. Each intent is published as a :class:`CanaryIntent` and each fill of either side as an
  :class:`IntentFill` (the journal keeps both; ``report --compare`` compares them). A
  restart (``canary_carried``) continues the selector's count and the track's position.
* **Stopping** (:meth:`StrategyRunner.stop`): ``on_stop`` runs and its intents are applied
  (e.g. a flat target), then its working orders are cancelled as for a fault, the bracket exits
  kept. The position stays: flattening it is the trader's call. A stopped or faulted runner
  can be started again: its history, position and signals carry on.
* **The kill switch** stops it at once: no more calls, no ``on_stop`` intents (they would
  race the kill's flatten), no cancels of its own (the kill cancels everything). Started
  again, its position is what the account still holds of it, with a warning.
* **Pausing** (:meth:`StrategyRunner.pause`, :meth:`StrategyRunner.resume`): PAUSED, the
  strategy is told everything as when running (bars, fills, its orders' updates), but each
  intent is published as a signal not sent ("paused") instead of becoming a command; its
  working orders stay.
* **What it owns**: the position of its fills (a domain ``Position``), so its P&L is exact:
  realized from its fills, unrealized marked at the engine's last trade (:meth:`view`).

Kept as one module because the runner's parts share one strategy's state: the orders it owns,
its position, its paper track and the intents in flight are read by the hooks' calls, the
event listener and the intents' application alike (the track itself is ``canary.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import itertools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from tradeterm.broker.port import BrokerEvent, DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import (
    Bar,
    BookSide,
    DepthDelta,
    DepthLevel,
    Fill,
    OrderType,
    Position,
    Side,
)
from tradeterm.engine.canary import (
    ENTRY,
    EXIT,
    CanaryCarry,
    CanarySelector,
    PaperTrack,
    TrackFill,
)
from tradeterm.engine.commands import CancelOrder, Command, PlaceBracket, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import (
    BarsChanged,
    CanaryIntent,
    CommandDone,
    EngineEvent,
    FillBooked,
    IntentFill,
    KillProgress,
    OrderUpdated,
    StrategySignal,
    StrategyStateChanged,
    StrategyView,
)
from tradeterm.engine.strategy_carry import carried_position, fitted
from tradeterm.engine.stream import EventStream
from tradeterm.engine.types import KillStep, OrderRole, StrategyState
from tradeterm.strategies import (
    BarHistory,
    Entry,
    EntrySignal,
    EntryType,
    Intent,
    Loaded,
    StrategyContext,
    TargetPosition,
)

log = logging.getLogger(__name__)

EXITS = frozenset({OrderRole.STOP, OrderRole.TARGET})
"""A bracket's exits: they protect the position and stay when the strategy stops."""
DEFAULT_BUDGET_S = 1.0
EXIT_WAIT_S = 5.0
"""How long a target that closes a bracketed position waits for IB to end the exits."""
_PENDING_MAX = 1000  # order events waiting for the command that sent them to end


class StrategyFault(Exception):
    """A hook raised, overran its budget or returned something that is not intents."""


@dataclass(frozen=True, slots=True)
class _Call:
    hook: str
    arg: Any  # the bar, fill, order, trade, quote or book change (None for start/stop)
    bars: Sequence[Any]  # the closed bars as they stood when the call was queued


class _HookThread:
    """One daemon thread running a strategy's hooks one at a time. Daemon: a hook that never
    returns cannot keep the process alive at exit."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[
            tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None
        ] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"strategy-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._calls.get()) is not None:
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the loop, which faults the strategy
                future.set_exception(exc)

    def call(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._calls.put((future, fn))
        return future

    def close(self) -> None:
        """No more calls: the thread ends after the one it runs (now, or when it returns)."""
        self._calls.put(None)


class StrategyRunner:
    """See the module notes. ``engine`` must be started (its contract known); ``equity``: a
    fixed account value to size entries by instead of the broker's (tests, backtests);
    ``canary``: the fraction of intents that go to IB in CANARY mode (None: all of them, no
    paper track); ``carried``: the orders its earlier runs sent (a restart), and
    ``canary_carried`` what its earlier CANARY runs left (the selector's count, the paper
    track's position; see ``canary.py``)."""

    def __init__(
        self,
        engine: Engine,
        loaded: Loaded,
        *,
        budget_s: float = DEFAULT_BUDGET_S,
        stand_aside: bool = True,
        equity: Decimal | None = None,
        keep_signals: int = 20,
        carried: Collection[str] = (),
        canary: float | None = None,
        canary_carried: CanaryCarry | None = None,
    ) -> None:
        self.engine = engine
        self.loaded = loaded
        self.name = loaded.name
        self.strategy = loaded.strategy
        self.budget_s = budget_s
        self.stand_aside = stand_aside
        self.equity = equity
        self.sizing = ""  # how the last entry was sized, in words (its signal's outcome)
        self.state = StrategyState.STOPPED
        self.reason = "not started"
        self._held: Position | None = None  # the fills of its orders (the first makes it)
        self.signals: deque[StrategySignal] = deque(maxlen=keep_signals)
        self._orders: set[str] = set()  # client order ids of its orders
        self._pending: deque[OrderUpdated | FillBooked] = deque(maxlen=_PENDING_MAX)
        self._history = BarHistory()
        self._inbox: asyncio.Queue[_Call | None] = asyncio.Queue()
        self._thread: _HookThread | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._book: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
        self._stream: EventStream | None = None
        self._stop_reason = "stopped"
        self._killed = ""  # why the kill switch stopped it, until it has
        self._carried = frozenset(carried)
        self.track: PaperTrack | None = None
        self.selector: CanarySelector | None = None
        if canary is not None:
            before = canary_carried or CanaryCarry()
            self.track = PaperTrack(position=before.paper_position)
            self.selector = CanarySelector(canary, before.intents)
        self._intent_ids = itertools.count(1)
        self._epoch = 0  # when it started: intent ids of one run differ from another's
        self._intent_of_command: dict[int, tuple[Command, str]] = {}
        self._intent_of_order: dict[str, str] = {}  # client order id -> intent id
        self._paper_execs = itertools.count(1)
        engine.strategy_view = self.view  # a panel shows it before it starts too

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.state is StrategyState.RUNNING

    @property
    def active(self) -> bool:
        """Running or paused: told what happens (``stop`` ends it)."""
        return self.state in (StrategyState.RUNNING, StrategyState.PAUSED)

    @property
    def position(self) -> int:
        """Signed contracts: the fills of its orders."""
        return self._held.quantity if self._held is not None else 0

    async def start(self, reason: str = "started") -> None:
        """Take the closed bars so far as history, then run ``on_start`` and what follows.
        Again after a stop or a fault: the bars since are added to its history."""
        engine, core = self.engine, self.engine.core
        if core is None:
            raise RuntimeError("start the engine before its strategy")
        if self.active:
            return
        now, period = engine.clock(), core.bars.timeframe.ns
        self._epoch = now
        # a bar whose minute is not over yet is not closed
        for bar in self._new_bars(b for b in core.bars.closed if b.start_ns + period <= now):
            self._history.append(bar)
        self._inbox = asyncio.Queue()  # what was queued while it stopped is not its to see
        self._thread = _HookThread(self.name)
        if self._carried:  # no await from here to listen(): each fill is counted once
            self._orders |= self._carried
            self._held = carried_position(engine, self.name, self._carried)
            self._carried = frozenset()  # taken once: a start after a stop carries on
        elif self._held is not None and self._held.quantity:  # closed meanwhile (a kill)?
            self._held = fitted(engine, self.name, self._held, "what it owned when it stopped:")
        stream = engine.listen()
        cls = type(self.strategy)
        if cls.wants_trades or cls.wants_quotes or cls.wants_book or self.track is not None:
            engine.market_taps.append(self._on_market)
        self._set_state(StrategyState.RUNNING, reason)
        self._queue("on_start")
        self._stream = stream
        self._tasks = [
            asyncio.create_task(self._listen(stream), name=f"strategy-{self.name}-events"),
            asyncio.create_task(self._work(), name=f"strategy-{self.name}"),
        ]

    def pause(self, reason: str = "paused") -> None:
        """PAUSED: told everything, its intents not sent (see the module notes)."""
        if self.running:
            self._set_state(StrategyState.PAUSED, reason)

    def resume(self, reason: str = "resumed") -> None:
        """RUNNING again after a pause: its next intents are sent."""
        if self.state is StrategyState.PAUSED:
            self._set_state(StrategyState.RUNNING, reason)

    async def stop(self, reason: str = "stopped") -> None:
        """Run ``on_stop`` (after the calls already queued), apply its intents, cancel the
        strategy's working orders except its bracket exits; STOPPED with ``reason``."""
        if not self.active:
            return
        self._stop_reason = reason
        self._inbox.put_nowait(None)
        worker = self._tasks[-1]
        await asyncio.wait({worker})

    async def control(self, verb: str, where: str) -> str | None:
        """``start`` (a stopped or faulted strategy; a paused one resumes), ``pause``,
        ``resume`` or ``stop``, asked ``where`` (its state's reason: "paused on the screen");
        one line saying why nothing changed, None when it did. The console's ``strategy``
        commands and the screen's keys both come here."""
        state = self.state
        if verb == "start" and state is StrategyState.PAUSED:
            verb = "resume"
        can = {
            "start": not self.active,
            "pause": state is StrategyState.RUNNING,
            "resume": state is StrategyState.PAUSED,
            "stop": self.active,
        }
        if verb not in can:
            raise ValueError(f"not a strategy control: {verb!r}")
        if not can[verb]:
            return f"strategy {self.name} is already {state}"
        reason = {"start": "started", "pause": "paused", "resume": "resumed", "stop": "stopped"}
        said = f"{reason[verb]} {where}"
        if verb == "start":
            await self.start(said)
        elif verb == "pause":
            self.pause(said)
        elif verb == "resume":
            self.resume(said)
        else:
            await self.stop(said)
        return None

    async def close(self) -> None:
        """Stop if running, and end the runner's tasks (the engine stopping calls for it)."""
        await self.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._detach()

    def _detach(self) -> None:
        if self._on_market in self.engine.market_taps:
            self.engine.market_taps.remove(self._on_market)
        if self._thread is not None:
            self._thread.close()
            self._thread = None
        if self._stream is not None and not self._stream.closed:
            for event in self._stream.drain():  # its fills published before it stopped count
                self._on_event(event)
            self._stream.close()
            self._stream = None

    def view(self) -> StrategyView:
        params = tuple((k, str(v)) for k, v in self.strategy.params.model_dump().items())
        held, engine = self._held, self.engine
        if held is not None and not self.active and held.quantity:  # closed since (a kill)?
            held = fitted(engine, self.name, copy.deepcopy(held))
        realized = unrealized = Decimal(0)
        if held is not None:
            realized = held.realized_money()
            mark = engine.portfolio.mark if engine.portfolio is not None else None
            unrealized = held.unrealized_money(mark) if mark is not None else Decimal(0)
        orders = engine.orders
        working = frozenset(
            o.client_id for o in (orders.working() if orders is not None else ())
            if o.client_id in self._orders
        )  # fmt: skip
        return StrategyView(
            self.name, self.loaded.target, params, self.state, self.reason,
            held.quantity if held is not None else 0, tuple(self.signals), realized, unrealized,
            working, self.selector.fraction if self.selector is not None else None,
            self.track.position if self.track is not None else None,
        )  # fmt: skip

    def _set_state(self, state: StrategyState, reason: str) -> None:
        self.state, self.reason = state, reason
        log.info("strategy %s %s: %s", self.name, state, reason)
        params = self.view().params if state is StrategyState.RUNNING else ()
        self.engine.publish(
            StrategyStateChanged(self.name, state, reason, self.engine.clock(), params)
        )

    # ---- what the strategy is told -----------------------------------------------------------

    def _queue(self, hook: str, arg: Any = None) -> None:
        if self.active:
            self._inbox.put_nowait(_Call(hook, arg, self._history.view()))

    async def _listen(self, stream: EventStream) -> None:
        async for event in stream:  # until the runner or the engine closes it
            self._on_event(event)

    def _on_event(self, event: EngineEvent) -> None:
        match event:
            case KillProgress(step=KillStep.REQUESTED) if self.active:
                self._killed = f"the kill switch ({event.reason}): trading stops, so does it"
                self.state = StrategyState.STOPPED  # no more calls nor intents, from now
                self._inbox.put_nowait(None)
            case BarsChanged(closed=closed) if closed:
                bars = self.engine.bars
                for bar in self._new_bars(bars.closed if bars is not None else ()):
                    self._history.append(bar)
                    self._queue("on_bar", bar)
            case OrderUpdated(order=o) if o.own:
                self._own_event(event, o.order_id)
            case FillBooked(fill=f) if f.order_id is not None:
                self._own_event(event, f.order_id)
            case CommandDone(result=r) if getattr(r.command, "source", "") == self.name:
                self._orders.update(r.order_ids)  # its order events before this one, now
                _, intent_id = self._intent_of_command.pop(id(r.command), (None, ""))
                if intent_id:
                    self._intent_of_order.update(dict.fromkeys(r.order_ids, intent_id))
                waiting, self._pending = self._pending, deque(maxlen=_PENDING_MAX)
                for pending in waiting:
                    order_id = (
                        pending.order.order_id
                        if isinstance(pending, OrderUpdated)
                        else pending.fill.order_id
                    )
                    if order_id in self._orders:
                        self._own_event(pending, order_id)
            case CommandDone():
                ids = set(event.result.order_ids)
                self._pending = deque(
                    (p for p in self._pending if _order_of(p) not in ids), maxlen=_PENDING_MAX
                )

    def _new_bars(self, bars: Iterable[Bar]) -> list[Bar]:
        """The bars of ``bars`` after the last one in its history."""
        last = self._history.view()[-1].start_ns if len(self._history) else -1
        return [bar for bar in bars if bar.start_ns > last]

    def _own_event(self, event: OrderUpdated | FillBooked, order_id: str) -> None:
        """An order event: the strategy's (told), or perhaps its before the command that sent
        the order ended (kept until then)."""
        if order_id not in self._orders:
            self._pending.append(event)
            return
        if isinstance(event, FillBooked):
            if self._held is None:
                self._held = Position(self._instrument())
            self._held.apply_fill(event.fill)
            if self.track is None:
                self._queue("on_fill", event.fill)
            elif (intent_id := self._intent_of_order.get(order_id)) is not None:
                self._live_fill(intent_id, event.fill)
            return
        if self.track is not None:
            return  # in CANARY the strategy sees its paper track, which has no broker orders
        orders = self.engine.orders
        order = orders.get(order_id) if orders is not None else None
        if order is not None:
            self._queue("on_order", copy.deepcopy(order))

    def _on_market(self, event: BrokerEvent) -> None:
        if self.track is not None and self.running:
            self._paper_fills(self.track.on_market(event))
        cls = type(self.strategy)
        if isinstance(event, TradeEvent) and cls.wants_trades and event.trade.size > 0:
            self._queue("on_trade", event.trade)
        elif isinstance(event, QuoteEvent) and cls.wants_quotes:
            self._queue("on_quote", event.quote)
        elif isinstance(event, DepthEvent) and cls.wants_book:
            for change in self._book_changes(event):
                self._queue("on_book", change)

    def _book_changes(self, event: DepthEvent) -> list[DepthDelta]:
        """The levels of the whole book ``event`` that differ from the last one."""
        out: list[DepthDelta] = []
        for side, levels in ((BookSide.BID, event.bids), (BookSide.ASK, event.asks)):
            now = _levels(levels)
            before = self._book[side]
            for price in sorted(before.keys() | now.keys()):
                if before.get(price, 0) != now.get(price, 0):
                    out.append(DepthDelta(event.ts_ns, side, price, now.get(price, 0)))
            self._book[side] = now
        return out

    # ---- calling the hooks -------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            call = await self._inbox.get()
            if call is None:
                if self._killed:
                    await self._finish_killed()
                else:
                    await self._finish(StrategyState.STOPPED, self._stop_reason)
                return
            if not self.active:
                continue
            try:
                intents = await self._call(call)
            except StrategyFault as exc:
                await self._finish(StrategyState.FAULTED, str(exc))
                return
            for intent in intents:
                if not self.active:  # the kill switch, meanwhile: nothing more is sent
                    break
                if self.state is StrategyState.PAUSED:
                    self._signal(intent, type(intent).__name__, _detail(intent), False,
                                 "paused")  # fmt: skip
                else:
                    await self._apply(intent, call.hook)

    async def _call(self, call: _Call) -> Sequence[Intent]:
        """Run one hook in the strategy's thread under the budget; its intents."""
        assert self._thread is not None
        position = self.track.position if self.track is not None else self.position
        ctx = StrategyContext(self.engine.clock(), self._instrument(), position, call.bars)
        hook = getattr(self.strategy, call.hook)
        fn = (lambda: hook(ctx)) if call.arg is None else (lambda: hook(ctx, call.arg))
        future = asyncio.wrap_future(self._thread.call(fn))
        try:
            result = await asyncio.wait_for(future, self.budget_s)
        except TimeoutError:
            self._thread.close()  # abandoned: it ends whenever the hook returns
            self._thread = None
            raise StrategyFault(
                f"{call.hook} overran its {self.budget_s:g}s budget: stopped, the hook abandoned"
            ) from None
        except Exception as exc:
            log.warning("strategy %s: %s raised", self.name, call.hook, exc_info=exc)
            raise StrategyFault(f"{call.hook} raised {type(exc).__name__}: {exc}") from None
        if result is None:
            return ()
        if not isinstance(result, (list, tuple)) or not all(
            isinstance(i, (TargetPosition, EntrySignal)) for i in result
        ):
            raise StrategyFault(f"{call.hook} returned {result!r}, not a list of intents")
        return result

    async def _finish(self, state: StrategyState, reason: str) -> None:
        """STOPPED (``on_stop`` run, its intents applied) or FAULTED; then cancel the
        strategy's working orders, the bracket exits kept."""
        if state is StrategyState.STOPPED and self._thread is not None:
            try:
                for intent in await self._call(_Call("on_stop", None, self._history.view())):
                    await self._apply(intent, "on_stop")
            except StrategyFault as exc:
                state, reason = StrategyState.FAULTED, str(exc)
        self.state = state  # no more calls from here on
        if self.track is not None:
            self.track.cancel_entries(self.engine.clock())
        await self._cancel_working()
        self._detach()
        self._set_state(state, reason)
        if state is StrategyState.FAULTED:
            self.engine.notice("ERROR", f"strategy {self.name} faulted and stopped: {reason}")

    async def _finish_killed(self) -> None:
        """Stopped by the kill switch: no ``on_stop`` intents (its flat target would race the
        kill's own flatten and could overshoot), no cancels of its own (the kill cancels every
        order of this instance). Started again later, its position is what the account still
        holds of it."""
        reason, self._killed = self._killed, ""
        if self.track is not None:
            self.track.cancel_entries(self.engine.clock())
        self._detach()
        self._set_state(StrategyState.STOPPED, reason)

    async def _cancel_working(self) -> None:
        """Cancel the strategy's working orders but the exits of a bracket whose entry has
        filled (they protect its position); an entry not filled at all goes with its exits,
        children first."""
        orders = self.engine.orders
        if orders is None:
            return
        working = [o for o in orders.working() if o.client_id in self._orders]
        unfilled_entries = {
            o.client_id for o in working if orders.view(o).role is OrderRole.ENTRY and not o.filled
        }
        doomed = [
            o for o in working
            if orders.view(o).role not in EXITS or o.parent_id in unfilled_entries
        ]  # fmt: skip
        doomed.sort(key=lambda o: o.parent_id is None)  # children first, as cancel all does
        for order in doomed:
            await self.engine.submit(CancelOrder(order.client_id))

    # ---- intents into commands ---------------------------------------------------------------

    async def _apply(self, intent: Intent, hook: str) -> None:
        if self.track is not None:
            await self._apply_canary(intent)
            return
        kind, detail = type(intent).__name__, _detail(intent)
        try:
            cleared = await self._clear_exits(intent)
            command = self._command(intent)
        except _NotSent as exc:
            self._signal(intent, kind, detail, False, str(exc))
            return
        if command is None:
            self._signal(intent, kind, detail, True,
                         f"{cleared}already at the target: nothing sent")  # fmt: skip
            return
        result = await self.engine.submit(command)
        outcome = ", ".join(result.order_ids) if result.ok else result.reason
        if isinstance(command, PlaceBracket):
            outcome = f"{outcome}; {self.sizing}"
        self._signal(intent, kind, detail, result.ok, cleared + outcome, result.command_id,
                     command.quantity if result.ok else 0)  # fmt: skip

    async def _clear_exits(self, intent: Intent) -> str:
        """Before a target that reduces, closes or reverses the position: cancel the exits of
        its brackets and wait until IB has ended them, then take in their fills. Otherwise the
        market order closes the position while the old stop and target still work, and the
        first of them to fill opens a position nobody asked for. An exit that fills meanwhile
        counts (the order is for what is left). Says what it cancelled; refuses the intent,
        exits kept, when the engine would refuse its order (asked first: refused after the
        cancels, it would leave the position without its stop) or they have not ended within
        ``EXIT_WAIT_S``."""
        orders, held = self.engine.orders, self.position
        if not isinstance(intent, TargetPosition) or orders is None or not held:
            return ""
        if intent.quantity * held > 0 and abs(intent.quantity) >= abs(held):
            return ""  # it keeps or adds to the position: the exits still protect it
        self._check_aside()
        exits = [
            o for o in orders.working()
            if o.client_id in self._orders and orders.view(o).role in EXITS
        ]  # fmt: skip
        if not exits:
            return ""
        ids = {o.client_id for o in exits}
        command = self._command(intent)
        why = self.engine.refusal(command, ids) if isinstance(command, PlaceOrder) else None
        if why:
            raise _NotSent(f"{why}: nothing sent, its exits kept")
        for order in exits:
            await self.engine.submit(CancelOrder(order.client_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXIT_WAIT_S
        while any(o.client_id in ids for o in orders.working()):
            if loop.time() > deadline:
                raise _NotSent(f"its exits {', '.join(sorted(ids))} did not end within "
                               f"{EXIT_WAIT_S:g}s: nothing sent")  # fmt: skip
            await asyncio.sleep(0.02)
        if self._stream is not None:  # their fills, if any, before the difference is taken
            for event in self._stream.drain():
                self._on_event(event)
        return f"cancelled its exits {', '.join(sorted(ids))}; "

    def _signal(self, intent: Intent, kind: str, detail: str, ok: bool, outcome: str,
                command_id: str = "", quantity: int = 0) -> None:  # fmt: skip
        signal = StrategySignal(
            self.name, kind, detail, intent.reason, ok, outcome, self.engine.clock(), command_id,
            quantity,
        )  # fmt: skip
        self.signals.append(signal)
        self.engine.publish(signal)

    def _command(self, intent: Intent) -> PlaceOrder | PlaceBracket | None:
        """The command an intent becomes; None when nothing need be sent. Raises
        :class:`_NotSent` with why it is refused before the engine sees it."""
        self._check_aside()
        if isinstance(intent, TargetPosition):
            diff = intent.quantity - self.position - self._working_market()
            if not diff:
                return None
            side = Side.BUY if diff > 0 else Side.SELL
            return PlaceOrder(side, abs(diff), OrderType.MARKET, source=self.name)
        entry = intent.entry
        price = None if entry.price is None else self._instrument().to_price(entry.price)
        stop = price if entry.type is EntryType.STOP else None
        return PlaceBracket(
            intent.side, self._size(intent.stop_ticks), intent.stop_ticks,
            target_ticks=intent.target_ticks, entry_limit=None if stop is not None else price,
            entry_stop=stop, source=self.name,
        )  # fmt: skip

    def _check_aside(self) -> None:
        """With ``stand_aside``: refuse while the trader holds a position of his own."""
        portfolio = self.engine.portfolio
        held = portfolio.position.quantity if portfolio is not None else 0
        manual = held - self.position
        if self.stand_aside and manual:
            raise _NotSent(f"standing aside: the trader holds {manual:+d} of his own")

    def _refuse(self, intent: Intent) -> None:
        """Raises :class:`_NotSent` when CANARY refuses the intent whatever the position: the
        strategy stands aside, or a stop entry (the paper track enters at market or at a limit
        only)."""
        self._check_aside()
        if isinstance(intent, EntrySignal) and intent.entry.type is EntryType.STOP:
            raise _NotSent("a stop entry is not supported in CANARY: its paper track enters "
                           "at market or at a limit")  # fmt: skip

    # ---- CANARY: the paper track, and the intents picked to go live too ----------------------

    async def _apply_canary(self, intent: Intent) -> None:
        """Fill ``intent`` on the paper track and, when picked, send it to IB as well (a
        target not picked: a target of 0 at IB). See the module notes."""
        assert self.track is not None and self.selector is not None
        kind, detail = type(intent).__name__, _detail(intent)
        now = self.engine.clock()
        try:
            self._refuse(intent)
            size = self._size(intent.stop_ticks) if isinstance(intent, EntrySignal) else 0
        except _NotSent as exc:
            self._signal(intent, kind, detail, False, str(exc))
            return
        intent_id = f"{self.name}.{self._epoch:x}.{next(self._intent_ids)}"
        live = self.selector.pick()
        live_intent: Intent | None = intent
        if isinstance(intent, TargetPosition):
            paper_qty, fills = self.track.target(intent_id, intent.quantity, now)
            if not live:
                live_intent = TargetPosition(0, intent.reason)
        else:
            fills = self.track.bracket(intent_id, intent.side, size, intent.entry.price,
                                       intent.stop_ticks,
                                       intent.target_ticks, now)  # fmt: skip
            paper_qty = intent.side.sign * size
            live_intent = intent if live else None
        self._paper_fills(fills)
        ok, outcome, command_id, live_qty, cleared = True, "paper only", "", 0, ""
        try:
            if live_intent is not None:
                cleared = await self._clear_exits(live_intent)
            command = self._command(live_intent) if live_intent is not None else None
        except _NotSent as exc:
            ok, outcome, command = False, str(exc), None
        if command is not None:
            self._intent_of_command[id(command)] = (command, intent_id)
            result = await self.engine.submit(command)
            ok, command_id = result.ok, result.command_id
            outcome = ", ".join(result.order_ids) if result.ok else result.reason
            if result.ok:
                self._intent_of_order.update(dict.fromkeys(result.order_ids, intent_id))
                live_qty = command.side.sign * command.quantity
        elif live_intent is not None and ok:
            outcome = "already at the target at IB: nothing sent"
        outcome = cleared + outcome
        self.engine.publish(CanaryIntent(
            self.name, intent_id, kind, detail, live, paper_qty, live_qty, command_id, outcome,
            self._instrument().con_id, now,
        ))  # fmt: skip
        where = "live and paper" if live else "paper"
        self._signal(intent, kind, f"{detail} intent={intent_id} {where}", ok, outcome,
                     command_id, abs(live_qty))  # fmt: skip

    def _paper_fills(self, fills: list[TrackFill]) -> None:
        """The paper track's fills: journaled, and told to the strategy as its own."""
        for f in fills:
            exec_id = f"paper.{f.intent_id}.{next(self._paper_execs)}"
            self.engine.publish(IntentFill(
                self.name, f.intent_id, "paper", f.leg, f.side, f.quantity, f.price,
                self.engine.clock(), exec_id,
            ))  # fmt: skip
            fill = Fill(exec_id, None, self._instrument(), f.side, f.quantity, f.price, f.ts_ns)
            self._queue("on_fill", fill)

    def _live_fill(self, intent_id: str, fill: Fill) -> None:
        orders = self.engine.orders
        order = orders.get(fill.order_id) if orders is not None and fill.order_id else None
        exit_ = order is not None and orders is not None and orders.view(order).role in EXITS
        self.engine.publish(IntentFill(
            self.name, intent_id, "live", EXIT if exit_ else ENTRY, fill.side, fill.quantity,
            fill.price, self.engine.clock(), fill.exec_id,
        ))  # fmt: skip

    def _size(self, stop_ticks: int) -> int:
        """Contracts for an entry (see the module notes); :attr:`sizing` says how."""
        risk, config = self.engine.risk, self.engine.config
        assert risk is not None  # the runner starts after the engine
        equity, rule = self._equity()
        if equity is None:
            size, rule = min(config.default_qty, config.risk.max_position), (
                f"{rule}, so the market's default_qty {config.default_qty}")  # fmt: skip
        else:
            size = risk.size(equity, None, stop_ticks, self._instrument())
            rule = f"{config.risk.risk_per_trade_pct}% of {rule} at a {stop_ticks}-tick stop"
            if size < 1:
                raise _NotSent(f"{rule} does not cover one contract")
        self.sizing = f"sized {size}: {rule} (at most max_position {config.risk.max_position})"
        return size

    def _equity(self) -> tuple[Decimal | None, str]:
        """The equity to size by (None: unknown) and, in words, where it comes from."""
        values, age = self.engine.account_values, self.engine.account_age_s()
        if self.equity is not None:
            return self.equity, f"the given equity {self.equity}"
        if values is None or values.net_liquidation is None or age is None:
            return None, "the account's equity is not known yet (no net liquidation from IB)"
        return values.net_liquidation, (f"the account's net liquidation {values.net_liquidation} "
                                        f"{values.currency} ({age:.0f}s old)")  # fmt: skip

    def _working_market(self) -> int:
        """Signed contracts of the strategy's market orders still working."""
        orders = self.engine.orders
        if orders is None:
            return 0
        return sum(
            o.side.sign * o.remaining
            for o in orders.working()
            if o.client_id in self._orders and o.order_type is OrderType.MARKET
            and o.parent_id is None and orders.view(o).role is OrderRole.PLAIN
        )  # fmt: skip

    def _instrument(self) -> Any:
        instrument = self.engine.instrument
        assert instrument is not None  # the runner starts after the engine
        return instrument


class _NotSent(Exception):
    """An intent refused before it became a command (worded for the journal)."""


def _levels(levels: Sequence[DepthLevel]) -> dict[int, int]:
    return {level.price: level.size for level in levels if level.size > 0}


def _order_of(event: OrderUpdated | FillBooked) -> str | None:
    return event.order.order_id if isinstance(event, OrderUpdated) else event.fill.order_id


def _detail(intent: Intent) -> str:
    """The intent but its reason, ``key=value`` each (an entry as ``LIMIT@price``, in ticks)."""
    return " ".join(
        f"{f.name}={_value(getattr(intent, f.name))}" for f in fields(intent) if f.name != "reason"
    )


def _value(value: object) -> str:
    if isinstance(value, Entry):
        return str(value.type) + (f"@{value.price}" if value.price is not None else "")
    return str(value)
