"""The simulated exchange's matching engine for one instrument.

``MatchingEngine`` holds the public L2 book (driven by the market source: synthetic generator or
replay) and the *simulated* orders of gateway clients. Our orders are shadow orders: they are not
added to the public depth (the source knows nothing of them), but they are matched with price-time
priority against the public book, against public trades and against each other.

Fill model
----------
* **Aggressive** (market, marketable limit, triggered stop): walk the opposite side best price
  first, up to the limit. At each price the queue is: public contracts ahead of our first resting
  order there (its ``queue_ahead``), that order, public contracts up to the next of ours, ..., then
  the rest of the public size. Public size taken leaves the book; every price level swept produces
  one public ``TradePrint`` (aggressor = our side) followed by a ``BookDelta`` for the level, both
  pushed to the outbox (``drain_public()``) so the gateway can publish them and feed them to the
  generator (``SyntheticMarket.on_external``) so both books stay identical.
* **Market orders** carry CME-style *protection*: they are limit orders at the best opposite price
  (else the last trade, else the best same-side price) plus/minus ``market_protection_ticks``. The
  part that cannot fill within protection -- including when the opposite side is empty -- stays
  working at the protection price (like IB, the order is not rejected). Only when the engine has no
  reference price at all (empty book and no trade yet) is a market order rejected
  (``OrderRejected``).
* **Resting** orders join the back of their level with ``queue_ahead`` = the public size there.
  They fill (liquidity 1, at their limit) when
    - a public trade prints *through* their price (strictly better): the whole remainder fills;
    - public trades *at* their price (aggressor on the other side; inferred from the book when the
      source gives none) first consume ``queue_ahead``, the residual volume fills our orders in
      time priority (partial fills);
    - a public quote crosses them (e.g. the ask drops to or below our bid): we take the displayed
      size at the public price (liquidity 2) as if our order had just arrived, since the source
      posted it without knowing of us.
  Public size *reductions* at a level that are not explained by a public trade at that level
  (trades credit the level with their size; the delta that follows is matched against the credit)
  are cancels. ``queue_model="proportional"`` (default) assumes cancels are spread evenly over the
  queue: ``queue_ahead -= cancelled * queue_ahead // old_size``. ``"conservative"`` assumes they
  all come from behind us. In both, ``queue_ahead`` never exceeds the public size at the level.
  An order-by-order source (MBO replay: ``OrderDelta`` events) makes it exact: an order of ours
  is behind every public order resting at its price when it joined, and ``queue_ahead`` is what
  is left of those orders (their cancels and fills), whatever joins later is behind us.
  A ``BookClear`` loses every public priority: the book is re-sent with new ones, and which
  re-added order was ahead of ours is unknowable. Every public order placed from the clear until
  the exchange event that rebuilds the book ends (the first change marked ``last``) counts as
  ahead of ours (conservative: a fill never comes early, the position never looks better than
  the truth); what joins after the rebuild is behind us again.
  ``queue_position`` tells a test where an order of ours stands.
* **Stops** trigger on any trade (public or ours): a buy stop when a trade prints at/above its
  stop, a sell stop at/below. A stop whose price the last trade already reached triggers at once.
  A triggered stop becomes a market (``STP``) or limit (``STP LMT``) order with time priority of
  the trigger and is processed as an aggressive order; cascades are followed.
* **Trailing stops** (``TRAIL``, IB's native type: ``trail`` is the trailing amount in ticks):
  a stop whose price follows the market in our favour. At each trade, before the trigger check,
  a sell trailing stop rises to ``trade - trail`` when that is above its stop (a buy one falls
  to ``trade + trail``); it never moves back. It starts at the ``stop`` given (IB's
  ``trailStopPrice``), else ``trail`` from the last trade. Triggered, it is a market order like
  ``STP``. The moves are kept for the gateway to report (:meth:`MatchingEngine.drain_trail_moves`).
* **Modify**: a new limit price loses priority (the order re-enters as new, possibly crossing); a
  quantity increase loses priority; a decrease keeps it. ``qty`` is the new *open* quantity.

No TIF / OCA / account logic here; no self-trade prevention (keys are opaque).

Kept as one module because the fill model above is one piece: aggressive, passive and queue
accounting all walk the same book and queues, and split apart they would share their state.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from enum import StrEnum

from tradeterm.sim.book import L2Book
from tradeterm.sim.market_events import (
    BarPrint,
    BookClear,
    BookDelta,
    BookSide,
    MarketEvent,
    OrderDelta,
    TradePrint,
)

__all__ = ["MatchingEngine", "OrderInfo", "OrderRejected", "OrderType", "SimFill"]

_SIDES = (BookSide.ASK, BookSide.BID)
ADDED = 1
REMOVED = 2


class OrderType(StrEnum):
    """Order types, valued as TWS names them."""

    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAIL = "TRAIL"


class OrderRejected(ValueError):
    """The engine cannot accept the order (e.g. a market order with no reference price)."""


@dataclass(slots=True, frozen=True)
class SimFill:
    """A fill of one of our orders. ``liquidity`` 1 = added (passive), 2 = removed (aggressive);
    ``remaining`` is the order's open quantity after this fill."""

    key: Hashable
    price: int
    qty: int
    ts_ns: int
    liquidity: int
    remaining: int


@dataclass(slots=True, frozen=True)
class OrderInfo:
    """A working order. ``price`` is the working limit (the protection price of a market order)
    or None for an untriggered stop; ``queue_ahead`` is None unless resting on the book."""

    key: Hashable
    side: BookSide
    order_type: OrderType
    qty: int
    filled: int
    remaining: int
    limit: int | None
    stop: int | None
    triggered: bool
    price: int | None
    queue_ahead: int | None
    ts_ns: int
    trail: int | None = None


@dataclass(slots=True, eq=False)  # identity equality: list.remove finds this very order
class _Order:
    key: Hashable
    side: int  # BookSide value: 1 buy, 0 sell
    qty: int  # total quantity
    otype: OrderType
    limit: int | None
    stop: int | None
    ts_ns: int
    filled: int = 0
    triggered: bool = False
    price: int | None = None  # working limit once on the book / aggressive
    qa: int = 0  # public contracts ahead of us at our level
    mark: int = 0  # order-by-order source: the last public priority ahead of us
    trail: int | None = None  # TRAIL: the trailing amount (ticks); ``stop`` follows the market


class MatchingEngine:
    """Public book + our resting orders for one instrument. See the module docstring."""

    __slots__ = (
        "_clock",
        "_credit",
        "_fifo",
        "_lv",
        "_moved",
        "_orders",
        "_out",
        "_stops",
        "book",
        "conservative",
        "exact",
        "priority",
        "protection",
        "rebuilding",
    )

    def __init__(
        self, *, market_protection_ticks: int = 40, queue_model: str = "proportional"
    ) -> None:
        if queue_model not in ("proportional", "conservative"):
            raise ValueError("queue_model must be 'proportional' or 'conservative'")
        self.book = L2Book()
        self.protection = market_protection_ticks
        self.conservative = queue_model == "conservative"
        self._orders: dict[Hashable, _Order] = {}
        self._lv: tuple[dict[int, list[_Order]], dict[int, list[_Order]]] = ({}, {})
        self._stops: list[_Order] = []
        self._moved: dict[Hashable, int] = {}  # trailing stops moved since the last drain
        self._credit: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._out: list[TradePrint | BookDelta] = []
        self._clock = 0
        # order-by-order source: per side, price -> {priority: size} of the public orders
        self._fifo: tuple[dict[int, dict[int, int]], dict[int, dict[int, int]]] = ({}, {})
        self.exact = False  # queue_ahead comes from single orders (OrderDelta seen)
        self.priority = 0  # the highest public priority seen
        self.rebuilding = False  # between a BookClear and the end of the event re-sending the book

    # ------------------------------------------------------------------ queries

    @property
    def best_bid(self) -> int | None:
        return self.book.best_bid

    @property
    def best_ask(self) -> int | None:
        return self.book.best_ask

    @property
    def last(self) -> int | None:
        return self.book.last_price

    def resting(self, key: Hashable) -> OrderInfo | None:
        """The working order ``key`` (resting or waiting stop), or None if done/unknown."""
        o = self._orders.get(key)
        if o is None:
            return None
        on_book = o.price is not None
        return OrderInfo(
            o.key,
            _SIDES[o.side],
            o.otype,
            o.qty,
            o.filled,
            o.qty - o.filled,
            o.limit,
            o.stop,
            o.triggered,
            o.price,
            o.qa if on_book else None,
            o.ts_ns,
            o.trail,
        )

    def stop_of(self, key: Hashable) -> int | None:
        """The stop price of the working order ``key`` now (a trailing stop's current one)."""
        o = self._orders.get(key)
        return None if o is None else o.stop

    @property
    def trail_moved(self) -> bool:
        """Whether a trailing stop moved since the last :meth:`drain_trail_moves`."""
        return bool(self._moved)

    def drain_trail_moves(self) -> list[tuple[Hashable, int]]:
        """The trailing stops whose price moved since the last drain, with their new price."""
        moved, self._moved = self._moved, {}
        return list(moved.items())

    def working_keys(self) -> list[Hashable]:
        return list(self._orders)

    def queue_position(self, key: Hashable) -> int | None:
        """Public contracts ahead of our order ``key`` in its price's queue (exact with an
        order-by-order source, else this engine's queue model); None unless it rests."""
        o = self._orders.get(key)
        return None if o is None or o.price is None else o.qa

    def own_size_at(self, side: BookSide, price: int) -> int:
        """Open quantity of our orders resting at ``price`` (the gateway may add it to depth)."""
        return sum(o.qty - o.filled for o in self._lv[side].get(price, ()))

    def drain_public(self) -> list[TradePrint | BookDelta]:
        """Public events caused by our orders since the last drain (prints, then level updates)."""
        out, self._out = self._out, []
        return out

    # ------------------------------------------------------------------ order entry

    def submit(
        self,
        key: Hashable,
        side: BookSide,
        qty: int,
        order_type: OrderType | str,
        limit: int | None = None,
        stop: int | None = None,
        ts_ns: int | None = None,
        trail: int | None = None,
    ) -> list[SimFill]:
        """Enter an order; returns the fills it (and any stops it triggers) caused. A
        ``TRAIL`` order takes ``trail`` (ticks) and optionally its first ``stop``."""
        otype = OrderType(order_type)
        if key in self._orders:
            raise ValueError(f"duplicate order key {key!r}")
        if qty <= 0:
            raise ValueError("qty must be positive")
        if (limit is None) == (otype in (OrderType.LIMIT, OrderType.STOP_LIMIT)):
            raise ValueError(f"{otype} order {'needs' if limit is None else 'takes no'} limit")
        trailing = otype is OrderType.TRAIL
        if (trail is None or trail <= 0) == trailing:
            raise ValueError(
                f"{otype} order {'needs a positive' if trailing else 'takes no'} trail"
            )
        if trailing and stop is None:
            stop = self._trail_start(int(side), trail)  # type: ignore[arg-type]
        if (stop is None) == (otype in (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAIL)):
            raise ValueError(f"{otype} order {'needs' if stop is None else 'takes no'} stop")
        ts = self._now(ts_ns)
        o = _Order(key, int(side), qty, otype, limit, stop, ts, trail=trail)
        if otype is OrderType.MARKET and self._protected(o.side) is None:
            raise OrderRejected("market order rejected: no reference price (empty book, no trade)")
        fills: list[SimFill] = []
        self._orders[key] = o
        if stop is not None and not self._stop_hit(o, self.book.last_price):
            self._stops.append(o)
            return fills
        o.triggered = stop is not None
        prints: list[int] = []
        self._enter(o, ts, fills, prints)
        self._cascade(prints, ts, fills)
        return fills

    def cancel(self, key: Hashable) -> bool:
        """Cancel the working order ``key``; False if it is not working (filled/unknown)."""
        o = self._orders.pop(key, None)
        if o is None:
            return False
        if o.price is None:
            self._stops.remove(o)
        else:
            self._unrest(o)
        return True

    def modify(
        self,
        key: Hashable,
        qty: int | None = None,
        limit: int | None = None,
        stop: int | None = None,
        ts_ns: int | None = None,
        trail: int | None = None,
    ) -> list[SimFill]:
        """Change a working order. ``qty`` is the new *open* quantity (what is left to fill);
        None keeps a value; a ``stop`` is ignored once the stop has triggered; ``trail``: a
        trailing stop's new amount."""
        o = self._orders.get(key)
        if o is None:
            raise KeyError(key)
        if trail is not None:
            if o.trail is None or trail <= 0:
                raise ValueError(f"{o.otype} order takes no trail (or not that one)")
            o.trail = trail
        if qty is not None:
            if qty <= 0:
                raise ValueError("the open quantity must stay positive (cancel instead)")
            qty += o.filled  # internal: total quantity
        if limit is not None and o.limit is None:
            raise ValueError(f"{o.otype} order takes no limit")
        if stop is not None and o.stop is None:
            raise ValueError(f"{o.otype} order takes no stop")
        if o.triggered:
            stop = None
        ts = self._now(ts_ns)
        fills: list[SimFill] = []
        prints: list[int] = []
        if o.price is None:  # waiting stop: nothing queued, just update and re-check trigger
            o.qty = qty if qty is not None else o.qty
            o.limit = limit if limit is not None else o.limit
            o.stop = stop if stop is not None else o.stop
            if self._stop_hit(o, self.book.last_price):
                self._stops.remove(o)
                o.triggered = True
                o.ts_ns = ts
                self._enter(o, ts, fills, prints)
        elif limit is not None and limit != o.limit:  # new price: re-enter, loses priority
            self._unrest(o)
            o.limit = limit
            o.qty = qty if qty is not None else o.qty
            o.ts_ns = ts
            self._enter(o, ts, fills, prints)
        elif qty is not None and qty > o.qty:  # size up: back of the queue
            self._unrest(o)
            o.qty = qty
            o.ts_ns = ts
            self._rest(o)
        elif qty is not None:
            o.qty = qty
        self._cascade(prints, ts, fills)
        return fills

    # ------------------------------------------------------------------ market data

    def on_market(self, event: MarketEvent) -> list[SimFill]:
        """Apply a market event from the source; returns fills of our orders it causes."""
        fills: list[SimFill] = []
        if type(event) is BookDelta:
            ts = event.ts_ns
            if event.last:  # the event that re-sent the book after a clear has ended
                self.rebuilding = False
            if ts > self._clock:
                self._clock = ts
            book = self.book
            if not self._orders:
                book.set_level(event.side, event.price, event.size)
                book.ts_ns = ts
                return fills
            self._on_delta(event.side, event.price, event.size, ts, fills)
        elif type(event) is TradePrint:
            if event.ts_ns > self._clock:
                self._clock = event.ts_ns
            if not self._orders:
                self.book.apply(event)
                return fills
            agg = event.aggressor
            if agg is None:
                agg = self._infer_aggressor(event.price)
            self.book.apply(event)
            self._on_trade(event.price, event.size, agg, event.ts_ns, fills)
        elif type(event) is OrderDelta:
            self._on_order(event)
            if event.last:
                self.rebuilding = False
        elif type(event) is BookClear:
            self._clock = max(self._clock, event.ts_ns)
            self.rebuilding = True
            self.book.apply(event)
            self._credit[0].clear()
            self._credit[1].clear()
            self._fifo[0].clear()
            self._fifo[1].clear()
        elif type(event) is BarPrint:
            # Bar-only source: walk O -> nearer extreme -> other extreme -> C as unsided trades.
            ts = event.ts_ns
            self._clock = max(self._clock, ts)
            self.book.apply(event)
            if self._orders:
                o, h, lo, c = event.open, event.high, event.low, event.close
                path = (o, lo, h, c) if c >= o else (o, h, lo, c)
                share = max(1, event.volume // 4)
                for p in path:
                    self._on_trade(p, share, None, ts, fills)
        else:
            raise TypeError(f"not a market event: {event!r}")
        return fills

    # ------------------------------------------------------------------ internals

    def _now(self, ts_ns: int | None) -> int:
        if ts_ns is None:
            return self._clock
        if ts_ns > self._clock:
            self._clock = ts_ns
        return ts_ns

    def _protected(self, side: int) -> int | None:
        """Protection price for a market order on ``side`` (None: no reference at all)."""
        opp = 1 - side
        ref = self._best(opp)
        if ref is None:
            ref = self.book.last_price
        if ref is None:
            ref = self._best(side)
        if ref is None:
            return None
        return ref + self.protection if side else ref - self.protection

    def _best(self, side: int) -> int | None:
        """Best price on ``side`` over public and our resting orders."""
        pub = self.book.best(side)
        own = self._lv[side]
        if own:
            o = max(own) if side else min(own)
            if pub is None or (o > pub if side else o < pub):
                return o
        return pub

    @staticmethod
    def _stop_hit(o: _Order, price: int | None) -> bool:
        if price is None or o.stop is None:
            return False
        return price >= o.stop if o.side else price <= o.stop

    def _infer_aggressor(self, price: int) -> BookSide | None:
        ask, bid = self.book.best_ask, self.book.best_bid
        if ask is not None and price >= ask:
            return BookSide.BID
        if bid is not None and price <= bid:
            return BookSide.ASK
        return None

    def _enter(self, o: _Order, ts: int, fills: list[SimFill], prints: list[int]) -> None:
        """Process ``o`` as an incoming order: take liquidity up to its price, rest the rest."""
        if o.otype is OrderType.MARKET or (
            o.otype in (OrderType.STOP, OrderType.TRAIL) and o.triggered
        ):
            o.price = self._protected(o.side)
            if o.price is None:  # unreachable after a trade; defensive
                self._orders.pop(o.key, None)
                return
        else:
            o.price = o.limit
        self._take(o, ts, fills, prints)
        if o.filled < o.qty:
            self._rest(o)
        else:
            self._orders.pop(o.key, None)

    def _rest(self, o: _Order) -> None:
        assert o.price is not None
        o.qa = self.book.size(o.side, o.price)
        o.mark = self.priority
        self._lv[o.side].setdefault(o.price, []).append(o)

    def _unrest(self, o: _Order) -> None:
        lv = self._lv[o.side]
        assert o.price is not None
        q = lv[o.price]
        q.remove(o)
        if not q:
            del lv[o.price]

    def _take(self, o: _Order, ts: int, fills: list[SimFill], prints: list[int]) -> None:
        side = o.side
        opp = 1 - side
        book = self.book
        own = self._lv[opp]
        limit = o.price
        assert limit is not None
        rem = o.qty - o.filled
        out = self._out
        orders = self._orders
        aggressor = _SIDES[side]
        while rem > 0:
            p = book.best(opp)
            if own:
                q_best = min(own) if side else max(own)
                if p is None or (q_best < p if side else q_best > p):
                    p = q_best
            if p is None or (p > limit if side else p < limit):
                break
            pub = book.size(opp, p)
            taken = 0
            at_level = 0
            queue = own.get(p)
            if queue:
                kept = []
                for m in queue:
                    if rem:
                        ahead = min(m.qa, pub) - taken
                        if ahead > 0:
                            t = ahead if ahead < rem else rem
                            taken += t
                            rem -= t
                    if rem:
                        f = m.qty - m.filled
                        if f > rem:
                            f = rem
                        m.filled += f
                        rem -= f
                        at_level += f
                        fills.append(SimFill(m.key, p, f, ts, ADDED, m.qty - m.filled))
                        if m.filled >= m.qty:
                            del orders[m.key]
                            continue
                    kept.append(m)
                if kept:
                    own[p] = kept
                else:
                    del own[p]
            if rem and pub > taken:
                t = pub - taken
                if t > rem:
                    t = rem
                taken += t
                rem -= t
            if taken:
                for m in own.get(p, ()):
                    m.qa = m.qa - taken if m.qa > taken else 0
            at_level += taken
            if not at_level:  # defensive: nothing tradable at p
                break
            o.filled += at_level
            fills.append(SimFill(o.key, p, at_level, ts, REMOVED, o.qty - o.filled))
            out.append(TradePrint(ts, p, at_level, aggressor))
            prints.append(p)
            if pub:  # also when unchanged (only our orders traded): resyncs the generator
                book.set_level(opp, p, pub - taken)
                out.append(BookDelta(ts, _SIDES[opp], p, pub - taken))

    def _on_delta(self, side: int, price: int, size: int, ts: int, fills: list[SimFill]) -> None:
        book = self.book
        old = book.set_level(side, price, size)
        book.ts_ns = ts
        queue = self._lv[side].get(price)
        if queue and size < old and self.exact:  # the single orders say who left
            for m in queue:
                if m.qa > size:
                    m.qa = size
        elif queue and size < old:
            cut = old - size
            credit = self._credit[side]
            c = credit.pop(price, 0)
            if c:
                if c > cut:
                    credit[price] = c - cut
                    cut = 0
                else:
                    cut -= c
            for m in queue:
                if cut and not self.conservative:
                    m.qa -= cut * m.qa // old
                if m.qa > size:
                    m.qa = size
        if size > 0:
            own = self._lv[1 - side]
            if own and (max(own) >= price if side == 0 else min(own) <= price):
                self._cross_quote(side, price, ts, fills)

    def _cross_quote(self, side: int, price: int, ts: int, fills: list[SimFill]) -> None:
        """A public quote on ``side`` reached our resting orders on the other side."""
        own = self._lv[1 - side]
        book = self.book
        pub = book.size(side, price)
        left = pub
        prints: list[int] = []
        crossing = sorted(
            (p for p in own if (p >= price if side == 0 else p <= price)), reverse=side == 0
        )
        for p in crossing:
            for m in list(own[p]):
                if not left:
                    break
                f = min(m.qty - m.filled, left)
                m.filled += f
                left -= f
                fills.append(SimFill(m.key, price, f, ts, REMOVED, m.qty - m.filled))
                self._out.append(TradePrint(ts, price, f, _SIDES[m.side]))
                prints.append(price)
                if m.filled >= m.qty:
                    self._unrest(m)
                    del self._orders[m.key]
        if left != pub:
            book.set_level(side, price, left)
            self._out.append(BookDelta(ts, _SIDES[side], price, left))
        self._cascade(prints, ts, fills)

    def _on_trade(
        self, price: int, size: int, agg: BookSide | None, ts: int, fills: list[SimFill]
    ) -> None:
        """Fills of our resting orders caused by a public trade, then stop triggers."""
        for s in (1, 0):
            lv = self._lv[s]
            if not lv:
                continue
            through = [p for p in lv if (p > price if s else p < price)]
            for p in through:
                for m in lv.pop(p):
                    f = m.qty - m.filled
                    m.filled = m.qty
                    px = price if m.limit is None else p  # market-like: never worse than the print
                    fills.append(SimFill(m.key, px, f, ts, ADDED, 0))
                    del self._orders[m.key]
            queue = lv.get(price)
            if queue and (agg is None or agg != s):
                self._consume_queue(s, price, queue, size, ts, fills)
        self._cascade([price], ts, fills)

    def _consume_queue(
        self, s: int, price: int, queue: list[_Order], size: int, ts: int, fills: list[SimFill]
    ) -> None:
        vol = size
        used = 0  # public contracts ahead of our orders eaten by this trade
        kept = []
        for m in queue:
            if vol:
                ahead = m.qa - used
                if ahead > 0:
                    t = ahead if ahead < vol else vol
                    used += t
                    vol -= t
                if vol:
                    f = m.qty - m.filled
                    if f > vol:
                        f = vol
                    m.filled += f
                    vol -= f
                    fills.append(SimFill(m.key, price, f, ts, ADDED, m.qty - m.filled))
                    if m.filled >= m.qty:
                        del self._orders[m.key]
                        continue
            kept.append(m)
        for m in kept:
            m.qa = m.qa - used if m.qa > used else 0
        lv = self._lv[s]
        if kept:
            lv[price] = kept
            credit = self._credit[s]
            credit[price] = credit.get(price, 0) + size
        else:
            del lv[price]

    def _on_order(self, event: OrderDelta) -> None:
        """A public order changed: the exact queue ahead of our orders at its price is what
        is left of the public orders that were there when each joined."""
        self.exact = True
        side, price, prio = int(event.side), event.price, event.priority
        fifo = self._fifo[side]
        level = fifo.setdefault(price, {})
        if event.size > 0:
            level[prio] = event.size
        else:
            level.pop(prio, None)
            if not level:
                del fifo[price]
        if prio > self.priority:
            self.priority = prio
        for m in self._lv[side].get(price, ()):
            if self.rebuilding:  # re-sent after a clear: its old place is lost, count it ahead
                m.mark = max(m.mark, prio)
            m.qa = sum(size for p, size in level.items() if p <= m.mark)

    def _trail_start(self, side: int, trail: int) -> int:
        """A trailing stop's first price: ``trail`` from the last trade (else the touch it
        would trade at)."""
        ref = self.book.last_price
        if ref is None:
            ref = self._best(1 - side)
        if ref is None:
            raise OrderRejected("trailing stop rejected: no reference price (no trade, no quote)")
        return ref + trail if side else ref - trail

    def _follow(self, price: int) -> None:
        """Trailing stops follow a trade at ``price`` in their favour, never back."""
        for o in self._stops:
            if o.trail is None or o.stop is None:
                continue
            new = price + o.trail if o.side else price - o.trail
            if new < o.stop if o.side else new > o.stop:
                o.stop = new
                self._moved[o.key] = new

    def _cascade(self, prints: list[int], ts: int, fills: list[SimFill]) -> None:
        """Trigger stops on each trade price in ``prints`` (which grows as stops trade),
        trailing stops first following it."""
        i = 0
        while i < len(prints) and self._stops:
            p = prints[i]
            i += 1
            self._follow(p)
            hit = [o for o in self._stops if (p >= o.stop if o.side else p <= o.stop)]  # type: ignore[operator]
            for o in hit:
                if o.key not in self._orders:
                    continue
                self._stops.remove(o)
                o.triggered = True
                o.ts_ns = ts
                self._enter(o, ts, fills, prints)
