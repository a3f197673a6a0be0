"""CANARY mode's two pieces: which intents go live, and the strategy's paper track.

* :class:`CanarySelector` picks the fraction ``f`` of a strategy's intents that also go to
  IB. It is an accumulator, not a random draw: intent ``n`` (from 0) goes live when
  ``floor((n + 1) * f) > floor(n * f)``. After any ``n`` intents the live ones number
  ``floor(n * f)`` (never more than one away from ``n * f``), 0.5 alternates exactly (the 2nd,
  4th...), and a rerun on the same intents picks the same ones. A seeded draw would pick a
  fraction only on average: over a day's handful of intents it can send none or all of them.
  The price: a strategy whose intents alternate in a pattern of the same period could have
  one kind of intent always live; the report shows it (intents per side).
* :class:`PaperTrack` fills every intent of the strategy in this process, with the same
  queue-aware :class:`~tradeterm.paper.fill_model.FillModel` the paper broker uses, fed the
  market events the engine applies (quotes, depth, trades). A target becomes a market order
  for the difference from the track's position (plus its market orders still working); an
  entry becomes its bracket: the entry (market or limit) and, once it has filled, a stop and
  a target one-cancels-the-other, at the prices the engine's bracket uses (``stop_ticks`` /
  ``target_ticks`` from the entry's limit, or from the price it was sent at for a market
  entry). Its fills are the strategy's own view of itself (``ctx.position``); they never
  touch the engine's portfolio, which stays IB's truth.
* **A restart** (:class:`CanaryCarry`, from the journal): the selector goes on counting from
  the intents journaled so far, so ``floor(n * f)`` holds over every run of the strategy on
  one journal, not per run; the track starts at the net position of its journaled paper
  fills, with no working orders (a paper order ends with the process that held it). If
  ``f`` changed between runs the count still carries: the new run picks as ``f``'s sequence
  would from that count on, so the live intents since the restart number
  ``floor(n * f) - floor(c * f)`` (``c``: the count carried); the total is then exact for
  neither fraction.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from tradeterm.broker.port import BrokerEvent, DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.paper.fill_model import FillModel, Outcome, PaperFill, PaperStatus

ENTRY, EXIT = "entry", "exit"
"""A fill's leg: the order an intent opened with (a target's order, a bracket's entry), or a
bracket's stop or target."""


@dataclass(frozen=True, slots=True)
class CanaryCarry:
    """What a strategy's earlier CANARY runs left (see the module notes): the intents
    journaled, and the signed net of its paper fills."""

    intents: int = 0
    paper_position: int = 0


class CanarySelector:
    """See the module notes; ``fraction`` in (0, 1]; ``count``: the intents seen before (a
    restart)."""

    def __init__(self, fraction: float, count: int = 0) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"the canary fraction must be above 0 and at most 1, got {fraction}")
        self.fraction = fraction
        self.count = count  # intents seen so far

    def pick(self) -> bool:
        """Whether the next intent goes live."""
        n, f = self.count, self.fraction
        self.count += 1
        return int((n + 1) * f) > int(n * f)


@dataclass(frozen=True, slots=True)
class TrackFill:
    """A paper fill of intent ``intent_id``'s ``leg``; ``price`` in ticks."""

    intent_id: str
    leg: str
    side: Side
    quantity: int
    price: int
    ts_ns: int


@dataclass(slots=True, eq=False)
class _Leg:
    intent_id: str
    leg: str
    side: Side
    order_type: OrderType
    exits: tuple[int, int | None] | None = None  # an entry's stop and target prices
    sibling: int | None = None  # an exit's other exit (one cancels the other)
    filled: int = 0


class PaperTrack:
    """See the module notes; ``position``: where earlier runs left it (a restart)."""

    def __init__(self, *, protection_ticks: int = 40, position: int = 0) -> None:
        self.model = FillModel(protection_ticks=protection_ticks)
        self.position = position  # signed contracts: the track's fills
        self._legs: dict[int, _Leg] = {}
        self._keys = itertools.count(1)

    def on_market(self, event: BrokerEvent) -> list[TrackFill]:
        """One market event the engine applied: the book, and the fills it causes."""
        if isinstance(event, QuoteEvent):
            return self._apply(self.model.on_quote(event.quote))
        if isinstance(event, DepthEvent):
            return self._apply(self.model.on_depth(event.ts_ns, event.bids, event.asks))
        if isinstance(event, TradeEvent) and event.trade.size > 0:
            return self._apply(self.model.on_trade(event.trade))
        return []

    def target(self, intent_id: str, quantity: int, ts_ns: int) -> tuple[int, list[TrackFill]]:
        """Move the track to ``quantity``: the signed contracts sent (0: nothing to send) and
        the fills that came at once."""
        diff = quantity - self.position - self._working_market()
        if not diff:
            return 0, []
        side = Side.BUY if diff > 0 else Side.SELL
        return diff, self._submit(_Leg(intent_id, ENTRY, side, OrderType.MARKET), abs(diff),
                                  None, None, ts_ns)  # fmt: skip

    def bracket(self, intent_id: str, side: Side, quantity: int, limit: int | None,
                stop_ticks: int, target_ticks: int | None, ts_ns: int) -> list[TrackFill]:  # fmt: skip
        """An entry and, once it has filled, its exits; the fills that came at once. Nothing
        is placed without a price to measure the stop from (none shown yet)."""
        basis = limit if limit is not None else self._reference(side)
        if basis is None:
            return []
        stop = basis - side.sign * stop_ticks
        target = basis + side.sign * target_ticks if target_ticks is not None else None
        order_type = OrderType.LIMIT if limit is not None else OrderType.MARKET
        leg = _Leg(intent_id, ENTRY, side, order_type, exits=(stop, target))
        return self._submit(leg, quantity, limit, None, ts_ns)

    def cancel_entries(self, ts_ns: int) -> None:
        """Cancel the working orders but the exits (the strategy stopped: as for its live
        orders, what protects a position stays)."""
        for key, leg in list(self._legs.items()):
            if leg.leg == ENTRY:
                self.model.cancel(key, ts_ns=ts_ns)
                del self._legs[key]

    # ---- internals -------------------------------------------------------------------------

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

    def _submit(self, leg: _Leg, quantity: int, limit: int | None, stop: int | None,
                ts_ns: int) -> list[TrackFill]:  # fmt: skip
        key = next(self._keys)
        self._legs[key] = leg
        outcomes = self.model.submit(key, leg.side, quantity, leg.order_type, limit=limit,
                                     stop=stop, ts_ns=ts_ns)  # fmt: skip
        return self._apply(outcomes)

    def _apply(self, outcomes: list[Outcome]) -> list[TrackFill]:
        fills: list[TrackFill] = []
        for outcome in outcomes:
            leg = self._legs.get(outcome.key)
            if leg is None:
                continue
            if isinstance(outcome, PaperFill):
                self.position += outcome.side.sign * outcome.quantity
                leg.filled += outcome.quantity
                fills.append(TrackFill(leg.intent_id, leg.leg, outcome.side, outcome.quantity,
                                       outcome.price, outcome.ts_ns))  # fmt: skip
                if leg.sibling is not None:
                    self._shrink(leg.sibling, outcome.quantity, outcome.ts_ns)
            elif isinstance(outcome, PaperStatus) and outcome.status.is_terminal:
                del self._legs[outcome.key]
                if outcome.status is OrderStatus.FILLED and leg.exits is not None:
                    fills += self._protect(leg, outcome.ts_ns)
        return fills

    def _protect(self, entry: _Leg, ts_ns: int) -> list[TrackFill]:
        """A filled entry's stop and target, one cancelling the other (both placed before
        either's fills are applied, so one that fills on arrival cancels the other)."""
        assert entry.exits is not None
        stop, target = entry.exits
        side = entry.side.opposite
        stop_key = next(self._keys)
        target_key = next(self._keys) if target is not None else None
        self._legs[stop_key] = _Leg(entry.intent_id, EXIT, side, OrderType.STOP,
                                    sibling=target_key)  # fmt: skip
        outcomes = self.model.submit(stop_key, side, entry.filled, OrderType.STOP, stop=stop,
                                     ts_ns=ts_ns)  # fmt: skip
        if target is not None and target_key is not None:
            self._legs[target_key] = _Leg(entry.intent_id, EXIT, side, OrderType.LIMIT,
                                          sibling=stop_key)  # fmt: skip
            outcomes += self.model.submit(target_key, side, entry.filled, OrderType.LIMIT,
                                          limit=target, ts_ns=ts_ns)  # fmt: skip
        return self._apply(outcomes)

    def _shrink(self, key: int, filled: int, ts_ns: int) -> None:
        """The other exit of a bracket covers ``filled`` fewer contracts."""
        working = self.model.working(key)
        if working is None:
            return
        left = working.quantity - filled
        if left <= working.filled:
            self.model.cancel(key, ts_ns=ts_ns)
            self._legs.pop(key, None)
        else:
            self.model.modify(key, quantity=left, ts_ns=ts_ns)
