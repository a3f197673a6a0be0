"""The paper fill model: our orders filled against the market as the engine sees it.

Pure and synchronous (no asyncio, no broker): it is fed the market (``Quote``, whole-book depth
snapshots, ``DepthDelta``/``DepthReset``, ``Trade``; integer ticks, UTC nanoseconds) and our
orders (market, limit, stop, stop-limit), and returns what happened to them: ``PaperFill``s and
``PaperStatus`` changes, in order. SHADOW mode's paper broker and the backtester both use it.

Our orders are not in the market the data describes (nobody saw them), so the model keeps two
things apart: the book as the feed shows it, and what our orders have done to it.

Rules
-----
* **Taking liquidity** (a market order, a limit that crosses on arrival, a triggered stop):
  walk the opposite side best price first, up to the order's price, taking at each level the
  displayed size *minus what we already took there*. The feed keeps showing contracts we took
  (the real market never traded with us), so a level's ``taken`` count hides them until the
  feed's size there falls by as much (the real market removed them) or the level empties.
* **Market orders** carry protection, as CME and IB do: they are limits at the best opposite
  price (else the last trade, else our own side's best) plus/minus ``protection_ticks``. What
  the visible book cannot fill stays *working* at that price and fills as new liquidity shows
  up within it; with no reference price at all the order is rejected.
* **Resting limits** join behind the displayed size at their price (``queue_ahead``; our own
  order is not in the displayed size). Conservative MBP estimate:
    - what the feed does not show is unknown, not empty: a ``blind`` model (whole-book depth
      snapshots, top of book) sees only from its best level to the last level shown (the
      ``_edge`` of each side). An order joining beyond it has an unknown queue (None): trades at
      its price do not reach it, and when its level comes into view it stands behind all the
      size shown there. When its level leaves the view the queue is kept as it was (frozen);
      when the level comes back, the size shown there caps it (below). A model fed level by
      level (the backtester's deltas of a whole book) is not blind: a level it does not hold
      is empty;
    - a trade *at* our price (its aggressor the other side, or not known) eats ``queue_ahead``
      first; only the part beyond it fills our orders there, oldest first;
    - a trade *through* our price (a sell below our bid, a buy above our offer) fills us up to
      the trade's size, at our limit;
    - a fall of the displayed size at our price is taken as cancels *behind* us, so it does not
      move us forward, except that ``queue_ahead`` never exceeds the displayed size (the
      contracts ahead of us cannot outnumber those shown). A feed may report that fall before
      the trade that caused it: the contracts such a cap removed are kept as a credit at the
      level, which the next trades there use up before they count against the queue (so one
      trade never moves us forward twice); the credit ends when the level grows again;
    - the opposite side reaching our price (its best ask at or below our bid) fills us as if we
      had just arrived, against its available size, at our limit (a market order's remainder
      at the book's price).
* **Stops** trigger on a market trade at or through the stop (a stop whose price the last
  trade already reached triggers on arrival); a triggered stop then takes liquidity as a
  market (STP) or a limit (STP LMT) order. Our own fills are not market trades: they trigger
  nothing.
* **Trailing stops** (TRAIL, ``trail`` ticks): IB's rule, here only. Before each market trade
  is checked against it, a waiting sell trailing stop rises to ``trade - trail`` when that is
  above its stop (a buy one falls to ``trade + trail``), never back; it starts at the stop
  given (IB's ``trailStopPrice``) and, triggered, takes liquidity as a market order.
* **Dormant** orders (``submit(dormant=True)``: held, or a bracket child waiting for its
  parent's fill; see ``order_graph``) are in no market: they neither fill nor trigger until
  ``activate``, which enters them as if they had just arrived (the back of the queue).
* **Cancel** ends a working order. **Modify**: a new limit price re-enters the order (it loses
  its queue position and may cross); a larger quantity sends it to the back of its level; a
  smaller one keeps its place. Quantities are the order's total, as in ``OrderChange``.

Kept as one module because every rule above reads and changes the same book and the same
queue estimates of our orders: split, each half would reach into the other's state.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from tradeterm.domain import (
    BookSide,
    DepthDelta,
    DepthLevel,
    DepthReset,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    Trade,
)

__all__ = ["FillModel", "PaperFill", "PaperRejected", "PaperStatus", "WorkingOrder"]


class PaperRejected(ValueError):
    """The model cannot accept an order or a change; the message is worded for the user."""


class PaperFill(NamedTuple):
    """One fill of our order ``key``. ``aggressive``: it took liquidity (else it rested);
    ``remaining``: the order's open quantity after this fill."""

    key: int
    side: Side
    price: int
    quantity: int
    ts_ns: int
    remaining: int
    aggressive: bool


class PaperStatus(NamedTuple):
    """Order ``key`` is now ``status`` (SUBMITTED, FILLED, CANCELLED or REJECTED)."""

    key: int
    status: OrderStatus
    ts_ns: int
    reason: str = ""


Outcome = PaperFill | PaperStatus


class WorkingOrder(NamedTuple):
    """A working order as the model holds it. ``price`` is the working limit (a market
    order's protection price), None for a stop not triggered yet; ``queue_ahead`` is the
    displayed size estimated ahead of it at ``price``."""

    key: int
    side: Side
    order_type: OrderType
    quantity: int
    filled: int
    limit: int | None
    stop: int | None
    price: int | None
    queue_ahead: int | None  # None: unknown (its level never seen)
    dormant: bool = False


@dataclass(slots=True, eq=False)
class _Order:
    key: int
    side: Side
    quantity: int
    order_type: OrderType
    limit: int | None
    stop: int | None
    seq: int  # time priority
    filled: int = 0
    price: int | None = None  # working price once live; None while a stop waits
    queue_ahead: int | None = 0  # None: unknown (its level never seen)
    dormant: bool = False  # in no market until ``activate``
    trail: int | None = None  # TRAIL: the trailing amount (ticks); ``stop`` follows trades

    @property
    def open(self) -> int:
        return self.quantity - self.filled


_SEQ = attrgetter("seq")  # time priority


def _bid(side: Side) -> bool:
    return side is Side.BUY


class FillModel:
    """One instrument's book as the feed shows it, and our working orders. See the module."""

    def __init__(self, *, protection_ticks: int = 40, blind: bool = False) -> None:
        """``blind``: only what a depth snapshot or a quote shows is seen (see the module), the
        queue estimate's way (``engine/queue_position.py``: unknown is never 0). Paper fills
        (SHADOW, CANARY, the backtester) keep the whole-book reading, every level not shown
        empty, so SHADOW and the backtest fill alike (issue 15's parity)."""
        if protection_ticks < 0:
            raise ValueError("protection_ticks must not be negative")
        self.protection_ticks = protection_ticks
        self._blind = blind  # see only between the best and the edge of each side
        self._sees = blind  # what a snapshot or a quote shows is all that is seen
        self._edge: dict[BookSide, int | None] = {BookSide.BID: None, BookSide.ASK: None}
        self._snapshots = False  # a depth snapshot seen: it sets the edges, not a quote
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.last: int | None = None
        self._taken: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
        self._credit: dict[tuple[Side, int], int] = {}  # (resting side, price): see _shrunk
        self._orders: dict[int, _Order] = {}
        self._seq = 0

    # ---- queries -------------------------------------------------------------------------

    @property
    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    @property
    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None

    def working(self, key: int) -> WorkingOrder | None:
        """The working order ``key``; None once it is done or if it is unknown."""
        o = self._orders.get(key)
        if o is None:
            return None
        return WorkingOrder(
            o.key, o.side, o.order_type, o.quantity, o.filled, o.limit, o.stop, o.price,
            o.queue_ahead, o.dormant,
        )  # fmt: skip

    def working_keys(self) -> list[int]:
        return list(self._orders)

    # ---- orders --------------------------------------------------------------------------

    def submit(self, key: int, side: Side, quantity: int, order_type: OrderType, *,
               limit: int | None = None, stop: int | None = None, ts_ns: int,
               dormant: bool = False, trail: int | None = None) -> list[Outcome]:  # fmt: skip
        """Enter an order. It is SUBMITTED, then fills (or is REJECTED) as the rules say;
        ``dormant``: it is only kept, nothing happens (and nothing is returned) before
        ``activate``; ``trail``: a TRAIL order's trailing amount (ticks)."""
        if key in self._orders:
            raise ValueError(f"order {key} is already working")
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        if (limit is None) == order_type.needs_limit or (stop is None) == order_type.needs_stop:
            raise ValueError(f"a {order_type} order has the wrong prices")
        if (trail is not None and trail > 0) != (order_type is OrderType.TRAIL):
            raise PaperRejected(
                f"a {order_type} order {'needs a positive' if trail is None else 'takes no'} trailing amount"
            )
        if dormant:
            self._orders[key] = _Order(
                key, side, quantity, order_type, limit, stop, 0, dormant=True, trail=trail
            )
            return []
        protection = self._protection(side) if order_type is OrderType.MARKET else None
        if order_type is OrderType.MARKET and protection is None:
            return [PaperStatus(key, OrderStatus.REJECTED, ts_ns, "no price to fill against")]
        self._seq += 1
        o = self._orders[key] = _Order(
            key, side, quantity, order_type, limit, stop, self._seq, trail=trail
        )
        out: list[Outcome] = [PaperStatus(key, OrderStatus.SUBMITTED, ts_ns)]
        if stop is None or self._stop_hit(o, self.last):
            self._go_live(o, ts_ns, out, protection)
        return out

    def activate(self, key: int, *, ts_ns: int) -> list[Outcome]:
        """A dormant order ``key`` enters the market now: it takes what it can and rests, or
        (a stop) waits for its trigger. Raises ``KeyError`` when it is not working."""
        o = self._orders[key]
        o.dormant = False
        self._seq += 1
        o.seq = self._seq
        out: list[Outcome] = []
        if o.stop is None or self._stop_hit(o, self.last):
            self._go_live(o, ts_ns, out)
        return out

    def cancel(self, key: int, *, ts_ns: int) -> list[Outcome]:
        """Cancel a working order; an empty list when it is not working (done or unknown)."""
        if self._orders.pop(key, None) is None:
            return []
        return [PaperStatus(key, OrderStatus.CANCELLED, ts_ns)]

    def modify(self, key: int, *, quantity: int | None = None, limit: int | None = None,
               stop: int | None = None, ts_ns: int) -> list[Outcome]:  # fmt: skip
        """Change a working order (``quantity`` is the new total). Raises ``KeyError`` when
        it is not working and ``PaperRejected`` for a change it cannot take."""
        o = self._orders[key]
        if quantity is not None and quantity <= o.filled:
            raise PaperRejected(f"new quantity {quantity} must exceed the {o.filled} filled")
        if limit is not None and o.limit is None:
            raise PaperRejected(f"a {o.order_type} order takes no limit")
        if stop is not None and o.stop is None:
            raise PaperRejected(f"a {o.order_type} order takes no stop")
        out: list[Outcome] = []
        grows = quantity is not None and quantity > o.quantity
        o.quantity = o.quantity if quantity is None else quantity
        if o.price is None:  # dormant or a waiting stop: new values, then the trigger again
            o.limit = o.limit if limit is None else limit
            o.stop = o.stop if stop is None else stop
            if not o.dormant and self._stop_hit(o, self.last):
                self._go_live(o, ts_ns, out)
        elif limit is not None and limit != o.limit:  # new price: a new order in the queue
            o.limit = limit
            self._seq += 1
            o.seq = self._seq
            self._go_live(o, ts_ns, out)
        elif grows:  # more contracts: the back of the level
            self._seq += 1
            o.seq = self._seq
            o.queue_ahead = self._shown(o.side, o.price)
        return out

    # ---- market data ---------------------------------------------------------------------

    def on_quote(self, quote: Quote) -> list[Outcome]:
        """Top of book: the best level of each side; levels better than it are gone; it is
        in view (alone, before any depth snapshot)."""
        self._blind = self._blind or self._sees
        self._set_top(BookSide.BID, quote.bid, quote.bid_size)
        self._set_top(BookSide.ASK, quote.ask, quote.ask_size)
        return self._after_book(quote.ts_ns)

    def on_depth(self, ts_ns: int, bids: Iterable[DepthLevel],
                 asks: Iterable[DepthLevel]) -> list[Outcome]:  # fmt: skip
        """The whole visible book (what the broker port's ``DepthEvent`` carries): in view
        from its best level to its last; beyond, unknown."""
        self._blind = self._blind or self._sees
        self._snapshots = True
        bid_levels = {lv.price: lv.size for lv in bids if lv.size > 0}
        ask_levels = {lv.price: lv.size for lv in asks if lv.size > 0}
        self._replace(BookSide.BID, bid_levels, min(bid_levels) if bid_levels else None)
        self._replace(BookSide.ASK, ask_levels, max(ask_levels) if ask_levels else None)
        return self._after_book(ts_ns)

    def on_depth_delta(self, delta: DepthDelta) -> list[Outcome]:
        return self.on_level(delta.side, delta.price, delta.size, delta.ts_ns)

    def on_level(self, side: BookSide, price: int, size: int, ts_ns: int) -> list[Outcome]:
        """``on_depth_delta`` without the event (the backtester's hot path). Our orders always
        hold all they can reach, so only a level grown within an order's reach is looked at."""
        if not self._set_level(side, price, size) or not self._orders:
            return []
        if side is BookSide.BID:
            reached = any(o.side is Side.SELL and o.price is not None and o.price <= price
                          for o in self._orders.values())  # fmt: skip
        else:
            reached = any(o.side is Side.BUY and o.price is not None and o.price >= price
                          for o in self._orders.values())  # fmt: skip
        return self._after_book(ts_ns) if reached else []

    def on_depth_reset(self, reset: DepthReset) -> list[Outcome]:
        """The book is cleared until it is sent again: blind, nothing is in view (our queues
        are kept); else every level is empty."""
        self._replace(BookSide.BID, {}, None)
        self._replace(BookSide.ASK, {}, None)
        return []

    def on_trade(self, trade: Trade) -> list[Outcome]:
        """A market trade: our resting orders at or behind its price, then stops."""
        self.last = trade.price
        out: list[Outcome] = []
        if not self._orders:
            return out
        for side in (Side.BUY, Side.SELL):
            self._trade_fills(side, trade, out)
        waiting = [o for o in self._orders.values() if o.price is None and not o.dormant]
        for o in sorted(waiting, key=_SEQ) if len(waiting) > 1 else waiting:
            self._follow(o, trade.price)
            if self._stop_hit(o, trade.price):
                self._go_live(o, trade.ts_ns, out)
        return out

    # ---- internals: the book -------------------------------------------------------------

    def _levels(self, side: BookSide) -> dict[int, int]:
        return self.bids if side is BookSide.BID else self.asks

    def _in_view(self, side: BookSide, price: int) -> bool:
        """Whether the feed shows the size at ``price`` (a price between the best and the
        edge that no level holds is seen empty); beyond the edge it is unknown."""
        if not self._blind:
            return True
        edge = self._edge[side]
        return edge is not None and (price >= edge if side is BookSide.BID else price <= edge)

    def _shown(self, side: Side, price: int) -> int | None:
        """Displayed size at ``price`` on the book side where ``side`` rests; None where the
        feed does not show it."""
        book = BookSide.BID if _bid(side) else BookSide.ASK
        if not self._in_view(book, price):
            return None
        return self._levels(book).get(price, 0)

    def _set_level(self, side: BookSide, price: int, size: int) -> bool:
        """Set one level; whether it grew."""
        levels = self.bids if side is BookSide.BID else self.asks
        old = levels.get(price, 0)
        if size > 0:
            levels[price] = size
        else:
            levels.pop(price, None)
        if size < old:
            if self._orders or price in self._taken[side]:
                self._shrunk(side, price, old - size, size)
            return False
        if size > old:
            self._grew(side, price)
            return True
        return False

    def _replace(self, side: BookSide, new: dict[int, int], edge: int | None) -> None:
        """The side's levels become ``new``, in view up to ``edge``; only the prices a change
        can matter at (ours taken, our orders', a credit's) are compared, each on its own: one
        beyond the new edge is left as it was (unknown, not gone), one coming into view caps
        the queue there (``_cap``)."""
        if side is BookSide.BID:
            old, self.bids = self.bids, new
        else:
            old, self.asks = self.asks, new
        was = self._edge[side]
        self._edge[side] = edge
        taken, orders, credit = self._taken[side], self._orders, self._credit
        if not (taken or orders or credit):
            return
        resting = Side.BUY if side is BookSide.BID else Side.SELL
        watched = set(taken)
        watched.update(
            o.price for o in orders.values() if o.side is resting and o.price is not None
        )
        if credit:  # it ends when the level grows
            watched.update(p for s, p in credit if s is resting)
        bid = side is BookSide.BID
        for price in watched:
            if not self._in_view(side, price):
                continue  # unknown now: kept as it was
            size = new.get(price, 0)
            if self._blind and (was is None or (price < was if bid else price > was)):
                self._cap(side, price, size)  # it comes (back) into view
                continue
            cut = old.get(price, 0) - size
            if cut > 0:
                self._shrunk(side, price, cut, size)
            elif cut < 0:
                self._grew(side, price)

    def _set_top(self, side: BookSide, price: int | None, size: int) -> None:
        """The best level: before any depth snapshot it is all that is in view; after one,
        the view reaches at least to it."""
        levels = self._levels(side)
        better = [
            p for p in levels
            if price is None or (p > price if side is BookSide.BID else p < price)
        ]  # fmt: skip
        for p in better:
            self._set_level(side, p, 0)
        if price is None:
            return
        seen = self._in_view(side, price)
        edge = self._edge[side]
        if not self._snapshots or edge is None or not seen:
            self._edge[side] = price
        self._set_level(side, price, size)
        if not seen and self._orders:
            self._cap(side, price, size)  # it comes (back) into view

    def _shrunk(self, side: BookSide, price: int, cut: int, size: int) -> None:
        """The feed's size at a level fell by ``cut`` to ``size``: first the contracts we had
        taken there leave, and the queue ahead of our orders never exceeds what is shown."""
        taken = self._taken[side]
        if price in taken:
            left = taken[price] - cut
            if left > 0 and size > 0:
                taken[price] = left
            else:
                del taken[price]
        if self._orders:
            self._cap(side, price, size)

    def _cap(self, side: BookSide, price: int, size: int) -> None:
        """``size`` is shown at ``price``: the queue ahead of our orders there is at most that
        (the contracts ahead cannot outnumber those shown), and an order whose queue was
        unknown stands behind all of it. What a cap removed is kept as a credit there."""
        resting = Side.BUY if side is BookSide.BID else Side.SELL
        capped = 0
        for o in self._orders.values():
            if o.side is not resting or o.price != price:
                continue
            if o.queue_ahead is None:
                o.queue_ahead = size
            elif o.queue_ahead > size:
                capped = max(capped, o.queue_ahead - size)
                o.queue_ahead = size
        if capped:
            key = (resting, price)
            self._credit[key] = self._credit.get(key, 0) + capped

    def _grew(self, side: BookSide, price: int) -> None:
        if self._credit:
            self._credit.pop((Side.BUY if side is BookSide.BID else Side.SELL, price), None)

    def _after_book(self, ts_ns: int) -> list[Outcome]:
        """Our working orders that the new book crosses take what it shows."""
        out: list[Outcome] = []
        if not self._orders:
            return out
        bids, asks = self.bids, self.asks
        best_ask = min(asks) if asks else None
        best_bid = max(bids) if bids else None
        reaching = [  # the orders whose price reaches the best opposite level: no other can take
            o for o in self._orders.values()
            if o.price is not None
            and (best_ask is not None and o.price >= best_ask if o.side is Side.BUY
                 else best_bid is not None and o.price <= best_bid)
        ]  # fmt: skip
        for o in sorted(reaching, key=_SEQ) if len(reaching) > 1 else reaching:
            if o.key in self._orders:
                self._take(o, ts_ns, out, at_own_price=True)
        return out

    def _infer_aggressor(self, price: int) -> Side | None:
        ask, bid = self.best_ask, self.best_bid
        if ask is not None and price >= ask:
            return Side.BUY
        if bid is not None and price <= bid:
            return Side.SELL
        return None

    # ---- internals: our orders -----------------------------------------------------------

    def _protection(self, side: Side) -> int | None:
        """A market order's price: the best opposite price, else the last trade, else our own
        side's best, plus (a buy) or minus (a sell) the protection."""
        bids, asks = self.bids, self.asks
        if side is Side.BUY:
            ref = min(asks) if asks else self.last
            if ref is None:
                ref = max(bids) if bids else None
            return None if ref is None else ref + self.protection_ticks
        ref = max(bids) if bids else self.last
        if ref is None:
            ref = min(asks) if asks else None
        return None if ref is None else ref - self.protection_ticks

    @staticmethod
    def _follow(o: _Order, price: int) -> None:
        """A trailing stop follows a trade at ``price`` (see the module notes)."""
        if o.trail is None or o.stop is None:
            return
        o.stop = min(o.stop, price + o.trail) if _bid(o.side) else max(o.stop, price - o.trail)

    @staticmethod
    def _stop_hit(o: _Order, price: int | None) -> bool:
        if price is None or o.stop is None:
            return False
        return price >= o.stop if _bid(o.side) else price <= o.stop

    def _go_live(self, o: _Order, ts_ns: int, out: list[Outcome],
                 protection: int | None = None) -> None:  # fmt: skip
        """``o`` arrives (or re-arrives) at its price: it takes what it can, then rests.
        ``protection``: ``_protection(o.side)`` when the caller has just looked it up."""
        price = o.limit
        if price is None:
            price = protection if protection is not None else self._protection(o.side)
        if price is None:  # a triggered stop with no price at all: only after a reset
            del self._orders[o.key]
            out.append(PaperStatus(o.key, OrderStatus.REJECTED, ts_ns, "no price to fill"))
            return
        o.price = price
        self._take(o, ts_ns, out, at_own_price=False)
        if o.key in self._orders:
            o.queue_ahead = self._shown(o.side, price)

    def _take(self, o: _Order, ts_ns: int, out: list[Outcome], *, at_own_price: bool) -> None:
        """Take the opposite side's available size up to ``o.price``, best price first. A
        resting limit reached by the book (``at_own_price``) trades at its own limit."""
        price = o.price
        assert price is not None
        if o.side is Side.BUY:
            levels, taken = self.asks, self._taken[BookSide.ASK]
            reachable = sorted([p for p in levels if p <= price])
        else:
            levels, taken = self.bids, self._taken[BookSide.BID]
            reachable = sorted([p for p in levels if p >= price], reverse=True)
        if self._blind:  # a size the feed no longer shows is not there to take
            side = BookSide.ASK if o.side is Side.BUY else BookSide.BID
            reachable = [p for p in reachable if self._in_view(side, p)]
        own = at_own_price and o.limit is not None
        for p in reachable:
            left = o.quantity - o.filled
            if not left:
                break
            qty = min(left, levels[p] - taken.get(p, 0))
            if qty > 0:
                taken[p] = taken.get(p, 0) + qty
                self._fill(o, price if own else p, qty, ts_ns, True, out)

    def _trade_fills(self, side: Side, trade: Trade, out: list[Outcome]) -> None:
        """Fills of our resting ``side`` orders by a market trade."""
        buy = _bid(side)
        resting = [o for o in self._orders.values() if o.side is side and o.price is not None]
        if not resting:
            return
        resting.sort(key=_SEQ)
        price = trade.price
        crossed = [o for o in resting
                   if o.price is not None and (price < o.price if buy else price > o.price)]  # fmt: skip
        through = trade.size  # a trade through our price: its size, best price first
        for o in sorted(crossed, key=lambda o: -(o.price or 0) if buy else (o.price or 0)):
            assert o.price is not None
            if not through:
                break
            qty = min(o.open, through)
            through -= qty
            self._fill(o, o.price, qty, trade.ts_ns, False, out)
        at_price = [o for o in resting if o.price == price and o.key in self._orders]
        if not at_price:
            return
        if (trade.aggressor or self._infer_aggressor(price)) is side:
            return  # it traded against the other side: not our queue
        volume = trade.size  # a trade at our price: the credit, the queue ahead, then us
        credit = self._credit.pop((side, trade.price), 0)
        if credit > volume:
            self._credit[(side, trade.price)] = credit - volume
        volume -= min(credit, volume)
        eaten = 0
        for o in at_price:
            if o.queue_ahead is None:  # unknown: all of it may be ahead of us
                eaten += volume
                break
            ahead = max(0, o.queue_ahead - eaten)
            step = min(ahead, volume)
            eaten += step
            volume -= step
            qty = min(o.open, volume)
            if qty:
                volume -= qty
                self._fill(o, trade.price, qty, trade.ts_ns, False, out)
        for o in at_price:
            if o.queue_ahead is not None:
                o.queue_ahead = max(0, o.queue_ahead - eaten)

    def _fill(self, o: _Order, price: int, qty: int, ts_ns: int, aggressive: bool,
              out: list[Outcome]) -> None:  # fmt: skip
        o.filled += qty
        left = o.quantity - o.filled
        out.append(PaperFill(o.key, o.side, price, qty, ts_ns, left, aggressive))
        if not left:
            del self._orders[o.key]
            out.append(PaperStatus(o.key, OrderStatus.FILLED, ts_ns))
