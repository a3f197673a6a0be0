"""The painter: what changed is marked, and a timer paints it from one engine snapshot.

Events never paint: the app marks the parts they changed (``ladder``, ``orders``,
``position``, ``risk``, ``strategy``, ``tape``, ``status``, ``account``; ``ladder-now`` for own orders, fills and health,
which paint at once) and :meth:`Painter.paint` runs at ``ui.paint_hz``, taking one snapshot
only when something is marked. Each part paints at the rate it deserves:

* the ladder's market data at ``ui.paint_hz``, within a terminal-output budget (bytes/s) for
  far rows only: at kHz market data every book level changes every paint, and over SSH bytes
  are latency, but the touch, the last trade, orders and the cursor are never held back; a
  far row waits at most ``ladder.HOLD_S`` (the status bar's age is then at least its age);
* the side panels (position, risk, strategy, status) at most at ``SIDE_PANELS_HZ``, the tape at
  ``TAPE_HZ`` (every print shifts every line), the chart at most every ``CHART_MIN_S``. The
  status bar's clock is painted with the tape, so the newest print is never later than the
  clock beside it (in a replay at x10 a second of paint lag is ten of the market's).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.screen import Screen

from tradeterm.engine.events import EngineSnapshot
from tradeterm.ui.banners import book_banner
from tradeterm.ui.dialogs import KillScreen
from tradeterm.ui.widgets.account_panel import AccountPanel
from tradeterm.ui.widgets.chart import ChartPanel
from tradeterm.ui.widgets.ladder import Ladder
from tradeterm.ui.widgets.orders_table import OrdersTable
from tradeterm.ui.widgets.position_panel import PositionPanel
from tradeterm.ui.widgets.risk_panel import RiskPanel
from tradeterm.ui.widgets.status import ScreenState, StatusPanel
from tradeterm.ui.widgets.strategy_panel import StrategyPanel
from tradeterm.ui.widgets.tape import TapePanel

SIDE_PANELS_HZ = 4.0  # position, risk, status: a human reads them at most this often
TAPE_HZ = 1.0  # every print shifts every tape line: the tape is the costliest panel to repaint
# Terminal output budget for the ladder's market data (bytes/s), one repainted cell being a
# cursor move, 24-bit colours and text (~80 bytes measured); own orders and fills paint at once.
BYTES_PER_CELL = 80
LADDER_BYTES_NARROW = 10_000
LADDER_BYTES_WIDE = 16_000
WIDE = 120
CHART_MIN_S = 0.5  # the chart redraws at most at 2 Hz (a plotext build costs ~15 ms)
PARTS = frozenset(
    {"ladder", "ladder-now", "orders", "position", "risk", "strategy", "tape", "status", "account"}
)


class Painter:
    """See the module notes. ``clock``: the screen's clock (ns; the status bar's time, the
    session, the ladder's banner)."""

    def __init__(self, paint_hz: float, clock: Callable[[], int]) -> None:
        self.paint_hz = paint_hz
        self.clock = clock
        self.dirty: set[str] = set()
        self.chart_due = False
        self.retry_at: float | None = None  # when the broker retries the connection
        self.first_paint_at: float | None = None
        self._last_side = 0.0
        self._last_tape = 0.0
        self._last_chart = 0.0
        self._credit = 0.0

    def mark(self, *parts: str) -> None:
        self.dirty.update(parts)

    def mark_all(self) -> None:
        self.dirty |= PARTS
        self.chart_due = True

    def status_now(self) -> None:
        """The status bar at the next paint, not at the side panels' rate (a key changed it)."""
        self.dirty.add("status")
        self._last_side = 0.0

    def retry_in(self) -> float | None:
        """Seconds to the broker's next reconnect attempt, when one is scheduled."""
        return max(self.retry_at - time.monotonic(), 0.0) if self.retry_at else None

    def paint_status(
        self, main: Screen[None], snap: EngineSnapshot | None, state: ScreenState
    ) -> None:
        """The status bar; its data age is the ladder's when the ladder shows older data than
        the engine holds (rows the byte budget held back)."""
        lag = main.query_one(Ladder).lag_s()
        main.query_one(StatusPanel).show_snapshot(snap, state, self.clock(), self.retry_in(), lag)

    def paint(
        self,
        main: Screen[None],
        snapshot: Callable[[], EngineSnapshot],
        state: ScreenState,
        kill: KillScreen | None,
    ) -> None:
        """Paint what is marked on ``main`` from one ``snapshot()``; ``kill``: the kill switch's
        screen when it is up (it shows the position and orders as they are now)."""
        dirty, self.dirty = self.dirty, set()
        now = time.monotonic()
        side_due = now - self._last_side >= 1 / SIDE_PANELS_HZ
        if not dirty and not self.chart_due:
            return
        snap = snapshot()
        failed: list[Exception] = []  # one panel's failure never freezes the others

        def part(paint: Callable[..., object], *args: object) -> None:
            try:
                paint(*args)
            except Exception as exc:  # said by the app (raised below), once the rest is shown
                failed.append(exc)

        if kill is not None:
            part(kill.show_now, snap.pnl.quantity if snap.pnl else 0, snap.orders)
        if "ladder" in dirty:
            part(self._paint_ladder, main, snap, dirty)
        if "orders" in dirty:
            part(lambda: main.query_one(OrdersTable).show_snapshot(snap))
        side = dirty & {"position", "risk", "strategy", "tape", "status", "account"}
        if side and not side_due:
            self.dirty |= side  # later, at the side panels' rate
        elif side:
            self._last_side = now
            if "position" in side:
                part(lambda: main.query_one(PositionPanel).show_snapshot(snap))
            if "risk" in side or "position" in side:
                part(lambda: main.query_one(RiskPanel).show_snapshot(snap))
            if side & {"strategy", "position", "risk"}:  # its open P&L moves with the mark
                part(lambda: main.query_one(StrategyPanel).show_snapshot(snap))
            if "account" in side:
                part(lambda: main.query_one(AccountPanel).show_snapshot(snap))
            if "tape" in side and now - self._last_tape < 1 / TAPE_HZ:
                self.dirty.add("tape")
            elif "tape" in side and snap.market is not None:
                self._last_tape = now
                part(lambda: main.query_one(TapePanel).show_snapshot(snap))
                side.add("status")  # the tape's times and the clock read at one moment
            if "status" in side:
                part(self.paint_status, main, snap, state)
        if self.chart_due and now - self._last_chart >= CHART_MIN_S:
            self.chart_due = False
            self._last_chart = now
            for chart in main.query(ChartPanel):  # the one shown draws (the other is folded)
                part(chart.show_snapshot, snap)
        if failed:
            raise failed[0]

    def _paint_ladder(self, main: Screen[None], snap: EngineSnapshot, dirty: set[str]) -> None:
        """The terminal-output budget: every paint shows the rows that matter (the inside
        market, the last trade, orders, the cursor: ``Ladder._update``) whatever they cost, the
        other rows as the bytes left allow (held back, they are marked dirty again and their
        age, the ladder's ``lag_s``, is in the status bar's age); own orders, fills, health
        (``ladder-now``) paint every row at once. The debt a whole repaint leaves is at most one paint's bytes: it holds the
        far rows back one paint, never seconds."""
        budget = LADDER_BYTES_WIDE if main.size.width >= WIDE else LADDER_BYTES_NARROW
        per_paint = budget / self.paint_hz
        self._credit = min(self._credit + per_paint, budget / 2)
        lad = main.query_one(Ladder)
        cells = lad.painted_cells
        allowed = None if "ladder-now" in dirty else max(int(self._credit // BYTES_PER_CELL), 0)
        lad.show_snapshot(snap, book_banner(snap, self.clock(), self.retry_in()), allowed)
        self._credit = max(self._credit - (lad.painted_cells - cells) * BYTES_PER_CELL, -per_paint)
        if lad.holding:
            self.dirty.add("ladder")  # the rows held back: the next paint
        if self.first_paint_at is None:
            self.first_paint_at = time.monotonic()
