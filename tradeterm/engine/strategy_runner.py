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
  (a reversal is one order). ``EntrySignal``: one native bracket (``PlaceBracket``) with the
  signal's stop and target in ticks, a market or limit entry (a stop entry is refused: the
  engine's brackets have none yet), sized by the risk rules: with the account's ``equity``
  known, ``risk_per_trade_pct`` of it over the stop distance; else the market's
  ``default_qty``; never above ``max_position``. With ``stand_aside``, every intent is refused
  while the trader holds a position of his own (the account's minus the strategy's).
  Every intent is published as a :class:`StrategySignal` with what became of it.
* **Containment.** A hook runs in the strategy's own daemon thread, under ``budget_s`` and an
  exception guard, so one that sleeps never blocks the loop. A hook that raises, overruns or
  returns something other than intents faults the strategy: no more calls (a thread cannot be
  killed: one that overran is abandoned), its working orders cancelled except the exits of its
  brackets (its protective stops and targets stay), the fault published as
  :class:`StrategyStateChanged`. The engine and the kill switch go on as before.
* **Stopping** (:meth:`StrategyRunner.stop`): ``on_stop`` runs and its intents are applied
  (e.g. a flat target), then its working orders are cancelled as for a fault, the bracket exits
  kept. The position stays: flattening it is the trader's call. A stopped or faulted runner
  can be started again: its history, position and signals carry on.
* **Pausing** (:meth:`StrategyRunner.pause`, :meth:`StrategyRunner.resume`): PAUSED, the
  strategy is told everything as when running (bars, fills, its orders' updates), but each
  intent is published as a signal not sent ("paused") instead of becoming a command; its
  working orders stay.
* **What it owns**: the position of its fills (a domain ``Position``), so its P&L is exact:
  realized from its fills, unrealized marked at the engine's last trade (:meth:`view`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from tradeterm.broker.port import BrokerEvent, DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import Bar, BookSide, DepthDelta, DepthLevel, OrderType, Position, Side
from tradeterm.engine.commands import CancelOrder, Command, PlaceBracket, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import (
    BarsChanged,
    CommandDone,
    EngineEvent,
    FillBooked,
    OrderUpdated,
    StrategySignal,
    StrategyStateChanged,
    StrategyView,
)
from tradeterm.engine.stream import EventStream
from tradeterm.engine.types import OrderRole, StrategyState
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
    """See the module notes. ``engine`` must be started (its contract known); ``equity``: the
    account's value to size entries by (None: the market's ``default_qty``)."""

    def __init__(
        self,
        engine: Engine,
        loaded: Loaded,
        *,
        budget_s: float = DEFAULT_BUDGET_S,
        stand_aside: bool = True,
        equity: Decimal | None = None,
        keep_signals: int = 20,
    ) -> None:
        self.engine = engine
        self.loaded = loaded
        self.name = loaded.name
        self.strategy = loaded.strategy
        self.budget_s = budget_s
        self.stand_aside = stand_aside
        self.equity = equity
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
        # a bar whose minute is not over yet is not closed
        for bar in self._new_bars(b for b in core.bars.closed if b.start_ns + period <= now):
            self._history.append(bar)
        self._inbox = asyncio.Queue()  # what was queued while it stopped is not its to see
        self._thread = _HookThread(self.name)
        stream = engine.listen()
        cls = type(self.strategy)
        if cls.wants_trades or cls.wants_quotes or cls.wants_book:
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
            self.name, self.loaded.target, params, self.state, self.reason, self.position,
            tuple(self.signals), realized, unrealized, working,
        )  # fmt: skip

    def _set_state(self, state: StrategyState, reason: str) -> None:
        self.state, self.reason = state, reason
        log.info("strategy %s %s: %s", self.name, state, reason)
        self.engine.publish(StrategyStateChanged(self.name, state, reason, self.engine.clock()))

    # ---- what the strategy is told -----------------------------------------------------------

    def _queue(self, hook: str, arg: Any = None) -> None:
        if self.active:
            self._inbox.put_nowait(_Call(hook, arg, self._history.view()))

    async def _listen(self, stream: EventStream) -> None:
        async for event in stream:  # until the runner or the engine closes it
            self._on_event(event)

    def _on_event(self, event: EngineEvent) -> None:
        match event:
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
            self._queue("on_fill", event.fill)
            return
        orders = self.engine.orders
        order = orders.get(order_id) if orders is not None else None
        if order is not None:
            self._queue("on_order", copy.deepcopy(order))

    def _on_market(self, event: BrokerEvent) -> None:
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
                if self.state is StrategyState.PAUSED:
                    self._signal(intent, type(intent).__name__, _detail(intent), False,
                                 "paused")  # fmt: skip
                else:
                    await self._apply(intent, call.hook)

    async def _call(self, call: _Call) -> Sequence[Intent]:
        """Run one hook in the strategy's thread under the budget; its intents."""
        assert self._thread is not None
        ctx = StrategyContext(self.engine.clock(), self._instrument(), self.position, call.bars)
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
        await self._cancel_working()
        self._detach()
        self._set_state(state, reason)
        if state is StrategyState.FAULTED:
            self.engine.notice("ERROR", f"strategy {self.name} faulted and stopped: {reason}")

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
        kind, detail = type(intent).__name__, _detail(intent)
        try:
            command = self._command(intent)
        except _NotSent as exc:
            self._signal(intent, kind, detail, False, str(exc))
            return
        if command is None:
            self._signal(intent, kind, detail, True, "already at the target: nothing sent")
            return
        result = await self.engine.submit(command)
        outcome = ", ".join(result.order_ids) if result.ok else result.reason
        self._signal(intent, kind, detail, result.ok, outcome, result.command_id)

    def _signal(self, intent: Intent, kind: str, detail: str, ok: bool, outcome: str,
                command_id: str = "") -> None:  # fmt: skip
        signal = StrategySignal(
            self.name, kind, detail, intent.reason, ok, outcome, self.engine.clock(), command_id
        )
        self.signals.append(signal)
        self.engine.publish(signal)

    def _command(self, intent: Intent) -> Command | None:
        """The command an intent becomes; None when nothing need be sent. Raises
        :class:`_NotSent` with why it is refused before the engine sees it."""
        portfolio = self.engine.portfolio
        held = portfolio.position.quantity if portfolio is not None else 0
        manual = held - self.position
        if self.stand_aside and manual:
            raise _NotSent(f"standing aside: the trader holds {manual:+d} of his own")
        if isinstance(intent, TargetPosition):
            diff = intent.quantity - self.position - self._working_market()
            if not diff:
                return None
            side = Side.BUY if diff > 0 else Side.SELL
            return PlaceOrder(side, abs(diff), OrderType.MARKET, source=self.name)
        if intent.entry.type is EntryType.STOP:
            raise _NotSent("a stop entry is not supported: the engine's brackets enter at "
                           "market or at a limit")  # fmt: skip
        limit = None
        if intent.entry.price is not None:
            limit = self._instrument().to_price(intent.entry.price)
        return PlaceBracket(
            intent.side, self._size(intent.stop_ticks), intent.stop_ticks,
            target_ticks=intent.target_ticks, entry_limit=limit, source=self.name,
        )  # fmt: skip

    def _size(self, stop_ticks: int) -> int:
        """Contracts for an entry (see the module notes)."""
        risk, config = self.engine.risk, self.engine.config
        cap = config.risk.max_position
        if self.equity is None or risk is None:
            return min(config.default_qty, cap)
        size = risk.size(self.equity, None, stop_ticks, self._instrument())
        if size < 1:
            raise _NotSent(
                f"{config.risk.risk_per_trade_pct}% of {self.equity} does not cover one "
                f"contract at a {stop_ticks}-tick stop"
            )
        return size

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
