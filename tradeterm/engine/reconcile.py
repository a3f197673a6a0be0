"""Reconciliation: bring orders, fills and the position in line with IB, fetch then apply.

It runs at start, after every reconnect and after IB's 1101/1102 (:meth:`Reconciler.reconcile`,
entries blocked until it completes), when an order of ours needs looking up
(:meth:`Reconciler.look_up_orders`) and for the kill switch (:meth:`Reconciler.broker_truth`).

1. **Fetch**: IB's word on orders is read in one go into an :class:`IbOrders` (executions since
   the last fill known, every one at start; open orders; completed orders when we have any
   working).
2. **Apply** what IB reported: fills missed while away are booked once (by execution id), open
   orders update ours, an order of this instance we do not know is adopted, another's is
   shown read-only, a completed one ends ours.
3. **Decide**, a pure function of what our book holds and what IB listed (:func:`fates`): an
   own order IB does not list is closed only on a fact (its fills add up, the broker proves
   IB never received it, or IB answered its cancel "not found" on a later connection than it
   was sent on); any other stays open and unconfirmed and is looked for again. Foreign orders
   no longer listed are forgotten (:func:`foreign_gone`).
4. **Position**: IB's position is the final word; two reads must differ from ours before
   ours is replaced (a fill in flight shows in one before the other), and the change is said
   (:func:`position_fix`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tradeterm.broker.port import Broker, BrokerError, ExecutionReport, OrderReport, PositionReport
from tradeterm.domain import Order, OrderStatus
from tradeterm.engine.calendar import NS
from tradeterm.engine.core import TradingCore
from tradeterm.engine.events import (
    EngineEvent,
    OrderView,
    PositionChanged,
    PositionDivergence,
    Reconciled,
)
from tradeterm.engine.health import ConnectionHealth
from tradeterm.engine.order_manager import OrderManager
from tradeterm.engine.types import OrderRole

log = logging.getLogger(__name__)

POSITION_GRACE_S = 1.0  # the broker's position may trail our fills by this much
RECHECK_S = 1.0  # how often an order of ours that IB does not list is looked for again


# ---- what IB says, read in one go ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IbOrders:
    """IB's word on orders: executions, open orders and completed orders."""

    executions: tuple[ExecutionReport, ...]
    open_orders: tuple[OrderReport, ...]
    completed: tuple[OrderReport, ...]


async def read_ib_orders(broker: Broker, since: int | None, *, completed: bool) -> IbOrders:
    """Executions since ``since`` (all when None), open orders, and completed orders when
    ``completed``. Raises ``BrokerError``."""
    executions = await broker.executions(since)
    listed = await broker.open_orders()
    done = await broker.completed_orders() if completed else []
    return IbOrders(tuple(executions), tuple(listed), tuple(done))


# ---- the decisions (pure) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OwnOrder:
    """What our book knows of one working order of ours."""

    client_id: str
    perm_id: int | None
    quantity: int
    filled: int
    never_received: bool = False  # the broker proves IB never got it (its id is too high)
    not_found: bool = False  # IB answered its cancel "not found", on a later connection


class Fate(StrEnum):
    LISTED = "listed"  # IB lists it: open
    FILLED = "filled"  # its fills add up
    NEVER_RECEIVED = "never received"  # closed: IB never got it
    NOT_AT_IB = "not at IB"  # closed: in none of IB's lists, and its cancel not found
    MISSING = "missing"  # not listed, no proof: stays open, unconfirmed, looked for again


ENDS: Mapping[Fate, tuple[OrderStatus, str]] = {
    Fate.FILLED: (OrderStatus.FILLED, ""),
    Fate.NEVER_RECEIVED: (
        OrderStatus.CANCELLED,
        "not at IB, and its id is not below IB's next order id: it never reached IB, or the "
        "gateway started afresh (an empty account) since it was sent",
    ),
    Fate.NOT_AT_IB: (
        OrderStatus.CANCELLED,
        "not at IB: in none of IB's lists, and IB answered its cancel 'not found' (10147)",
    ),
}
"""The status an order of ours closed by a fate ends in, and the reason it carries."""


def fates(own: Iterable[OwnOrder], listed: Iterable[OrderReport]) -> dict[str, Fate]:
    """What becomes of each working order of ours (by client id), given every open order IB
    lists (by orderRef or permId). Never closed for being absent from a list."""
    reports = list(listed)
    seen = {r.order_ref for r in reports} | {r.perm_id for r in reports if r.perm_id}
    out: dict[str, Fate] = {}
    for order in own:
        if order.client_id in seen or (order.perm_id is not None and order.perm_id in seen):
            out[order.client_id] = Fate.LISTED
        elif order.filled >= order.quantity:
            out[order.client_id] = Fate.FILLED
        elif order.never_received:
            out[order.client_id] = Fate.NEVER_RECEIVED
        elif order.not_found:
            out[order.client_id] = Fate.NOT_AT_IB
        else:
            out[order.client_id] = Fate.MISSING
    return out


def foreign_gone(shown: Iterable[str], listed: Iterable[OrderReport]) -> list[str]:
    """The foreign orders shown (by view id) that IB no longer lists."""
    live = {OrderView.foreign(r).order_id for r in listed}
    return [key for key in shown if key not in live]


@dataclass(frozen=True, slots=True)
class PositionFix:
    """IB holds another position than our fills say: take IB's."""

    ours: int
    quantity: int
    avg_cost: Decimal
    level: str  # of the notice: INFO at start (carried in), WARNING later
    text: str


def position_fix(ours: int, report: PositionReport | None, *, at_start: bool) -> PositionFix | None:
    """IB's position (``report``, None: flat) against ours; None when they agree."""
    quantity = report.quantity if report is not None else 0
    if quantity == ours:
        return None
    avg_cost = report.avg_cost if report is not None else Decimal(0)
    text = f"position at IB is {quantity}, fills here said {ours}: using IB's" + (
        " (carried in)" if at_start else ""
    )
    return PositionFix(ours, quantity, avg_cost, "INFO" if at_start else "WARNING", text)


def settle_orders(
    orders: OrderManager, listed: Sequence[OrderReport], completed: Iterable[OrderReport]
) -> tuple[list[Order], list[Order]]:
    """After ``listed`` (every open order at IB) was applied and the fills recovered: apply
    ``completed``, then decide (:func:`fates`) and apply what became of our working orders
    IB does not list. Returns (closed, still unknown)."""
    orders.apply_completed(completed)
    own = [
        OwnOrder(o.client_id, o.perm_id, o.quantity, o.filled,
                 orders.never_received(o), orders.not_at_ib(o))
        for o in orders.working()
    ]  # fmt: skip
    decided = fates(own, listed)
    return orders.settle(
        {cid: ENDS[fate] for cid, fate in decided.items() if fate in ENDS},
        {cid for cid, fate in decided.items() if fate is Fate.MISSING},
    )


# ---- the reconciler --------------------------------------------------------------------------


class Reconciler:
    """The engine's reconciliation (see the module notes) and its state: whether one is due
    or running, IB's last word on our position, when to look again for what IB does not list.

    ``book``: the engine's booking of an execution (True when it was new); ``notice``,
    ``publish``: the engine's; ``refresh``: re-assess the health shown; ``unfinished_close``:
    a flatten's closing order (by its command id) was closed here without reaching IB;
    ``reconciled``: told once each reconciliation has completed (the exits protect what
    IB's executions told of: ``ExitManager.after_reconcile``)."""

    def __init__(
        self,
        broker: Broker,
        link: ConnectionHealth,
        *,
        clock: Callable[[], int],
        book: Callable[[TradingCore, ExecutionReport], bool],
        publish: Callable[[EngineEvent], None],
        notice: Callable[[str, str], None],
        refresh: Callable[[], None],
        unfinished_close: Callable[[str], object] = lambda command_id: None,
        reconciled: Callable[[], object] = lambda: None,
    ) -> None:
        self._broker = broker
        self._reconciled = reconciled
        self._unfinished_close = unfinished_close
        self._link = link
        self._clock = clock
        self._book = book
        self._publish = publish
        self._notice = notice
        self._refresh = refresh
        self.lock = asyncio.Lock()
        self.once = False  # one has completed
        self.due = False  # one must run (a reconnect, IB's 1101/1102, a failed one)
        self.running = False  # entries wait
        self.position: PositionReport | None = None  # IB's last word on our position
        self.position_at = 0  # when it was last heard or read (local clock)
        self.last_fill_at = 0  # when our last fill was booked (local clock)
        self.position_due: int | None = None  # when to compare IB's position with ours
        self.recheck_at = 0  # when to look again for our orders IB does not list

    @property
    def needs_reconcile(self) -> bool:
        return self.due or self.lock.locked()

    @property
    def syncing(self) -> bool:
        """Entries wait for a reconciliation: none has completed yet (start), one is due or
        one is running."""
        return not self.once or self.due or self.running

    def on_position(self, report: PositionReport) -> None:
        """IB reported our position: compared with ours after the grace period."""
        self.position = report
        self.position_at = self._clock()
        self.position_due = self.position_at + int(POSITION_GRACE_S * NS)

    def on_fill(self) -> None:
        """A fill of ours was booked: IB's position should follow within the grace period."""
        self.last_fill_at = self._clock()
        self.position_due = self.last_fill_at + int(POSITION_GRACE_S * NS)

    async def reconcile(self, core: TradingCore, reason: str) -> Reconciled | None:
        """Bring orders, fills and the position in line with the broker. Returns what was
        found, or None when it could not run (retried later)."""
        orders = core.orders
        async with self.lock:
            self.due = False
            at_start = not self.once
            orders.blocked = f"reconciling ({reason})"
            self.running = True
            self._refresh()
            try:
                result = await self._reconcile(core, reason, at_start)
            except BrokerError as exc:
                self.due = True
                orders.blocked = f"reconciliation failed, retrying: {exc}"
                self._notice("WARNING", f"reconciliation ({reason}) failed: {exc}")
                return None
            else:
                self.once = True
                if self._link.connected:
                    orders.blocked = None
            finally:
                self.running = False
                self._refresh()  # OK only now that orders can go
            self._publish(result)
            self._notice("INFO", f"reconciled ({reason}): {result.detail}")
            self._reconciled()
            return result

    async def _reconcile(self, core: TradingCore, reason: str, at_start: bool) -> Reconciled:
        orders = core.orders
        recovered, closed, unknown = await self._orders(core, all_executions=at_start)
        agreed = await self._position(core, at_start)
        own = len(orders.working())
        position = core.portfolio.position.quantity
        protected = orders.protected()
        detail = (
            f"{own} own working order(s), {len(orders.foreign)} foreign, "
            + (f"{len(orders.elsewhere)} in other markets, " if orders.elsewhere else "") +
            f"{recovered} fill(s) recovered, {len(closed)} order(s) closed, position "
            f"{position}" + (f" ({protected} protected by stops)" if position else "")
            + (f"; {len(unknown)} order(s) not confirmed by IB yet" if unknown else "")
            + ("" if agreed else "; position taken from IB")
        )  # fmt: skip
        return Reconciled(
            reason, own, len(orders.foreign), recovered, len(closed), position, protected,
            True, self._clock(), detail,
        )  # fmt: skip

    async def on_timer(self, core: TradingCore | None, now: int) -> None:
        """The engine timer's part: compare IB's position with ours when due; once connected,
        reconcile when due and look up the orders of ours IB answered about without a state
        or does not list."""
        if core is not None and self.position_due is not None and now >= self.position_due:
            self.position_due = None
            await self.verify_position(core)
        connected = self._link.broker_up
        if connected and self.due and not self.lock.locked():
            self.due = False
            if core is not None:
                await self.reconcile(core, "reconnect")
        if (
            connected and core is not None and not self.lock.locked()
            and (core.orders.lookups or (core.orders.missing and now >= self.recheck_at))
        ):  # fmt: skip
            with contextlib.suppress(BrokerError):
                await self.look_up_orders(core)

    async def look_up_orders(self, core: TradingCore) -> None:
        """Ask IB what became of our orders, without blocking entries. Raises
        ``BrokerError``."""
        async with self.lock:
            await self._orders(core)

    async def broker_truth(self, core: TradingCore) -> int:
        """IB's word: its orders and executions (applied), then its position (read twice
        when it differs from ours, then adopted). Returns the position. Raises
        ``BrokerError``."""
        await self.look_up_orders(core)
        async with self.lock:
            await self._position(core, at_start=False)
        return core.portfolio.position.quantity

    async def _orders(
        self, core: TradingCore, *, all_executions: bool = False
    ) -> tuple[int, list[Order], list[Order]]:
        """Fetch IB's orders, apply them, decide the fate of ours it does not list. Returns
        how many fills were new, the orders closed, and those still unconfirmed.
        ``all_executions``: every execution IB has (at start the journal's last fill may have
        outrun one it never got), else those since the last one known."""
        orders = core.orders
        last = core.portfolio.ledger.last_ts_ns
        since = None if all_executions or last is None else last - NS
        ib = await read_ib_orders(self._broker, since, completed=bool(orders.working()))
        recovered = sum(1 for r in ib.executions if self._book(core, r))
        for report in ib.open_orders:
            orders.on_report(report)
        closed, unknown = settle_orders(orders, ib.open_orders, ib.completed)
        core.queue.sync(orders.working())  # those found here (a restart) join their queues
        orders.drop_foreign(foreign_gone(orders.shown_foreign(), ib.open_orders))
        await orders.resend_cancels()
        self.recheck_at = self._clock() + int(RECHECK_S * NS)
        for order in closed:
            if order.reject_reason:
                self._notice("WARNING", f"{order.client_id}: {order.reject_reason}")
            view = orders.view(order)
            if order.status is OrderStatus.CANCELLED and view.role is OrderRole.FLATTEN:
                # it went while the socket was already dead: the flatten's cancels may have
                # gone and left the position without its stop; it must still end flat
                self._unfinished_close(view.command_id)
        return recovered, closed, unknown

    async def _position(self, core: TradingCore, at_start: bool) -> bool:
        """Two reads of IB's position must differ from ours before it is adopted (a fill in
        flight shows in one before the other). True when they agreed."""
        for attempt in range(2):
            if await self._read_position(core) == core.portfolio.position.quantity:
                return True
            if attempt == 0 and not at_start:
                await asyncio.sleep(POSITION_GRACE_S / 2)
        return self.check_position(core, at_start=at_start)

    async def verify_position(self, core: TradingCore) -> None:
        """After the grace period: compare with what IB said *after* our last fill; when IB
        has said nothing since (a slow or silent position stream), ask it."""
        if self.position_at <= self.last_fill_at:
            if not self._link.broker_up:
                self.position_due = self._clock() + int(POSITION_GRACE_S * NS)
                return
            try:
                await self._read_position(core)
            except BrokerError:
                self.position_due = self._clock() + int(POSITION_GRACE_S * NS)
                return
        self.check_position(core, at_start=False)

    async def _read_position(self, core: TradingCore) -> int:
        """Ask IB for its position in our contract; remember it and return its quantity."""
        con_id = core.instrument.con_id
        mine = [p for p in await self._broker.positions() if p.con_id == con_id]
        self.position = mine[0] if mine else None
        self.position_at = self._clock()
        return self.position.quantity if self.position else 0

    def check_position(self, core: TradingCore, *, at_start: bool) -> bool:
        """Compare IB's last word on the position with ours; adopt IB's when they differ.
        True when they agreed."""
        portfolio = core.portfolio
        fix = position_fix(portfolio.position.quantity, self.position, at_start=at_start)
        if fix is None:
            return True
        portfolio.adopt(fix.quantity, fix.avg_cost)
        self._notice(fix.level, fix.text)
        self._publish(
            PositionDivergence(fix.ours, fix.quantity, fix.avg_cost, at_start, self._clock())
        )
        self._publish(PositionChanged(portfolio.pnl(), cause="adopted"))
        return False
