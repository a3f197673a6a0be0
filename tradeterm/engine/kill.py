"""The kill switch: cancel everything of this instance, flatten, prove it at the broker, halt.

:meth:`KillSwitch.request` starts a run (or returns the one already running: pressing it again
never starts a second sequence, and pressing it after a run re-checks and repeats what is
needed, so it is always safe to press). A run, each step published as a ``KillProgress``:

1. ``requested``: trading goes REDUCING at once (no entry can slip in) and the engine refuses
   every other command until the run ends, so nothing else is sent meanwhile. Order messages
   of this instance still queued behind IB's message rate are dropped (never sent), and from
   here on the run's own messages go ahead of anything queued (``Broker.priority``).
2. ``waiting``: while the broker is not connected, nothing can be done; the run waits, and on
   reconnection it goes first: reconciliation reads what IB has (executions, open orders,
   position) and then the run sends its cancels and flatten before anything else.
3. ``cancelling``: cancel this instance's working orders (those its API client placed: IB
   lets no other client cancel an order; another client's in this contract, the market's
   console's included, is neither cancelled nor waited for, and the end names it), bracket
   children first (never a close of ours in flight: it is waited for, as cancelling it would
   only mean another), and wait until each is finished (``cancel_wait_s``): a PendingCancel order can still fill, and
   those fills change what must be flattened.
4. ``flattening``: one market order closes the position as booked from the fills, and the run
   waits for it to finish (``fill_wait_s``). Never while any order of ours is unconfirmed (a
   cancel not confirmed could still fill; a close not acknowledged could still fill; a second
   close on top of either would overshoot).
5. ``verifying``: IB's open and completed orders, executions and position are read. Flat at
   IB with no order of ours open or unconfirmed: ``halted`` (the end; trading HALTED).
   Otherwise ``retrying`` from step 3 with IB's figures. Past ``timeout_s`` of connected
   time: when IB has simply not answered for some order of ours, ``unverified`` says which
   (``SELL 5 MKT sent 8.1 s ago, not acknowledged``), trading goes HALTED, and the run sends
   nothing more but keeps verifying until IB answers, then ends ``halted`` (flat) or
   ``failed`` (not flat: pressing the kill switch again tries again); when everything is
   known and IB is still not flat, ``failed`` (the end; HALTED all the same, and the detail
   says what is left at IB to handle by hand). Other clients' working orders in this
   contract are named in the end's detail (``others``): each could still fill and open a
   position again, which nothing here closes.

The same sequence without the halt (``halt=False``, ending ``done``) is the disconnect policy
"flatten"; if it cannot get flat it halts all the same.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from tradeterm.broker.port import BrokerError
from tradeterm.domain import Order
from tradeterm.engine.commands import Refused
from tradeterm.engine.events import KillProgress
from tradeterm.engine.types import KillStep, OrderRole

log = logging.getLogger(__name__)


class KillOrders(Protocol):
    """This instance's orders, as the kill switch handles them (``OrderManager``)."""

    def working(self) -> list[Order]: ...

    def others(self) -> list[tuple[int | None, str]]:
        """Other API clients' working orders in this contract (which IB lets only them, or
        TWS, cancel): the client that placed each, and the order in a trader's words."""
        ...

    def unconfirmed(self) -> list[tuple[Order, str]]: ...

    def is_close(self, order: Order) -> bool: ...

    def cancel_sent(self, order: Order) -> bool: ...

    def drop_unsent(self, why: str) -> list[Order]: ...

    async def cancel_all(
        self, at_price: int | None = None, *, keep_closes: bool = False, by: str = "cancel all"
    ) -> tuple[str, ...]: ...

    async def send_close(self, command_id: str, role: OrderRole) -> Order | None: ...


class KillTarget(Protocol):
    """What the kill switch acts on and reads (the engine provides it): the orders and the
    position as booked, the connection, IB's word, and the trading state."""

    @property
    def orders(self) -> KillOrders | None:
        """None before the contract is known."""

    @property
    def position(self) -> int:
        """The position as booked from the fills (0 before the contract is known)."""

    @property
    def connected(self) -> bool:
        """Orders can be sent."""

    def now(self) -> int: ...

    def publish(self, progress: KillProgress) -> None: ...

    def priority(self) -> AbstractContextManager[None]:
        """The broker's: the run's messages go ahead of anything queued."""

    async def wait_connected(self) -> None: ...

    async def wait_started(self) -> None:
        """Until the engine has started: connected, the contract known, reconciled."""

    async def wait_order_change(self, timeout_s: float) -> None: ...

    async def sync(self) -> None:
        """Reconcile with IB first when a reconciliation is due or running."""

    async def broker_truth(self) -> int:
        """Read IB's orders, executions and position; the position. Raises ``BrokerError``."""

    def reduce(self, reason: str) -> None:
        """Trading REDUCING: no new entries."""

    def halt(self, reason: str) -> bool:
        """Trading HALTED; whether it is (before the contract is known: kept as the state
        the engine starts in)."""


@dataclass(frozen=True, slots=True)
class KillTimings:
    cancel_wait_s: float = 2.0  # for cancels to be confirmed (or the orders to fill)
    fill_wait_s: float = 5.0  # for the flatten order to fill
    timeout_s: float = 30.0  # of connected time, before the run gives up (HALTED, not flat)
    retry_pause_s: float = 0.5  # between a failed verification and the next attempt


class KillSwitch:
    """The kill switch of one engine (see the module notes)."""

    def __init__(
        self, target: KillTarget, timings: KillTimings | None = None, *, venue: str = "IB"
    ) -> None:
        self._target = target
        self.timings = timings or KillTimings()
        self.venue = venue  # where the orders are, in what it says: "IB", "the paper broker"
        self._task: asyncio.Task[KillProgress] | None = None
        self._halt = True
        self.last: KillProgress | None = None
        self.runs = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def request(self, reason: str, *, halt: bool = True) -> asyncio.Task[KillProgress]:
        """Start a run, or return the one already running (a halting request turns a running
        ``halt=False`` run into one that halts)."""
        reason = reason.strip() or "kill switch"
        if self._task is not None and not self._task.done():
            if halt and not self._halt:
                self._halt = True
                self._reduce(reason)
            return self._task
        self.runs += 1
        self._halt = halt
        self._task = asyncio.create_task(self._run(reason), name="engine-kill")
        return self._task

    async def join(self) -> KillProgress | None:
        """The end of the run under way (or of the last one); None if there never was one."""
        return await self._task if self._task is not None else None

    def cancel(self) -> None:
        """The engine is stopping: abandon a run (the state it reached is kept)."""
        if self._task is not None:
            self._task.cancel()

    def _reduce(self, reason: str) -> None:
        self._target.reduce(f"kill switch: {reason}")

    # ---- the run -------------------------------------------------------------------------

    def _step(self, step: KillStep, detail: str, reason: str, *, done: bool = False,
              ok: bool = False) -> KillProgress:  # fmt: skip
        target = self._target
        orders = target.orders
        progress = KillProgress(
            step, detail, reason, target.position,
            len(orders.working()) if orders is not None else 0,
            target.now(), done, ok, len(orders.others()) if orders is not None else 0,
        )  # fmt: skip
        self.last = progress
        log.log(logging.INFO if ok or not done else logging.ERROR, "kill switch %s: %s", step,
                detail)  # fmt: skip
        target.publish(progress)
        return progress

    async def _run(self, reason: str) -> KillProgress:
        if self._halt:
            self._reduce(reason)
        self._step(
            KillStep.REQUESTED, ("" if self._halt else "flatten, no halt: ") + reason, reason
        )
        try:
            orders = self._target.orders
            if orders is not None:  # queued behind IB's message rate: never sent
                orders.drop_unsent("dropped by the kill switch")
            with self._target.priority():  # the run's messages go first
                return await self._attempts(reason)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never leave a half-run kill silent
            log.exception("kill switch")
            return self._end(reason, False, f"internal error: {exc!r}")

    async def _attempts(self, reason: str) -> KillProgress:
        target = self._target
        if target.orders is None:  # not started (waiting for the gateway): nothing known yet
            if self._halt:  # HALTED now, latched: nothing can be sent once it has started
                target.halt(f"kill switch: {reason}")
            self._step(KillStep.WAITING, "not started yet: runs first thing once connected "
                       "and the contract is known", reason)  # fmt: skip
            await target.wait_started()
        orders = target.orders
        assert orders is not None  # the engine has started: its core is built
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        attempt = 0
        said_unverified: tuple[str, ...] = ()  # the orders "unverified" named, once said
        while True:
            if not target.connected:
                self._step(
                    KillStep.WAITING, "not connected: runs first thing on reconnection", reason
                )
                await target.wait_connected()
                deadline = None
            if deadline is None:
                deadline = loop.time() + self.timings.timeout_s
            try:
                await target.sync()
                if not said_unverified:  # past the deadline it only verifies
                    attempt += 1
                    await self._cancel(reason, deadline)
                    await self._flatten(reason, attempt, deadline)
                    self._step(
                        KillStep.VERIFYING, f"reading {self.venue}'s orders and position", reason
                    )
                position = await target.broker_truth()
            except (BrokerError, Refused) as exc:  # Refused: the close could not be sent
                why = (
                    f"{self.venue} did not answer: {exc}"
                    if isinstance(exc, BrokerError)
                    else str(exc)
                )
                if target.connected and loop.time() >= deadline and not orders.working():
                    return self._end(reason, False, why)
                self._step(KillStep.RETRYING, why, reason)
                await asyncio.sleep(self.timings.retry_pause_s)
                continue
            working = orders.working()
            if position == 0 and not working:
                done = f"flat at {self.venue}" + ("" if orders.others() else ", no working orders")
                return self._end(reason, True, done)
            unknown = orders.unconfirmed()
            left = f"{self.venue} shows position {position}, {len(working)} order(s) of ours open"
            if unknown:
                left += "; " + "; ".join(what for _, what in unknown)
            if loop.time() >= deadline:
                if not unknown:
                    return self._end(reason, False, left)
                ids = tuple(o.client_id for o, _ in unknown)
                if ids != said_unverified:  # said once, and again when it changes
                    said_unverified = ids
                    self._unverified(reason, "; ".join(what for _, what in unknown))
                await asyncio.sleep(self.timings.retry_pause_s * 4)
                continue
            self._step(KillStep.RETRYING, left, reason)
            await asyncio.sleep(self.timings.retry_pause_s)

    def _unverified(self, reason: str, what: str) -> None:
        """Past the deadline with IB silent about some order of ours: say what is unknown,
        halt, and go on verifying (the run does not end on a guess)."""
        self._target.halt(f"kill switch: {reason}")
        self._step(KillStep.UNVERIFIED, what, reason)

    async def _cancel(self, reason: str, deadline: float) -> None:
        """Cancel what is working, but not a close of ours in flight: that one is waited for
        (``_flatten`` sends no other while it is open)."""
        orders = self._target.orders
        assert orders is not None
        targets = [o for o in orders.working() if not orders.is_close(o)]
        if not targets:
            return
        asked = sum(1 for o in targets if orders.cancel_sent(o))
        if asked < len(targets):
            self._step(KillStep.CANCELLING, f"cancelling {len(targets) - asked} working order(s)"
                       + (f", {asked} cancel(s) already asked" if asked else ""), reason)  # fmt: skip
            await orders.cancel_all(keep_closes=True, by="the kill switch")
        await self._until(lambda: not any(o.is_open for o in targets),
                          self.timings.cancel_wait_s, deadline)  # fmt: skip
        left = [o.client_id for o in targets if o.is_open]
        if left:
            self._step(KillStep.CANCELLING, f"not confirmed yet: {', '.join(left)}", reason)

    async def _flatten(self, reason: str, attempt: int, deadline: float) -> None:
        orders = self._target.orders
        assert orders is not None
        if not self._target.position:
            return
        open_ = orders.working()
        if open_:  # one of them could still fill: a close now could overshoot
            self._step(KillStep.CANCELLING, f"{len(open_)} order(s) of ours not confirmed finished: "
                       "no close until they are", reason)  # fmt: skip
            return
        order: Order | None = await orders.send_close(f"kill-{self.runs}.{attempt}", OrderRole.KILL)
        if order is None:
            return
        self._step(KillStep.FLATTENING, f"market {order.side} {order.quantity} ({order.client_id})",
                   reason)  # fmt: skip
        await self._until(lambda: not order.is_open, self.timings.fill_wait_s, deadline)

    async def _until(self, done: Callable[[], bool], wait_s: float, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        end = min(loop.time() + wait_s, deadline)
        target = self._target
        while not done() and target.connected:
            left = end - loop.time()
            if left <= 0:
                return
            await target.wait_order_change(left)

    def _end(self, reason: str, ok: bool, detail: str) -> KillProgress:
        orders = self._target.orders
        others = orders.others() if orders is not None else []
        if others:  # never waited for (it cannot cancel them), never left unsaid
            detail += "; " + others_left(others, self.venue)
        halt = self._halt or not ok  # not flat by the timeout: halt in every mode
        if halt:
            text = f"kill switch: {reason}" if ok else f"kill switch NOT FLAT: {detail}"
            if self._target.halt(text) and not ok:
                detail += f"; trading HALTED: close what is left at {self.venue} by hand, then press again"
        step = KillStep.HALTED if ok and halt else (KillStep.DONE if ok else KillStep.FAILED)
        return self._step(step, detail, reason, done=True, ok=ok)


def others_left(others: list[tuple[int | None, str]], venue: str) -> str:
    """What the kill switch says of other clients' working orders in its contract, which it
    cannot cancel (IB lets only the client that placed an order cancel it) and so neither
    waits for nor lets stop the flatten: each still works, and any of them filling opens a
    position again that this instance, HALTED, does not close."""
    who = " and ".join(sorted({f"client {c}" if c is not None else "another client"
                               for c, _ in others}))  # fmt: skip
    n = len(others)
    it, works = ("it", "works") if n == 1 else ("them", "work")
    return (
        f"{n} order{'s' if n > 1 else ''} of {who} still {works} at {venue}: "
        + "; ".join(what for _, what in others)
        + f"; this instance cannot cancel {it} (cancel {it} from TWS or the client that placed "
        f"{it}); should {'it' if n == 1 else 'one'} fill, it opens a position again that "
        "nothing here closes"
    )
