"""Bar mode: a strategy run over 1-minute bars, synchronously, on the live code's pieces.

The strategy is called as the live runner calls it (``on_start``; ``on_bar`` after each
closed bar, ``ctx.bars`` the bars so far and ``ctx.now_ns`` the bar's end; ``on_fill`` for its
fills; ``on_stop`` last) with no event loop and no thread. Its intents go to a
:class:`~tradeterm.paper.track.PaperTrack`, the code CANARY fills intents with: a target is a
market order for the difference, an entry signal a bracket sized by
:meth:`RiskManager.size <tradeterm.engine.risk.RiskManager.size>` (``spec.equity``, the
market's ``risk_per_trade_pct``, capped by ``max_position``); a target that reduces a
bracketed position first cancels the bracket's exits, as the live runner does.

**Fills.** An order sent at ``t`` (a bar's end, or a fill's time) reaches the market at ``t +
latency``: in bar mode at the open of the first bar that starts at or after it. There the fill
model is shown a book at the open, one level a side, ``bid = open - slippage``, ``ask = open
+ slippage``, a large size, so a market order fills at the open plus or minus the slippage, against us. With
``fill=close`` and no latency an order sent on a bar's close fills at that close (the same
quote at the close). Working stops and limits (a bracket's exits, a limit entry) fill on the
bar's path, the convention of ``sim/bar_market.py`` (open, nearer extreme, other extreme,
close, at +0/15/30/45 s), each point shown as that quote and then a trade at the point, and
on the way from one point to the next the working orders' prices it passes (the price moves
through them): a limit fills when the quote reaches it (at its price), a stop triggers on a
trade at or through it and fills against the quote there (at its stop price less the
slippage; at the open when the bar opens beyond it). The path is only walked on bars that can fill
something (a market order working, or a working order's trigger within the bar's range):
a bar with nothing to fill costs only the strategy's call.

A stop entry (``Entry.stop``) is placed as the track places it for CANARY: a limit at its
price.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from threading import Event
from typing import Any

from tradeterm.backtest.spec import BacktestError, BacktestResult, BacktestSpec, FillAt
from tradeterm.broker.port import DepthEvent, TradeEvent
from tradeterm.config import MarketConfig
from tradeterm.domain import Bar, DepthLevel, Fill, Instrument, OrderType, Side, Trade
from tradeterm.engine.risk import RiskManager
from tradeterm.paper.track import PaperTrack, TrackFill, TrackOrder
from tradeterm.sim.bar_market import bar_prints
from tradeterm.sim.market_events import BarPrint
from tradeterm.strategies import (
    BarsView,
    EntrySignal,
    Intent,
    Loaded,
    Strategy,
    StrategyContext,
    TargetPosition,
)

__all__ = ["BOOK_SIZE", "CHUNK", "Progress", "run_bars"]

MINUTE_NS = 60 * 1_000_000_000
BOOK_SIZE = 1_000_000
"""Contracts shown at the quote a bar's price is given as: our orders never run out of it."""
CHUNK = 4096
"""Bars between two progress reports (and two looks at the stop flag)."""

Progress = Callable[[int, int], None]


class _Run:
    """One bar-mode run's state (see the module notes)."""

    def __init__(self, spec: BacktestSpec, instrument: Instrument, loaded: Loaded,
                 market: MarketConfig, bars: list[Bar]) -> None:  # fmt: skip
        self.spec = spec
        self.instrument = instrument
        self.name = loaded.name
        self.strategy: Strategy[Any] = loaded.strategy
        self.bars = bars
        self.risk = RiskManager(market.risk, instrument=instrument)
        self.orders: list[TrackOrder] = []
        self.track = PaperTrack(orders=self.orders)
        self.fills: list[Fill] = []
        self.pending: list[tuple[int, str, Intent, int]] = []  # (arrival, intent id, intent, size)
        self.latency_ns = spec.latency_ms * 1_000_000
        self.slip = spec.slippage_ticks
        self.at_close = spec.fill is FillAt.CLOSE and not self.latency_ns
        self.ids = itertools.count(1)
        self.execs = itertools.count(1)
        self.done = 0  # bars through on_bar
        self.tells_fills = type(self.strategy).on_fill is not Strategy.on_fill

    # ---- the loop ----------------------------------------------------------------------------

    def run(self, progress: Progress | None, stop: Event | None) -> bool:
        """Every bar (or until ``stop`` is set: False)."""
        bars, instrument, track = self.bars, self.instrument, self.track
        on_bar, pending = self.strategy.on_bar, self.pending
        first = bars[0].start_ns if bars else 0
        self._hook("on_start", StrategyContext(first, instrument, 0, BarsView(bars, 0)))
        total = len(bars)
        for begin in range(0, total, CHUNK):
            if stop is not None and stop.is_set():
                return False
            for i in range(begin, min(begin + CHUNK, total)):
                bar = bars[i]
                if pending and pending[0][0] <= bar.start_ns:
                    self._arrive(bar)
                if track.working:
                    self._walk(bar)
                now = bar.start_ns + MINUTE_NS
                ctx = StrategyContext(now, instrument, track.position, BarsView(bars, i + 1))
                try:
                    intents = on_bar(ctx, bar)
                except Exception as exc:
                    raise self._fault("on_bar", exc, now) from None
                if intents:
                    self._send(intents, now, bar.close)
            self.done = min(begin + CHUNK, total)
            if progress is not None:
                progress(self.done, total)
        return True

    def finish(self) -> None:
        """``on_stop``: its intents are sent (with no bar left they stay unfilled)."""
        now = self.bars[self.done - 1].start_ns + MINUTE_NS if self.done else 0
        views = BarsView(self.bars, self.done)
        self._hook("on_stop", StrategyContext(now, self.instrument, self.track.position, views))

    # ---- intents into orders -----------------------------------------------------------------

    def _send(self, intents: Sequence[Intent], now: int, close: int) -> None:
        for intent in intents:
            if isinstance(intent, EntrySignal):
                size = self.risk.size(self.spec.equity, None, intent.stop_ticks, self.instrument)
                if size < 1:
                    continue  # the risk rules do not cover one contract: refused, as live
            elif isinstance(intent, TargetPosition):
                size = 0
            else:
                raise BacktestError(f"strategy {self.name} returned {intent!r}, not an intent")
            order = (now + self.latency_ns, f"i{next(self.ids)}", intent, size)
            if self.at_close:
                self._print(close, 1, now)
                self._place(order, now)
            else:
                self.pending.append(order)

    def _arrive(self, bar: Bar) -> None:
        """The orders that reach the market by ``bar``'s open are placed there, the market
        having traded at the open (a stop placed now triggers on this bar's prices, never on
        the last price an earlier bar's path left in the fill model)."""
        self._print(bar.open, 1, bar.start_ns)
        pending = self.pending
        while pending and pending[0][0] <= bar.start_ns:
            self._place(pending.pop(0), bar.start_ns)

    def _place(self, order: tuple[int, str, Intent, int], now: int) -> None:
        _, intent_id, intent, size = order
        track = self.track
        if isinstance(intent, TargetPosition):
            if intent.quantity * track.position < track.position * track.position:
                track.cancel_exits(now)  # it reduces, closes or reverses: the exits go first
            self._filled(track.target(intent_id, intent.quantity, now)[1])
        else:
            entry = intent.entry
            self._filled(track.bracket(intent_id, intent.side, size, entry.price,
                                       intent.stop_ticks, intent.target_ticks, now))  # fmt: skip

    # ---- the market --------------------------------------------------------------------------

    def _quote(self, price: int, ts_ns: int) -> None:
        """The book is one level a side: ``price`` less and plus the slippage."""
        slip = self.slip
        book = DepthEvent(ts_ns, (DepthLevel(price - slip, BOOK_SIZE),),
                          (DepthLevel(price + slip, BOOK_SIZE),))  # fmt: skip
        self._filled(self.track.on_market(book))

    def _walk(self, bar: Bar) -> None:
        """The bar's path, if it can fill something (see the module notes)."""
        if not self._reachable(bar):
            return
        track = self.track
        path = bar_prints(BarPrint(bar.start_ns, bar.open, bar.high, bar.low, bar.close,
                                   bar.volume))  # fmt: skip
        last = path[0][1]
        for ts, price, size in path:
            for level in self._levels_between(last, price):  # the way there passes them
                self._print(level, 1, ts)
            self._print(price, size, ts)
            last = price
            if not track.working:
                return

    def _print(self, price: int, size: int, ts: int) -> None:
        self._quote(price, ts)
        self._filled(self.track.on_market(TradeEvent(Trade(ts, price, max(size, 1)))))

    def _levels_between(self, start: int, end: int) -> list[int]:
        """The working orders' prices strictly between ``start`` and ``end``, in the order a
        price moving from one to the other meets them."""
        model = self.track.model
        levels = set()
        for key in model.working_keys():
            order = model.working(key)
            if order is None or order.dormant:
                continue
            level = order.stop if order.price is None else order.price
            if level is not None and min(start, end) < level < max(start, end):
                levels.add(level)
        return sorted(levels, reverse=end < start)

    def _reachable(self, bar: Bar) -> bool:
        model = self.track.model
        for key in model.working_keys():
            order = model.working(key)
            if order is None or order.dormant:
                continue
            if order.price is None:  # a stop waiting for its trigger
                assert order.stop is not None
                hit = bar.high >= order.stop if order.side is Side.BUY else bar.low <= order.stop
            elif order.order_type is OrderType.LIMIT or order.order_type is OrderType.STOP_LIMIT:
                hit = bar.low <= order.price if order.side is Side.BUY else bar.high >= order.price
            else:
                hit = True  # a market order (or a triggered stop) still working
            if hit:
                return True
        return False

    # ---- fills -------------------------------------------------------------------------------

    def _filled(self, fills: list[TrackFill]) -> None:
        for f in fills:
            fill = Fill(f"bt.{next(self.execs)}", f.order_id, self.instrument, f.side,
                        f.quantity, f.price, f.ts_ns)  # fmt: skip
            self.fills.append(fill)
            if self.tells_fills:
                ctx = StrategyContext(f.ts_ns, self.instrument, self.track.position,
                                      BarsView(self.bars, self.done_at(f.ts_ns)))  # fmt: skip
                try:
                    intents = self.strategy.on_fill(ctx, fill)
                except Exception as exc:
                    raise self._fault("on_fill", exc, f.ts_ns) from None
                if intents:
                    self._send(intents, f.ts_ns, f.price)

    def done_at(self, ts_ns: int) -> int:
        """How many bars had closed by ``ts_ns``."""
        lo, hi = 0, len(self.bars)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.bars[mid].start_ns + MINUTE_NS <= ts_ns:
                lo = mid + 1
            else:
                hi = mid
        return lo

    # ---- the strategy's other hooks ----------------------------------------------------------

    def _hook(self, hook: str, ctx: StrategyContext) -> None:
        try:
            intents = getattr(self.strategy, hook)(ctx)
        except Exception as exc:
            raise self._fault(hook, exc, ctx.now_ns) from None
        if intents:
            last = self.bars[self.done - 1].close if self.done else 0
            self._send(intents, ctx.now_ns, last)

    def _fault(self, hook: str, exc: Exception, now: int) -> BacktestError:
        return BacktestError(f"strategy {self.name}: {hook} raised {type(exc).__name__}: {exc} "
                             f"(at {now} ns)")  # fmt: skip


def run_bars(spec: BacktestSpec, instrument: Instrument, loaded: Loaded, bars: list[Bar], *,
             market: MarketConfig | None = None, commission: Decimal,
             progress: Progress | None = None, stop: Event | None = None) -> BacktestResult:  # fmt: skip
    """Run ``loaded`` over ``bars`` (time order, integer ticks of ``instrument``) as ``spec``
    says (see the module notes); a partial result (``complete`` False) when ``stop`` is set
    during the run. Raises :class:`BacktestError` for a strategy that fails."""
    began = time.perf_counter()
    run = _Run(spec, instrument, loaded, market or MarketConfig(), bars)
    with _loaded_data_frozen():
        complete = run.run(progress, stop)
        if complete:
            run.finish()
    done = run.done
    return BacktestResult(
        spec=spec, instrument=instrument, kind="bars", count=done, commission=commission,
        fills=run.fills, bars=bars[:done] if done < len(bars) else bars,
        last_price=bars[done - 1].close if done else None,
        seconds=time.perf_counter() - began, complete=complete, orders=run.orders,
    )  # fmt: skip


@contextlib.contextmanager
def _loaded_data_frozen() -> Iterator[None]:
    """The objects that exist before the run (the bars above all: just loaded, they are
    what the cycle collector's next full collection would walk, one bar at a time, in the
    middle of the run) are set aside from the collector for the run (``gc.freeze``) and given
    back after it; the run's own cycles are still collected. Left alone when the caller has
    frozen objects itself (ours would thaw theirs)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
