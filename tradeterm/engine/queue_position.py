"""Queue position of our resting limit orders: the contracts ahead of each at its price.

Estimated the way DOM traders expect, by the paper fill model's queue (one model for both:
the estimate *is* a :class:`~tradeterm.paper.fill_model.FillModel` fed the engine's depth and
trades, holding a copy of each of our resting limits):

* an order joins behind the displayed size at its price when IB confirms it working
  (``Submitted``), from the depth the engine holds then; a new price or a larger quantity
  joins again (the back of the queue), a smaller quantity keeps its place; while a change
  of ours is in flight the order keeps the place it had until IB confirms or refuses it;
* a price the depth does not show (beyond its last level, below the best on a top-of-book
  feed, or before any depth) is unknown, not empty: an order joining there has an unknown
  queue (``ahead`` None, ``q?`` on the ladder) until its level is seen, and then stands
  behind all the size shown; a level that leaves the depth keeps its estimate (frozen), and
  when it comes back the size shown there caps it as a fall would (below);
* trades at its price (sold into a bid, bought from an offer) eat the queue ahead first;
* a fall of the displayed size there counts as cancels *behind* us: it moves us forward only
  when the size shown falls below our estimate (what is ahead cannot outnumber what is shown).

So the figure never claims to be further ahead than the truth: a market that cancelled ahead
of us leaves it too high, never too low; unknown is never 0. An order the model believes filled (the queue eaten
and traded past it) stands at 0 until IB says what happened. ``exact``: a source of the true
place of an order by IB's permId (an embedded fake gateway replaying order-by-order MBO data
knows it), asked first; the estimate is used where it does not answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import NamedTuple

from tradeterm.broker.port import DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import Order, OrderStatus, OrderType
from tradeterm.paper.fill_model import FillModel

__all__ = ["QueueEstimate"]


class _Copy(NamedTuple):
    key: int  # in the model
    price: int
    quantity: int


class QueueEstimate:
    """See the module notes."""

    def __init__(self, exact: Callable[[int], int | None] | None = None) -> None:
        self.model = FillModel(blind=True)  # nothing seen before the first depth or quote
        self.exact = exact
        self._copies: dict[str, _Copy] = {}  # by the order's client id
        self._perm: dict[str, int] = {}
        self._keys = itertools.count(1)
        self._ts = 0

    def on_market(self, event: object) -> None:
        """The engine's depth, top of book and trades move the queue (their fills are not
        ours to book)."""
        if isinstance(event, DepthEvent):
            self._ts = event.ts_ns
            self.model.on_depth(event.ts_ns, event.bids, event.asks)
        elif isinstance(event, QuoteEvent):
            self._ts = event.quote.ts_ns
            self.model.on_quote(event.quote)
        elif isinstance(event, TradeEvent) and event.trade.size > 0:
            self._ts = event.trade.ts_ns
            self.model.on_trade(event.trade)

    def sync(self, working: Iterable[Order]) -> None:
        """Our working orders as IB last confirmed them: copies join, move or leave."""
        model, seen = self.model, set()
        for o in working:
            cid, left = o.client_id, o.quantity - o.filled
            if o.pending_change is not None and cid in self._copies:
                seen.add(cid)  # a change in flight: its place holds until IB answers
                continue
            if (o.status is not OrderStatus.SUBMITTED or o.order_type is not OrderType.LIMIT
                    or o.limit is None or o.pending_change is not None):  # fmt: skip
                continue
            seen.add(cid)
            if o.perm_id:
                self._perm[cid] = o.perm_id
            copy = self._copies.get(cid)
            if copy is not None and copy.price == o.limit and o.quantity <= copy.quantity:
                continue  # its place is kept
            if copy is not None:
                model.cancel(copy.key, ts_ns=self._ts)
                del self._copies[cid]
            if left <= 0:
                continue
            key = next(self._keys)
            model.submit(key, o.side, left, OrderType.LIMIT, limit=o.limit, ts_ns=self._ts)
            self._copies[cid] = _Copy(key, o.limit, o.quantity)
        for cid in [c for c in self._copies if c not in seen]:
            model.cancel(self._copies.pop(cid).key, ts_ns=self._ts)
            self._perm.pop(cid, None)

    def ahead(self, client_id: str) -> int | None:
        """Contracts ahead of order ``client_id`` at its price; None: unknown (its level not
        seen yet) or not estimated (not a working limit IB confirmed)."""
        perm = self._perm.get(client_id)
        if self.exact is not None and perm is not None:
            true = self.exact(perm)
            if true is not None:
                return true
        copy = self._copies.get(client_id)
        if copy is None:
            return None
        working = self.model.working(copy.key)
        return working.queue_ahead if working is not None else 0

    def positions(self) -> dict[str, int | None]:
        """``ahead`` of every order estimated, by client id (None: unknown)."""
        return {cid: self.ahead(cid) for cid in self._copies}
