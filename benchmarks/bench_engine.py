"""Benchmark: the headless Engine on the real sockets (prints figures; asserts nothing).

1. Tick-to-order latency. The fake gateway runs in a child process (its own event loop; no
   CPU pinning) with the wire probe installed (tradeterm.sim.gateway.probe). At random gaps
   (mean ``--gap``) it prints a marker trade (size 999) into the ES market; the probe stamps
   the moment the marker's tick-by-tick frame is written to the engine's socket. In this
   process the real IbBroker + ib_async + Engine take it in, and a trivial strategy listening
   to the engine's event stream answers each marker with ``Engine.submit(PlaceOrder(...))``
   (a limit buy far below the market: it rests, nothing fills). The probe stamps the
   placeOrder when it arrives decoded. Both stamps are CLOCK_MONOTONIC (system-wide on
   Linux): latency = order in - marker out; p50/p99/max over ``--samples`` markers, with the
   synthetic market tuned so that the gateway writes about each of ``--msg-rates``
   market-data messages a second to the engine (the measured rate is printed).
2. Ingest. (a) In-process: broker events/s through ``Engine.apply`` for a mixed stream
   (quotes, 10-level depth, trades, 5-second bars; one listener drained every 1,000 events).
   (b) Over the socket: for each ``--ingest-rates`` (the gateway's ``--rate``, ascending,
   stopping at the first failure) the engine runs ``--window`` seconds against the gateway
   process. It keeps up when every marker (4 a second) is answered, the marker latency of
   the window's second half is no worse than the first half's (+20 ms, max < 250 ms) and
   ``IbBroker.backlog`` stays bounded likewise. A backlog can build up in the socket as well
   as in the broker's queue (the engine drains that queue whenever it runs), which is why
   the marker latency is part of the test. The events/s the gateway really produced are
   printed: at high rates the gateway, not the engine, may be the limit.

Run: ``python benchmarks/bench_engine.py [--samples 300] [--msg-rates 1000,5000]
[--ingest-rates 2000,5000,...] [--window 10] [--events 200000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

from bench_engine_marketdata import START_NS, stream  # benchmarks/ (scripts run from there)

from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import (
    BrokerEvent,
    ConnectionState,
    ExecutionReport,
    OrderReport,
    PositionReport,
)
from tradeterm.config import ConnectionConfig, MarketConfig
from tradeterm.domain import Bar, ContractMonth, Instrument, OrderType, Side
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import MarketChanged
from tradeterm.engine.marketdata import Changed, Print
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe, frame_with
from tradeterm.sim.market_events import TradePrint

TODAY = date(2026, 11, 20)  # a Friday: ESZ6 is the front month in the gateway's catalog
MARKER_SIZE = 999  # the synthetic market never prints this size
TICK_BY_TICK = 99  # the message that carries the marker to the engine's trade stream
BELOW_TICKS = 400  # the strategy's buy rests this far below the marker: it never fills
NS = 1_000_000_000
TARGET_P99_MS = 5.0


def open_calendar(*stamps_ns: int) -> SessionCalendar:
    """One session around ``stamps_ns`` and now (the CME calendar is closed at weekends)."""
    stamps = (time.time_ns(), *stamps_ns)
    return SessionCalendar([(min(stamps) - 3600 * NS, max(stamps) + 86400 * NS)])


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---- the gateway process ---------------------------------------------------------------------


def gateway_main(conn: Connection, rate: float, seed: int) -> None:
    """The child process: a FakeGateway with the probe; answers marker runs over ``conn``."""
    asyncio.run(_gateway_main(conn, rate, seed))


async def _gateway_main(conn: Connection, rate: float, seed: int) -> None:
    gateway = FakeGateway(GatewayConfig(port=0, rate=rate, seed=seed, today=TODAY))
    probe = WireProbe()
    probe.install(gateway.server)
    host, port = await gateway.start()
    conn.send((host, port))
    loop = asyncio.get_running_loop()
    try:
        while (request := await loop.run_in_executor(None, conn.recv)) is not None:
            if request[0] == "calibrate":
                conn.send(await _calibrate(gateway, probe, request[1]))
            elif request[0] == "stamps":
                conn.send(_stamps(probe, request[1]))
            else:
                conn.send(await _markers(gateway, probe, *request[1:]))
    finally:
        await gateway.stop()


async def _calibrate(gateway: FakeGateway, probe: WireProbe, msgs_per_s: float) -> float:
    """Set the synthetic rate so that about ``msgs_per_s`` messages a second are written to
    the clients (how many messages an event makes depends on what they subscribed to)."""
    config = gateway.config
    for _ in range(4):
        frames, t0 = probe.frames, time.monotonic()
        await asyncio.sleep(1.0)
        measured = (probe.frames - frames) / (time.monotonic() - t0)
        if measured <= 0:
            break
        config.rate = max(1.0, config.rate * msgs_per_s / measured)
        if abs(measured - msgs_per_s) < 0.03 * msgs_per_s:
            break
    return config.rate


def _stamps(probe: WireProbe, since_ns: int) -> dict[str, Any]:
    """The probe's placeOrder and cancelOrder arrivals (order id, ns) since ``since_ns``,
    and its count of frames written."""
    return {
        "orders": [stamp for stamp in probe.orders if stamp[1] >= since_ns],
        "cancels": [stamp for stamp in probe.cancels if stamp[1] >= since_ns],
        "frames": probe.frames,
    }


async def _markers(
    gateway: FakeGateway, probe: WireProbe, count: int, gap_s: float, timeout_s: float
) -> dict[str, Any]:
    """Print ``count`` markers at random gaps (mean ``gap_s``), one at a time; each one's
    latency is its placeOrder's arrival minus the marker frame's write."""
    feed = gateway.market.feed_for_symbol("ES")
    match = frame_with(TICK_BY_TICK, str(MARKER_SIZE))
    rng = random.Random(count)
    arrived = asyncio.Event()
    probe.on_order = lambda _order_id, _ns: arrived.set()
    lags: list[tuple[int, int]] = []  # (when the marker was written, latency ns)
    missed = 0
    frames, events, t0 = probe.frames, feed.events, time.monotonic_ns()
    for _ in range(count):
        await asyncio.sleep(gap_s * rng.uniform(0.5, 1.5))
        arrived.clear()
        marks, orders = len(probe.marks), len(probe.orders)
        price = feed.last if feed.last is not None else feed.engine.best_bid or 0
        probe.arm(match)
        feed.push(TradePrint(gateway.now_ns(), price, MARKER_SIZE, None))
        try:
            await asyncio.wait_for(arrived.wait(), timeout_s)
        except TimeoutError:
            missed += 1
            with contextlib.suppress(TimeoutError):  # a late answer must not pair with the next
                await asyncio.wait_for(arrived.wait(), 5 * timeout_s)
            continue
        if len(probe.marks) == marks:  # the marker frame was never written: no subscriber
            missed += 1
            continue
        written = probe.marks[marks]
        lags.append((written, probe.orders[orders][1] - written))
    probe.on_order = None
    seconds = (time.monotonic_ns() - t0) / NS
    return {
        "lags": lags,
        "missed": missed,
        "msgs_per_s": (probe.frames - frames) / seconds,
        "events_per_s": (feed.events - events) / seconds,
        "seconds": seconds,
    }


class GatewayProcess:
    """The gateway in a child process (spawned: nothing of this loop is inherited)."""

    def __init__(self, rate: float, seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=gateway_main, args=(child, rate, seed), daemon=True)
        self.port = 0

    async def _ask(self, request: object) -> Any:
        def exchange() -> Any:
            if request is not None:
                self._conn.send(request)
            return self._conn.recv()

        return await asyncio.get_running_loop().run_in_executor(None, exchange)

    async def start(self) -> None:
        self._proc.start()
        _host, self.port = await asyncio.wait_for(self._ask(None), 60)

    async def markers(self, count: int, gap_s: float, timeout_s: float) -> dict[str, Any]:
        return await self._ask(("markers", count, gap_s, timeout_s))

    async def stamps(self, since_ns: int) -> dict[str, Any]:
        """placeOrder and cancelOrder arrivals at the gateway since ``since_ns`` (monotonic)
        and the frames written so far: ``{"orders": [(order id, ns)], "cancels": [(order
        id, ns)], "frames": n}``."""
        return await self._ask(("stamps", since_ns))

    async def calibrate(self, msgs_per_s: float) -> float:
        """Make the gateway write about ``msgs_per_s`` to its clients; returns its --rate."""
        return await self._ask(("calibrate", msgs_per_s))

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)


# ---- the engine side -------------------------------------------------------------------------


class Reactor:
    """The trivial strategy: a marker print in the engine's market -> a limit buy out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stream = engine.listen()
        self.sent = 0
        self.refused: list[str] = []
        self._seen: Print | None = None

    def _marker(self) -> Print | None:
        """The newest marker among the prints since the last look."""
        market = self.engine.market
        assert market is not None
        found = None
        for prt in reversed(market.tape):
            if prt is self._seen:
                break
            if found is None and prt.size == MARKER_SIZE:
                found = prt
        self._seen = market.tape[-1] if market.tape else None
        return found

    async def run(self) -> None:
        engine = self.engine
        assert engine.instrument is not None
        tick = engine.instrument.tick
        async for event in self.stream:
            if not isinstance(event, MarketChanged) or not event.changes.kinds & Changed.TRADE:
                continue
            marker = self._marker()
            if marker is None:
                continue
            limit = Decimal(marker.price - BELOW_TICKS) * tick
            result = await engine.submit(
                PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=limit, source="bench")
            )
            self.sent += 1
            if not result.ok:
                self.refused.append(result.reason)


@contextlib.asynccontextmanager
async def session(
    rate: float, seed: int, warmup_s: float
) -> AsyncIterator[tuple[GatewayProcess, IbBroker, Engine]]:
    """The gateway process, and an engine connected to it with the reacting strategy."""
    gateway = GatewayProcess(rate, seed)
    await gateway.start()
    broker = IbBroker(ConnectionConfig(client_id=1), port=gateway.port)
    engine = Engine(broker, "ES", MarketConfig(), calendar=open_calendar(), timer_s=0.25)
    reactor: asyncio.Task[None] | None = None
    try:
        await engine.start()
        reactor = asyncio.create_task(Reactor(engine).run())
        await asyncio.sleep(warmup_s)  # history, first ticks, the strategy's stream
        yield gateway, broker, engine
    finally:
        if reactor is not None:
            reactor.cancel()
            await asyncio.gather(reactor, return_exceptions=True)
        await engine.stop()
        gateway.stop()


def ms(ns: float) -> float:
    return ns / 1e6


def machine() -> str:
    """The machine line every run starts with."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} CPUs, load average {load} at the start (other work on the "
            f"machine shows in the tails), Python {platform.python_version()}")  # fmt: skip


async def bench_latency(
    msgs_per_s: float, samples: int, gap_s: float, seed: int, warmup_s: float
) -> None:
    async with session(msgs_per_s / 2.2, seed, warmup_s) as (gateway, _broker, engine):
        rate = await gateway.calibrate(msgs_per_s)
        applied0, t0 = engine.events_applied, time.perf_counter()
        run = await gateway.markers(samples, gap_s, timeout_s=2.0)
        applied = (engine.events_applied - applied0) / (time.perf_counter() - t0)
    lags = [lag for _, lag in run["lags"]]
    head = (f"{run['msgs_per_s']:>6,.0f} msgs/s to the engine (--rate {rate:,.0f}: "
            f"{run['events_per_s']:,.0f} events/s; {applied:,.0f} broker events/s applied)")  # fmt: skip
    if not lags:
        print(f"{head}: no marker answered ({run['missed']} missed)")
        return
    p99 = ms(pct(lags, 0.99))
    print(f"{head}: p50 {ms(pct(lags, 0.5)):.2f} ms, p99 {p99:.2f} ms, max {ms(max(lags)):.2f} ms "
          f"over {len(lags)} samples, {run['missed']} missed "
          f"(target p99 < {TARGET_P99_MS:g} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'})")  # fmt: skip


# ---- ingest ------------------------------------------------------------------------------------


class StillBroker:
    """A Broker with nothing to say: lets Engine.start build its parts with no socket."""

    state = ConnectionState.OK
    client_id = 1
    account = "DU0000001"

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument

    async def _never(self) -> AsyncIterator[BrokerEvent]:
        await asyncio.Event().wait()
        yield  # type: ignore[misc]

    def events(self) -> AsyncIterator[BrokerEvent]:
        return self._never()

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def resolve(self, symbol: str, *, roll_days: int = 8) -> Instrument:
        return self.instrument

    async def subscribe_market_data(self, instrument: Instrument) -> None: ...
    def resubscribe_all(self) -> None: ...
    async def history(self, instrument: Instrument, minutes: int) -> list[Bar]:
        return []

    async def open_orders(self) -> list[OrderReport]:
        return []

    async def positions(self) -> list[PositionReport]:
        return []

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        return []


async def bench_apply(count: int) -> None:
    events = stream(count)
    es = Instrument.from_spec("ES", ContractMonth(2026, 12), con_id=1)
    calendar = open_calendar(START_NS)
    best = 0.0
    for _ in range(3):
        engine = Engine(StillBroker(es), "ES", MarketConfig(), calendar=calendar)  # type: ignore[arg-type]
        await engine.start()
        listener = engine.listen()
        apply, drain = engine.apply, listener.drain
        t0 = time.perf_counter()
        for i, event in enumerate(events):
            apply(event)
            if i % 1000 == 999:
                drain()
        best = max(best, len(events) / (time.perf_counter() - t0))
        await engine.stop()
    mix = Counter(type(e).__name__.removesuffix("Event").lower() for e in events)
    shares = ", ".join(f"{n / len(events):.0%} {kind}" for kind, n in mix.most_common())
    print(
        f"Engine.apply in-process: {best:,.0f} broker events/s ({len(events):,} events: {shares})"
    )


async def bench_keeps_up(
    rate: float, window_s: float, seed: int, warmup_s: float
) -> tuple[bool, float]:
    """Whether the engine keeps up at gateway ``--rate`` ``rate``, and the events/s the
    gateway really produced."""
    async with session(rate, seed, warmup_s) as (gateway, broker, engine):
        backlog: list[int] = []

        async def sample() -> None:
            while True:
                backlog.append(broker.backlog)
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        applied0, t0, cpu0 = engine.events_applied, time.perf_counter(), time.process_time()
        run = await gateway.markers(int(window_s * 4), 0.25, timeout_s=window_s)
        elapsed = time.perf_counter() - t0
        applied = (engine.events_applied - applied0) / elapsed
        cpu = (time.process_time() - cpu0) / elapsed  # this process: ib_async + broker + engine
        sampler.cancel()
    lags = [ms(lag) for _, lag in run["lags"]]
    half_l, half_b = len(lags) // 2, len(backlog) // 2
    first_l, second_l = lags[:half_l] or [0.0], lags[half_l:] or [0.0]
    first_b, second_b = backlog[:half_b] or [0], backlog[half_b:] or [0]
    ok = (
        run["missed"] == 0
        and statistics.median(second_l) <= statistics.median(first_l) + 20
        and max(second_l) < 250
        and max(second_b) <= max(2 * max(first_b), 200)
    )
    print(f"--rate {rate:>6,.0f} ({run['events_per_s']:>6,.0f} events/s, "
          f"{run['msgs_per_s']:>6,.0f} msgs/s to the engine, {applied:>6,.0f} broker events/s "
          f"applied, engine process {cpu:.0%} CPU): marker latency median {statistics.median(first_l):.1f} -> "
          f"{statistics.median(second_l):.1f} ms, max {max(lags or [0.0]):.1f} ms; backlog max "
          f"{max(first_b)} -> {max(second_b)}; {run['missed']} missed: "
          f"{'keeps up' if ok else 'FALLS BEHIND'}")  # fmt: skip
    return ok, run["events_per_s"]


def rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",") if r.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=300, help="latency samples per rate")
    parser.add_argument("--gap", type=float, default=0.05, help="mean seconds between markers")
    parser.add_argument("--msg-rates", type=rates, default=rates("1000,5000"),
                        help="background market-data messages/s for the latency test")  # fmt: skip
    parser.add_argument("--ingest-rates", type=rates,
                        default=rates("2000,5000,10000,15000,20000,30000"),
                        help="gateway --rate values for the keep-up test, ascending")  # fmt: skip
    parser.add_argument("--window", type=float, default=10.0, help="keep-up window, seconds")
    parser.add_argument("--events", type=int, default=200_000, help="in-process events per run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    args = parser.parse_args()
    run: Callable[[Any], Any] = asyncio.run
    print(machine())
    print("tick-to-order latency (gateway process -> ib_async + Engine + strategy -> gateway):")
    for msgs_per_s in args.msg_rates:
        run(bench_latency(msgs_per_s, args.samples, args.gap, args.seed, args.warmup))
    print("ingest:")
    run(bench_apply(args.events))
    produced = 0.0
    for rate in args.ingest_rates:
        ok, events_per_s = run(bench_keeps_up(rate, args.window, args.seed, args.warmup))
        if not ok:
            break
        produced = max(produced, events_per_s)
    else:
        print(f"the engine kept up at every rate tried; the gateway produced at most "
              f"{produced:,.0f} events/s (where it falls short of --rate, that is its ceiling)")  # fmt: skip


if __name__ == "__main__":
    main()
