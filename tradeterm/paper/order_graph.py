"""Linked paper orders: held orders, bracket children and OCA groups, over the fill model.

What IB does with a native bracket (docs/ib-facts.md), as the fake gateway's order desk
(``sim/gateway/oms.py``) does it, for SHADOW's paper broker and the backtester:

* an order placed with ``transmit=False`` is **held**: nothing is reported and nothing fills
  until an order of its family (its parent or a child of it) is placed with ``transmit=True``;
  then every held member is reported SUBMITTED at once, parents first;
* a **child** (``parent``) is dormant in the fill model until its parent is completely
  filled, then works for its full quantity (the gateway's rule); a limit child then joins the
  queue at its price like any limit, a stop child waits for a trade at or through its stop;
* the children of one parent are one **OCA group**, as at IB, and so are orders that share an
  ``oca`` name: the complete fill of one cancels the others ("OCA group"); a partial fill
  reduces each other one by the quantity filled (IB: "partial completion causes the group to
  re-balance") and cancels one that has nothing left;
* a parent that ends unfilled (cancelled, rejected) cancels its open children
  ("parent cancelled"), held or not.

Every call returns the fill model's outcomes together with those they cause, in the order a
broker reports them; :class:`PaperResized` says an order's quantity was reduced.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from tradeterm.domain import OrderStatus, OrderType, Side
from tradeterm.paper.fill_model import FillModel, Outcome, PaperFill, PaperRejected, PaperStatus

__all__ = ["OCA_CANCELLED", "PARENT_CANCELLED", "Linked", "OrderGraph", "PaperResized"]

OCA_CANCELLED = "OCA group"
PARENT_CANCELLED = "parent cancelled"


class PaperResized(NamedTuple):
    """Order ``key`` now has ``quantity`` in all: an OCA sibling's partial fill reduced it."""

    key: int
    quantity: int
    ts_ns: int


Linked = Outcome | PaperResized


@dataclass(slots=True, eq=False)
class _Link:
    parent: int | None
    oca: str
    held: bool
    children: list[int] = field(default_factory=list)
    filled: bool = False


class OrderGraph:
    """The links between the orders of one ``FillModel``; see the module notes."""

    def __init__(self, model: FillModel) -> None:
        self.model = model
        self._links: dict[int, _Link] = {}

    def held(self, key: int) -> bool:
        """Whether ``key`` is held: placed with ``transmit=False`` and not transmitted yet."""
        link = self._links.get(key)
        return link is not None and link.held

    def parent(self, key: int) -> int | None:
        link = self._links.get(key)
        return link.parent if link is not None else None

    def place(self, key: int, side: Side, quantity: int, order_type: OrderType, *,
              limit: int | None = None, stop: int | None = None, ts_ns: int,
              parent: int | None = None, oca: str = "", transmit: bool = True,
              trail: int | None = None) -> list[Linked]:  # fmt: skip
        """Enter an order (see the module notes). Raises ``PaperRejected`` for a child whose
        parent is not working, and what ``FillModel.submit`` raises."""
        if parent is not None and self.model.working(parent) is None:
            raise PaperRejected(f"parent order {parent} is not working")
        alone = transmit and parent is None
        outcomes = self.model.submit(
            key, side, quantity, order_type, limit=limit, stop=stop, ts_ns=ts_ns,
            dormant=not alone, trail=trail,
        )  # fmt: skip
        self._links[key] = _Link(parent, oca, held=not alone)
        if parent is not None:
            self._links[parent].children.append(key)
        if alone:
            return self.follow(outcomes)
        return self._transmit(key, ts_ns) if transmit else []

    def cancel(self, key: int, *, ts_ns: int) -> list[Linked]:
        """Cancel a working order (and so its children); empty when it is not working."""
        return self.follow(self.model.cancel(key, ts_ns=ts_ns))

    def follow(self, outcomes: Iterable[Outcome]) -> list[Linked]:
        """``outcomes`` of the fill model, each followed by what it causes to linked orders."""
        out: list[Linked] = []
        links = self._links
        for outcome in outcomes:
            out.append(outcome)
            link = links.get(outcome.key)
            if link is None:
                continue
            if isinstance(outcome, PaperFill):
                if outcome.remaining:
                    out += self._rebalance(outcome.key, outcome.quantity, outcome.ts_ns)
            elif outcome.status is OrderStatus.SUBMITTED:
                continue
            elif outcome.status is OrderStatus.FILLED:
                link.filled = True
                if siblings := self._siblings(outcome.key):
                    out += self._cancel_all(siblings, outcome.ts_ns, OCA_CANCELLED)
                for child in link.children:
                    out += self._activate(child, outcome.ts_ns)
            elif link.children and outcome.status.is_terminal:
                out += self._cancel_all(link.children, outcome.ts_ns, PARENT_CANCELLED)
        return out

    def _transmit(self, key: int, ts_ns: int) -> list[Linked]:
        """Release every held member of ``key``'s family, then start those that may work."""
        root = key
        while (up := self._links[root].parent) is not None:
            root = up
        family = self._family(root)
        out: list[Linked] = []
        for member in family:
            link = self._links[member]
            if link.held and self.model.working(member) is not None:
                link.held = False
                out.append(PaperStatus(member, OrderStatus.SUBMITTED, ts_ns))
        for member in family:
            up = self._links[member].parent
            if up is None or self._links[up].filled:
                out += self._activate(member, ts_ns)
        return out

    def _activate(self, key: int, ts_ns: int) -> list[Linked]:
        """``key`` enters the market if it is transmitted and still dormant."""
        working = self.model.working(key)
        if working is None or not working.dormant or self._links[key].held:
            return []
        return self.follow(self.model.activate(key, ts_ns=ts_ns))

    def _family(self, root: int) -> list[int]:
        out = [root]
        for child in self._links[root].children:
            out += self._family(child)
        return out

    def _siblings(self, key: int) -> list[int]:
        """The other members of ``key``'s OCA groups: its ``oca`` name, its parent's children."""
        link = self._links[key]
        if not link.oca and link.parent is None:
            return []  # in no group
        named = [k for k, o in self._links.items() if o.oca == link.oca] if link.oca else []
        brothers = self._links[link.parent].children if link.parent is not None else []
        return [k for k in dict.fromkeys(named + brothers) if k != key]

    def _rebalance(self, key: int, quantity: int, ts_ns: int) -> list[Linked]:
        """A partial fill of ``quantity`` reduces each working sibling by as much."""
        out: list[Linked] = []
        for sibling in self._siblings(key):
            working = self.model.working(sibling)
            if working is None:
                continue
            left = working.quantity - quantity
            if left <= working.filled:
                out += self._cancel_all([sibling], ts_ns, OCA_CANCELLED)
                continue
            out += self.follow(self.model.modify(sibling, quantity=left, ts_ns=ts_ns))
            out.append(PaperResized(sibling, left, ts_ns))
        return out

    def _cancel_all(self, keys: Iterable[int], ts_ns: int, reason: str) -> list[Linked]:
        out: list[Linked] = []
        for key in list(keys):
            cancelled = self.model.cancel(key, ts_ns=ts_ns)
            out += self.follow(
                PaperStatus(s.key, s.status, s.ts_ns, reason)
                for s in cancelled
                if isinstance(s, PaperStatus)
            )
        return out
