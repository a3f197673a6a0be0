"""Event mode: a strategy run on recorded quotes, trades or a whole book (Databento MBP-1 /
TBBO, CSV or DBN, and MBO DBN), filled by the queue-aware paper broker.

The pieces are the live ones. The replay readers (``tradeterm.sim``) turn the file into book
and trade events, converted here to the domain's ``DepthDelta`` / ``DepthReset`` / ``Trade``;
they go to the strategy's :class:`~tradeterm.paper.track.PaperTrack` (the paper broker's
``FillModel`` and bracket ``OrderGraph``: queue position and all), to the engine's own
``BarBuilder`` (trades into 1-minute bars) and to the strategy's hooks, as the live runner
calls them:

* ``on_start`` at the first event; ``on_bar`` for each bar that closes (a trade in a later
  minute, or any event at or past the end of its minute, as the engine's 1 Hz timer does);
  ``on_trade`` / ``on_quote`` / ``on_book`` only when the class asks; ``on_fill`` for each paper
  fill; ``on_stop`` after the last event (its intents are still applied). A hook runs after
  the event that caused it has reached the book and the paper orders, as in SHADOW.
* ``on_quote`` gets the top of book once the events of one timestamp have all been applied
  (a record's level changes arrive as several deltas; a strategy sees the book they make).
* **Latency.** An intent made while handling an event at ``t`` reaches the paper orders just
  before the first later event (time ``> t``: the events of one timestamp are one packet,
  no reaction fits between them) at or after ``t + latency_ms``; after the last event, the
  intents still on their way arrive at once.
* Intents: ``TargetPosition`` -> a market order for the difference (the track's); an
  ``EntrySignal`` -> its bracket, sized by the engine's own rule (``RiskManager.size``:
  ``risk_per_trade_pct`` of ``spec.equity`` over the stop distance, at most
  ``max_position``); one that does not cover a contract, and a stop entry (the paper track
  enters at market or at a limit only, as in CANARY), is not sent.
* ``spec.start`` / ``spec.end``: events before the start build the book (an MBO or MBP
  state needs them) but are not run: no hook, no fill, not counted, and a bar that begins
  before the start is neither the strategy's history nor the result's (as in bar mode); the run ends at the
  first event at or past the end. A multi-instrument file is filtered on ``spec.symbol``
  (``data.detect``: a root such as ``ES`` picks the file's one ES contract).
* ``count`` is the market events run through: level changes (a quote row or an MBP-1 record
  whose best price moved is two: the old level gone, the new one), trades and book resets.
* Bar-only options are refused (:class:`BacktestError`), not ignored: ``fill=close`` (a bar's
  close has no meaning where each order meets the book it reaches) and ``slippage_ticks``
  (a market order here takes the recorded book's own levels, size by size: its slippage is
  the book's; ticks on top would count it twice, and the fills would no longer be the paper
  broker's, those SHADOW and CANARY give). ``latency_ms`` applies in both modes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from threading import Event
from typing import Any

from tradeterm.backtest.bar_loop import Progress
from tradeterm.backtest.data import detect, instrument_for
from tradeterm.backtest.spec import (
    BacktestError,
    BacktestResult,
    BacktestSpec,
    FillAt,
    load_strategy,
)
from tradeterm.config import MarketConfig
from tradeterm.domain import (
    Bar,
    BookSide,
    DepthDelta,
    DepthReset,
    Fill,
    Instrument,
    Quote,
    Side,
    Trade,
)
from tradeterm.engine.bar_builder import BarBuilder, BarUpdate
from tradeterm.engine.risk import RiskManager
from tradeterm.paper.track import PaperTrack, TrackFill, TrackOrder
from tradeterm.sim import market_events as me
from tradeterm.sim.replay import ReplayError, load_replay
from tradeterm.strategies import (
    BarHistory,
    EntrySignal,
    EntryType,
    Intent,
    Loaded,
    StrategyContext,
    TargetPosition,
)

__all__ = ["run_book", "run_events"]

_EVERY = 4096
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NS_PER_MS = 1_000_000
_SIDES = {me.BookSide.BID: BookSide.BID, me.BookSide.ASK: BookSide.ASK}
_AGGRESSORS = {me.BookSide.BID: Side.BUY, me.BookSide.ASK: Side.SELL, None: None}


@dataclass(slots=True)
class _Pending:
    """An intent on its way: it reaches the paper orders at the first event at or after
    ``gate`` (``ts > made`` and ``ts >= made + latency``)."""

    gate: int
    arrives: int
    intent: Intent


def run_book(
    spec: BacktestSpec, *, progress: Progress | None = None, stop: Event | None = None
) -> BacktestResult:
    """Run ``spec`` on its quote, trade or book file (see the module notes); ``progress(done,
    0)`` every few thousand events (how many a file holds is known only at its end), ``stop``
    looked at as often: once set, the result is partial (``complete`` False). Raises
    :class:`BacktestError` (one line) for a bad file or strategy, or one that fails."""
    source = detect(spec.data, spec.symbol)
    instrument = instrument_for(spec.symbol, source)
    loaded = load_strategy(spec)
    try:
        events = load_replay(spec.data, symbol=source.symbol, tick_size=instrument.tick)
        return run_events(spec, instrument, loaded, events, progress=progress, stop=stop)
    except ReplayError as exc:
        raise BacktestError(str(exc)) from None


def run_events(
    spec: BacktestSpec,
    instrument: Instrument,
    loaded: Loaded,
    events: Iterable[me.MarketEvent],
    *,
    progress: Progress | None = None,
    stop: Event | None = None,
) -> BacktestResult:
    """:func:`run_book` on ``events`` (ticks of ``instrument``) and a strategy already built
    (the benchmark times the run without the file's decoding)."""
    refuse_bar_options(spec)
    run = _BookRun(spec, loaded.name, loaded.strategy, instrument)
    return run.run(events, progress, stop)


def refuse_bar_options(spec: BacktestSpec) -> None:
    """:class:`BacktestError` for an option that has no meaning on events (module notes)."""
    if spec.fill is not FillAt.NEXT_OPEN:
        raise BacktestError(f"--fill {spec.fill} is for bar data: on quotes, trades or a book "
                            "an order fills against the book it reaches")  # fmt: skip
    if spec.slippage_ticks:
        raise BacktestError("--slippage-ticks is for bar data: on quotes, trades or a book a "
                            "market order takes the book's own levels (--latency-ms applies)")  # fmt: skip


class _BookRun:
    """One run: the book and paper orders (the track), the bars, the strategy's hooks."""

    def __init__(self, spec: BacktestSpec, name: str, strategy: Any, instrument: Instrument):
        self.spec = spec
        self.name = name
        self.strategy = strategy
        self.instrument = instrument
        self.orders: list[TrackOrder] = []
        self.track = PaperTrack(orders=self.orders)
        self.bars = BarBuilder(instrument)
        self.history = BarHistory()
        self.risk = RiskManager((spec.market or MarketConfig()).risk, instrument=instrument)
        self.latency = spec.latency_ms * _NS_PER_MS
        self.pending: deque[_Pending] = deque()
        self.fills: list[Fill] = []
        self.closed: list[Bar] = []
        self.intents = 0
        self.now = 0
        self.live = False  # past the start: hooks are called
        self.first = _ns(spec.start) or 0  # the first bar run starts at or after it
        cls = type(strategy)
        self.wants_trades = bool(cls.wants_trades)
        self.wants_quotes = bool(cls.wants_quotes)
        self.wants_book = bool(cls.wants_book)
        self.quote: tuple[int | None, int, int | None, int] | None = None

    # ---- the loop ----------------------------------------------------------------------------

    def run(self, events: Iterable[me.MarketEvent], progress: Progress | None,
            stop: Event | None) -> BacktestResult:  # fmt: skip
        spec, started = self.spec, time.perf_counter()
        start = _ns(spec.start)
        end = _ns(spec.end)
        model, track, bars = self.track.model, self.track, self.bars
        on_level, on_trade, follow = model.on_level, model.on_trade, track.follow
        pending = self.pending
        bar_end = -1  # the end of the forming bar's minute (-1: none forming)
        period = bars.timeframe.ns
        wants_book, quotes, trades = self.wants_book, self.wants_quotes, self.wants_trades
        quote_ts = -1  # the timestamp of book changes not yet shown as a quote
        count = 0
        complete = True
        BookDelta, TradePrint = me.BookDelta, me.TradePrint
        sides, aggressors = _SIDES, _AGGRESSORS
        end = end if end is not None else 1 << 126
        live = self.live
        # seen: the events read, before the start too (the stop flag is looked at as often)
        for seen, event in enumerate(events, 1):
            ts = event.ts_ns
            if ts >= end:  # --to: the end, not included, as bars
                break
            live = live or start is None or ts >= start
            count += live
            if not seen % _EVERY:
                if stop is not None and stop.is_set():
                    complete = False
                    break
                if progress is not None:
                    progress(count, 0)
            if quote_ts >= 0 and ts != quote_ts:
                quote_ts = -1
                self._show_quote()
            self.now = ts
            if live and not self.live:
                self.live = True
                self._hook("on_start")
            if pending and ts >= pending[0].gate:
                self._arrive(ts)
            if 0 <= bar_end <= ts:
                self._bars(bars.on_time(ts))
                bar_end = -1
            if type(event) is BookDelta:
                side = sides[event.side]
                out = on_level(side, event.price, event.size, ts)
                if out:
                    self._fills(follow(out))
                if live:
                    if wants_book:
                        self._hook("on_book", DepthDelta(ts, side, event.price, event.size))
                    if quotes:
                        quote_ts = ts
            elif type(event) is TradePrint:
                trade = Trade(ts, event.price, event.size, aggressors[event.aggressor])
                updates = bars.on_trade(trade)
                if updates:
                    self._bars(updates)
                    bar_end = ts - ts % period + period
                out = on_trade(trade)
                if out:
                    self._fills(follow(out))
                if live and trades:
                    self._hook("on_trade", trade)
            elif isinstance(event, me.BookClear):
                reset = DepthReset(ts)
                model.on_depth_reset(reset)
                if live:
                    if wants_book:
                        self._hook("on_book", reset)
                    if quotes:
                        quote_ts = ts
            # bars in the file (BarPrint) are history for the book's clients: not traded here
        if complete:
            if quote_ts >= 0:
                self._show_quote()
            if self.live:
                self._hook("on_stop")
            while pending:  # on their way when the data ended: they arrive now
                self._arrive(None)
            track.cancel_entries(self.now)
        forming = bars.forming
        if forming is not None and forming.start_ns >= self.first and self.live:
            closed = [*self.closed, forming]
        else:
            closed = self.closed
        return BacktestResult(
            spec, self.instrument, "events", count,
            spec.commission_used,
            self.fills, closed, model.last, time.perf_counter() - started, complete,
            self.orders,
        )  # fmt: skip

    # ---- what the strategy is told ---------------------------------------------------------

    def _bars(self, updates: Iterable[BarUpdate]) -> None:
        for update in updates:
            if not update.closed:
                continue
            bar = update.bar
            if self.closed and self.closed[-1].start_ns == bar.start_ns:
                self.closed[-1] = bar  # amended (a 5-second bar: never from trades alone)
                continue
            if bar.start_ns >= self.first:  # one that began before the start is not run
                self.closed.append(bar)
                self.history.append(bar)
                self._hook("on_bar", bar)

    def _show_quote(self) -> None:
        model = self.track.model
        bid, ask = model.best_bid, model.best_ask
        top = (bid, model.bids[bid] if bid is not None else 0,
               ask, model.asks[ask] if ask is not None else 0)  # fmt: skip
        if top != self.quote:
            self.quote = top
            self._hook("on_quote", Quote(self.now, *top, last=model.last))

    def _fills(self, fills: list[TrackFill]) -> None:
        for f in fills:
            fill = Fill(f"bt.{len(self.fills) + 1}", f.order_id, self.instrument, f.side,
                        f.quantity, f.price, f.ts_ns)  # fmt: skip
            self.fills.append(fill)
            if self.live:
                self._hook("on_fill", fill)

    def _hook(self, hook: str, arg: object = None) -> None:
        """Call one hook; its intents set off on their way to the paper orders."""
        ctx = StrategyContext(self.now, self.instrument, self.track.position, self.history.view())
        fn = getattr(self.strategy, hook)
        try:
            result = fn(ctx) if arg is None else fn(ctx, arg)
        except Exception as exc:  # the strategy's own code
            raise BacktestError(
                f"strategy {self.name}: {hook} raised {type(exc).__name__}: {exc}"
            ) from None
        if not result:
            return
        if not isinstance(result, (list, tuple)) or not all(
            isinstance(i, (TargetPosition, EntrySignal)) for i in result
        ):
            raise BacktestError(f"strategy {self.name}: {hook} returned {result!r}, not intents")
        now, latency = self.now, self.latency
        gate = now + latency if latency else now + 1
        for intent in result:
            self.pending.append(_Pending(gate, now + latency, intent))

    # ---- intents into paper orders ---------------------------------------------------------

    def _arrive(self, ts: int | None) -> None:
        """The intents whose gate ``ts`` has reached (all of them for None) reach the paper
        orders, in the order they were made."""
        pending = self.pending
        while pending and (ts is None or ts >= pending[0].gate):
            p = pending.popleft()
            self._apply(p.intent, p.arrives)

    def _apply(self, intent: Intent, ts: int) -> None:
        self.intents += 1
        intent_id = f"{self.name}.{self.intents}"
        track = self.track
        if isinstance(intent, TargetPosition):
            _, fills = track.target(intent_id, intent.quantity, ts)
        else:
            if intent.entry.type is EntryType.STOP:
                return  # the paper track enters at market or at a limit only
            size = self.risk.size(self.spec.equity, None, intent.stop_ticks, self.instrument)
            if size < 1:
                return
            fills = track.bracket(intent_id, intent.side, size, intent.entry.price,
                                  intent.stop_ticks, intent.target_ticks, ts)  # fmt: skip
        if fills:
            self._fills(fills)


def _ns(moment: dt.datetime | None) -> int | None:
    """UTC nanoseconds of a moment (a naive one is UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return (moment - _EPOCH) // dt.timedelta(microseconds=1) * 1000
