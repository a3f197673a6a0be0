"""The risk manager's pure core: trading states, pre-trade checks, sizing and loss limits (the
checks of an order's price against the book, and what a check sees, are in ``pre_trade.py``).

Plain logic: no asyncio, no I/O. Times are UTC nanoseconds, passed in (``now_ns``) or read
from the injected ``clock``; money is exact ``Decimal``; prices are integer ticks. The engine
wires it: it feeds :meth:`RiskManager.check` to the order manager's ``checks``, records what
it sends and what fills, passes every P&L and the account's daily P&L, journals and publishes
the :class:`RiskTransition` s, and runs the kill switch on a ``kill`` :class:`RiskEvent`.

**Trading states.** ACTIVE (everything the checks allow), REDUCING (only orders that reduce
the position), HALTED (no order passes :meth:`RiskManager.check`; cancels and the kill
switch's own flatten do not go through the checks at all). Every change is a
:class:`RiskTransition` with its reason and time, kept in ``transitions`` and passed to
``on_transition``. Tightening is always allowed and idempotent (:meth:`~RiskManager.halt`,
:meth:`~RiskManager.reduce`; reducing a HALTED manager leaves it HALTED). Loosening is only
:meth:`~RiskManager.rearm`: it needs a typed reason, waits ``rearm_cooldown_s`` after a halt,
and is refused while a loss limit is breached in the current session (the limits reset at the
next session open, 17:00 US/Central). A HALTED state is restored at construction from the last
journaled transition or the halt latch (``restored``) and stays HALTED, with the cooldown
counted from the original halt.

**Loss limits** (:meth:`~RiskManager.on_pnl`, :meth:`~RiskManager.on_account_pnl`): a
``kill`` event when the day's P&L (realized + unrealized + commissions, ``PnL.daily``) is at or
below ``-daily_loss_limit``, or when it is ``max_drawdown`` or more below the session's peak;
a ``warning`` once per session when a limit is ``warn_fraction`` used. A kill also moves an
ACTIVE manager to REDUCING at once, so no entry slips in while the kill switch runs (the kill
switch halts when flat). Each warning is reported once per session; the first kill is the last
event of the session (a second limit hit after it changes nothing). Everything resets at the
session open.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import floor

from tradeterm.broker.port import ConnectionState
from tradeterm.config import RiskConfig
from tradeterm.domain import Instrument, decimal_from
from tradeterm.engine.calendar import CME, NS, SessionCalendar
from tradeterm.engine.commands import Refused
from tradeterm.engine.order_manager import OrderIntent, PreTradeCheck
from tradeterm.engine.portfolio import PnL
from tradeterm.engine.pre_trade import RiskContext, fat_finger, not_resting
from tradeterm.engine.types import RiskEventKind, TradingState

RATE_WINDOW_NS = NS
"""The order-rate limit counts sends in the last second."""
EFFICIENCY_WARN_RATIO = 20
"""IB reviews accounts whose order actions per execution exceed this (its order-efficiency
ratio)."""


@dataclass(frozen=True, slots=True)
class RiskTransition:
    """The trading state changed from ``from_state`` to ``to_state`` at ``ts_ns``."""

    from_state: TradingState
    to_state: TradingState
    reason: str
    ts_ns: int

    def event(self) -> RiskEvent:
        return RiskEvent(
            RiskEventKind.TRANSITION,
            f"{self.from_state} -> {self.to_state}: {self.reason}",
            self.ts_ns,
            "state",
        )


@dataclass(frozen=True, slots=True)
class RiskEvent:
    """Something the engine must act on or show. ``rule`` names the limit or check
    (``daily_loss``, ``drawdown``, ``account_daily_loss``, ``rearm``, ``state``)."""

    kind: RiskEventKind
    reason: str
    ts_ns: int
    rule: str = ""


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _duration(ns: int) -> str:
    seconds = max(0, -(-ns // NS))  # rounded up: never say 0 s while time is left
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class RiskManager:
    """Trading state, pre-trade checks, sizing and loss limits of one instance (see the module
    notes). ``restored``: the last journaled transition, whose target state is taken as the
    current one (a HALTED state latches across restarts)."""

    def __init__(
        self,
        config: RiskConfig,
        *,
        calendar: SessionCalendar = CME,
        clock: Callable[[], int] = time.time_ns,
        restored: RiskTransition | None = None,
        on_transition: Callable[[RiskTransition], None] | None = None,
        instrument: Instrument | None = None,
    ) -> None:
        self.config = config
        self.instrument = instrument  # to word prices in refusals (else ticks)
        self.calendar = calendar
        self.clock = clock
        self.on_transition = on_transition
        self.transitions: list[RiskTransition] = []
        self._state = TradingState.ACTIVE
        self._reason = ""
        self._since_ns: int | None = None
        self._halted_at: int | None = None
        if restored is not None:
            self._state = restored.to_state
            self._reason = restored.reason
            self._since_ns = restored.ts_ns
            if restored.to_state is TradingState.HALTED:
                self._halted_at = restored.ts_ns
        # order rate and efficiency
        self._sends: deque[int] = deque()
        self._actions = 0
        self._executions = 0
        self._counters_session: int | None = None
        # loss limits, per session
        self._session: int | None = None
        self._peak = Decimal(0)
        self._daily = Decimal(0)
        self._warned: set[str] = set()  # rules warned about this session
        self._breach: str | None = None  # the limit hit this session (blocks re-arm)

    # ---- state -------------------------------------------------------------------------------

    @property
    def state(self) -> TradingState:
        return self._state

    @property
    def state_reason(self) -> str:
        return self._reason

    @property
    def state_since_ns(self) -> int | None:
        return self._since_ns

    def _now(self, now_ns: int | None) -> int:
        return self.clock() if now_ns is None else now_ns

    def _move(self, to: TradingState, reason: str, now: int) -> RiskTransition:
        transition = RiskTransition(self._state, to, reason, now)
        self._state, self._reason, self._since_ns = to, reason, now
        self._halted_at = now if to is TradingState.HALTED else None
        self.transitions.append(transition)
        if self.on_transition is not None:
            self.on_transition(transition)
        return transition

    def halt(self, reason: str, now_ns: int | None = None) -> RiskTransition | None:
        """To HALTED (the kill switch calls this once flat). None when already HALTED: the
        first halt's reason and time (and so the cooldown) stand."""
        if self._state is TradingState.HALTED:
            return None
        return self._move(TradingState.HALTED, reason.strip() or "halted", self._now(now_ns))

    def reduce(self, reason: str, now_ns: int | None = None) -> RiskTransition | None:
        """ACTIVE to REDUCING. None when already REDUCING or HALTED (stricter: stays)."""
        if self._state is not TradingState.ACTIVE:
            return None
        return self._move(TradingState.REDUCING, reason.strip() or "reducing", self._now(now_ns))

    def rearm_refusal(self, reason: str, now_ns: int | None = None) -> str | None:
        """Why :meth:`rearm` would be refused now, or None."""
        now = self._now(now_ns)
        if self._state is TradingState.ACTIVE:
            return "trading is already active"
        if not reason.strip():
            return "re-arming needs a reason: type why trading may resume"
        if self._breach is not None and self._session == self.calendar.session_open_ns(now):
            reopen = self.calendar.next_open_ns(now)
            return (
                f"re-arm refused: {self._breach} this session; the limits reset at the "
                f"session open {self._local(reopen)}"
            )
        if self._halted_at is not None:
            ready = self._halted_at + self.config.rearm_cooldown_s * NS
            if now < ready:
                return (
                    f"re-arm refused: cooling down after the halt, {_duration(ready - now)} "
                    f"left (cooldown {self.config.rearm_cooldown_s} s)"
                )
        return None

    def rearm(self, reason: str, now_ns: int | None = None) -> RiskTransition:
        """Back to ACTIVE from REDUCING or HALTED. Raises :class:`Refused` (the reason worded
        for the user) when already ACTIVE, when ``reason`` is blank, while a loss limit hit in
        this session stands, or (after a halt) before ``rearm_cooldown_s`` has passed since
        the halt; exactly at the end of the cooldown it is allowed."""
        now = self._now(now_ns)
        refusal = self.rearm_refusal(reason, now)
        if refusal is not None:
            raise Refused(refusal)
        return self._move(TradingState.ACTIVE, reason.strip(), now)

    def _local(self, ts_ns: int) -> str:
        local = dt.datetime.fromtimestamp(ts_ns // NS, self.calendar.tz)
        return local.strftime("%a %H:%M %Z")

    # ---- pre-trade checks --------------------------------------------------------------------

    def check(self, intent: OrderIntent, ctx: RiskContext) -> str | None:
        """A refusal reason worded for the user, or None when ``intent`` may be sent.

        Rules, in order (the first that refuses gives the reason):

        1. HALTED refuses everything; REDUCING refuses entries.
        2. The quantity must be positive and at most ``max_order_qty``.
        3. Entries only while the connection is OK and no feed is stale.
        4. Entries not within ``no_entry_before_break_min`` minutes of the next break or
           session close: refused while ``next_break - now < N minutes``, so exactly N
           minutes before is still allowed.
        5. Entries: ``|position + same-side working + quantity| <= max_position``.
        6. An order sent to rest must rest, every such order (see :meth:`not_resting`).
        7. Fat-finger band, every priced order (see :meth:`fat_finger`).
        8. Order rate: at most ``max_orders_per_s`` sends (:meth:`record_send`) in the last
           second, this one included.

        An order is an entry when ``intent.entry`` says so or when, counting the working
        orders on its side, it could not only reduce the position in ``ctx``.
        """
        cfg = self.config
        entry = intent.entry or not _reduces(intent, ctx)
        if self._state is TradingState.HALTED:
            return f"trading is HALTED ({self._reason}): no orders until re-armed"
        if self._state is TradingState.REDUCING and entry:
            return (
                f"trading is REDUCING ({self._reason}): only orders that reduce the "
                "position are allowed"
            )
        if intent.quantity <= 0:
            return f"quantity must be positive, got {intent.quantity}"
        if intent.quantity > cfg.max_order_qty:
            return f"order quantity {intent.quantity} is above the maximum of {cfg.max_order_qty}"
        if entry:
            reason = self._entry_refusal(intent, ctx)
            if reason is not None:
                return reason
        reason = self.not_resting(intent, ctx) or self.fat_finger(intent, ctx, entry=entry)
        if reason is not None:
            return reason
        return self._rate_refusal(ctx.now_ns)

    def _entry_refusal(self, intent: OrderIntent, ctx: RiskContext) -> str | None:
        cfg = self.config
        if ctx.connection is not ConnectionState.OK:
            why = f": {ctx.connection_reason}" if ctx.connection_reason else ""
            return f"no new entries while the connection is {ctx.connection}{why}"
        if ctx.stale:
            return f"no new entries while market data is stale ({', '.join(ctx.stale)})"
        if cfg.no_entry_before_break_min:
            now = ctx.now_ns
            brk = self.calendar.next_break_ns(now)
            if brk - now < cfg.no_entry_before_break_min * 60 * NS:
                return (
                    f"no new entries within {cfg.no_entry_before_break_min} min of the "
                    f"session break at {self._local(brk)} ({_duration(brk - now)} left)"
                )
        working = ctx.working(intent.side)
        after = ctx.position + intent.side.sign * (working + intent.quantity)
        if abs(after) > cfg.max_position:
            return (
                f"maximum position is {cfg.max_position}: position {ctx.position}, "
                f"{self._this(intent, working)} would make "
                f"{abs(after)} {'long' if after > 0 else 'short'}"
            )
        return None

    def _this(self, intent: OrderIntent, working: int) -> str:
        """The working orders and the order checked, in the words of the position limit's
        refusal: a modification names the order as it would be after the change (it is not
        among the working ones), a new order its quantity."""
        if intent.modifies is None:
            return f"{working} working {intent.side} and this {intent.quantity}"
        price = intent.limit if intent.limit is not None else intent.stop
        at = f" {self._price(price)}" if price is not None else ""
        return (f"{working} other working {intent.side} and this order changed to "
                f"{intent.side} {intent.quantity} {intent.order_type}{at}")  # fmt: skip

    def not_resting(self, intent: OrderIntent, ctx: RiskContext) -> str | None:
        """Why an order sent to rest would not (``pre_trade.not_resting``), or None."""
        return not_resting(intent, ctx, self._price)

    def _price(self, ticks: int) -> str:
        return self.instrument.format_price(ticks) if self.instrument else f"{ticks} ticks"

    def fat_finger(
        self, intent: OrderIntent, ctx: RiskContext, *, entry: bool = True
    ) -> str | None:
        """The hard price band of ``fat_finger_ticks`` (``pre_trade.fat_finger``), or None."""
        return fat_finger(intent, ctx, self.config.fat_finger_ticks, entry=entry)

    def as_check(self, context: Callable[[Collection[str]], RiskContext]) -> PreTradeCheck:
        """:meth:`check` as an ``OrderManager.checks`` entry, with the context built by
        ``context`` when an order is checked, without the order a modification changes
        (``OrderIntent.others``)."""
        return lambda intent: self.check(intent, context(intent.others))

    # ---- order rate and IB's order-efficiency ratio -----------------------------------------

    def _rate_refusal(self, now: int) -> str | None:
        self._expire(now)
        if len(self._sends) + 1 > self.config.max_orders_per_s:
            return (
                f"order rate limit: {len(self._sends)} orders sent in the last second "
                f"(at most {self.config.max_orders_per_s:g}/s); try again in a moment"
            )
        return None

    def _expire(self, now: int) -> None:
        sends = self._sends
        while sends and sends[0] <= now - RATE_WINDOW_NS:
            sends.popleft()

    def orders_in_last_second(self, now_ns: int | None = None) -> int:
        now = self._now(now_ns)
        self._expire(now)
        return len(self._sends)

    def record_send(self, now_ns: int | None = None) -> None:
        """One order message (create, modify or cancel) went to IB: it counts toward the
        rate limit for one second and as one action of the order-efficiency ratio."""
        now = self._now(now_ns)
        self._roll_counters(now)
        self._sends.append(now)
        self._actions += 1

    def record_execution(self, now_ns: int | None = None) -> None:
        """One execution (fill) of ours: the denominator of the order-efficiency ratio."""
        self._roll_counters(self._now(now_ns))
        self._executions += 1

    def _roll_counters(self, now: int) -> None:
        opened = self.calendar.session_open_ns(now)
        if opened != self._counters_session:
            self._counters_session = opened
            self._actions = self._executions = 0

    @property
    def order_actions(self) -> int:
        return self._actions

    @property
    def executions(self) -> int:
        return self._executions

    @property
    def efficiency_ratio(self) -> Fraction:
        """Order actions (create + modify + cancel) per execution this session, as IB counts
        its order-efficiency ratio; with no execution yet, the actions themselves."""
        return Fraction(self._actions, max(1, self._executions))

    @property
    def efficiency_warning(self) -> bool:
        """The ratio is above IB's 20."""
        return self.efficiency_ratio > EFFICIENCY_WARN_RATIO

    # ---- sizing ------------------------------------------------------------------------------

    def size(
        self,
        equity: Decimal,
        risk_pct: Decimal | float | None,
        stop_ticks: int,
        instrument: Instrument,
    ) -> int:
        """Contracts for a strategy order: ``floor(equity x risk% / (stop distance x
        multiplier))`` with the stop distance ``stop_ticks x tick`` in price, capped by
        ``max_position``; 0 when the stop distance or the equity is not positive. Exact
        (no float enters: a float ``risk_pct`` is read as the decimal it prints as).
        ``risk_pct`` None: the configured ``risk_per_trade_pct``."""
        pct = decimal_from(self.config.risk_per_trade_pct if risk_pct is None else risk_pct)
        if stop_ticks <= 0 or equity <= 0 or pct <= 0:
            return 0
        budget = Fraction(equity) * Fraction(pct) / 100
        per_contract = stop_ticks * Fraction(instrument.tick) * Fraction(instrument.multiplier)
        return min(floor(budget / per_contract), self.config.max_position)

    # ---- loss limits -------------------------------------------------------------------------

    @property
    def peak(self) -> Decimal:
        """The session's highest daily P&L so far (0 at the open)."""
        return self._peak

    @property
    def drawdown(self) -> Decimal:
        return self._peak - self._daily

    def _roll_session(self, now: int) -> int:
        opened = self.calendar.session_open_ns(now)
        if opened != self._session:
            self._session = opened
            self._peak = self._daily = Decimal(0)
            self._warned.clear()
            self._breach = None
        return opened

    def on_pnl(self, pnl: PnL, now_ns: int | None = None) -> list[RiskEvent]:
        """Evaluate this instance's limits on ``pnl`` (``pnl.daily`` is realized + unrealized
        change + commissions since the session open). A P&L of an earlier session than
        ``now`` is ignored. Returns the new warnings and kills (each once per session)."""
        now = self._now(now_ns)
        opened = self._roll_session(now)
        if pnl.session_open_ns is not None and pnl.session_open_ns < opened:
            return []
        cfg = self.config
        daily = pnl.daily
        self._daily = daily
        self._peak = max(self._peak, daily)
        events: list[RiskEvent] = []
        self._limit(
            events, "daily_loss", -daily, cfg.daily_loss_limit, now,
            f"daily loss limit: today's P&L {_money(daily)}",
        )  # fmt: skip
        self._limit(
            events, "drawdown", self._peak - daily, cfg.max_drawdown, now,
            f"drawdown limit: {_money(self._peak - daily)} below the session's peak "
            f"{_money(self._peak)}",
        )  # fmt: skip
        return events

    def on_account_pnl(self, daily: Decimal, now_ns: int | None = None) -> list[RiskEvent]:
        """The account-wide guard: IB's account-level daily P&L against
        ``account_daily_loss_limit`` (nothing when it is not set). Every instance on the
        account sees the same figure, so all of them kill when it is hit."""
        limit = self.config.account_daily_loss_limit
        if limit is None:
            return []
        now = self._now(now_ns)
        self._roll_session(now)
        events: list[RiskEvent] = []
        self._limit(
            events, "account_daily_loss", -daily, limit, now,
            f"account daily loss limit: the account's P&L today {_money(daily)}",
        )  # fmt: skip
        return events

    def _limit(
        self, events: list[RiskEvent], rule: str, used: Decimal, limit: Decimal, now: int,
        what: str,
    ) -> None:  # fmt: skip
        if self._breach is not None:
            return  # killed already this session: nothing more to say until the open
        if used >= limit:
            reason = f"{what} reached the limit of {_money(limit)}"
            self._breach = reason
            events.append(RiskEvent(RiskEventKind.KILL, reason, now, rule))
            self.reduce(f"kill: {reason}", now)
            return
        warn_at = limit * decimal_from(self.config.warn_fraction)
        if used >= warn_at and rule not in self._warned:
            self._warned.add(rule)
            reason = f"{what} is {used / limit:.0%} of the limit of {_money(limit)}"
            events.append(RiskEvent(RiskEventKind.WARNING, reason, now, rule))


def _reduces(intent: OrderIntent, ctx: RiskContext) -> bool:
    """Whether ``intent``, with the working orders on its side filled first, can only shrink
    the position."""
    total = intent.quantity + ctx.working(intent.side)
    return (
        intent.quantity > 0 and ctx.position * intent.side.sign < 0 and total <= abs(ctx.position)
    )
