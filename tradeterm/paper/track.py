"""A strategy's paper track: its intents filled in this process, synchronously, on the paper
broker's queue-aware :class:`~tradeterm.paper.fill_model.FillModel` and bracket graph
(:class:`~tradeterm.paper.order_graph.OrderGraph`). CANARY mode (``engine/canary.py``) and
the backtester (``tradeterm.backtest``) share it: one piece of code turns intents into paper
fills.

* Fed the market the engine applies (quotes, depth, trades), it fills what is working.
* A target becomes a market order for the difference from the track's position (plus its
  market orders still working); an entry becomes its bracket: the entry (market or limit)
  and, once it has filled, a stop and a target one-cancels-the-other, at the prices the
  engine's bracket uses (``stop_ticks`` / ``target_ticks`` from the entry's limit, or from
  the price it was sent at for a market entry).
* Each order it places has an id of its own (:func:`order_id`): the intent's id for the order
  an intent opened with, ``<intent>.stop`` / ``<intent>.target`` for a bracket's exits; a
  fill carries its order's. Given a list (``orders``), the track appends each order it
  places to it as a :class:`TrackOrder` (the backtester records them; CANARY keeps none).
* Its fills are the strategy's own view of itself (``ctx.position``); in CANARY they never
  touch the engine's portfolio, which stays IB's truth.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import NamedTuple

from tradeterm.broker.port import BrokerEvent, DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import OrderType, Side
from tradeterm.paper.fill_model import FillModel, Outcome, PaperFill, PaperStatus
from tradeterm.paper.order_graph import Linked, OrderGraph

__all__ = ["ENTRY", "EXIT", "PaperTrack", "TrackFill", "TrackOrder", "order_id"]

ENTRY, EXIT = "entry", "exit"
"""A fill's leg: the order an intent opened with (a target's order, a bracket's entry), or a
bracket's stop or target."""


def order_id(intent_id: str, leg: str, order_type: OrderType) -> str:
    """The id of an intent's order: the intent's own for its entry, ``<intent>.stop`` and
    ``<intent>.target`` for a bracket's exits (one stop and one target an intent)."""
    if leg == ENTRY:
        return intent_id
    return f"{intent_id}.{'stop' if order_type is OrderType.STOP else 'target'}"


class TrackFill(NamedTuple):
    """A paper fill of intent ``intent_id``'s ``leg`` (order ``order_id``); ``price`` in
    ticks."""

    intent_id: str
    leg: str
    side: Side
    quantity: int
    price: int
    ts_ns: int
    order_id: str


@dataclass(frozen=True, slots=True)
class TrackOrder:
    """An order the track placed at ``ts_ns``: prices in ticks (``limit`` for a limit,
    ``stop`` for a stop); a bracket's exits name their entry (``parent``) and are one OCA
    group (``oca``)."""

    order_id: str
    intent_id: str
    leg: str
    side: Side
    order_type: OrderType
    quantity: int
    ts_ns: int
    limit: int | None = None
    stop: int | None = None
    parent: str | None = None
    oca: str | None = None


class PaperTrack:
    """See the module notes; ``position``: where earlier runs left it (a restart). Its
    brackets are the paper broker's (:class:`~tradeterm.paper.order_graph.OrderGraph`: exits
    dormant until the entry has filled, one cancelling the other)."""

    def __init__(self, *, protection_ticks: int = 40, position: int = 0,
                 orders: list[TrackOrder] | None = None) -> None:  # fmt: skip
        self.orders = orders
        self.model = FillModel(protection_ticks=protection_ticks)
        self.graph = OrderGraph(self.model)
        self.position = position  # signed contracts: the track's fills
        self._legs: dict[int, TrackOrder] = {}  # the working ones, by the graph's key
        self._keys = itertools.count(1)

    def on_market(self, event: BrokerEvent) -> list[TrackFill]:
        """One market event the engine applied: the book, and the fills it causes."""
        if isinstance(event, QuoteEvent):
            outcomes = self.model.on_quote(event.quote)
        elif isinstance(event, DepthEvent):
            outcomes = self.model.on_depth(event.ts_ns, event.bids, event.asks)
        elif isinstance(event, TradeEvent) and event.trade.size > 0:
            outcomes = self.model.on_trade(event.trade)
        else:
            return []
        return self._apply(self.graph.follow(outcomes))

    def follow(self, outcomes: list[Outcome]) -> list[TrackFill]:
        """The fill model's ``outcomes`` for market data fed to ``model`` directly (the
        backtester's path, without broker events around them): the bracket links they set off
        and the fills among them."""
        return self._apply(self.graph.follow(outcomes))

    def target(self, intent_id: str, quantity: int, ts_ns: int) -> tuple[int, list[TrackFill]]:
        """Move the track to ``quantity``: the signed contracts sent (0: nothing to send) and
        the fills that came at once."""
        diff = quantity - self.position - self._working_market()
        if not diff:
            return 0, []
        side = Side.BUY if diff > 0 else Side.SELL
        key = self._leg(TrackOrder(order_id(intent_id, ENTRY, OrderType.MARKET), intent_id,
                                   ENTRY, side, OrderType.MARKET, abs(diff), ts_ns))  # fmt: skip
        return diff, self._apply(self.graph.place(key, side, abs(diff), OrderType.MARKET,
                                                  ts_ns=ts_ns))  # fmt: skip

    def bracket(self, intent_id: str, side: Side, quantity: int, limit: int | None,
                stop_ticks: int, target_ticks: int | None, ts_ns: int) -> list[TrackFill]:  # fmt: skip
        """An entry and, once it has filled, its exits; the fills that came at once. Nothing
        is placed without a price to measure the stop from (none shown yet)."""
        basis = limit if limit is not None else self._reference(side)
        if basis is None:
            return []
        order_type = OrderType.LIMIT if limit is not None else OrderType.MARKET
        entry_id = order_id(intent_id, ENTRY, order_type)
        entry = self._leg(TrackOrder(entry_id, intent_id, ENTRY, side, order_type, quantity,
                                     ts_ns, limit=limit))  # fmt: skip
        place, exit_side, oca = self.graph.place, side.opposite, f"oca.{intent_id}"
        outcomes = place(entry, side, quantity, order_type, limit=limit, ts_ns=ts_ns,
                         transmit=False)  # fmt: skip
        stop_price = basis - side.sign * stop_ticks
        stop = self._leg(TrackOrder(order_id(intent_id, EXIT, OrderType.STOP), intent_id, EXIT,
                                    exit_side, OrderType.STOP, quantity, ts_ns, stop=stop_price,
                                    parent=entry_id, oca=oca))  # fmt: skip
        outcomes += place(stop, exit_side, quantity, OrderType.STOP, stop=stop_price,
                          ts_ns=ts_ns, parent=entry, transmit=target_ticks is None)  # fmt: skip
        if target_ticks is not None:
            price = basis + side.sign * target_ticks
            target = self._leg(TrackOrder(order_id(intent_id, EXIT, OrderType.LIMIT), intent_id,
                                          EXIT, exit_side, OrderType.LIMIT, quantity, ts_ns,
                                          limit=price, parent=entry_id, oca=oca))  # fmt: skip
            outcomes += place(target, exit_side, quantity, OrderType.LIMIT, limit=price,
                              ts_ns=ts_ns, parent=entry)  # fmt: skip
        return self._apply(outcomes)

    @property
    def working(self) -> bool:
        """Whether any of its orders is working (an exit waiting for its entry counts)."""
        return bool(self._legs)

    def cancel_entries(self, ts_ns: int) -> None:
        """Cancel the working orders but the exits (the strategy stopped: as for its live
        orders, what protects a position stays; the exits of an entry not filled go with it)."""
        self._cancel(ENTRY, ts_ns)

    def cancel_exits(self, ts_ns: int) -> None:
        """Cancel the brackets' working exits (a target that reduces, closes or reverses the
        position they protect: left working, one would open a position when it fills)."""
        self._cancel(EXIT, ts_ns)

    def _cancel(self, kind: str, ts_ns: int) -> None:
        for key, leg in list(self._legs.items()):
            if leg.leg == kind and key in self._legs:
                self._apply(self.graph.cancel(key, ts_ns=ts_ns))

    # ---- internals -------------------------------------------------------------------------

    def _leg(self, order: TrackOrder) -> int:
        """The graph's key of a new order (kept in ``orders`` when the track keeps them)."""
        key = next(self._keys)
        self._legs[key] = order
        if self.orders is not None:
            self.orders.append(order)
        return key

    def _reference(self, side: Side) -> int | None:
        best = self.model.best_ask if side is Side.BUY else self.model.best_bid
        return best if best is not None else self.model.last

    def _working_market(self) -> int:
        total = 0
        for key, leg in self._legs.items():
            working = self.model.working(key)
            if working is not None and leg.order_type is OrderType.MARKET and leg.leg == ENTRY:
                total += leg.side.sign * (working.quantity - working.filled)
        return total

    def _apply(self, outcomes: list[Linked]) -> list[TrackFill]:
        fills: list[TrackFill] = []
        legs = self._legs
        for outcome in outcomes:
            leg = legs.get(outcome.key)
            if leg is None:
                continue
            if isinstance(outcome, PaperFill):
                side, quantity = outcome.side, outcome.quantity
                self.position += quantity if side is Side.BUY else -quantity
                fills.append(TrackFill(leg.intent_id, leg.leg, side, quantity, outcome.price,
                                       outcome.ts_ns, leg.order_id))  # fmt: skip
            elif isinstance(outcome, PaperStatus) and outcome.status.is_terminal:
                del legs[outcome.key]
        return fills
