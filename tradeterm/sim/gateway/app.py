"""The fake IB Gateway, assembled: TWS server + market + simulated broker + faults.

:class:`FakeGateway` owns everything that must survive a simulated gateway restart (the
contract feeds with their matching engines, the order management, the books) and a
:class:`GatewayServer` that can be stopped and started again on the same port.

* :class:`~tradeterm.sim.gateway.market.MarketDesk` streams market data and contract details
  and drives the matching engines from the market source (synthetic or replay);
* :class:`~tradeterm.sim.gateway.desk.OrderDesk` handles orders, executions, positions,
  account updates and P&L, scoping them per client like TWS;
* :class:`~tradeterm.sim.gateway.faults.FaultRunner` fires scheduled faults.

Use it in-process (tests, the demo)::

    gateway = FakeGateway(GatewayConfig(port=0, symbols=("ES",), seed=7))
    host, port = await gateway.start()
    ...
    await gateway.stop()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from tradeterm.sim import catalog
from tradeterm.sim.gateway.accounts import Books, InstrumentTerms
from tradeterm.sim.gateway.oms import Oms, Venue
from tradeterm.sim.gateway.server import DEFAULT_ACCOUNT, GatewayServer

log = logging.getLogger(__name__)

# Where the synthetic market starts, in price units, per root (a plausible late-2026 level).
START_PRICES: dict[str, Decimal] = {
    "ES": Decimal("6000.00"),
    "MES": Decimal("6000.00"),
    "NQ": Decimal("21000.00"),
    "MNQ": Decimal("21000.00"),
    "YM": Decimal("44000"),
    "RTY": Decimal("2400.0"),
    "CL": Decimal("70.00"),
    "GC": Decimal("2700.0"),
}


@dataclass(slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 4002
    symbols: tuple[str, ...] = ("ES",)
    seed: int = 1
    replay: Path | None = None
    speed: float = 1.0  # replay speed; 0 = as fast as possible
    rate: float = 50.0  # synthetic market-data events per second
    account: str = DEFAULT_ACCOUNT
    master_client_id: int | None = None
    faults: str = ""
    commission: Decimal = Decimal("2.25")
    starting_cash: Decimal = Decimal("1000000")
    today: date | None = None  # the catalog's "today" (default: today in Chicago)
    history_minutes: int = 8 * 60  # synthetic 1-minute history before the start
    # test hooks
    clock: Callable[[], float] = time.time
    extra_accounts: tuple[str, ...] = field(default_factory=tuple)


class _Venues(Mapping[int, Venue]):
    """conId -> matching engine, creating the instrument's feed on first use."""

    def __init__(self, gateway: FakeGateway) -> None:
        self._gateway = gateway

    def __getitem__(self, con_id: int) -> Venue:
        return self._gateway.market.feed(con_id).engine

    def __iter__(self) -> Iterator[int]:
        return iter(self._gateway.market.feeds)

    def __len__(self) -> int:
        return len(self._gateway.market.feeds)


class FakeGateway:
    def __init__(self, config: GatewayConfig | None = None) -> None:
        from tradeterm.sim.gateway.desk import OrderDesk
        from tradeterm.sim.gateway.faults import FaultRunner
        from tradeterm.sim.gateway.market import MarketDesk

        self.config = cfg = config or GatewayConfig()
        self.today = cfg.today or catalog.chicago_today()
        accounts = [cfg.account, *cfg.extra_accounts]
        self.server = GatewayServer(
            accounts=accounts, clock=cfg.clock, starting_cash=float(cfg.starting_cash)
        )
        self.books = Books(
            accounts, commission_per_contract=cfg.commission, start_cash=cfg.starting_cash
        )
        self.oms = Oms(self.books, _Venues(self))
        self.market = MarketDesk(self)
        self.desk = OrderDesk(self)
        self.faults = FaultRunner(self)
        self.market.install(self.server)
        self.desk.install(self.server)
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at: float | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        """Start the market and listen; returns the bound (host, port)."""
        address = await self.server.start(self.config.host, self.config.port)
        self.config.port = address[1]  # a restart comes back on the same port
        if self._started_at is None:
            self._started_at = self.config.clock()
            for symbol in self.config.symbols:
                self.market.feed_for_symbol(symbol)
            self._tasks = [
                asyncio.create_task(self.market.run(), name="gateway-market"),
                asyncio.create_task(self.desk.run(), name="gateway-desk"),
                asyncio.create_task(self.faults.run(), name="gateway-faults"),
            ]
        return address

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.server.stop()

    async def restart(self, down_s: float) -> None:
        """Close every connection, stay down ``down_s`` seconds, listen again on the same
        port; positions, working orders and executions are kept."""
        await self.server.stop()
        await asyncio.sleep(down_s)
        await self.server.start(self.config.host, self.config.port)

    @property
    def uptime_s(self) -> float:
        return 0.0 if self._started_at is None else self.config.clock() - self._started_at

    # ---- shared lookups -------------------------------------------------------------------

    def contract(self, con_id: int) -> catalog.ContractEntry | None:
        found = catalog.lookup(conId=con_id, today=self.today, include_expired=True)
        return found[0] if found else None

    def terms(self, con_id: int) -> InstrumentTerms:
        """The books' terms of a contract (registered on first use)."""
        terms = self.books.terms.get(con_id)
        if terms is None:
            entry = self.contract(con_id)
            if entry is None:
                raise KeyError(con_id)
            terms = InstrumentTerms(
                con_id=entry.conId,
                symbol=entry.symbol,
                local_symbol=entry.localSymbol,
                tick=entry.tick,
                multiplier=int(entry.multiplier),
            )
            self.books.register(terms)
        return terms

    def now_ns(self) -> int:
        return int(self.config.clock() * 1e9)
