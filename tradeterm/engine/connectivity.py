"""What the engine does when the broker speaks of the connection: its state, IB's link to the
exchange, IB's market data farm, and a feed gone silent.

:class:`Connectivity` feeds :class:`~tradeterm.engine.health.ConnectionHealth` what it hears
and acts on it: new entries are blocked while the connection is down and until the
reconciliation after a reconnect (or IB's 1101/1102) has run, the disconnect policy
(``risk.on_disconnect``) is applied, the feeds must deliver again once IB is back, a stale feed
is resubscribed, and the health the trader sees is published whenever it changes.

At start it connects the broker (:meth:`Connectivity.start_broker`). A gateway that is not
there yet (``GatewayUnreachable``: nothing listening, timed out, closed as it opened: IB
Gateway restarting or waiting for its login) ends the start, unless the start waits for it
(:class:`GatewayWait`, ``connection.wait_at_start``): then it is tried again after the
reconnect's own backoff until it answers, the first failure said in full (what to check), each
next one as the health: RECONNECTING, ``waiting for the gateway at HOST:PORT: attempt N failed
(...)`` with the seconds to the next try. Anything else (a client id in use) ends it at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tradeterm.broker.port import (
    Broker,
    BrokerEvent,
    ConnectionChanged,
    ConnectionState,
    FarmChanged,
    GatewayUnreachable,
    LinkLost,
    LinkRestored,
    Notice,
    OrderNotice,
)
from tradeterm.engine.calendar import NS
from tradeterm.engine.core import TradingCore
from tradeterm.engine.events import EngineEvent
from tradeterm.engine.health import CONNECTED, ConnectionHealth
from tradeterm.engine.reconcile import Reconciler
from tradeterm.engine.staleness import Feed

RESUBSCRIBE_S = 30.0  # at most one resubscription of a stale feed per this many seconds

Say = Callable[[str, str, int], None]
"""The engine's notice: (level, text, code)."""


@dataclass(frozen=True, slots=True)
class GatewayWait:
    """A start that waits for the gateway (see the module notes): ``where`` it is
    (``host:port``, for the trader), ``backoff``: the seconds before the next attempt after
    ``n`` failed ones (``ConnectionConfig.backoff_s``, the reconnect's), ``sleep``: how to wait
    them (tests: a clock of their own)."""

    where: str
    backoff: Callable[[int], float]
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep


class Connectivity:
    """The engine's side of the connection (see the module notes). ``core``: the trading core,
    None before the contract is known; ``on_disconnect``: the disconnect policy, carried out
    by ``request_kill`` (reason, whether to halt); ``wake``: tell whoever waits on an order
    change to look again (the connection changed)."""

    def __init__(
        self,
        broker: Broker,
        link: ConnectionHealth,
        reconciler: Reconciler,
        *,
        core: Callable[[], TradingCore | None],
        on_disconnect: str,
        request_kill: Callable[[str, bool], object],
        clock: Callable[[], int],
        notice: Say,
        publish: Callable[[EngineEvent], None],
        wake: Callable[[], None],
    ) -> None:
        self._broker = broker
        self.link = link
        self._reconciler = reconciler
        self._request_kill = request_kill
        self._core = core
        self._policy = on_disconnect
        self._clock = clock
        self._notice = notice
        self._publish = publish
        self._wake = wake
        self._connected = asyncio.Event()  # connected to IB and IB to the exchange
        self._last_resubscribe = 0

    async def start_broker(self, wait: GatewayWait | None) -> None:
        """``broker.start()``; with ``wait``, until the gateway answers (see the module
        notes). Raises the broker's ``ConnectError`` otherwise."""
        if wait is None:
            await self._broker.start()
            return
        failed = 0
        try:
            while True:
                try:
                    await self._broker.start()
                    return
                except GatewayUnreachable as exc:
                    delay = wait.backoff(failed)
                    failed += 1
                    if failed == 1:
                        self._notice("WARNING", f"{exc} Waiting for the gateway: trying again "
                                     "until it answers", 0)  # fmt: skip
                    why = f"waiting for the gateway at {wait.where}: attempt {failed} failed"
                    self.link.waiting = (f"{why} ({exc.why})", delay)
                    self.refresh_health()
                await wait.sleep(delay)
        finally:
            self.link.waiting = None

    def apply(self, event: BrokerEvent) -> bool:
        """Apply ``event`` if it speaks of the connection; whether it did."""
        if isinstance(event, ConnectionChanged):
            self._on_connection(event)
        elif isinstance(event, Notice):
            self._on_notice(event)
        elif isinstance(event, FarmChanged):
            self._on_market_farm(event)
        else:
            return False
        return True

    def _on_connection(self, event: ConnectionChanged) -> None:
        link, reconciler, core = self.link, self._reconciler, self._core()
        was = link.state
        link.state, link.reason, link.retry_in = event.state, event.reason, event.retry_in_s
        if event.state in CONNECTED:
            if was not in CONNECTED and core is not None:
                core.orders.on_reconnect()
            if was not in CONNECTED and reconciler.once:
                reconciler.due = True  # a reconnect: reconcile before trading again
                self._block("reconciling after reconnect")
        else:
            self._block(f"{event.state.lower()}: {event.reason}")
            if was in CONNECTED:
                self._on_disconnect(f"connection {event.state.lower()}: {event.reason}")
        self._update_connected()
        if event.state is ConnectionState.SYNCING and core is not None:
            core.watchdog.rearm()
        self.refresh_health()

    def _on_notice(self, notice: Notice) -> None:
        """A message from the broker: acted on by what it says (about one of our orders, the
        broker's link to the exchange), then shown, unless the order's own update says it."""
        core = self._core()
        said = False  # by the order's own update (a cancel: OrderUpdated)
        if isinstance(notice, OrderNotice):
            said = core is not None and core.orders.on_notice(notice)
        elif isinstance(notice, LinkLost):
            self.link.link_down = True
            self._block("IB lost its connection to the exchange (1100)")
            self._on_disconnect("IB lost its connection to the exchange (1100)")
        elif isinstance(notice, LinkRestored):
            self.link.link_down = False
            if core is not None:
                core.watchdog.rearm()
            if self._reconciler.once:
                self._reconciler.due = True
                self._block(f"reconciling after IB {notice.code}")
        if not said:
            self._notice(notice.level, notice.text, notice.code)
        self._update_connected()
        self.refresh_health()

    def _on_market_farm(self, event: FarmChanged) -> None:
        """IB's market data farm down: no new entries at once (the quotes on hand may be
        frozen), exits still go. Back: every feed must deliver within its threshold again."""
        if event.up:
            self.link.farm_down = None
            core = self._core()
            if core is not None:
                core.watchdog.rearm()
            self._notice("INFO", f"{event.reason}: new entries allowed again", 0)
        else:
            self.link.farm_down = event.reason
            self._notice("WARNING", f"{event.reason}: no new entries until it is back", 0)
        self.refresh_health()

    def check_feeds(self, now: int) -> None:
        """The engine timer's part: a feed gone stale or back changes the health shown; a
        stale one is resubscribed (:meth:`_resubscribe_stale`)."""
        core = self._core()
        if core is None:
            return
        if core.watchdog.check():
            self.refresh_health()
        self._resubscribe_stale(now)

    def _resubscribe_stale(self, now: int) -> None:
        """A stale feed while connected (IB failure #1): ask again. Not while IB says its
        link or its market data farm is down: nothing would come."""
        stale = self._stale()
        if not stale or self.link.state not in CONNECTED or self.link.degraded() is not None:
            return
        if now - self._last_resubscribe < RESUBSCRIBE_S * NS:
            return
        self._last_resubscribe = now
        self._notice("WARNING", "no data on " + ", ".join(stale) + ": resubscribing", 0)
        self._broker.resubscribe_all()

    def _update_connected(self) -> None:
        if self.link.connected:
            self._connected.set()
        else:
            self._connected.clear()
        self._wake()  # wake a kill switch waiting on orders: it re-checks

    async def wait_connected(self) -> None:
        await self._connected.wait()

    def _on_disconnect(self, why: str) -> None:
        """The disconnect policy (``risk.on_disconnect``): keep (orders and protective stops
        rest at IB; reconcile on reconnect), flatten on reconnect, or halt (the kill switch,
        run on reconnect)."""
        policy = self._policy
        if policy == "keep" or not self._reconciler.once:
            return
        self._notice("WARNING", f"{why}: on_disconnect = {policy}, runs on reconnection", 0)
        self._request_kill(f"{why} (on_disconnect = {policy})", policy == "halt")

    def _block(self, reason: str) -> None:
        core = self._core()
        if core is not None:
            core.orders.blocked = reason

    def _stale(self) -> tuple[Feed, ...]:
        core = self._core()
        return core.stale() if core is not None else ()

    def refresh_health(self) -> None:
        """Publish the health the trader sees when it changed (``health.py``)."""
        core = self._core()
        blocked = core.orders.blocked if core is not None else None
        health = self.link.assess(
            self._stale(), syncing=self._reconciler.syncing, blocked=blocked, now=self._clock()
        )
        if health is not None:
            self._publish(health)
