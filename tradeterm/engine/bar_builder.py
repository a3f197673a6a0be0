"""Chart bars (1 minute by default) from history, IB's 5-second real-time bars and trades.

Rules (what :class:`BarBuilder` does and why):

* **Periods** are aligned on the epoch (``Timeframe.floor``), like IB's minute bars. A period
  without any trade has **no bar** (IB's history skips empty minutes; a chart shows a gap in
  time, never a flat fake bar). Zero-volume 5-second bars (IB sends them when nothing trades)
  carry no data; they only tell that time has passed.
* **5-second bars and trades, without double counting.** A period is cut into 5-second slots.
  Trades update the forming bar at once (high, low, close, volume); when the 5-second bar of a
  slot arrives it is authoritative for that slot: its volume *replaces* the volume the trades
  of that slot contributed, and its high/low/open/close reconcile the prices (open = the
  earliest source, close = the latest). Either feed alone also works (trades only, or bars
  only).
* **Closing.** The forming bar closes when a live event (trade or 5-second bar, even a
  zero-volume one) falls in a later period, or when :meth:`BarBuilder.on_time` reaches the end
  of the period. A late 5-second bar for the bar that has just closed (IB delivers the bar of
  the last 5 seconds after the first trade of the next minute) *amends* it: the closed bar is
  emitted again, ``closed=True``, same start. Anything older is ignored (``late`` counts it).
* **The seam between history and live: no gap, no duplicate.** The bars list never holds two
  bars with the same start. History bars (``backfill``, or a ``BarEvent`` of the timeframe's
  size, e.g. keepUpToDate) replace the bar with the same start. When live data arrives for the
  period of the last history bar (IB's history includes the bar in progress), that bar is
  taken out of the closed list and becomes the *seed* of the forming bar: the open is the
  history open, high/low are the widest of both, the close is the live close and the volume is
  ``max(history, live)`` (it never double counts the trades both saw; it may under-count the
  seam minute by the trades between the history snapshot and the live subscription). History
  for the period being formed live seeds it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from tradeterm.broker.port import BarEvent, BrokerEvent, TradeEvent
from tradeterm.domain import Bar, Instrument, Timeframe, Trade

SLOT_S = 5
NS = 1_000_000_000
_SLOT_NS = SLOT_S * NS


@dataclass(frozen=True, slots=True)
class BarUpdate:
    """A bar in progress (``closed`` False) or a closed (possibly amended) bar."""

    bar: Bar
    closed: bool


class _Acc:
    """The accumulator of one period: live prices, per-slot volumes, an optional history seed."""

    __slots__ = (
        "bar_vol",
        "close",
        "close_ts",
        "high",
        "live",
        "low",
        "open",
        "open_ts",
        "seed",
        "start",
        "trade_vol",
        "volume",
    )

    def __init__(self, start: int, slots: int, seed: Bar | None = None) -> None:
        self.start = start
        self.seed = seed
        self.live = False
        self.open = self.high = self.low = self.close = 0
        self.open_ts = self.close_ts = 0
        self.volume = 0
        self.trade_vol = [0] * slots
        self.bar_vol = [-1] * slots  # -1: no 5-second bar for the slot yet

    def _prices(self, o: int, h: int, lo: int, c: int, t_open: int, t_close: int) -> None:
        if not self.live:
            self.live = True
            self.open, self.high, self.low, self.close = o, h, lo, c
            self.open_ts, self.close_ts = t_open, t_close
            return
        if t_open < self.open_ts:
            self.open, self.open_ts = o, t_open
        if h > self.high:
            self.high = h
        if lo < self.low:
            self.low = lo
        if t_close >= self.close_ts:
            self.close, self.close_ts = c, t_close

    def add_trade(self, ts: int, price: int, size: int) -> None:
        i = (ts - self.start) // _SLOT_NS
        if self.bar_vol[i] < 0:
            self.trade_vol[i] += size
            self.volume += size
        self._prices(price, price, price, price, ts, ts)

    def add_bar(self, bar: Bar) -> None:
        i = (bar.start_ns - self.start) // _SLOT_NS
        old = self.bar_vol[i]
        self.volume += bar.volume - (old if old >= 0 else self.trade_vol[i])
        self.bar_vol[i] = bar.volume
        self._prices(
            bar.open, bar.high, bar.low, bar.close, bar.start_ns, bar.start_ns + _SLOT_NS - 1
        )

    def bar(self) -> Bar:
        s = self.seed
        if not self.live:
            assert s is not None
            return s
        if s is None:
            return Bar(self.start, self.open, self.high, self.low, self.close, self.volume)
        return Bar(
            self.start,
            s.open,
            max(s.high, self.high),
            min(s.low, self.low),
            self.close,
            max(s.volume, self.volume),
        )


class BarBuilder:
    """Bars of one instrument and one period (see the module notes).

    ``keep``: how many closed bars are kept for the chart (oldest dropped).
    """

    __slots__ = (
        "_acc",
        "_closed",
        "_prev",
        "_slots",
        "_tf_ns",
        "instrument",
        "keep",
        "late",
        "timeframe",
    )

    def __init__(
        self, instrument: Instrument, timeframe: Timeframe | None = None, *, keep: int = 2000
    ) -> None:
        tf = timeframe or Timeframe(60)
        if tf.seconds % SLOT_S:
            raise ValueError(f"the bar period must be a multiple of {SLOT_S} s, not {tf}")
        if keep < 1:
            raise ValueError("keep must be positive")
        self.instrument = instrument
        self.timeframe = tf
        self.keep = keep
        self.late = 0  # live events too old to use
        self._tf_ns = tf.ns
        self._slots = tf.seconds // SLOT_S
        self._closed: list[Bar] = []
        self._acc: _Acc | None = None  # the forming bar
        self._prev: _Acc | None = None  # the last closed live bar, still amendable

    # ---- views -------------------------------------------------------------------------------

    @property
    def closed(self) -> tuple[Bar, ...]:
        return tuple(self._closed)

    @property
    def forming(self) -> Bar | None:
        return None if self._acc is None else self._acc.bar()

    def bars(self) -> tuple[Bar, ...]:
        """Closed bars then the forming one: what the chart draws (oldest first)."""
        if self._acc is None:
            return tuple(self._closed)
        return (*self._closed, self._acc.bar())

    # ---- history -----------------------------------------------------------------------------

    def backfill(self, bars: list[Bar] | tuple[Bar, ...]) -> list[BarUpdate]:
        """History bars of this timeframe (oldest first, as IB sends them)."""
        out: list[BarUpdate] = []
        for bar in bars:
            self._history(bar, out)
        return out

    def _history(self, bar: Bar, out: list[BarUpdate]) -> None:
        acc = self._acc
        if acc is not None:
            if bar.start_ns == acc.start:
                acc.seed = bar
                out.append(BarUpdate(acc.bar(), False))
                return
            if bar.start_ns > acc.start:
                self._close(out)
        if self._prev is not None and self._prev.start == bar.start_ns:
            self._prev = None  # history is the last word on a closed period
        self._upsert(bar)
        out.append(BarUpdate(bar, True))

    def _upsert(self, bar: Bar) -> None:
        closed = self._closed
        start = bar.start_ns
        if not closed or start > closed[-1].start_ns:
            closed.append(bar)
            if len(closed) > self.keep:
                del closed[: len(closed) - self.keep]
            return
        i = len(closed) - 1
        while i >= 0 and closed[i].start_ns > start:
            i -= 1
        if i >= 0 and closed[i].start_ns == start:
            closed[i] = bar
        elif len(closed) < self.keep or i >= 0:
            closed.insert(i + 1, bar)
            if len(closed) > self.keep:
                del closed[0]

    # ---- live --------------------------------------------------------------------------------

    def apply(self, event: BrokerEvent) -> list[BarUpdate]:
        """Apply a ``TradeEvent`` or ``BarEvent``; other events change nothing."""
        if isinstance(event, TradeEvent):
            return self.on_trade(event.trade)
        if isinstance(event, BarEvent):
            return self.on_bar(event.bar, event.size_s)
        return []

    def on_trade(self, trade: Trade) -> list[BarUpdate]:
        if trade.size <= 0:
            return []
        out: list[BarUpdate] = []
        acc = self._live_acc(trade.ts_ns, out)
        if acc is None:
            return out
        acc.add_trade(trade.ts_ns, trade.price, trade.size)
        return self._emit(acc, out)

    def on_bar(self, bar: Bar, size_s: int) -> list[BarUpdate]:
        """A 5-second real-time bar, or a bar of the builder's period (a history update)."""
        if size_s == self.timeframe.seconds:
            return self.backfill((bar,))
        if size_s != SLOT_S:
            return []
        if bar.volume == 0:  # a quiet bar: only time has passed
            return self.on_time(bar.start_ns)
        out: list[BarUpdate] = []
        acc = self._live_acc(bar.start_ns, out)
        if acc is None:
            return out
        acc.add_bar(bar)
        return self._emit(acc, out)

    def on_time(self, now_ns: int) -> list[BarUpdate]:
        """Close the forming bar if ``now_ns`` is past its period (a 1 Hz timer calls this)."""
        out: list[BarUpdate] = []
        if self._acc is not None and now_ns >= self._acc.start + self._tf_ns:
            self._close(out)
        return out

    def _live_acc(self, ts: int, out: list[BarUpdate]) -> _Acc | None:
        """The accumulator for a live event at ``ts``: the forming one, the just-closed one (to
        amend), or a new one (closing the forming bar); None when too late."""
        start = ts - ts % self._tf_ns
        acc = self._acc
        if acc is not None and start == acc.start:
            return acc
        prev = self._prev
        if prev is not None and prev.start == start:
            return prev
        closed = self._closed
        if (acc is not None and start < acc.start) or (closed and start < closed[-1].start_ns):
            self.late += 1
            return None
        if acc is not None:
            self._close(out)
        seed = closed.pop() if closed and closed[-1].start_ns == start else None
        self._acc = acc = _Acc(start, self._slots, seed)  # a popped seed: the seam
        return acc

    def _emit(self, acc: _Acc, out: list[BarUpdate]) -> list[BarUpdate]:
        bar = acc.bar()
        if acc is self._acc:
            out.append(BarUpdate(bar, False))
        else:  # an amendment of the last closed bar
            self._upsert(bar)
            out.append(BarUpdate(bar, True))
        return out

    def _close(self, out: list[BarUpdate]) -> None:
        acc = self._acc
        if acc is None:
            return
        bar = acc.bar()
        self._upsert(bar)
        self._prev, self._acc = acc, None
        out.append(BarUpdate(bar, True))
