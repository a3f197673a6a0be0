"""The trading core: everything that trades one instrument, built together, whole.

Once the broker has resolved the contract, the engine builds one :class:`TradingCore`: market
state, bars, the feed watchdog, the portfolio, the risk manager and the order manager, each
given its collaborators in its constructor (the order manager gets the risk manager's checks,
the journal's ``before_send`` and the position it trades against). Nothing in it is ever None
or attached afterwards; before the contract is known there is no core at all.

The core applies the broker's market, bar, execution and commission events to its parts and
emits what changed (the engine's pump hands them over in arrival order). At start it takes
back what earlier runs left (:meth:`TradingCore.restore`): the fills they journaled, known
before IB reports any again (so only fills new to this instance count as recovered), and the
orders they sent and never saw finished.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import Decimal

from tradeterm.broker.port import (
    Broker,
    CommissionEvent,
    ConnectionState,
    DepthEvent,
    ExecutionReport,
    QuoteEvent,
    TradeEvent,
)
from tradeterm.config import RiskConfig
from tradeterm.domain import ClientOrderIds, Fill, Instrument, Side
from tradeterm.engine.bar_builder import BarBuilder, BarUpdate
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.commands import PlaceOrder, Refused
from tradeterm.engine.events import (
    BarsChanged,
    EngineEvent,
    FillBooked,
    MarketChanged,
    PositionChanged,
)
from tradeterm.engine.health import CONNECTED, ConnectionHealth
from tradeterm.engine.marketdata import MarketState
from tradeterm.engine.order_manager import BeforeSend, OrderManager
from tradeterm.engine.order_tracking import SentOrder, could_fill
from tradeterm.engine.portfolio import Portfolio
from tradeterm.engine.pre_trade import RiskContext
from tradeterm.engine.queue_position import QueueEstimate
from tradeterm.engine.risk import RiskManager, RiskTransition
from tradeterm.engine.staleness import Feed, StalenessWatchdog
from tradeterm.engine.types import TradingState


class TradingCore:
    """See the module notes. ``link``: the connection as the engine last heard it (the risk
    manager's context); ``emit``: the engine's publish."""

    def __init__(
        self,
        instrument: Instrument,
        broker: Broker,
        ids: ClientOrderIds,
        *,
        risk: RiskConfig,
        calendar: SessionCalendar,
        clock: Callable[[], int],
        staleness: Mapping[Feed, float],
        link: ConnectionHealth,
        emit: Callable[[EngineEvent], None],
        on_transition: Callable[[RiskTransition], None],
        restored: RiskTransition | None = None,
        before_send: BeforeSend | None = None,
        recent_s: float = 5.0,
        watch_clock: Callable[[], int] | None = None,
        queue_truth: Callable[[int], int | None] | None = None,
    ) -> None:
        self.instrument = instrument
        self.calendar = calendar
        self._clock = clock
        self._link = link
        self._emit = emit
        self.market = MarketState(instrument, calendar=calendar, recent_s=recent_s, clock=clock)
        self.bars = BarBuilder(instrument)
        self.queue = QueueEstimate(queue_truth)  # where our resting limits stand in their queues
        self.watchdog = StalenessWatchdog(  # silence on ``watch_clock`` (a replay's played time)
            staleness, clock=watch_clock or clock, calendar=calendar
        )
        self.portfolio = portfolio = Portfolio(instrument, clock=clock, calendar=calendar)
        self.risk = manager = RiskManager(
            risk, calendar=calendar, clock=clock, restored=restored,
            on_transition=on_transition, instrument=instrument,
        )  # fmt: skip
        self.orders = OrderManager(
            broker, instrument, ids,
            position=lambda: portfolio.position,
            fills_of=portfolio.ledger.for_order,
            emit=emit, clock=clock,
            checks=(manager.as_check(self.risk_context),),
            on_action=manager.record_send,
            before_send=before_send,
            blocked="reconciling (start)",
        )  # fmt: skip

    def restore(
        self, fills: Sequence[tuple[Fill, Decimal | None]], sent: Sequence[SentOrder]
    ) -> None:
        """What earlier runs left (see the module notes): ``fills`` with their commissions,
        in execution order, then the orders ``sent`` (with their fills; the reconciliation
        finds out what became of them)."""
        for fill, commission in fills:
            self.portfolio.restore(fill, commission)
        if fills:
            self._emit(PositionChanged(self.portfolio.pnl()))
        for order in sent:
            self.orders.restore(order)

    def kill_to_finish(self) -> str | None:
        """Why the kill switch must run again at start, or None: restored REDUCING (a kill
        that had not finished), or HALTED with something still open at IB."""
        risk = self.risk
        if risk.state is TradingState.ACTIVE:
            return None
        open_ = self.portfolio.position.quantity != 0 or bool(self.orders.working())
        if risk.state is TradingState.REDUCING or open_:
            return f"restarted {risk.state} ({risk.state_reason}): finishing the kill"
        return None

    def refusal(self, cmd: PlaceOrder, without: Collection[str] = ()) -> str | None:
        """Why ``cmd`` would be refused now by the checks placing it applies, counted as if
        the orders ``without`` names (client ids) were gone; None: it would go (IB may still
        reject it). A strategy asks before it cancels its exits for a target: refused after
        them, the order would leave the position without its stop."""
        try:
            intent = self.orders.plain_intent(cmd, without)
        except Refused as exc:
            return str(exc)
        context = self.risk_context(without)
        return self.orders.refusal(intent, (lambda i: self.risk.check(i, context),))

    def risk_context(self, without: Collection[str] = ()) -> RiskContext:
        """What the risk manager checks an order against, now (the orders ``without`` names
        left out of the working ones)."""
        quote, last = self.market.quote, self.market.last
        working = [o for o in self.orders.working() if o.client_id not in without]
        link = self._link
        state, degraded = link.state, link.degraded()
        if state in CONNECTED:  # a broken HMDS farm is no reason to stop; stale data is
            state = ConnectionState.DEGRADED if degraded is not None else ConnectionState.OK
        return RiskContext(
            now_ns=self._clock(),
            position=self.portfolio.position.quantity,
            working_buy=could_fill(working, Side.BUY),
            working_sell=could_fill(working, Side.SELL),
            bid=quote.bid if quote is not None else None,
            ask=quote.ask if quote is not None else None,
            last=last.price if last is not None else None,
            connection=state,
            connection_reason=degraded or "",
            stale=tuple(str(f) for f in self.stale()),
        )

    def reference(self, side: Side) -> int | None:
        """The price a market entry is expected at: the touch it would take, else the last."""
        quote = self.market.quote
        if quote is not None:
            touch = quote.ask if side is Side.BUY else quote.bid
            if touch is not None:
                return touch
        return self.market.last.price if self.market.last is not None else None

    def stale(self) -> tuple[Feed, ...]:
        """The feeds gone silent past their threshold."""
        watchdog = self.watchdog
        return tuple(f for f in watchdog.thresholds if watchdog.is_stale(f))

    def feed_ages(self) -> tuple[tuple[Feed, float], ...]:
        watchdog = self.watchdog
        return tuple((feed, watchdog.data_age(feed)) for feed in watchdog.thresholds)

    # ---- the broker's events -------------------------------------------------------------

    def on_market(self, event: QuoteEvent | DepthEvent | TradeEvent) -> None:
        changes = self.market.apply(event)
        self.queue.on_market(event)
        watchdog = self.watchdog  # touched on its own clock
        if isinstance(event, TradeEvent):
            watchdog.touch(Feed.TRADES)
            if event.trade.size > 0:
                self.portfolio.on_mark(event.trade.price)
                self.on_bars(self.bars.on_trade(event.trade))
        elif isinstance(event, QuoteEvent):
            watchdog.touch(Feed.QUOTES)
        elif event.bids or event.asks:
            watchdog.touch(Feed.DEPTH)
        if changes:
            self._emit(MarketChanged(changes))

    def on_bars(self, updates: list[BarUpdate], feed: Feed | None = None) -> None:
        """Bars built or closed; ``feed``: the one that delivered them (its watchdog is
        touched)."""
        if feed is not None:
            self.watchdog.touch(feed)
        if updates:
            closed = sum(1 for u in updates if u.closed)
            self._emit(BarsChanged(self.bars.forming, closed))

    def on_commission(self, event: CommissionEvent) -> None:
        if self.portfolio.add_commission(event.exec_id, event.commission):
            self._emit(PositionChanged(self.portfolio.pnl()))

    def book(self, report: ExecutionReport) -> bool:
        """Book an execution once (by its id); True when it was new. Raises
        :class:`~tradeterm.domain.FillConflict` (not booked) when its id was booked with other
        facts."""
        orders, portfolio = self.orders, self.portfolio
        fill = orders.fill_of(report)
        if fill is None or not portfolio.add_fill(fill):
            return False
        orders.on_fill(fill)
        if fill.order_id is not None:
            self.risk.record_execution()
        self._emit(FillBooked(fill, fill.order_id is not None, report.historical))
        self._emit(PositionChanged(portfolio.pnl()))
        return True
