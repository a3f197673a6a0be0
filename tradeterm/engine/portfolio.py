"""Position and P&L of the one instrument this engine trades.

* Every execution goes through the :class:`~tradeterm.domain.FillLedger` (keyed by IB's
  ``execId``): a fill seen again (live, then from ``reqExecutions`` after a reconnect) is
  never applied twice, whatever order fills arrive in; one seen again with other facts raises
  :class:`~tradeterm.domain.FillConflict`.
* At start the fills earlier runs journaled go through :meth:`Portfolio.restore` first: IB
  reporting one again is then no new fill, and today's fills count in today's P&L even
  when IB no longer reports them (a new gateway, a restart after midnight).
* P&L is exact: integer tick-contracts for realized and unrealized, ``Decimal`` money,
  commissions as IB reports them (after the fill, separately).
* The trading day starts at the CME session open (17:00 US/Central): daily P&L is realized
  since the open, plus the change in unrealized P&L since the open (a position carried over is
  valued at the mark when the new day began), minus today's commissions.
* The broker's position is the final word (IB failure #5): the reconciliation compares it
  with the ledger's (``engine/reconcile.py``), and :meth:`Portfolio.adopt` replaces ours when
  they differ (the engine turns that into an event the user sees).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from tradeterm.domain import Fill, FillLedger, Instrument, Position, nearest_tick
from tradeterm.engine.calendar import CME, SessionCalendar

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PnL:
    """The P&L of the position at one mark. Money in the instrument's currency; ``*_ticks``
    are tick-contracts (ES: 4 ticks on 2 contracts = 8); ``open_ticks`` is per contract (the
    mark against the average price: what a ladder shows)."""

    quantity: int
    avg_price: Fraction | None  # ticks
    mark: int | None
    realized: Decimal
    unrealized: Decimal
    realized_ticks: int
    unrealized_ticks: int
    open_ticks: Fraction | None
    commissions: Decimal
    daily: Decimal  # today's net: realized + unrealized change - commissions, since 17:00 CT
    day_commissions: Decimal
    session_open_ns: int | None

    @property
    def net(self) -> Decimal:
        """Everything since this engine began: realized + unrealized - commissions."""
        return self.realized + self.unrealized - self.commissions


class Portfolio:
    """Fills, position, commissions and daily P&L of ``instrument``."""

    __slots__ = (
        "_calendar",
        "_clock",
        "_day_carry",
        "_day_commissions",
        "_day_open",
        "_day_realized",
        "commissions",
        "instrument",
        "ledger",
        "mark",
        "position",
    )

    def __init__(
        self,
        instrument: Instrument,
        *,
        clock: Callable[[], int],
        calendar: SessionCalendar = CME,
    ) -> None:
        self.instrument = instrument
        self.ledger = FillLedger()
        self.position = Position(instrument)
        self.commissions = ZERO
        self.mark: int | None = None
        self._clock = clock
        self._calendar = calendar
        self._day_open: int | None = None
        self._day_realized = 0
        self._day_carry = 0  # unrealized tick-contracts of the carried position at the open
        self._day_commissions = ZERO

    # ---- inputs --------------------------------------------------------------------------

    def on_mark(self, price: int) -> None:
        """The last trade price (what unrealized P&L is marked at)."""
        self._roll_day()
        self.mark = price

    def add_fill(self, fill: Fill) -> bool:
        """Book ``fill`` once: True if it was new (and changed the position)."""
        if fill.instrument != self.instrument or not self.ledger.add(fill):
            return False
        self._roll_day()
        self.position.apply_fill(fill)
        if self.mark is None:
            self.mark = fill.price
        commission = self.ledger.commission(fill.exec_id)
        if commission is not None:  # it came first
            self._count_commission(fill, commission)
        return True

    def restore(self, fill: Fill, commission: Decimal | None) -> None:
        """A fill an earlier run journaled. Known from now on; booked into the position and
        P&L only when it belongs to the current trading day (an earlier day's fills are in
        the position IB carries in, and not in today's P&L)."""
        if fill.instrument != self.instrument:
            return
        self._roll_day()
        assert self._day_open is not None
        if commission is not None:
            self.ledger.set_commission(fill.exec_id, commission)
        if fill.ts_ns >= self._day_open:
            self.add_fill(fill)
        else:
            self.ledger.add(fill)

    def add_commission(self, exec_id: str, amount: Decimal) -> bool:
        """IB's commission for an execution (it may arrive before or after the fill, and more
        than once). True if it changed the totals."""
        known = self.ledger.commission(exec_id)
        if known == amount:
            return False
        self.ledger.set_commission(exec_id, amount)
        fill = self.ledger.get(exec_id)
        if fill is None:
            return False  # counted when its fill arrives
        # a correction counts the difference, on the day of its fill
        self._count_commission(fill, amount - known if known is not None else amount)
        return True

    def _count_commission(self, fill: Fill, amount: Decimal) -> None:
        self.commissions += amount
        if self._day_open is None or fill.ts_ns >= self._day_open:
            self._day_commissions += amount

    # ---- the broker's word -----------------------------------------------------------------

    def adopt(self, quantity: int, avg_cost: Decimal) -> None:
        """Take the broker's position as ours (at IB's average cost, to the nearest tick),
        keeping the P&L realized so far."""
        realized = self.position.realized
        price = 0
        if quantity:
            price = nearest_tick(avg_cost / self.instrument.multiplier, self.instrument.tick)
        self.position = Position.opened(self.instrument, quantity, price)
        self.position.realized = realized
        if self.mark is None and quantity:
            self.mark = price

    # ---- the trading day -------------------------------------------------------------------

    def _roll_day(self) -> None:
        now = self._clock()
        opened = self._calendar.session_open_ns(now)
        if opened == self._day_open:
            return
        self._day_open = opened
        self._day_realized = self.position.realized
        mark = self.mark
        self._day_carry = self.position.unrealized(mark) if mark is not None else 0
        self._day_commissions = ZERO

    def pnl(self) -> PnL:
        self._roll_day()
        pos, inst, mark = self.position, self.instrument, self.mark
        unrealized = pos.unrealized(mark) if mark is not None else 0
        avg = pos.avg_price
        daily_ticks = (pos.realized - self._day_realized) + (unrealized - self._day_carry)
        return PnL(
            quantity=pos.quantity,
            avg_price=avg,
            mark=mark,
            realized=inst.money(pos.realized),
            unrealized=inst.money(unrealized),
            realized_ticks=pos.realized,
            unrealized_ticks=unrealized,
            open_ticks=(mark - avg) * (1 if pos.quantity > 0 else -1)
            if avg is not None and mark is not None
            else None,
            commissions=self.commissions,
            daily=inst.money(daily_ticks) - self._day_commissions,
            day_commissions=self._day_commissions,
            session_open_ns=self._day_open,
        )
