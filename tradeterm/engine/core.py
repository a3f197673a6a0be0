"""The trading core: everything that trades one instrument, built together, whole.

Once the broker has resolved the contract, the engine builds one :class:`TradingCore`: market
state, bars, the feed watchdog, the portfolio, the risk manager and the order manager, each
given its collaborators in its constructor (the order manager gets the risk manager's checks,
the journal's ``before_send`` and the position it trades against). Nothing in it is ever None
or attached afterwards; before the contract is known there is no core at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from tradeterm.broker.port import Broker, ConnectionState
from tradeterm.config import RiskConfig
from tradeterm.domain import ClientOrderIds, Instrument, Side
from tradeterm.engine.bar_builder import BarBuilder
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.events import EngineEvent
from tradeterm.engine.health import CONNECTED, ConnectionHealth
from tradeterm.engine.marketdata import Feed, MarketState, StalenessWatchdog
from tradeterm.engine.order_manager import BeforeSend, OrderManager
from tradeterm.engine.portfolio import Portfolio
from tradeterm.engine.risk import RiskContext, RiskManager, RiskTransition


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
    ) -> None:
        self.instrument = instrument
        self.calendar = calendar
        self._clock = clock
        self._link = link
        self.market = MarketState(instrument, calendar=calendar)
        self.bars = BarBuilder(instrument)
        self.watchdog = StalenessWatchdog(staleness, clock=clock, calendar=calendar)
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
            price_check=lambda i: manager.fat_finger(i, self.risk_context(), entry=i.entry),
            on_action=manager.record_send,
            before_send=before_send,
            blocked="reconciling (start)",
        )  # fmt: skip

    def risk_context(self) -> RiskContext:
        """What the risk manager checks an order against, now."""
        quote, last = self.market.quote, self.market.last
        working = self.orders.working()
        link = self._link
        state, degraded = link.state, link.degraded()
        if state in CONNECTED:  # a broken HMDS farm is no reason to stop; stale data is
            state = ConnectionState.DEGRADED if degraded is not None else ConnectionState.OK
        return RiskContext(
            now_ns=self._clock(),
            position=self.portfolio.position.quantity,
            working_buy=sum(o.remaining for o in working if o.side is Side.BUY),
            working_sell=sum(o.remaining for o in working if o.side is Side.SELL),
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

    def feed_ages(self, now: int) -> tuple[tuple[Feed, float], ...]:
        watchdog = self.watchdog
        return tuple((feed, watchdog.data_age(feed, now)) for feed in watchdog.thresholds)
