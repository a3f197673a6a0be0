"""A deterministic synthetic market with ES-like microstructure.

Model (all prices whole ticks, one ``random.Random(seed)``, no global state, no I/O):

* **Book**: each side is a contiguous ladder of ``levels`` prices from the touch outwards; sizes
  drift towards a target profile that is thicker away from the touch (tens of contracts at the
  touch, a few hundred deep), thinner in the active regime. Zero-size holes can appear (from
  client trades) and are refilled by later updates.
* **Clock**: events arrive as a Poisson stream whose rate is regime-dependent and self-excited:
  every trade adds to a Hawkes excitation that decays exponentially, so trades come in bursts and
  book activity follows them.
* **Price**: a latent fair value follows a mean-reverting (Ornstein-Uhlenbeck) process around the
  start price; trade aggressors lean towards it, touch cancels lean away from it and when the
  spread is wider than one tick the gap is filled mostly from the side it points to. The touch
  moves only when a touch level is consumed or pulled and the gap is refilled, so the spread is
  one tick almost all the time (two for a message or two after the touch is taken).
* **Regimes**: calm / active, switching as a two-state Markov chain in simulated time.
* **Trades**: the aggressor takes the touch; a large one sweeps up to three levels. Each level
  taken prints one ``TradePrint`` (at the touch at that moment) followed by its ``BookDelta``.

Driving it: ``next_event()`` returns the next event and advances the simulated clock by a random
inter-arrival; pass ``now_ns`` to stamp the event with a clock of your own (the gateway pacing it
at wall-clock time or at a forced message rate). The first ``2 * levels`` events are the initial
book snapshot. Liquidity taken by gateway clients must be reported back with ``on_external``
(every event from ``MatchingEngine.drain_public()``) or at least ``on_external_trade``: the
generator then applies the same consumption to its own book, so the engine's public book and the
generator stay identical.

``history()`` returns a trade-only backfill path ending at the start price just before the start
time; ``history_bars()`` the same aggregated to 1-minute OHLCV bars.

Kept as one module because the model is one random stream: splitting book, clock and price into
modules would spread the draw order that keeps a seed's market identical across them.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from random import Random

from tradeterm.sim.market_events import BarPrint, BookDelta, BookSide, MarketEvent, TradePrint

__all__ = ["SyntheticMarket"]

_BID, _ASK = BookSide.BID, BookSide.ASK
_SIDES = (_ASK, _BID)
_NS = 1_000_000_000
_MINUTE = 60 * _NS
_HAWKES_DECAY = 4.0  # 1/s: excitation half-life ~ 0.17 s
_HAWKES_JUMP = 2.6  # trades/s added by each trade (branching ratio 0.65)
_SWEEP_LEVELS = 3
_REVERSION_PER_S = 2.0e-5  # OU pull to the anchor: half-life ~ 9.6 h of simulated time


class _Regime:
    __slots__ = ("book_rate", "mean_s", "name", "pull", "size_mu", "touch", "trade_rate", "vol")

    def __init__(
        self,
        name: str,
        trade_rate: float,
        book_rate: float,
        vol: float,
        touch: float,
        pull: float,
        size_mu: float,
        mean_s: float,
    ) -> None:
        self.name = name
        self.trade_rate = trade_rate  # baseline trades/s
        self.book_rate = book_rate  # baseline book updates/s
        self.vol = vol  # fair-value volatility, ticks per sqrt(s)
        self.touch = touch  # target touch size; level i targets touch * (1 + 0.45 i)
        self.pull = pull  # probability that a touch update pulls the whole level
        self.size_mu = size_mu  # log-mean of trade sizes
        self.mean_s = mean_s  # mean regime duration, simulated seconds


_CALM = _Regime("calm", 3.0, 150.0, 0.35, 55.0, 0.02, 0.6, 300.0)
_ACTIVE = _Regime("active", 12.0, 600.0, 1.0, 25.0, 0.06, 0.9, 90.0)


class SyntheticMarket:
    """Deterministic ES-like event generator (see the module docstring)."""

    __slots__ = (
        "_anchor",
        "_ask",
        "_asks",
        "_bid",
        "_bids",
        "_exc",
        "_fair",
        "_fair_t",
        "_last",
        "_levels",
        "_pending",
        "_reg",
        "_rng",
        "_seed",
        "_start_ns",
        "_start_price",
        "_switch_at",
        "_t",
        "tick_size",
    )

    def __init__(
        self,
        tick_size: Decimal | float = Decimal("0.25"),
        start_price_ticks: int = 20_000,
        seed: int = 0,
        levels: int = 10,
        start_ns: int = 0,
    ) -> None:
        if levels < 1:
            raise ValueError("levels must be >= 1")
        self.tick_size = tick_size  # documentation only: everything here is in ticks
        self._seed = seed
        self._rng = rng = Random(seed)
        self._levels = levels
        self._start_price = start_price_ticks
        self._start_ns = self._t = self._fair_t = start_ns
        self._bid = start_price_ticks
        self._ask = start_price_ticks + 1
        self._anchor = self._fair = start_price_ticks + 0.5
        self._last = start_price_ticks
        self._reg = _CALM
        self._switch_at = start_ns + int(rng.expovariate(1.0 / _CALM.mean_s) * _NS)
        self._exc = 0.0
        self._bids = [self._fresh(i) for i in range(levels)]
        self._asks = [self._fresh(i) for i in range(levels)]
        pend: deque[MarketEvent] = deque()
        for i, s in enumerate(self._bids):
            pend.append(BookDelta(start_ns, _BID, self._bid - i, s))
        for i, s in enumerate(self._asks):
            pend.append(BookDelta(start_ns, _ASK, self._ask + i, s))
        self._pending = pend

    # ------------------------------------------------------------------ state

    @property
    def now_ns(self) -> int:
        """Simulated time of the latest generated event."""
        return self._t

    @property
    def start_ns(self) -> int:
        return self._start_ns

    @property
    def start_price_ticks(self) -> int:
        return self._start_price

    @property
    def best_bid(self) -> int:
        return self._bid

    @property
    def best_ask(self) -> int:
        return self._ask

    @property
    def last(self) -> int:
        return self._last

    @property
    def fair(self) -> float:
        return self._fair

    @property
    def regime(self) -> str:
        """``"calm"`` or ``"active"``."""
        return self._reg.name

    def levels(self, side: BookSide) -> list[tuple[int, int]]:
        """The generator's own ladder (including not yet emitted changes), best first."""
        if side:
            return [(self._bid - i, s) for i, s in enumerate(self._bids) if s]
        return [(self._ask + i, s) for i, s in enumerate(self._asks) if s]

    # ------------------------------------------------------------------ event stream

    def next_event(self, now_ns: int | None = None) -> MarketEvent:
        """The next event. With ``now_ns`` the event is stamped ``now_ns`` (clock override)."""
        pend = self._pending
        if not pend:
            self._step(now_ns)
        ev = pend.popleft()
        if now_ns is not None and ev.ts_ns != now_ns:
            if type(ev) is BookDelta:
                ev = BookDelta(now_ns, ev.side, ev.price, ev.size)
            elif type(ev) is TradePrint:
                ev = TradePrint(now_ns, ev.price, ev.size, ev.aggressor)
            if now_ns > self._t:
                self._t = now_ns
        return ev

    def next_ts(self) -> int:
        """Timestamp the next ``next_event()`` will carry (generates it if needed)."""
        if not self._pending:
            self._step(None)
        return self._pending[0].ts_ns

    def events_until(self, ts_ns: int) -> list[MarketEvent]:
        """All events with a timestamp at or before ``ts_ns``."""
        out: list[MarketEvent] = []
        pend = self._pending
        step = self._step
        while True:
            if not pend:
                step(None)
            if pend[0].ts_ns > ts_ns:
                return out
            out.append(pend.popleft())

    # ------------------------------------------------------------------ feedback from clients

    def on_external(self, event: MarketEvent) -> None:
        """Feed back a public event caused by gateway clients (``MatchingEngine.drain_public()``):
        a TradePrint consumes liquidity like ``on_external_trade``; a BookDelta sets the level
        exactly (so the generator's book equals the engine's)."""
        if type(event) is TradePrint:
            self.on_external_trade(event.price, event.size, event.aggressor)
        elif type(event) is BookDelta:
            self._set(event.side, event.price, event.size)
            self._settle()

    def on_external_trade(self, price: int, size: int, aggressor: BookSide | None) -> None:
        """A client's order traded ``size`` at ``price``: remove the passive levels better than
        ``price``, reduce the level at ``price``, move the fair value a little and excite the
        trade intensity. The resulting book changes are not emitted again (the matching engine
        already made them); only refills of the far end of the ladder are."""
        if aggressor is None:
            aggressor = _BID if price >= self._ask else _ASK if price <= self._bid else None
        self._last = price
        self._exc += _HAWKES_JUMP
        if aggressor is None:
            return
        if aggressor:  # buyer took asks
            for _ in range(min(max(price - self._ask, 0), 4 * self._levels)):
                self._asks[0] = 0
                self._drop_touch(_ASK, None)
            self._set(_ASK, price, self._size(_ASK, price) - size)
            self._fair += min(3.0, 0.02 * size)
        else:
            for _ in range(min(max(self._bid - price, 0), 4 * self._levels)):
                self._bids[0] = 0
                self._drop_touch(_BID, None)
            self._set(_BID, price, self._size(_BID, price) - size)
            self._fair -= min(3.0, 0.02 * size)
        self._settle()

    # ------------------------------------------------------------------ internals: book

    def _fresh(self, i: int) -> int:
        """A plausible new size for level ``i`` from the touch."""
        target = self._reg.touch * (1.0 + 0.45 * i)
        return max(1, int(target * (0.5 + self._rng.random())))

    def _size(self, side: int, price: int) -> int:
        if side:
            i = self._bid - price
            return self._bids[i] if 0 <= i < self._levels else 0
        i = price - self._ask
        return self._asks[i] if 0 <= i < self._levels else 0

    def _set(self, side: int, price: int, size: int) -> None:
        """Silently set a ladder level (external sync); prices off the ladder are ignored."""
        i = self._bid - price if side else price - self._ask
        ladder = self._bids if side else self._asks
        if i < 0 and size > 0 and -i < self._levels:  # a level better than our touch: extend
            opp = self._ask if side else self._bid
            if (price < opp) if side else (price > opp):
                n = self._levels
                for _ in range(-i):
                    far = ladder.pop()
                    if far:
                        far_px = self._bid - n + 1 if side else self._ask + n - 1
                        self._pending.append(BookDelta(self._t, _SIDES[side], far_px, 0))
                    ladder.insert(0, 0)
                    if side:
                        self._bid += 1
                    else:
                        self._ask -= 1
                i = 0
        if 0 <= i < self._levels:
            ladder[i] = max(size, 0)

    def _settle(self) -> None:
        """After external changes: make the touch non-empty (emitting the far-end refills; after
        ``levels`` drops the ladder is all fresh) and bring queued deltas up to date, so that
        what is still to be published ends at our state."""
        for _ in range(self._levels):
            if self._bids[0]:
                break
            self._drop_touch(_BID, None)
        for _ in range(self._levels):
            if self._asks[0]:
                break
            self._drop_touch(_ASK, None)
        pend = self._pending
        for j, ev in enumerate(pend):
            if type(ev) is BookDelta:
                cur = self._size(ev.side, ev.price)
                if cur != ev.size:
                    pend[j] = BookDelta(ev.ts_ns, ev.side, ev.price, cur)

    def _drop_touch(self, side: int, t: int | None) -> None:
        """Remove the touch level of ``side`` (emitting its removal when ``t`` is given) and add
        a new level at the far end (always emitted)."""
        n = self._levels
        app = self._pending.append
        ts = self._t if t is None else t
        if side:
            if t is not None:
                app(BookDelta(t, _BID, self._bid, 0))
            del self._bids[0]
            self._bid -= 1
            s = self._fresh(n - 1)
            self._bids.append(s)
            app(BookDelta(ts, _BID, self._bid - n + 1, s))
        else:
            if t is not None:
                app(BookDelta(t, _ASK, self._ask, 0))
            del self._asks[0]
            self._ask += 1
            s = self._fresh(n - 1)
            self._asks.append(s)
            app(BookDelta(ts, _ASK, self._ask + n - 1, s))

    def _improve(self, side: int, t: int) -> None:
        """Fill the gap: a new touch one tick inside the spread; the far level leaves."""
        n = self._levels
        app = self._pending.append
        s = 1 + int(self._rng.random() * 0.6 * self._reg.touch)
        if side:
            far = self._bids.pop()
            if far:
                app(BookDelta(t, _BID, self._bid - n + 1, 0))
            self._bid += 1
            self._bids.insert(0, s)
            app(BookDelta(t, _BID, self._bid, s))
        else:
            far = self._asks.pop()
            if far:
                app(BookDelta(t, _ASK, self._ask + n - 1, 0))
            self._ask -= 1
            self._asks.insert(0, s)
            app(BookDelta(t, _ASK, self._ask, s))

    # ------------------------------------------------------------------ internals: dynamics

    def _fair_at(self, t: int) -> float:
        dt = (t - self._fair_t) / _NS
        if dt > 0:
            decay = math.exp(-_REVERSION_PER_S * dt)
            sd = self._reg.vol * math.sqrt(dt)  # reversion is slow: its variance shrink is nil
            self._fair = self._anchor + (self._fair - self._anchor) * decay + sd * self._rng.gauss()
            self._fair_t = t
        return self._fair

    def _step(self, now_ns: int | None) -> None:
        """Generate the next batch of events (one market happening) into the queue."""
        rng = self._rng
        reg = self._reg
        exc = self._exc
        trade_rate = reg.trade_rate + exc
        total = trade_rate + reg.book_rate + 8.0 * exc
        if now_ns is None:
            t = self._t + 1 + int(-math.log(1.0 - rng.random()) / total * _NS)
        else:
            t = now_ns if now_ns > self._t else self._t
        if exc:
            self._exc = exc * math.exp(-_HAWKES_DECAY * (t - self._t) / _NS)
        self._t = t
        if t >= self._switch_at:
            reg = self._reg = _ACTIVE if reg is _CALM else _CALM
            self._switch_at = t + int(rng.expovariate(1.0 / reg.mean_s) * _NS)
        if rng.random() * total < trade_rate:
            self._trade(t)
        else:
            self._book_update(t)

    def _trade(self, t: int) -> None:
        rng = self._rng
        lean = self._fair_at(t) - (self._bid + self._ask) * 0.5
        buy = rng.random() < 0.5 + 0.45 * math.tanh(0.7 * lean)
        size = 1 + int(rng.lognormvariate(self._reg.size_mu, 1.1))
        app = self._pending.append
        ladder = self._asks if buy else self._bids
        side = _ASK if buy else _BID
        agg = _BID if buy else _ASK
        for _ in range(_SWEEP_LEVELS):
            price = self._ask if buy else self._bid
            take = ladder[0] if ladder[0] < size else size
            app(TradePrint(t, price, take, agg))
            self._last = price
            size -= take
            if take == ladder[0]:
                self._drop_touch(side, t)
                ladder = self._asks if buy else self._bids
                for _ in range(self._levels):  # skip holes left by client trades
                    if ladder[0]:
                        break
                    self._drop_touch(side, None)
            else:
                ladder[0] -= take
                app(BookDelta(t, side, price, ladder[0]))
            if not size:
                break
        self._exc += _HAWKES_JUMP

    def _book_update(self, t: int) -> None:
        rng = self._rng
        reg = self._reg
        bid, ask = self._bid, self._ask
        if ask - bid > 1 and rng.random() < 0.97:  # the gap fills, mostly from the fair side
            lean = self._fair_at(t) - (bid + ask) * 0.5
            self._improve(_BID if rng.random() < 0.5 + 0.45 * math.tanh(0.8 * lean) else _ASK, t)
            return
        side = _BID if rng.random() < 0.5 else _ASK
        ladder = self._bids if side else self._asks
        u = rng.random()
        i = 0 if u < 0.4 else int(((u - 0.4) / 0.6) ** 1.5 * self._levels)
        size = ladder[i]
        target = reg.touch * (1.0 + 0.45 * i)
        press = 0.0
        if i == 0:  # the side the fair value leans through is thinned, sometimes pulled
            lean = self._fair_at(t) - (bid + ask) * 0.5
            press = math.tanh(0.8 * (lean if side == _ASK else -lean))
            if (
                rng.random() < reg.pull * (1.0 + 3.0 * press if press > 0 else 1.0)
                and self._levels > 1
            ):
                ladder[0] = 0
                self._drop_touch(side, t)
                return
        p_add = 0.5 + 0.35 * (target - size) / (target + size) - 0.25 * press
        step = 1 + int(rng.expovariate(1.0 / (0.12 * target)))
        if rng.random() < p_add:
            size += step
        else:
            size -= step
            if size < 1:
                if i == 0 and self._levels > 1:
                    ladder[0] = 0
                    self._drop_touch(side, t)
                    return
                size = 1
        ladder[i] = size
        price = bid - i if side else ask + i
        self._pending.append(BookDelta(t, side, price, size))

    # ------------------------------------------------------------------ backfill

    def history(self, minutes: int, end_ns: int | None = None) -> list[TradePrint]:
        """A plausible trade-only path over ``minutes`` minutes before ``end_ns`` (default: the
        start time) whose last trade is at the start price, 1 ns before ``end_ns``. Thinner than
        the live stream (about 1-3 prints a second, larger sizes, realistic volume per minute).
        Deterministic for (seed, minutes, end_ns); does not disturb the live stream."""
        end = self._start_ns if end_ns is None else end_ns
        if minutes <= 0:
            return []
        rng = Random(f"{self._seed}:history:{minutes}:{end}")
        begin = end - minutes * _MINUTE
        calm = True
        switch = begin + int(rng.expovariate(1.0 / _CALM.mean_s) * _NS)
        x = 0.0  # latent mid, ticks relative to the path's end
        t = begin
        exc = 0.0
        times: list[int] = []
        prices: list[int] = []
        sizes: list[int] = []
        aggs: list[BookSide] = []
        expo, rand, gauss, lognorm = rng.expovariate, rng.random, rng.gauss, rng.lognormvariate
        while True:
            rate = (1.0 if calm else 3.0) + exc
            dt = expo(rate)
            t += 1 + int(dt * _NS)
            if t >= end - 1:
                break
            exc *= math.exp(-1.5 * dt)
            if t >= switch:
                calm = not calm
                switch = t + int(expo(1.0 / (_CALM if calm else _ACTIVE).mean_s) * _NS)
            vol = _CALM.vol if calm else _ACTIVE.vol
            x += -_REVERSION_PER_S * x * dt + vol * math.sqrt(dt) * gauss()
            buy = rand() < 0.5
            times.append(t)
            prices.append(math.floor(x) + (1 if buy else 0))
            sizes.append(1 + int(lognorm(1.6 if calm else 2.0, 1.0)))
            aggs.append(_BID if buy else _ASK)
            exc += 0.9
        times.append(end - 1)
        prices.append(math.floor(x))
        sizes.append(1 + int(lognorm(1.6, 1.0)))
        aggs.append(_ASK)  # sold at the bid: the live book starts with its bid at the start price
        shift = self._start_price - prices[-1]
        return [
            TradePrint(ts, p + shift, s, a)
            for ts, p, s, a in zip(times, prices, sizes, aggs, strict=True)
        ]

    def history_bars(self, minutes: int, end_ns: int | None = None) -> list[BarPrint]:
        """``history()`` aggregated into 1-minute bars on the epoch minute grid (``ts_ns`` = bar
        start). The last bar closes at the start price; it is partial unless ``end_ns`` is on a
        minute boundary (then the live stream starts a fresh bar)."""
        bars: list[BarPrint] = []
        cur: int | None = None
        o = h = lo = c = v = 0
        for tr in self.history(minutes, end_ns):
            m = tr.ts_ns - tr.ts_ns % _MINUTE
            if m != cur:
                if cur is not None:
                    bars.append(BarPrint(cur, o, h, lo, c, v))
                cur, o, h, lo, c, v = m, tr.price, tr.price, tr.price, tr.price, 0
            p = tr.price
            if p > h:
                h = p
            elif p < lo:
                lo = p
            c = p
            v += tr.size
        if cur is not None:
            bars.append(BarPrint(cur, o, h, lo, c, v))
        return bars
