"""The fake IB Gateway, assembled: TWS server + market + simulated broker + faults.

:class:`FakeGateway` owns everything that must survive a simulated gateway restart (the
contract feeds with their matching engines, the order management, the books) and a
:class:`GatewayServer` that can be stopped and started again on the same port.

* :class:`~tradeterm.sim.gateway.desks.market_desk.MarketDesk` streams market data and
  contract details and drives the matching engines from the market source (synthetic or
  replay);
* :class:`~tradeterm.sim.gateway.desks.order_desk.OrderDesk` handles orders, executions,
  positions, account updates and P&L, scoping them per client like TWS;
* :class:`~tradeterm.sim.gateway.faults.FaultRunner` fires scheduled faults.

This module wires them together: the desks get a narrow
:class:`~tradeterm.sim.gateway.desks.context.DeskContext`, the fault runner the objects its
faults act on; none of them imports this module.

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
from tradeterm.sim.gateway.accounts import Books
from tradeterm.sim.gateway.desks.context import DeskContext
from tradeterm.sim.gateway.desks.market_desk import MarketDesk
from tradeterm.sim.gateway.desks.order_desk import OrderDesk
from tradeterm.sim.gateway.faults import FaultRunner
from tradeterm.sim.gateway.oms import Oms, Venue
from tradeterm.sim.gateway.protocol.server import DEFAULT_ACCOUNT, GatewayServer
from tradeterm.sim.matching import SimFill
from tradeterm.sim.replay_clock import MarketClock

log = logging.getLogger(__name__)


@dataclass(slots=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 4002
    symbols: tuple[str, ...] = ("ES",)
    seed: int = 1
    replay: Path | None = None
    replay_symbol: str | None = None  # the file's instrument (default: the first symbol's)
    speed: float = 1.0  # replay speed; 0 = as fast as possible
    # the replay's one clock (default: a ReplayClock at ``speed``; tests: a lockstep clock)
    replay_clock: MarketClock | None = None
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

    def __init__(self, market: MarketDesk) -> None:
        self._market = market

    def __getitem__(self, con_id: int) -> Venue:
        return self._market.feed(con_id).engine

    def __iter__(self) -> Iterator[int]:
        return iter(self._market.feeds)

    def __len__(self) -> int:
        return len(self._market.feeds)


class FakeGateway:
    def __init__(self, config: GatewayConfig | None = None) -> None:
        self.config = cfg = config or GatewayConfig()
        self.today = cfg.today or catalog.chicago_today()
        accounts = [cfg.account, *cfg.extra_accounts]
        self.server = GatewayServer(
            accounts=accounts, clock=cfg.clock, starting_cash=float(cfg.starting_cash)
        )
        self.books = Books(
            accounts, commission_per_contract=cfg.commission, start_cash=cfg.starting_cash
        )
        self.context = DeskContext(
            server=self.server,
            clock=cfg.clock,
            today=self.today,
            account=cfg.account,
            master_client_id=cfg.master_client_id,
        )
        self.market = MarketDesk(self.context, cfg, on_fills=self._on_fills)
        self.oms = Oms(self.books, _Venues(self.market))
        self.desk = OrderDesk(self.context, self.oms, self.books, self.market)
        self.faults = FaultRunner(
            cfg.faults,
            clock=cfg.clock,
            connections=self.server,
            market=self.market,
            orders=self.desk,
            restart=self.restart,
        )
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

    def _on_fills(self, fills: list[SimFill]) -> None:
        """Fills of resting orders caused by the market go to the order desk."""
        self.desk.on_fills(fills)

    def now_ns(self) -> int:
        return self.context.now_ns()

    def queue_position(self, perm_id: int) -> int | None:
        """Public contracts ahead of the resting order ``perm_id`` in its matching engine's
        queue (the truth a client's estimate is held to); None unless it rests."""
        for feed in self.market.feeds.values():
            ahead = feed.engine.queue_position(perm_id)
            if ahead is not None:
                return ahead
        return None

    def exact_queue_position(self, perm_id: int) -> int | None:
        """:meth:`queue_position` where it is the exchange's FIFO truth (an order-by-order
        replay: MBO; after a book clear, every public order re-sent counts as ahead: never
        better than the truth); None elsewhere, where it is this engine's own model (on top of
        book or 10 levels it would say 0 ahead at a price the feed never showed)."""
        for feed in self.market.feeds.values():
            ahead = feed.engine.queue_position(perm_id)
            if ahead is not None:
                return ahead if feed.engine.exact else None
        return None

    @property
    def replay_clock(self) -> MarketClock | None:
        """The clock the replay runs on (a ReplayClock unless the config gave another: pause,
        resume, set_speed, jump); None when not replaying."""
        return self.market.replay_clock
