"""Fault injection for the fake gateway: the ``--faults`` spec and its schedule.

A spec is a comma-separated list of faults, each ``KIND[@AT][:ARG[:ARG]]``. ``AT`` is when the
fault fires, counted from the gateway's start (omit it to fire at once, or to arm it at once for
the "next order" kinds); durations and times take ``ms``, ``s`` (default) or ``m``.

======================  =========================================================================
``drop@T``               close every client socket at T (clients see the peer close)
``lost@T:D[:1101|1102]`` error 1100 at T, then after D seconds 1101 (data lost: market-data
                         subscriptions are dropped and must be renewed) or 1102 (data kept;
                         the default)
``farm@T:D``             2103 "market data farm broken" at T, 2104 "OK" after D (socket stays up)
``hmds@T:D``             2105 / 2106 for the historical data farm
``stall@T:D``            market data stops for D seconds while the socket stays up
``reject@T``             the next order after T is rejected (error 201)
``delay@T:D[:FOR]``      the exchange answers order requests D seconds late, for FOR seconds
                         (default: for the rest of the run); as TWS does, a new order is listed
                         at once as PendingSubmit and a cancelled one as PendingCancel
``hide@T:D[:FOR]``       the worst case of ``delay``: TWS shows nothing of a request (no status,
                         not in open orders) until the exchange answers it, D seconds later
``offline-fill@T``       at T drop the clients that have working orders and fill those orders
                         before they can reconnect; they must recover the fills with
                         reqExecutions
``restart@T[:D]``        the gateway restarts: every socket closes and it listens again after D
                         (default 2 s) with positions, working orders and executions kept
``pacing@T``             the next request after T is answered with error 100 (pacing violation)
``malformed@T``          a malformed frame is sent to every client at T
``no-tbt@T``             from T on, every reqTickByTickData is refused with error 10190 (max
                         tick-by-tick requests reached); clients must take trades from RTVolume
``refuse-data@T:F[:C]``  from T on, every request for feed F (``quotes``: reqMktData,
                         ``depth``: reqMktDepth, ``trades``: reqTickByTickData) is refused
                         with IB's error C (default 354, not subscribed; also 10089, 10168,
                         10092, 309, 10189, 10190), as an account without that market-data
                         permission sees it
======================  =========================================================================

Example: ``--faults "farm@20:5,lost@40:3:1101,reject@60,restart@90:4"``.

The runner acts only through the small protocols below (:class:`Connections`,
:class:`MarketFaults`, :class:`OrderFaults`, and a restart callable): each fault is a method of
the object it affects, never a write to that object's attributes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Protocol

from tradeterm.sim.gateway.desks.market_desk import DEFAULT_REFUSAL, FEEDS, REFUSALS
from tradeterm.sim.gateway.protocol import encode

log = logging.getLogger(__name__)

KINDS: dict[str, tuple[int, int]] = {  # kind -> (min args, max args)
    "drop": (0, 0),
    "lost": (1, 2),
    "farm": (1, 1),
    "hmds": (1, 1),
    "stall": (1, 1),
    "reject": (0, 0),
    "delay": (1, 2),
    "hide": (1, 2),
    "offline-fill": (0, 0),
    "restart": (0, 1),
    "pacing": (0, 0),
    "malformed": (0, 0),
    "no-tbt": (0, 0),
    "refuse-data": (1, 2),
}

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


class FaultSpecError(ValueError):
    """A ``--faults`` spec that cannot be read; the message says which part and why."""


@dataclass(slots=True, frozen=True)
class Fault:
    kind: str
    at_s: float  # seconds after the gateway started
    duration_s: float | None = None  # for kinds with a duration
    option: str | None = None  # "1101"/"1102" for lost; the span of delay as text
    span_s: float | None = None  # delay: how long the delay lasts
    code: int | None = None  # refuse-data: IB's error code (the feed is the option)


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise FaultSpecError(f"'{text}' is not a duration (examples: 5, 2.5s, 300ms, 1m)")
    value = float(match.group(1))
    unit = match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def parse_faults(spec: str) -> list[Fault]:
    """Parse a ``--faults`` spec into faults ordered by time."""
    faults: list[Fault] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        head, *args = item.split(":")
        kind, _, at = head.partition("@")
        kind = kind.strip().lower()
        if kind not in KINDS:
            known = ", ".join(KINDS)
            raise FaultSpecError(f"unknown fault '{kind}' in '{item}' (known: {known})")
        low, high = KINDS[kind]
        if not low <= len(args) <= high:
            want = f"{low}" if low == high else f"{low} to {high}"
            raise FaultSpecError(f"'{item}': {kind} takes {want} argument(s) after ':'")
        at_s = parse_duration(at) if at else 0.0
        fault = Fault(kind, at_s)
        if kind == "lost":
            option = args[1] if len(args) > 1 else "1102"
            if option not in ("1101", "1102"):
                raise FaultSpecError(f"'{item}': lost ends with 1101 or 1102, not '{option}'")
            fault = Fault(kind, at_s, parse_duration(args[0]), option)
        elif kind in ("delay", "hide"):
            span = parse_duration(args[1]) if len(args) > 1 else None
            fault = Fault(kind, at_s, parse_duration(args[0]), span_s=span)
        elif kind == "refuse-data":
            fault = Fault(kind, at_s, option=args[0], code=_refusal(item, *args))
        elif args:
            fault = Fault(kind, at_s, parse_duration(args[0]))
        elif kind == "restart":
            fault = Fault(kind, at_s, 2.0)
        faults.append(fault)
    return sorted(faults, key=lambda f: f.at_s)


def _refusal(item: str, feed: str, code: str = str(DEFAULT_REFUSAL)) -> int:
    """The error code of a ``refuse-data`` fault, checked with its feed."""
    if feed not in FEEDS:
        raise FaultSpecError(f"'{item}': the feed is one of {', '.join(FEEDS)}, not '{feed}'")
    if not code.isdigit() or int(code) not in REFUSALS:
        known = ", ".join(map(str, REFUSALS))
        raise FaultSpecError(f"'{item}': the error code is one of {known}, not '{code}'")
    return int(code)


# TWS's own wording of the connectivity and farm messages
TEXTS = {
    1100: "Connectivity between IB and Trader Workstation has been lost.",
    1101: "Connectivity between IB and Trader Workstation has been restored - data lost.",
    1102: "Connectivity between IB and Trader Workstation has been restored - data maintained.",
    2103: "Market data farm connection is broken:usfarm",
    2104: "Market data farm connection is OK:usfarm",
    2105: "HMDS data farm connection is broken:ushmds",
    2106: "HMDS data farm connection is OK:ushmds",
}


class Connections(Protocol):
    """The server's side of the faults (:class:`~tradeterm.sim.gateway.protocol.server.GatewayServer`)."""

    def broadcast(self, fields: Sequence[object]) -> None: ...
    def broadcast_error(self, code: int, text: str) -> None: ...
    def drop(self, client_ids: Set[int] | None = None) -> int: ...
    def replace_farm_message(self, old: int, new: int, text: str) -> None: ...
    def add_pacing_violations(self, count: int) -> None: ...


class MarketFaults(Protocol):
    """The market desk's side of the faults."""

    def stall(self, seconds: float) -> None: ...
    def hold(self) -> float: ...
    def release(self, before: float) -> None: ...
    def drop_all_subscriptions(self) -> None: ...
    def set_hmds_down(self, down: bool) -> None: ...
    def refuse_tick_by_tick(self, refuse: bool) -> None: ...
    def refuse_data(self, feed: str, code: int | None) -> None: ...


class OrderFaults(Protocol):
    """The order desk's side of the faults."""

    def reject_next(self, reason: str) -> None: ...
    def set_ack_delay(self, seconds: float, *, hide: bool = False) -> None: ...
    def clients_with_working_orders(self) -> set[int]: ...
    def force_fill_working(self, client_ids: Iterable[int]) -> int: ...


class FaultRunner:
    """Fires the ``--faults`` plan on schedule; its methods are also the faults' API for tests."""

    def __init__(
        self,
        spec: str,
        *,
        clock: Callable[[], float],
        connections: Connections,
        market: MarketFaults,
        orders: OrderFaults,
        restart: Callable[[float], Awaitable[None]],
    ) -> None:
        self.plan = parse_faults(spec)
        self.fired: list[Fault] = []
        self._clock = clock
        self._connections = connections
        self._market = market
        self._orders = orders
        self._restart = restart

    async def run(self) -> None:
        clock = self._clock
        start = clock()
        for fault in self.plan:
            delay = start + fault.at_s - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            log.warning("fault injected: %s", fault)
            self.fired.append(fault)
            task = asyncio.ensure_future(self.fire(fault))
            task.add_done_callback(_log_failure)

    async def fire(self, fault: Fault) -> None:
        kind, duration = fault.kind, fault.duration_s or 0.0
        if kind == "drop":
            self.drop()
        elif kind == "lost":
            await self.connectivity_lost(duration, data_lost=fault.option == "1101")
        elif kind == "farm":
            await self.farm_outage(duration)
        elif kind == "hmds":
            await self.hmds_outage(duration)
        elif kind == "stall":
            self.stall(duration)
        elif kind == "reject":
            self.reject_next()
        elif kind in ("delay", "hide"):
            await self.delay_acks(duration, fault.span_s, hide=kind == "hide")
        elif kind == "offline-fill":
            self.fill_while_disconnected()
        elif kind == "restart":
            await self._restart(duration)
        elif kind == "pacing":
            self.pacing_violation()
        elif kind == "malformed":
            self.malformed_frame()
        elif kind == "no-tbt":
            self.refuse_tick_by_tick()
        elif kind == "refuse-data":
            assert fault.option is not None
            self.refuse_data(fault.option, fault.code)

    # ---- the faults ---------------------------------------------------------------------

    def broadcast(self, code: int) -> None:
        self._connections.broadcast_error(code, TEXTS[code])

    def drop(self, client_ids: set[int] | None = None) -> int:
        """Close client sockets (all, or those of ``client_ids``); returns how many."""
        return self._connections.drop(client_ids)

    async def connectivity_lost(self, down_s: float, *, data_lost: bool = False) -> None:
        """1100, market data stops, then 1101 (subscriptions dropped) or 1102."""
        self.broadcast(1100)
        held = self._market.hold()
        try:
            await asyncio.sleep(down_s)
            if data_lost:
                self._market.drop_all_subscriptions()
            self.broadcast(1101 if data_lost else 1102)
        finally:
            self._market.release(held)

    async def farm_outage(self, down_s: float) -> None:
        """2103 and no market data for ``down_s`` (the socket stays up), then 2104. Clients
        that connect meanwhile are told the farm is broken, not OK."""
        self.broadcast(2103)
        self._farm_state(2104, 2103)
        held = self._market.hold()
        try:
            await asyncio.sleep(down_s)
            self._farm_state(2103, 2104)
            self.broadcast(2104)
        finally:
            self._market.release(held)

    async def hmds_outage(self, down_s: float) -> None:
        self.broadcast(2105)
        self._farm_state(2106, 2105)
        self._market.set_hmds_down(True)
        try:
            await asyncio.sleep(down_s)
        finally:
            self._market.set_hmds_down(False)
            self._farm_state(2105, 2106)
        self.broadcast(2106)

    def _farm_state(self, old: int, new: int) -> None:
        """What a new connection is told about a farm: message ``new`` instead of ``old``."""
        self._connections.replace_farm_message(old, new, TEXTS[new])

    def stall(self, seconds: float) -> None:
        """Market data stops for ``seconds`` while the socket stays up, with no message."""
        self._market.stall(seconds)

    def reject_next(self, reason: str = "simulated rejection (fault injection)") -> None:
        self._orders.reject_next(reason)

    def set_ack_delay(self, seconds: float, *, hide: bool = False) -> None:
        """The exchange answers order requests ``seconds`` late (0: at once again); ``hide``:
        TWS shows nothing of them meanwhile (the worst case), else it lists them pending."""
        self._orders.set_ack_delay(seconds, hide=hide)

    async def delay_acks(
        self, seconds: float, span_s: float | None = None, *, hide: bool = False
    ) -> None:
        self.set_ack_delay(seconds, hide=hide)
        if span_s is not None:
            await asyncio.sleep(span_s)
            self.set_ack_delay(0.0)

    def fill_while_disconnected(self) -> int:
        """Drop every client with working orders and fill those orders before they can
        reconnect; returns how many orders were filled."""
        owners = self._orders.clients_with_working_orders()
        self.drop(owners)
        return self._orders.force_fill_working(owners)

    def pacing_violation(self, count: int = 1) -> None:
        self._connections.add_pacing_violations(count)

    def refuse_tick_by_tick(self, refuse: bool = True) -> None:
        """Answer every later reqTickByTickData with error 10190 (streams already running go
        on); ``refuse=False`` serves them again."""
        self._market.refuse_tick_by_tick(refuse)

    def refuse_data(self, feed: str, code: int | None = DEFAULT_REFUSAL) -> None:
        """Answer every later request for ``feed`` (quotes, depth, trades) with IB's error
        ``code``, as an account without that permission sees it (streams already running go
        on); ``code=None`` serves them again."""
        self._market.refuse_data(feed, code)

    def malformed_frame(self) -> None:
        """A tickPrice with missing fields: ib_async must log it and carry on."""
        self._connections.broadcast(encode.encode_fields([1, 6, "not-a-number"]))


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("fault failed", exc_info=task.exception())
