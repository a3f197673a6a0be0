"""What the desks share of the fake gateway, and what they need of each other.

A desk never sees the whole gateway: it is given a :class:`DeskContext` (the server it answers
on, the clock, the catalog's today, the default account and master client) and, where it
needs another desk, the small protocol below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from tradeterm.sim import catalog
from tradeterm.sim.gateway.protocol.server import GatewayServer


@dataclass(frozen=True, slots=True)
class DeskContext:
    server: GatewayServer
    clock: Callable[[], float]  # wall-clock seconds
    today: date  # the catalog's "today"
    account: str  # the account of requests that name none
    master_client_id: int | None  # the client that also sees every other client's orders

    def now_ns(self) -> int:
        return int(self.clock() * 1e9)

    def contract(self, con_id: int) -> catalog.ContractEntry | None:
        """The catalog contract of a conId (expired ones too), or None."""
        found = catalog.lookup(conId=con_id, today=self.today, include_expired=True)
        return found[0] if found else None


class MarketLink(Protocol):
    """What the order and account desks need of the market desk."""

    def after_orders(self, con_id: int) -> None:
        """Publish what an order action did to the public market."""

    def last_trade(self, con_id: int) -> int | None:
        """The last trade price in ticks of a contract whose feed exists, else None."""
