"""What the ladder shows, from one engine snapshot, in plain values (prices in ticks): the
book, the last trade, volume at price (and its part traded at the bid and at the ask), the
trades of the last few seconds, the price alerts, own orders by price (other clients' orders in this
contract in parentheses, ``(1S)``, where no own order works) and the position."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from tradeterm.domain import Instrument, Side
from tradeterm.engine.events import OrderView
from tradeterm.engine.marketdata import MarketSnapshot, Recent
from tradeterm.ui.banners import Banner

UNCONFIRMED = "?"  # the mark of an order IB has not confirmed (shown reversed too)
OTHERS = "()"  # around the label of other clients' orders: read-only, not ours
STRATEGY = "*"  # the mark of the running strategy's orders (manual orders have none)
_TYPE_LETTER = {"MKT": "M", "LMT": "L", "STP": "S", "STP LMT": "SL"}
QUEUE = "q"  # before the contracts estimated ahead of our order at its price: ``1Lq12``
UNKNOWN = "?"  # the queue figure of an order whose level the depth has not shown: ``1Lq?``
ORDER_CELL = 5  # the ladder's BUY and SELL cells at their narrowest
ORDER_CELL_WIDE = 7  # ... where the width allows: ``1Lq312``, ``2Lq1.3k``
_ONE_LIMIT = "1L"  # the label a queue figure may stand without (what a figure implies)


def queue_figure(ahead: int | None) -> str:
    """The contracts ahead in few characters, rounded up (never fewer than estimated):
    ``12``, ``312``, ``1.3k``, ``15k``; ``UNKNOWN`` for None."""
    if ahead is None:
        return UNKNOWN
    if ahead < 1000:
        return str(ahead)
    tenths = -(-ahead // 100)
    return f"{tenths / 10:.1f}k" if tenths < 100 else f"{-(-ahead // 1000)}k"


def with_queue(label: str, queue: Mapping[int, int | None], price: int, width: int) -> str:
    """``label`` followed by the queue ahead at ``price`` (``1Lq312``, ``1Lq?``) in ``width``
    characters: the whole figure, else rounded (``1Lq1.3k``), else the figure alone where the
    label is one limit (``q312``), else the label alone."""
    if not label or price not in queue:
        return label
    ahead = queue[price]
    short = queue_figure(ahead)
    texts = [f"{label}{QUEUE}{UNKNOWN if ahead is None else ahead}", f"{label}{QUEUE}{short}"]
    if label == _ONE_LIMIT:
        texts.append(f"{QUEUE}{short}")
    return next((t for t in texts if len(t) <= width), label)


def order_label(orders: Iterable[OrderView], strategy: Collection[str] = ()) -> str:
    """``2L``, ``1S``, ``3L+`` (several types) for the orders working at one price; with
    ``STRATEGY`` (``1L*``) when one of them is the strategy's (its id in ``strategy``), and
    ending in ``UNCONFIRMED`` (``1L?``) when IB has not confirmed one of them (it may still
    fill)."""
    qty, kinds, unconfirmed, ours = 0, [], False, False
    for o in orders:
        qty += o.remaining
        unconfirmed = unconfirmed or bool(o.unconfirmed)
        ours = ours or o.order_id in strategy
        letter = _TYPE_LETTER.get(o.order_type, o.order_type[:1])
        if letter not in kinds:
            kinds.append(letter)
    if not qty:
        return ""
    return (f"{qty}{kinds[0]}{'+' if len(kinds) > 1 else ''}{STRATEGY if ours else ''}"
            f"{UNCONFIRMED if unconfirmed else ''}")  # fmt: skip


def _by_price(orders: Iterable[OrderView]) -> dict[tuple[Side, int], list[OrderView]]:
    """The orders still to fill, grouped by side and price."""
    by_price: dict[tuple[Side, int], list[OrderView]] = {}
    for o in orders:
        if o.price is not None and o.remaining > 0:
            by_price.setdefault((o.side, o.price), []).append(o)
    return by_price


@dataclass(slots=True)
class LadderData:
    """What the ladder shows, from one snapshot (prices in ticks)."""

    instrument: Instrument
    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    volume: dict[int, int] = field(default_factory=dict)
    at_bid: dict[int, int] = field(default_factory=dict)  # sellers hit the bid
    at_ask: dict[int, int] = field(default_factory=dict)  # buyers lifted the offer
    recent: dict[int, Recent] = field(default_factory=dict)
    alerts: frozenset[int] = frozenset()  # the price alerts set
    last: int | None = None
    last_size: int = 0
    buys: dict[int, str] = field(default_factory=dict)
    sells: dict[int, str] = field(default_factory=dict)
    # contracts ahead of our buys (None: unknown, its level not shown)
    buys_ahead: dict[int, int | None] = field(default_factory=dict)
    sells_ahead: dict[int, int | None] = field(default_factory=dict)  # ... of our sells
    position: int = 0
    avg: Fraction | None = None
    banner: Banner | None = None  # the book cannot be trusted: why

    @classmethod
    def build(
        cls,
        instrument: Instrument,
        market: MarketSnapshot | None,
        orders: Iterable[OrderView],
        position: int,
        avg: Fraction | None,
        banner: Banner | None,
        strategy: Collection[str] = (),
        others: Iterable[OrderView] = (),
        queue: Mapping[str, int | None] | None = None,
        alerts: Iterable[int] = (),
    ) -> LadderData:
        """``strategy``: the ids of the strategy's working orders (marked ``STRATEGY``);
        ``others``: other clients' orders in this contract, marked in ``OTHERS`` at a price
        where no own order works (an own order's label always wins its cell); ``queue``: the
        contracts ahead of our resting orders by order id, None where unknown (the least known
        at a price is kept, in ``buys_ahead``/``sells_ahead``); ``alerts``: the price alerts
        set."""
        data = cls(instrument, position=position, avg=avg, banner=banner,
                   alerts=frozenset(alerts))  # fmt: skip
        if market is not None:
            data.bids = {lvl.price: lvl.size for lvl in market.bids}
            data.asks = {lvl.price: lvl.size for lvl in market.asks}
            quote = market.quote
            if quote is not None:  # the top of book may be fresher than depth
                if quote.bid is not None and quote.bid_size:
                    data.bids[quote.bid] = quote.bid_size
                if quote.ask is not None and quote.ask_size:
                    data.asks[quote.ask] = quote.ask_size
            data.volume = dict(market.volume_at_price)
            data.at_bid, data.at_ask = dict(market.at_bid), dict(market.at_ask)
            data.recent = {r.price: r for r in market.recent}
            if market.last is not None:
                data.last, data.last_size = market.last.price, market.last.size
        for (side, price), group in _by_price(others).items():
            label = order_label(group)
            if label:
                (data.buys if side is Side.BUY else data.sells)[price] = (
                    f"{OTHERS[0]}{label}{OTHERS[1]}"
                )
        for (side, price), group in _by_price(orders).items():
            buy = side is Side.BUY
            (data.buys if buy else data.sells)[price] = order_label(group, strategy)
            ahead = [queue[o.order_id] for o in group if queue and o.order_id in queue]
            if ahead:
                known = [a for a in ahead if a is not None]
                (data.buys_ahead if buy else data.sells_ahead)[price] = (
                    min(known) if known else None
                )
        return data

    @property
    def best_bid(self) -> int | None:
        return max(self.bids) if self.bids else None

    @property
    def best_ask(self) -> int | None:
        return min(self.asks) if self.asks else None

    @property
    def reference(self) -> int | None:
        """Where the ladder centres: the last trade, else the middle of the touch."""
        if self.last is not None:
            return self.last
        bid, ask = self.best_bid, self.best_ask
        if bid is not None and ask is not None:
            return (bid + ask) // 2
        return bid if bid is not None else ask
