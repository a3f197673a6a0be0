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

Both processes run on the benchmark's own market clock (``timing.MarketClock``: Friday
2026-11-20 09:00 CT onwards), so a run is the same on any date and at any hour. The strategy's
orders are sent under risk limits that let every one of them rest (``RISK``). Every wait is
bounded: one that runs out prints what it waited for and the script exits 1.

Kept as one module because both measurements drive the same gateway child process
(``GatewayProcess``, which the kill-switch benchmark borrows), on the same market clock and
under the same risk limits; apart, the harness would be shared across two files.

Run: ``python benchmarks/bench_engine.py [--samples 300] [--msg-rates 1000,5000]
[--ingest-rates 2000,5000,...] [--window 10] [--events 200000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import random
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.connection import Connection
from typing import Any

from tradeterm.bench.ingest import START_NS, stream
from tradeterm.bench.timing import (
    NS,
    BenchError,
    MarketClock,
    Stuck,
    bounded,
    calibrate,
    load_line,
    ms,
    pct,
    script,
)
from tradeterm.broker.ib import IbBroker
from tradeterm.broker.port import (
    BrokerEvent,
    ConnectionState,
    ContractMargin,
    ExecutionReport,
    OrderReport,
    PositionReport,
)
from tradeterm.config import ConnectionConfig, MarketConfig, RiskConfig
from tradeterm.domain import Bar, ContractMonth, Instrument, OrderType, Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import MarketChanged
from tradeterm.engine.marketdata import Changed, Print
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe, frame_with
from tradeterm.sim.market_events import TradePrint

MARKER_SIZE = 999  # the synthetic market never prints this size
TICK_BY_TICK = 99  # the message that carries the marker to the engine's trade stream
BELOW_TICKS = 400  # the strategy's buy rests this far below the marker: it never fills
TARGET_P99_MS = 5.0
GIVE_UP_AFTER = 3  # markers in a row with no order: the run stops there
START_S = 60.0  # at most this long for the gateway process, or the engine, to start
# The strategy's buys all rest: the default limits (2 contracts counting working orders, 10
# orders a second) refused the third marker's order, and every refused marker cost the gateway
# its wait for an answer (12 s); 300 samples made the run look hung for hours.
RISK = RiskConfig(max_position=10_000, max_order_qty=1, max_orders_per_s=45)


# ---- the gateway process ---------------------------------------------------------------------


def gateway_main(conn: Connection, rate: float, seed: int, anchor_ns: int) -> None:
    """The child process: a FakeGateway with the probe, on the parent's market clock (the
    same ``anchor_ns``); answers marker runs over ``conn``."""
    asyncio.run(_gateway_main(conn, rate, seed, MarketClock(anchor_ns=anchor_ns)))


async def _gateway_main(conn: Connection, rate: float, seed: int, clock: MarketClock) -> None:
    config = GatewayConfig(port=0, rate=rate, seed=seed, today=clock.today(), clock=clock.seconds)
    gateway = FakeGateway(config)
    probe = WireProbe()
    probe.install(gateway.server)
    host, port = await gateway.start()
    conn.send((host, port))
    loop = asyncio.get_running_loop()
    try:
        while (request := await loop.run_in_executor(None, conn.recv)) is not None:
            if request[0] == "calibrate":
                conn.send(await calibrate(gateway, probe, request[1]))
            elif request[0] == "stamps":
                conn.send(_stamps(probe, request[1]))
            else:
                conn.send(await _markers(gateway, probe, *request[1:]))
    finally:
        await gateway.stop()


def _stamps(probe: WireProbe, since_ns: int) -> dict[str, Any]:
    """The probe's placeOrder and cancelOrder arrivals (order id, ns) since ``since_ns``,
    and its count of frames written."""
    return {
        "orders": [stamp for stamp in probe.orders if stamp[1] >= since_ns],
        "cancels": [stamp for stamp in probe.cancels if stamp[1] >= since_ns],
        "frames": probe.frames,
    }


async def _markers(
    gateway: FakeGateway, probe: WireProbe, con_id: int, count: int, gap_s: float,
    timeout_s: float,
) -> dict[str, Any]:  # fmt: skip
    """Print ``count`` markers at random gaps (mean ``gap_s``), one at a time, into the
    market of contract ``con_id`` (the engine's); each one's latency is its placeOrder's
    arrival minus the marker frame's write. After ``GIVE_UP_AFTER`` markers in a row without
    an order the run stops (``gave_up``)."""
    feed = gateway.market.feed(con_id)
    match = frame_with(TICK_BY_TICK, str(MARKER_SIZE))
    rng = random.Random(count)
    arrived = asyncio.Event()
    probe.on_order = lambda _order_id, _ns: arrived.set()
    lags: list[tuple[int, int]] = []  # (when the marker was written, latency ns)
    missed = in_a_row = 0
    frames, events, t0 = probe.frames, feed.events, time.monotonic_ns()
    for _ in range(count):
        if in_a_row >= GIVE_UP_AFTER:
            break
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
            in_a_row += 1
            if in_a_row >= GIVE_UP_AFTER:
                break
            with contextlib.suppress(TimeoutError):  # a late answer must not pair with the next
                await asyncio.wait_for(arrived.wait(), 5 * timeout_s)
            continue
        if len(probe.marks) == marks:  # the marker frame was never written: no subscriber
            missed += 1
            in_a_row += 1
            continue
        in_a_row = 0
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
        "gave_up": in_a_row >= GIVE_UP_AFTER,
    }


class GatewayProcess:
    """The gateway in a child process (spawned: nothing of this loop is inherited), on this
    process's market clock ``clock``. Every request is answered within a bound or raises
    :class:`Stuck`."""

    def __init__(self, rate: float, seed: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.clock = MarketClock()
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=gateway_main, args=(child, rate, seed, self.clock.anchor_ns), daemon=True
        )
        self.port = 0

    async def _ask(self, request: tuple[Any, ...] | None, seconds: float, what: str) -> Any:
        def exchange() -> Any:
            if request is not None:
                self._conn.send(request)
            if not self._conn.poll(seconds):
                raise Stuck(f"waited {seconds:g} s for the gateway process to {what}")
            return self._conn.recv()

        try:
            return await asyncio.get_running_loop().run_in_executor(None, exchange)
        except EOFError:
            raise BenchError(f"the gateway process ended before it could {what}") from None

    async def start(self) -> None:
        self._proc.start()
        _host, self.port = await self._ask(None, START_S, "start listening")

    async def markers(
        self, con_id: int, count: int, gap_s: float, timeout_s: float
    ) -> dict[str, Any]:
        """See ``_markers``: the gateway waits at most ``6 * timeout_s`` per marker."""
        bound = count * (1.5 * gap_s + 6 * timeout_s) + 30
        return await self._ask(("markers", con_id, count, gap_s, timeout_s), bound,
                               f"print {count} markers")  # fmt: skip

    async def stamps(self, since_ns: int) -> dict[str, Any]:
        """placeOrder and cancelOrder arrivals at the gateway since ``since_ns`` (monotonic)
        and the frames written so far: ``{"orders": [(order id, ns)], "cancels": [(order
        id, ns)], "frames": n}``."""
        return await self._ask(("stamps", since_ns), 30, "report its stamps")

    async def calibrate(self, msgs_per_s: float) -> float:
        """Make the gateway write about ``msgs_per_s`` to its clients; returns its --rate."""
        return await self._ask(("calibrate", msgs_per_s), 30, "calibrate its rate")

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._proc.join(10)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)

    def broker(self) -> IbBroker:
        """The IB adapter for this gateway, on its market clock."""
        return IbBroker(ConnectionConfig(client_id=1), port=self.port, clock=self.clock.seconds)

    async def engine(self, broker: IbBroker, market: MarketConfig) -> Engine:
        """An engine trading ES through ``broker``, on the market clock, started (bounded)."""
        engine = Engine(broker, "ES", market, clock=self.clock.ns, timer_s=0.25)
        await bounded(engine.start(), START_S, "the engine to start (connect, ES, history)")
        return engine


# ---- the engine side -------------------------------------------------------------------------


class Reactor:
    """The trivial strategy: a marker print in the engine's market -> a limit buy out."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stream = engine.listen()
        self.sent = 0
        self.refused: list[str] = []
        self.failed: Exception | None = None
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
        try:
            await self._react()
        except Exception as exc:
            self.failed = exc
            raise

    async def _react(self) -> None:
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
) -> AsyncIterator[tuple[GatewayProcess, IbBroker, Engine, Reactor]]:
    """The gateway process, and an engine connected to it with the reacting strategy."""
    gateway = GatewayProcess(rate, seed)
    engine: Engine | None = None
    task: asyncio.Task[None] | None = None
    try:
        await gateway.start()
        broker = gateway.broker()
        engine = await gateway.engine(broker, MarketConfig(risk=RISK))
        reactor = Reactor(engine)
        task = asyncio.create_task(reactor.run())
        await asyncio.sleep(warmup_s)  # history, first ticks, the strategy's stream
        yield gateway, broker, engine, reactor
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if engine is not None:
            await bounded(engine.stop(), START_S, "the engine to stop")
        gateway.stop()


async def markers(
    gateway: GatewayProcess, engine: Engine, reactor: Reactor, count: int, gap_s: float,
    timeout_s: float,
) -> dict[str, Any]:  # fmt: skip
    """``GatewayProcess.markers`` into the engine's contract. Raises :class:`BenchError` when
    the strategy could not answer a marker (an order refused, the strategy failed): a marker
    the engine did answer in time is the measure, one it was not allowed to is a broken run."""
    con_id = engine.instrument.con_id if engine.instrument is not None else None
    assert con_id is not None
    run = await gateway.markers(con_id, count, gap_s, timeout_s)
    if reactor.failed is not None:
        raise BenchError(f"the strategy failed: {reactor.failed!r}")
    if reactor.refused:
        raise BenchError(f"{len(reactor.refused)} of the strategy's orders were refused, the "
                         f"last: {reactor.refused[-1]}")  # fmt: skip
    return run


async def bench_latency(
    msgs_per_s: float, samples: int, gap_s: float, seed: int, warmup_s: float
) -> dict[str, float]:
    """Tick-to-order at about ``msgs_per_s``: ``{"msgs_per_s", "p50_ms", "p99_ms",
    "max_ms"}`` (no latencies when no marker was answered)."""
    async with session(msgs_per_s / 2.2, seed, warmup_s) as (gateway, _, engine, reactor):
        rate = await gateway.calibrate(msgs_per_s)
        applied0, t0 = engine.events_applied, time.perf_counter()
        run = await markers(gateway, engine, reactor, samples, gap_s, timeout_s=2.0)
        if run["gave_up"]:
            raise Stuck(f"waited 2 s each for the orders answering {GIVE_UP_AFTER} markers in a "
                        "row; none came")  # fmt: skip
        applied = (engine.events_applied - applied0) / (time.perf_counter() - t0)
    lags = [lag for _, lag in run["lags"]]
    head = (f"{run['msgs_per_s']:>6,.0f} msgs/s to the engine (--rate {rate:,.0f}: "
            f"{run['events_per_s']:,.0f} events/s; {applied:,.0f} broker events/s applied)")  # fmt: skip
    if not lags:
        print(f"{head}: no marker answered ({run['missed']} missed)")
        return {"msgs_per_s": run["msgs_per_s"]}
    p99 = ms(pct(lags, 0.99))
    print(f"{head}: p50 {ms(pct(lags, 0.5)):.2f} ms, p99 {p99:.2f} ms, max {ms(max(lags)):.2f} ms "
          f"over {len(lags)} samples, {run['missed']} missed "
          f"(target p99 < {TARGET_P99_MS:g} ms: {'met' if p99 < TARGET_P99_MS else 'MISSED'})")  # fmt: skip
    return {"msgs_per_s": run["msgs_per_s"], "p50_ms": ms(pct(lags, 0.5)), "p99_ms": p99,
            "max_ms": ms(max(lags))}  # fmt: skip


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

    async def contract_margin(self, instrument: Instrument, side: Side) -> ContractMargin:
        return ContractMargin(None, None, instrument.currency, 0)

    async def open_orders(self) -> list[OrderReport]:
        return []

    async def positions(self) -> list[PositionReport]:
        return []

    async def executions(self, since_ns: int | None = None) -> list[ExecutionReport]:
        return []


async def bench_apply(count: int) -> float:
    """Broker events/s through ``Engine.apply`` (best of 3)."""
    events = stream(count)
    es = Instrument.from_spec("ES", ContractMonth(2026, 12), con_id=1)
    clock = MarketClock(datetime.fromtimestamp(START_NS / NS, UTC))  # the stream's open market
    best = 0.0
    for _ in range(3):
        engine = Engine(StillBroker(es), "ES", MarketConfig(), clock=clock.ns, calendar=CME)  # type: ignore[arg-type]
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
    return best


async def bench_keeps_up(
    rate: float, window_s: float, seed: int, warmup_s: float
) -> tuple[bool, float]:
    """Whether the engine keeps up at gateway ``--rate`` ``rate``, and the events/s the
    gateway really produced."""
    async with session(rate, seed, warmup_s) as (gateway, broker, engine, reactor):
        backlog: list[int] = []

        async def sample() -> None:
            while True:
                backlog.append(broker.backlog)
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        applied0, t0, cpu0 = engine.events_applied, time.perf_counter(), time.process_time()
        try:
            run = await markers(gateway, engine, reactor, int(window_s * 4), 0.25, window_s)
        finally:
            sampler.cancel()
        elapsed = time.perf_counter() - t0
        applied = (engine.events_applied - applied0) / elapsed
        cpu = (time.process_time() - cpu0) / elapsed  # this process: ib_async + broker + engine
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
          f"{max(first_b)} -> {max(second_b)}; {run['missed']} missed"
          f"{' (stopped: that many in a row)' if run['gave_up'] else ''}: "
          f"{'keeps up' if ok else 'FALLS BEHIND'}")  # fmt: skip
    return ok, run["events_per_s"]


def rates(text: str) -> list[float]:
    return [float(r) for r in text.split(",") if r.strip()]


def parser() -> argparse.ArgumentParser:
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
    return parser


def main() -> None:
    script("bench_engine", parser, bench)


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure printed, and returned: ``latency`` (msgs/s -> :func:`bench_latency`'s),
    ``apply`` (events/s), ``kept_up`` (the highest --rate the engine kept up at, 0 for none)
    and ``produced`` (the most events/s the gateway made at a rate kept up)."""
    run: Callable[[Any], Any] = asyncio.run
    print(load_line(), flush=True)
    print("tick-to-order latency (gateway process -> ib_async + Engine + strategy -> gateway):")
    found: dict[str, Any] = {"latency": {}, "kept_up": 0.0}
    for msgs_per_s in args.msg_rates:
        found["latency"][msgs_per_s] = run(
            bench_latency(msgs_per_s, args.samples, args.gap, args.seed, args.warmup)
        )
    print("ingest:")
    found["apply"] = run(bench_apply(args.events))
    produced = 0.0
    for rate in args.ingest_rates:
        ok, events_per_s = run(bench_keeps_up(rate, args.window, args.seed, args.warmup))
        if not ok:
            break
        found["kept_up"] = rate
        produced = max(produced, events_per_s)
    else:
        print(f"the engine kept up at every rate tried; the gateway produced at most "
              f"{produced:,.0f} events/s (where it falls short of --rate, that is its ceiling)")  # fmt: skip
    found["produced"] = produced
    return found


if __name__ == "__main__":
    main()
