"""Exit strategies: NinjaTrader's ATM, with the protection at IB.

A market's ``[markets.X.exits.NAME]`` strategies (``config.ExitStrategyConfig``) are chosen
by who sends an entry (the screen's key cycles them): an entry sent with one
(``PlaceOrder.exits``) keeps it, so a switch applies to the next entry, never to one already
working. Then:

* **Each fill of the entry is protected at once**, a partial fill for what it filled: its
  contracts are dealt to the strategy's targets in turn (``target_sizes`` of the entry's
  quantity), each share as a stop and its target in one OCA group where a fill reduces the
  other (IB shrinks the stop as its target fills in part, and cancels it when the target
  fills; the stop's fill cancels the target). Contracts no target takes are held under a stop
  alone. All of it rests at IB: a crash or a lost SSH session leaves the position protected.
* **A trailing stop** (``trail_ticks``) is IB's own TRAIL order, starting ``stop_ticks`` from
  the fill and following the market at IB; the engine shows where IB says it stands.
* **Auto-breakeven** (``breakeven_after_ticks``): once a trade prints that many ticks beyond a
  share's fill, its stop is modified to the fill (+ ``breakeven_offset_ticks``), only ever
  towards the market. The ``StopsToBreakeven`` command does it at once (key ``u``).
* Flatten and the kill switch cancel every working order of this instance, exits included;
  no exit is sent while the kill switch runs or once the position no longer holds the fill.
  A close (Flatten, Reverse, cancelling every order: :meth:`ExitManager.closing`) starts a
  new *epoch*: exits of a fill booked before it are not sent after it, and those sent while
  it ran are cancelled (a close's cancels only reach the orders it saw).
* **After every reconciliation** (start, reconnect: :meth:`ExitManager.after_reconcile`) the
  contracts of an entry with a strategy that our stops at IB do not cover are protected: the
  fills IB's executions told of (made while the app was away or disconnected: they come as
  history, not one by one) and, after a crash, fills whose exits never went out. An entry
  whose strategy is no longer configured is named in an ERROR with its contracts, and any
  other contract held without a stop in a WARNING (where exit strategies are configured): an
  entry filled whole just before a crash, its exits never sent, is not restored as an entry.
  A share's stop restored from the journal whose target never went out (a crash between
  the two) gets it then, once: its OCA group names the target's distance from the fill.

Each order is journaled with what it was sent for (``domain.ExitTag``: the strategy; on its
exits the fill they protect and the breakeven rule), so a restart (:meth:`ExitManager.restore`)
takes back what the last run left: breakeven watches its stops again, and an entry still
working keeps its strategy (its contracts already filled count as dealt).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from tradeterm.config import ExitStrategyConfig
from tradeterm.domain import ExitTag, Order, OrderType, Side
from tradeterm.engine.commands import CommandResult, ModifyOrder, Refused
from tradeterm.engine.order_manager import OrderManager

log = logging.getLogger(__name__)

_STOPS = (OrderType.STOP, OrderType.TRAIL)
_TARGET_TICKS = re.compile(r"\.x\d+\.t(\d+)$")  # see _group


def _group(entry_id: str, share: int, target_ticks: int) -> str:
    """The OCA group of ``entry_id``'s ``share``-th share, naming how far its target is
    from the fill (ticks): journaled and kept at IB with the stop, so that a restart sends
    the target a crash cut off from its stop (:meth:`ExitManager.after_reconcile`)."""
    return f"{entry_id}.x{share}.t{target_ticks}"


def _target_ticks(group: str) -> int | None:
    """The target's distance from the fill named by a share's OCA group (None: a group
    named before the distance was, ``ENTRY.xN``)."""
    match = _TARGET_TICKS.search(group)
    return int(match.group(1)) if match else None


@dataclass(slots=True)
class _Entry:
    """An entry sent with a strategy: what its fills have been dealt so far."""

    name: str
    plan: ExitStrategyConfig
    sizes: list[int]  # each target's contracts for the whole entry
    dealt: list[int]  # each target's contracts given out so far
    shares: int = 0  # OCA groups made so far (their names)
    done: int = 0  # contracts of its fills given exits (or, restored, taken to have them)
    assumed: int = 0  # of those, the ones restored from the journal: their exits not seen


@dataclass(slots=True)
class _Share:
    """Contracts of one fill under one stop (and one target): breakeven watches it."""

    side: Side
    fill_price: int
    stop_id: str
    breakeven_after: int | None
    offset: int
    at_breakeven: bool = False


@dataclass(slots=True)
class ExitManager:
    """See the module notes. ``orders``: the order manager (None before the contract is
    known); ``submit``: the engine's command path (a breakeven modify is refused there while
    the kill switch runs); ``kill_running``; ``notice``: the engine's."""

    strategies: Mapping[str, ExitStrategyConfig]
    orders: Callable[[], OrderManager | None]
    submit: Callable[[ModifyOrder], Awaitable[CommandResult]]
    kill_running: Callable[[], bool]
    notice: Callable[[str, str], None]
    _entries: dict[str, _Entry] = field(default_factory=dict)
    _shares: list[_Share] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _epoch: int = 0  # bumped by each close (see closing)
    _in_flight: int = 0  # contracts whose exits are being sent (not tracked as orders yet)
    _lost: dict[str, str] = field(default_factory=dict)  # entries whose strategy is gone
    _unpaired: list[str] = field(default_factory=list)  # restored stops: is their target out?

    # ---- entries --------------------------------------------------------------------------

    def check(self, name: str) -> ExitStrategyConfig:
        plan = self.strategies.get(name)
        if plan is None:
            known = ", ".join(self.strategies) or "none configured"
            raise Refused(f"no exit strategy {name!r} for this market ({known})")
        return plan

    def attach(self, entry: Order, name: str, opens: int | None = None) -> None:
        """The entry ``entry`` (before it is sent: its intent carries the strategy) is
        protected by strategy ``name``; ``opens``: the contracts it opens, when not all of
        its quantity (a reverse's half: its targets are split from that)."""
        plan = self.check(name)
        entry.exit = ExitTag(name)
        sizes = plan.target_sizes(entry.quantity if opens is None else opens)
        self._entries[entry.client_id] = _Entry(name, plan, sizes, [0] * len(sizes))

    def restore(self) -> None:
        """Take back what the last run's orders (restored from the journal, still working
        as far as is known) were sent for: each stop of an exit strategy is watched for
        breakeven again; an entry sent with a strategy this market still has keeps it, its
        contracts already filled counted as dealt (their exits went out then); each stop of
        a share with a target is checked for it after the reconciliation
        (:meth:`after_reconcile`). Says so in one line, naming the stops."""
        orders = self.orders()
        if orders is None:
            return
        known = {share.stop_id for share in self._shares}
        stops: list[str] = []
        for order in orders.working():
            tag = order.exit
            if tag is None:
                continue
            if tag.fill is None:  # an entry
                if order.client_id not in self._entries:
                    self._restore_entry(order, tag.strategy)
            elif order.order_type in _STOPS and order.client_id not in known:
                self._shares.append(_Share(order.side.opposite, tag.fill, order.client_id,
                                           tag.breakeven_after, tag.breakeven_offset))  # fmt: skip
                stops.append(order.client_id)
                if order.oca_group is not None:
                    self._unpaired.append(order.client_id)
        if stops:
            self.notice("INFO", f"exit strategy stops restored from the journal: "
                        f"{', '.join(stops)} (breakeven and u move them as before)")  # fmt: skip

    def _restore_entry(self, order: Order, name: str) -> None:
        if name not in self.strategies:
            self.notice("WARNING", f"{order.client_id} was sent with exit strategy {name!r}, "
                        "no longer configured: its further fills get no exits")  # fmt: skip
            self._lost[order.client_id] = name
            return
        self.attach(order, name)
        entry = self._entries[order.client_id]
        self._deal(entry, order.filled)
        entry.assumed = order.filled
        entry.shares = order.filled  # at most one share a contract: no group name again

    # ---- fills ----------------------------------------------------------------------------

    def on_fill(self, order_id: str, quantity: int, price: int) -> None:
        """A new fill of ``quantity`` at ``price`` (ticks) of our order ``order_id``: when it
        is an entry with a strategy, its exits go out (see the module notes)."""
        entry = self._entries.get(order_id)
        orders = self.orders()
        if entry is None or orders is None:
            return
        order = orders.get(order_id)
        if order is None:
            return
        held = orders.position_quantity() * order.side.sign  # what the fill left us holding
        quantity = min(quantity, held)
        if quantity <= 0:
            return
        self._send(order, entry, price, self._deal(entry, quantity))

    def after_reconcile(self) -> None:
        """A reconciliation completed: the contracts of the position our stops at IB do not
        cover are protected where they belong to an entry with a strategy (see the module
        notes); those of an entry whose strategy is gone are named in an ERROR. The exits
        restored as working orders cover their contracts: never protected twice."""
        orders = self.orders()
        if orders is None:
            return
        self._pair_restored(orders)
        held = orders.position_quantity()
        gap = abs(held) - orders.protected() - self._in_flight
        if gap <= 0:
            return
        side = Side.BUY if held > 0 else Side.SELL
        for cid, entry in self._entries.items():
            order = orders.get(cid)
            if order is None or order.side is not side or order.avg_fill_price is None:
                continue
            price = round(order.avg_fill_price)
            owed = min(order.filled - entry.done, gap)  # fills not seen one by one
            if owed > 0:
                self.notice("WARNING", f"{cid}: {owed} contract(s) filled without their exits "
                            "(booked from IB's executions): exits sent now")  # fmt: skip
                self._send(order, entry, price, self._deal(entry, owed))
                gap -= owed
            bare = min(entry.assumed, gap)  # a crash before their exits went out
            if bare > 0:
                entry.assumed -= bare
                self.notice("WARNING", f"{cid}: {bare} contract(s) of its fills held without "
                            "a stop at IB (their exits never went out): stop sent now")  # fmt: skip
                self._send(order, entry, price, [(None, bare)])
                gap -= bare
        for cid, name in self._lost.items():
            order = orders.get(cid)
            if gap > 0 and order is not None and order.side is side and order.filled:
                bare = min(order.filled, gap)
                self.notice("ERROR", f"{cid} ({bare} contract(s) of the {held:+d} held) was "
                            f"sent with exit strategy {name!r}, no longer configured: NOT "
                            "protected by a stop")  # fmt: skip
                gap -= bare
        if gap > 0 and self.strategies:  # exits are in use here: a bare position is news
            self.notice("WARNING", f"position {held:+d}: {gap} contract(s) NOT protected by a "
                        "stop at IB and not of an entry sent with an exit strategy this run "
                        "knows (a manual order, or a fill whose exits never went out)")  # fmt: skip

    def _pair_restored(self, orders: OrderManager) -> None:
        """Each restored stop of a share with a target, once IB has said what is working,
        whose OCA group has no target working (the last run ended between sending the stop
        and its target: see ``OrderManager.place_exits``) gets its target, once. A stop no
        longer working needs none (its target's fill cancelled it, or it filled)."""
        unsure = {o.client_id for o, _ in orders.unconfirmed()}
        for stop_id in list(self._unpaired):
            stop = orders.get(stop_id)
            if stop is None or not stop.is_open or stop.oca_group is None:
                self._unpaired.remove(stop_id)
                continue
            group = [o.client_id for o in orders.working()
                     if o.oca_group == stop.oca_group and o is not stop]  # fmt: skip
            if unsure.intersection((stop_id, *group)):
                continue  # IB has not said yet: looked at after the next reconciliation
            self._unpaired.remove(stop_id)
            if not group:
                self._send_target(orders, stop)

    def _send_target(self, orders: OrderManager, stop: Order) -> None:
        ticks = _target_ticks(stop.oca_group or "")
        fill = stop.exit.fill if stop.exit is not None else None
        missing = f"{stop.client_id}: its target (OCA group {stop.oca_group}) is not working"
        if ticks is None or fill is None:
            self.notice("WARNING", f"{missing} and its price is not known (the group was "
                        "named before targets were): NO target sent, the stop protects "
                        "its contracts")  # fmt: skip
            return
        price = fill + stop.side.opposite.sign * ticks
        if orders.position_quantity() * stop.side.opposite.sign < stop.remaining:
            self.notice("WARNING", f"{missing}: NOT sent, the position no longer holds the "
                        f"{stop.remaining} contract(s) it would close")  # fmt: skip
            return
        self.notice("WARNING", f"{missing} (the last run ended between sending the two): "
                    f"target sent now, LIMIT {stop.remaining} at "
                    f"{stop.instrument.to_price(price)}")  # fmt: skip
        self._spawn(self._place_target(orders, stop, price, self._epoch))

    async def _place_target(self, orders: OrderManager, stop: Order, price: int,
                            epoch: int) -> None:  # fmt: skip
        if self._stale(epoch):
            return
        target = await orders.place_target(stop, price)
        if self._stale(epoch):
            await self._withdraw(orders, stop, target)
        elif target.reject_reason:
            self.notice("ERROR", f"{stop.client_id}: its target was not sent "
                        f"({target.reject_reason})")  # fmt: skip

    def closing(self) -> None:
        """A close starts (Flatten, Reverse, every order cancelled): the exits of fills
        booked before it are not sent any more, those being sent are cancelled, and the
        entries it cancels forget their strategy (see the module notes)."""
        self._epoch += 1
        self._entries.clear()

    def _send(self, entry: Order, plan: _Entry, price: int,
              deals: list[tuple[int | None, int]]) -> None:  # fmt: skip
        """The exits of ``deals`` sent in a task, counted in flight until it ends."""
        quantity = sum(q for _, q in deals)
        self._in_flight += quantity
        self._spawn(self._protect(entry, plan, price, deals, self._epoch), quantity)

    @staticmethod
    def _deal(entry: _Entry, quantity: int) -> list[tuple[int | None, int]]:
        """``quantity`` contracts more of ``entry`` dealt to its targets in turn: (target
        index or None: the stop alone, contracts)."""
        entry.done += quantity
        deals: list[tuple[int | None, int]] = []
        left = quantity
        for i, size in enumerate(entry.sizes):
            take = min(size - entry.dealt[i], left)
            if take > 0:
                entry.dealt[i] += take
                deals.append((i, take))
                left -= take
        if left:
            deals.append((None, left))
        return deals

    def _stale(self, epoch: int) -> bool:
        """A close or the kill switch came after the fill of ``epoch``."""
        return epoch != self._epoch or self.kill_running()

    async def _protect(
        self, entry: Order, plan: _Entry, price: int, deals: list[tuple[int | None, int]],
        epoch: int,
    ) -> None:  # fmt: skip
        orders = self.orders()
        if orders is None:
            return
        sign = entry.side.sign
        config = plan.plan
        stop_loss = price - sign * config.stop_ticks
        tag = ExitTag(plan.name, price, config.breakeven_after_ticks,
                      config.breakeven_offset_ticks)  # fmt: skip
        for target, quantity in deals:
            if self._stale(epoch) or orders.position_quantity() * sign < quantity:
                self.notice("WARNING", f"exits of {entry.client_id} not sent: the position "
                            "no longer holds its fill (flattened or being killed)")  # fmt: skip
                return
            ticks = config.targets[target].ticks if target is not None else None
            take = price + sign * ticks if ticks is not None else None
            plan.shares += 1
            group = _group(entry.client_id, plan.shares, ticks) if ticks is not None else None
            if stop_loss <= 0 or (take is not None and take <= 0):
                self.notice("ERROR", f"exits of {entry.client_id} not sent: a price below zero")
                return
            stop, target_order = await orders.place_exits(
                entry, quantity, stop_loss=stop_loss, take_profit=take,
                trail=config.trail_ticks, oca_group=group, tag=tag,
            )  # fmt: skip
            if self._stale(epoch):  # a close ran while they went: it may not have seen them
                await self._withdraw(orders, entry, stop, target_order)
                return
            if stop.reject_reason:
                self.notice("ERROR", f"{entry.client_id}: its stop was not sent "
                            f"({stop.reject_reason}): the fill is NOT protected")  # fmt: skip
                continue
            self._shares.append(_Share(entry.side, price, stop.client_id,
                                       tag.breakeven_after, tag.breakeven_offset))  # fmt: skip

    async def _withdraw(self, orders: OrderManager, of: Order, *sent: Order | None) -> None:
        """Cancel exits (of an entry, or a stop's target) sent after a close began (a
        close's cancels reach what it saw)."""
        self.notice("WARNING", f"exits of {of.client_id} cancelled: a close (flatten, "
                    "reverse, cancel all, kill switch) came while they were sent")  # fmt: skip
        for order in sent:
            if order is not None and order.is_open:
                with contextlib.suppress(Refused):
                    await orders.cancel(order.client_id)

    # ---- breakeven ------------------------------------------------------------------------

    def on_trade(self, price: int) -> None:
        """A trade at ``price``: the stops whose share is ``breakeven_after`` ticks in profit
        move to breakeven."""
        for share in self._shares:
            due = share.breakeven_after
            if due is None or share.at_breakeven:
                continue
            if (price - share.fill_price) * share.side.sign >= due:
                self._move(share)

    async def breakeven_now(self, last: int | None) -> tuple[str, ...]:
        """Every working stop of a share moved to its breakeven where the last trade ``last``
        is beyond it (a stop there would not trigger at once); the stops modified. Raises
        :class:`Refused` saying why none could move."""
        working = [s for s in self._shares if self._stop(s) is not None]
        if not working:
            raise Refused("breakeven: no stop of an exit strategy is working")
        if last is None:
            raise Refused("breakeven: no trade yet to check the stops against")
        moved: list[str] = []
        refusals: list[str] = []  # the stops whose modify was refused, with why
        there: list[str] = []  # at or beyond their breakeven already
        short: list[str] = []  # the market not beyond their breakeven (with it)
        shown_last = ""  # the last trade as a price
        for share in working:
            stop = self._stop(share)
            level = share.fill_price + share.side.sign * share.offset
            if stop is None or stop.stop is None:
                continue
            shown_last = str(stop.instrument.to_price(last))
            if (level - stop.stop) * share.side.sign <= 0:
                there.append(stop.client_id)
            elif (last - level) * share.side.sign <= 0:
                short.append(f"{stop.client_id} at {stop.instrument.to_price(level)}")
            else:
                share.at_breakeven = True
                refused = await self._modify(share, stop, level)
                if refused is None:
                    moved.append(stop.client_id)
                else:
                    refusals.append(f"{stop.client_id}: {refused}")
        if refusals and not moved:
            raise Refused(f"breakeven refused: {refusals[0]}")
        if not moved:
            raise Refused(_none_moved(there, short, shown_last))
        if refusals:
            self.notice("WARNING", f"breakeven: {'; '.join(refusals)}")
        return tuple(moved)

    def _stop(self, share: _Share) -> Order | None:
        orders = self.orders()
        order = orders.get(share.stop_id) if orders is not None else None
        return order if order is not None and order.is_open else None

    def _move(self, share: _Share) -> None:
        stop = self._stop(share)
        if stop is None or stop.stop is None:
            share.at_breakeven = True  # done with: filled or cancelled
            return
        level = share.fill_price + share.side.sign * share.offset
        if (level - stop.stop) * share.side.sign <= 0:  # already there or beyond (a trail)
            share.at_breakeven = True
            return
        share.at_breakeven = True
        self._spawn(self._modify(share, stop, level))

    async def _modify(self, share: _Share, stop: Order, level: int) -> str | None:
        """Move ``share``'s stop to ``level``: None, or why the modify was refused."""
        change = ModifyOrder(stop.client_id, stop=stop.instrument.to_price(level))
        result = await self.submit(change)
        if result.ok:
            return None
        share.at_breakeven = False  # e.g. another change in flight: the next trade tries again
        log.info("breakeven of %s not sent: %s", stop.client_id, result.reason)
        return result.reason

    # ---- tasks ----------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, Any], in_flight: int = 0) -> None:
        """Run ``work`` in a task; ``in_flight``: its contracts counted in flight until then."""
        task = asyncio.get_running_loop().create_task(work, name="exits")
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, in_flight))

    def _done(self, task: asyncio.Task[Any], in_flight: int) -> None:
        self._tasks.discard(task)
        self._in_flight -= in_flight
        if not task.cancelled() and task.exception() is not None:
            self.notice("ERROR", f"exit strategy failed: {task.exception()!r}")

    async def idle(self) -> None:
        """Wait for the exits and breakeven moves in flight (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _none_moved(there: list[str], short: list[str], last: str) -> str:
    """Why ``u`` moved no stop: the stops already at or beyond their breakeven (``there``),
    those the last trade at ``last`` is not beyond (``short``, each with its breakeven)."""
    why: list[str] = []
    if there:
        which = ", ".join(there)
        why.append(f"every stop is at or beyond breakeven already ({which})" if not short
                   else f"{which} at or beyond breakeven already")  # fmt: skip
    if short:
        whose = "any stop" if not there else "the others"
        why.append(f"the market (last trade {last}) is not beyond breakeven for {whose} "
                   f"({', '.join(short)})")  # fmt: skip
    return "breakeven: no stop moved: " + ("; ".join(why) or "IB has not said where they stand")
