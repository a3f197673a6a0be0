"""Connection health: what the broker says of the connection, of IB's link to the exchange and
of its market data farm, and the health the trader sees from it.

The engine feeds :class:`ConnectionHealth` what it hears (the broker's state, IB's 1100/1101/
1102, farm changes) and asks it, after each change, for the health to show
(:meth:`ConnectionHealth.assess`): the broker's state, SYNCING while connected but not
reconciled (OK only when orders can go), DEGRADED with its cause (IB's link, its market data
farm, a stale feed), RECONNECTING with the last attempt's outcome while a start waits for the
gateway (``connectivity.py``).
"""

from __future__ import annotations

from dataclasses import replace

from tradeterm.broker.port import ConnectionState
from tradeterm.engine.events import HealthChanged
from tradeterm.engine.staleness import Feed

CONNECTED = frozenset({ConnectionState.OK, ConnectionState.DEGRADED})


def default_staleness(quotes_s: float) -> dict[Feed, float]:
    """Quotes and depth go stale after ``quotes_s``; trades and bars are quiet in a slow
    market and get longer."""
    return {
        Feed.QUOTES: quotes_s,
        Feed.DEPTH: quotes_s,
        Feed.TRADES: max(quotes_s * 6, 30.0),
        Feed.BARS: max(quotes_s * 4, 15.0),
    }


class ConnectionHealth:
    """The connection as last heard (see the module notes); ``current`` is the health shown."""

    def __init__(self, now: int) -> None:
        self.state = ConnectionState.DISCONNECTED  # the broker's
        self.reason = "not started"
        self.retry_in: float | None = None
        self.link_down = False  # IB lost its connection to the exchange (1100)
        self.farm_down: str | None = None  # why IB's market data farm is down
        # a start waiting for the gateway: what the last attempt met, seconds to the next
        # (shown, as RECONNECTING, instead of the broker's state until it connects)
        self.waiting: tuple[str, float] | None = None
        self.current = HealthChanged(ConnectionState.DISCONNECTED, "not started", (), now)

    @property
    def broker_up(self) -> bool:
        """The broker is connected to IB (IB's own link may still be down)."""
        return self.state in CONNECTED

    @property
    def connected(self) -> bool:
        """Connected to IB, and IB to the exchange: orders can be sent."""
        return self.state in CONNECTED and not self.link_down

    def set(self, state: ConnectionState, reason: str) -> None:
        self.state, self.reason, self.retry_in = state, reason, None

    def degraded(self) -> str | None:
        """Why entries must wait though IB is connected: IB's link to the exchange or its
        market data farm is down."""
        if self.link_down:
            return "IB lost its connection to the exchange (1100)"
        return self.farm_down

    def assess(
        self, stale: tuple[Feed, ...], *, syncing: bool, blocked: str | None, now: int
    ) -> HealthChanged | None:
        """The health to show now, kept as ``current``; None when only its time would change.
        ``stale``: the feeds gone silent; ``syncing``: entries wait for a reconciliation,
        ``blocked`` says why."""
        state, reason, cause, retry_in = self.state, self.reason, "", self.retry_in
        connected = state in CONNECTED
        if self.waiting is not None and not connected:
            state = ConnectionState.RECONNECTING
            reason, retry_in = self.waiting
        stale = stale if connected else ()
        degraded = self.degraded()
        down = ""  # IB's word that no market data comes now, in two words
        if connected and degraded is not None:
            down = "exchange link down" if self.link_down else "data farm down"
        if connected and syncing:
            state, reason, cause = ConnectionState.SYNCING, blocked or "starting", "reconciling"
        elif degraded is not None and connected:
            state, reason, cause = ConnectionState.DEGRADED, degraded, down
        elif stale and state is ConnectionState.OK:
            state, reason = ConnectionState.DEGRADED, "stale: " + ", ".join(stale)
            cause = "stale " + "+".join(stale)
        elif state is ConnectionState.DEGRADED:  # the broker's own: a (historical) data farm
            cause = "farm"
        health = HealthChanged(state, reason, stale, now, retry_in, cause, down)
        if replace(health, ts_ns=self.current.ts_ns) == self.current:  # the time, no change
            return None
        self.current = health
        return health
