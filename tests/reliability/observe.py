"""What a matrix cell sees: the timeline, the gateway's master client, and the invariants.

* :class:`Timeline`: every line stamped with the seconds since the cell began, in lanes:
  ``cell`` (what the harness did), ``engine`` / ``engine#N`` (what tradeterm published, in
  the console's words; a console process's own output lines), ``wire`` (each placeOrder and
  cancelOrder as the gateway received it) and ``master`` (what the master client saw).
* :class:`Master`: an independent ib_async client connected as the gateway's master client
  id; it sees every client's orders and executions, reconnects by itself after a drop or a
  gateway restart, and reads the gateway's state (:func:`read_gateway`).
* :func:`violations`: the invariants every cell checks, against the master's view and the
  journal file, never the gateway's internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ib_async import IB

from tests.integration.journal_helpers import (
    GatewayOrder,
    GatewayState,
    JournalState,
    check_after_restart,
    read_gateway,
)
from tests.integration.kill_helpers import Failed
from tradeterm.console import describe
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineSnapshot, PositionChanged
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.request_types import CancelOrder, PlaceOrder
from tradeterm.sim.gateway.protocol.server import GatewayServer

OURS = "tt."  # the orderRef prefix of every tradeterm order


class Timeline:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.rows: list[tuple[float, str, str]] = []

    def add(self, lane: str, text: str) -> None:
        self.rows.append((time.monotonic() - self.t0, lane, text))

    def render(self, last: int = 400) -> str:
        rows = sorted(self.rows, key=lambda r: r[0])
        cut = len(rows) - last
        lines = [f"  ... {cut} earlier line(s)"] if cut > 0 else []
        lines += [f"  {t:8.3f}  {lane:<8} {text}" for t, lane, text in rows[-last:]]
        return "\n".join(lines)

    def follow_engine(self, engine: Engine, lane: str) -> asyncio.Task[None]:
        """Record what ``engine`` publishes (start it before the engine: nothing is missed)."""
        stream = engine.listen()

        async def follow() -> None:
            position: int | None = None
            async for event in stream:
                if isinstance(event, PositionChanged):
                    if event.pnl.quantity == position:
                        continue  # a new mark, not a new position
                    position = event.pnl.quantity
                line = describe(event, engine)
                if line:
                    self.add(lane, line)

        return asyncio.create_task(follow(), name=f"timeline-{lane}")

    async def follow_file(self, path: Path, lane: str) -> None:
        """Record the lines a console process writes to ``path`` (until cancelled)."""
        done = 0
        with contextlib.suppress(asyncio.CancelledError):
            while True:
                text = path.read_text(errors="replace") if path.exists() else ""
                end = text.rfind("\n") + 1
                for line in text[done:end].splitlines():
                    self.add(lane, line)
                done = max(done, end)
                await asyncio.sleep(0.02)


class Wire:
    """Each placeOrder and cancelOrder the gateway receives goes on the timeline, and
    :attr:`then` (one shot) runs right after the next one was handled: an answer in flight."""

    def __init__(self, server: GatewayServer, timeline: Timeline) -> None:
        self.timeline = timeline
        self.then: Callable[[], None] | None = None
        place, cancel = server.handlers[PlaceOrder], server.handlers[CancelOrder]

        async def placed(session: ClientSession, req: PlaceOrder) -> None:
            price = f" lmt {req.lmtPrice}" if req.lmtPrice is not None else ""
            price += f" aux {req.auxPrice}" if req.auxPrice is not None else ""
            parent = f" parent {req.parentId}" if req.parentId else ""
            self.timeline.add("wire", f"client {session.client_id} placeOrder {req.orderId} "
                              f"{req.orderRef} {req.action} {req.totalQuantity} {req.orderType}"
                              f"{price}{parent} transmit={int(req.transmit)}")  # fmt: skip
            await place(session, req)
            self._next()

        async def cancelled(session: ClientSession, req: CancelOrder) -> None:
            self.timeline.add("wire", f"client {session.client_id} cancelOrder {req.orderId}")
            await cancel(session, req)
            self._next()

        server.register(PlaceOrder, placed)
        server.register(CancelOrder, cancelled)

    def _next(self) -> None:
        then, self.then = self.then, None
        if then is not None:
            then()


class Master:
    """The gateway's master client: sees everything, changes nothing."""

    def __init__(self, port: int, client_id: int, timeline: Timeline) -> None:
        self.port, self.client_id, self.timeline = port, client_id, timeline
        self.ib = IB()
        self.quiet = False  # while reading: the answers are not news
        self._closing = False
        self._reconnect: asyncio.Task[None] | None = None
        self._lock: asyncio.Lock | None = None  # made in the loop that connects
        ib = self.ib
        ib.openOrderEvent += lambda t: self._say(f"openOrder {_trade(t)}")
        ib.orderStatusEvent += lambda t: self._say(f"orderStatus {_trade(t)}")
        ib.execDetailsEvent += lambda t, f: self._say(
            f"execution {f.execution.execId} {f.execution.orderRef} {f.execution.side} "
            f"{f.execution.shares:g} @ {f.execution.price}"
        )
        ib.positionEvent += lambda p: self._say(f"position {p.contract.localSymbol} {p.position:g}")
        ib.errorEvent += lambda req, code, text, *_: self._say(f"error {req} {code}: {text}")
        ib.disconnectedEvent += self._dropped

    def _say(self, text: str) -> None:
        if not self.quiet:
            self.timeline.add("master", text)

    async def connect(self, timeout: float = 30) -> None:
        """Connect, one attempt at a time (a failed attempt's disconnect starts the
        reconnection task, and two connects at once on one client wedge it)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            end = time.monotonic() + timeout
            while not self.ib.isConnected():
                try:
                    await self.ib.connectAsync("127.0.0.1", self.port, clientId=self.client_id,
                                               timeout=5)  # fmt: skip
                    self.timeline.add("master", "connected")
                except (OSError, TimeoutError, ConnectionError) as exc:
                    if time.monotonic() > end:
                        raise Failed(f"the master client cannot connect: {exc!r}") from None
                    await asyncio.sleep(0.2)

    def _dropped(self) -> None:
        if self._closing:
            return
        self.timeline.add("master", "disconnected")
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.ensure_future(self.connect())

    async def view(self) -> GatewayState:
        """What the gateway holds now, read again when the read fails: the connection dropped
        meanwhile (a fault closed it, the master reconnects), or the gateway dropped one of
        its requests unanswered (the pacing fault hits the next request, whoever's)."""
        for _ in range(10):
            await self.connect()
            self.quiet = True
            try:
                return await asyncio.wait_for(read_gateway(self.ib), 5)
            except (ConnectionError, TimeoutError) as exc:
                self.timeline.add("master", f"read failed ({exc!r}): reading again")
                await asyncio.sleep(0.2)
            finally:
                self.quiet = False
        raise Failed("the master client cannot read the gateway (10 tries)")

    def close(self) -> None:
        self._closing = True
        if self._reconnect is not None:
            self._reconnect.cancel()
        self.ib.disconnect()


def _trade(trade: Any) -> str:
    o, s = trade.order, trade.orderStatus
    return (f"{o.orderRef or '-'} (client {o.clientId} id {o.orderId} perm {o.permId}) "
            f"{o.action} {o.totalQuantity:g} {o.orderType} {s.status} filled {s.filled:g}")  # fmt: skip


# ---- the invariants -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a cell's action promises besides the invariants every cell checks."""

    flat: bool = False  # flat at IB and nothing of ours working (a kill, a flatten that went)
    trading_state: str = "ACTIVE"
    new_orders: tuple[int, ...] = (0,)  # how many orders the action may have added at IB
    new_type: str | None = None  # and of which type (None: any)
    protected: bool = False  # a position left at IB has a stop of ours working against it


def violations(
    gw: GatewayState, journal: JournalState, snap: EngineSnapshot, tick: Decimal,
    expect: Expect, book: set[str],
) -> list[str]:  # fmt: skip
    """Every invariant that does not hold (nothing sent twice, every order journaled before it
    was sent, every fill journaled once, the journal's position and open orders the
    gateway's, the engine's position, orders and trading state the gateway's, no orphan
    bracket legs, and what the action promised). ``book``: the orderRefs at IB before the
    action."""
    problems = check_after_restart(gw, journal)
    ours = [o for o in gw.orders if o.ref.startswith(OURS)]
    new = [o for o in ours if o.ref not in book]
    if len(new) not in expect.new_orders or any(
        expect.new_type not in (None, o.order_type) for o in new
    ):
        problems.append(f"orders the action added at IB: {[_name(o) for o in new]} (expected "
                        f"{' or '.join(map(str, expect.new_orders))}"
                        f"{' ' + expect.new_type if expect.new_type else ''})")  # fmt: skip
    working = [o for o in ours if o.working]
    engine_qty = snap.pnl.quantity if snap.pnl is not None else None
    if engine_qty != gw.position:
        problems.append(f"the engine shows position {engine_qty}, the gateway {gw.position}")
    problems += _orders_differ(snap, working, tick)
    problems += [f"orphan bracket leg: {_name(o)}" for o in orphans(working, gw.position)]
    if snap.trading_state != expect.trading_state:
        problems.append(f"trading is {snap.trading_state} ({snap.trading_reason}), "
                        f"expected {expect.trading_state}")  # fmt: skip
    kill = snap.kill
    shown_flat = kill is not None and kill.step == "halted"
    if (expect.flat or shown_flat) and (gw.position or working):
        why = "the action was a kill or a flatten" if expect.flat else "the engine says so"
        problems.append(f"not flat at IB ({why}): position {gw.position}, working "
                        f"{[_name(o) for o in working]}")  # fmt: skip
    closing = "SELL" if gw.position > 0 else "BUY"
    if (
        expect.protected
        and gw.position
        and not any(o.order_type == "STP" and o.action == closing for o in working)
    ):
        problems.append(f"position {gw.position} left at IB without a stop of ours")
    if expect.flat and (kill is None or not kill.ok) and expect.trading_state == "HALTED":
        problems.append(f"the kill switch did not end halted: {kill}")
    return problems


def _orders_differ(snap: EngineSnapshot, working: list[GatewayOrder], tick: Decimal) -> list[str]:
    """This instance's working orders as the engine shows them against the gateway's: the
    same orders, sizes and prices."""
    shown = {v.order_id: v for v in snap.orders}
    at_ib = {o.ref: o for o in working}
    problems = []
    if set(shown) != set(at_ib):
        problems.append(f"working orders: the engine shows {sorted(shown)}, the gateway "
                        f"{sorted(at_ib)}")  # fmt: skip
    for ref in set(shown) & set(at_ib):
        view, order = shown[ref], at_ib[ref]
        engine = (view.quantity, _px(view.limit, tick), _px(view.stop, tick))
        gateway = (order.quantity, order.limit, order.stop)
        if engine != gateway:
            problems.append(f"{ref}: the engine shows qty/limit/stop {engine}, the gateway "
                            f"{gateway}")  # fmt: skip
    return problems


def _px(ticks: int | None, tick: Decimal) -> float | None:
    return None if ticks is None else float(ticks * tick)


def orphans(working: list[GatewayOrder], position: int) -> list[GatewayOrder]:
    """Bracket legs working with their parent gone (filled or cancelled) that do not reduce
    the position: nothing is left for them to protect, and one could open a new position."""
    parents = {(o.client_id, o.order_id) for o in working}
    return [
        o for o in working
        if o.parent_id and (o.client_id, o.parent_id) not in parents
        and not (position > 0 and o.action == "SELL") and not (position < 0 and o.action == "BUY")
    ]  # fmt: skip


def _name(o: GatewayOrder) -> str:
    return f"{o.ref} {o.action} {o.quantity} {o.order_type} {o.status}"
