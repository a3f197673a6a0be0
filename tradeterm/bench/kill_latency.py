"""Benchmark: kill-switch latency on the real sockets, quiet and right after a burst of order
messages (prints figures; asserts nothing).

The fake gateway runs in a child process with the wire probe installed, as in
``bench_engine.py`` (whose pieces this reuses); the probe stamps each placeOrder and
cancelOrder the moment it arrives decoded. In this process the real IbBroker + ib_async +
Engine trade ES while the synthetic market writes about ``--msg-rates`` market-data messages a
second to the engine (calibrated; the measured rate is printed).

Each sample sets up a realistic state: long 1 from a market bracket (its stop 8 ticks and
target 16 ticks away working) plus one buy limit resting a few ticks below the bid, all
acknowledged by the gateway and the fill booked. After a random pause (``--pause`` to 0.1 s
more) the kill is pressed, in one of two ways, taken in turn:

* **quiet**: at once, the pacing window clear (a kill pressed after a quiet moment);
* **burst**: right after a burst of order messages: ``--burst`` modifications of the resting
  limit (its price a tick down and back, handed straight to ``IbBroker.modify``: the engine
  itself sends one modification of an order at a time) and then 2 new entries through the
  engine (buy limits further down). IB takes about 50 messages a second and the adapter
  paces to 45, so most of the burst is still queued in this process when the kill is
  pressed: the kill drops what is queued (the entries are reported never sent) and sends its
  own messages ahead, within the rate.

Then ``t0 = time.monotonic_ns()``, ``done = await engine.kill("bench")``, ``t_end`` when it
returns (``halted``: cancels confirmed, the flatten filled, and IB's open orders and position
read back flat). Three figures, CLOCK_MONOTONIC in both processes:

* **cancels on the wire**: the last of the kill's cancelOrders arriving at the gateway - t0;
* **flatten on the wire**: the flatten placeOrder arriving at the gateway - t0 (the kill
  sends it only once every cancel is confirmed);
* **flat confirmed**: t_end - t0.

A sample fails when the kill does not end ``ok``, the wire does not show one cancel for each
order working at the kill (an entry of the burst that was sent counts) and one flatten, or a
dropped entry reached the gateway. A setup disturbed by the market (the stop, target or limit
filled before the kill) is cleaned up with a kill that is not counted. Then ``engine.rearm``
(no cooldown configured) and the next sample. Also printed, to show where the time goes: when
the engine called ``IbBroker.cancel`` / ``place`` (the rest, to the gateway's stamp, is
ib_async, the socket and the gateway process getting the CPU) and when the kill's steps were
published (the engine's clock, from t0).

Run: ``python benchmarks/bench_kill.py [--samples 50] [--burst 80] [--msg-rates 1000]
[--pause 1] [--warmup 2] [--seed 7]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tradeterm.bench.engine_latency import START_S, GatewayProcess, rates
from tradeterm.bench.timing import bounded, load_line, ms, pct, script
from tradeterm.broker.ib import IbBroker
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import Order, OrderChange, OrderStatus, OrderType, Side
from tradeterm.engine.commands import PlaceBracket, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import KillProgress
from tradeterm.engine.stream import EventStream

LIMIT_BELOW_TICKS = 4  # the resting buy limit: this far below the bid
ENTRIES_BELOW_TICKS = 12  # the burst's entries: this far below the bid
BURST_ENTRIES = 2  # new orders at the end of a burst (the risk limits allow long 1 + 3)
MODES = ("quiet", "burst")
SETTLE_S = 5.0  # at most this long for the setup to be acknowledged
STEPS = ("cancelling", "flattening", "verifying", "halted")
RISK = RiskConfig(
    rearm_cooldown_s=0,  # re-arm at once after each kill
    max_position=5,
    max_order_qty=5,
    max_orders_per_s=45,  # each sample sends 4 to 6 orders and the kill 4 more messages
    daily_loss_limit=Decimal(1_000_000),  # each round trip loses the spread and commissions
    max_drawdown=Decimal(1_000_000),
)


class SentStamps:
    """When the engine handed its cancels and orders to the broker: each ``IbBroker.cancel``
    / ``place`` call wrapped and stamped as it starts (what follows, up to the gateway's stamp,
    is ib_async's encoding, the socket and the gateway process being scheduled)."""

    def __init__(self, broker: IbBroker) -> None:
        self.cancels: list[int] = []
        self.places: list[int] = []
        cancel, place = broker.cancel, broker.place

        async def stamped_cancel(broker_id: int) -> None:
            self.cancels.append(time.monotonic_ns())
            await cancel(broker_id)

        async def stamped_place(*args: Any, **kw: Any) -> int:
            self.places.append(time.monotonic_ns())
            return await place(*args, **kw)

        broker.cancel = stamped_cancel  # type: ignore[method-assign]
        broker.place = stamped_place  # type: ignore[method-assign]

    def since(self, t0: int) -> tuple[list[int], list[int]]:
        return [t for t in self.cancels if t >= t0], [t for t in self.places if t >= t0]


class Sample:
    """One kill: wire and step offsets from t0, in ns."""

    def __init__(self) -> None:
        self.cancels: float = 0
        self.flatten: float = 0
        self.cancels_sent: float = 0
        self.flatten_sent: float = 0
        self.confirmed: float = 0
        self.steps: dict[str, float] = {}
        self.queued = 0  # messages waiting in this process when the kill was pressed
        self.dropped = 0  # the burst's entries reported never sent
        self.error = ""


def acknowledged(engine: Engine) -> list[int]:
    """IB order ids of this instance's working orders, if every one is acknowledged."""
    assert engine.orders is not None
    working = engine.orders.working()
    if any(o.status is not OrderStatus.SUBMITTED or not o.perm_id for o in working):
        return []
    return [o.broker_id for o in working if o.broker_id is not None]


async def until(predicate: Callable[[], object], timeout_s: float = SETTLE_S) -> bool:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            return False
        await asyncio.sleep(0.002)
    return True


async def set_up(engine: Engine) -> str:
    """Long 1 with its stop and target working, and one resting buy limit: "" when all are
    acknowledged and the fill is booked, else what went wrong."""
    assert engine.portfolio is not None and engine.market is not None
    assert engine.instrument is not None
    position = engine.portfolio.position
    result = await engine.submit(
        PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=16, source="bench")
    )
    if not result.ok:
        return f"bracket refused: {result.reason}"
    if not await until(lambda: position.quantity == 1 and len(acknowledged(engine)) == 2):
        return "bracket: not long 1 with stop and target working"
    quote = engine.market.quote
    if quote is None or quote.bid is None:
        return "no bid"
    limit = Decimal(quote.bid - LIMIT_BELOW_TICKS) * engine.instrument.tick
    result = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=limit,
                                            source="bench"))  # fmt: skip
    if not result.ok:
        return f"limit refused: {result.reason}"
    if not await until(lambda: len(acknowledged(engine)) == 3):
        return "limit: not acknowledged"
    return ""


async def burst(engine: Engine, broker: IbBroker, messages: int) -> list[Order]:
    """``messages`` modifications of the resting limit, then the entries (see the module
    notes). Returns the entries."""
    assert engine.orders is not None and engine.market is not None
    assert engine.instrument is not None
    # the resting buy limit (the bracket's stop and target have a parent)
    (limit,) = [o for o in engine.orders.working() if o.parent_id is None]
    assert limit.limit is not None
    for i in range(messages):
        price = limit.limit - (1 if i % 2 == 0 else 0)
        await broker.modify(limit, OrderChange(limit=price), limit.client_id)
    quote = engine.market.quote
    bid = quote.bid if quote is not None and quote.bid is not None else limit.limit
    entries: list[Order] = []
    for _ in range(BURST_ENTRIES):
        entry = Decimal(bid - ENTRIES_BELOW_TICKS) * engine.instrument.tick
        result = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=entry,
                                                source="bench"))  # fmt: skip
        order = engine.orders.get(result.order_ids[0]) if result.ok else None
        if order is not None:
            entries.append(order)
    return entries


async def one_kill(
    gateway: GatewayProcess, engine: Engine, stream: EventStream, sent: SentStamps,
    working: set[int], entries: list[Order],
) -> Sample:  # fmt: skip
    """The kill of the state set up (``working``: its orders' IB ids) and of the burst's
    ``entries``, measured (see the module notes)."""
    assert engine.portfolio is not None
    broker = engine.broker
    assert isinstance(broker, IbBroker)
    sample = Sample()
    known = {o.broker_id for o in entries} | working  # the flatten is the one other order
    sample.queued = broker.queued_messages
    stream.drain()
    wall0, t0 = engine.clock(), time.monotonic_ns()  # the engine stamps its steps on its clock
    done = await engine.kill("bench")
    t_end = time.monotonic_ns()
    stamps = await gateway.stamps(t0)
    sample.confirmed = t_end - t0
    for event in stream.drain():
        if isinstance(event, KillProgress):
            sample.steps.setdefault(event.step, event.ts_ns - wall0)
    dropped = {o.broker_id for o in entries if o.status is OrderStatus.REJECTED}
    sample.dropped = len(dropped)
    cancels = stamps["cancels"]
    orders = [(oid, ns) for oid, ns in stamps["orders"] if oid not in known]
    cancels_sent, places_sent = sent.since(t0)
    if cancels_sent:
        sample.cancels_sent = max(cancels_sent) - t0
    if places_sent:
        sample.flatten_sent = places_sent[0] - t0
    if cancels:
        sample.cancels = max(ns for _, ns in cancels) - t0
    if orders:
        sample.flatten = orders[0][1] - t0
    to_cancel = working | {o.broker_id for o in entries if o.broker_id not in dropped}
    reached = {oid for oid, _ in stamps["orders"]} & dropped
    if not done.ok:
        sample.error = f"kill ended {done.step}: {done.detail}"
    elif {oid for oid, _ in cancels} != to_cancel or len(cancels) != len(to_cancel):
        sample.error = (
            f"cancels at the gateway {sorted(cancels)}, working were {sorted(map(str, to_cancel))}"
        )
    elif len(orders) != 1:
        sample.error = f"flatten orders at the gateway: {orders}"
    elif reached:
        sample.error = f"entries reported never sent reached the gateway: {sorted(reached)}"
    elif engine.portfolio.position.quantity != 0:
        sample.error = f"position {engine.portfolio.position.quantity} after the kill"
    return sample


async def frames_now(gateway: GatewayProcess) -> tuple[int, int]:
    """The gateway's count of frames written, and when (monotonic ns, this process)."""
    stamps = await gateway.stamps(time.monotonic_ns())
    return stamps["frames"], time.monotonic_ns()


def figures(values: list[float]) -> str:
    if not values:
        return f"{'-':<44}"
    return (f"p50 {ms(pct(values, 0.5)):7.2f}, p99 {ms(pct(values, 0.99)):7.2f}, "
            f"max {ms(max(values)):7.2f} ms")  # fmt: skip


def line(name: str, runs: dict[str, list[Sample]], value: Callable[[Sample], float]) -> str:
    return f"  {name:<34}" + "   ".join(
        f"{figures([value(s) for s in runs[m]]):<44}" for m in MODES
    )


def step_offsets(samples: list[Sample]) -> str:
    steps = []
    for step in STEPS:
        offsets = [s.steps[step] for s in samples if step in s.steps]
        if offsets:
            steps.append(f"{step} {ms(pct(offsets, 0.5)):.2f}")
    return ", ".join(steps)


async def bench_kill(
    msgs_per_s: float, samples: int, seed: int, warmup_s: float, pause_s: float, burst_n: int
) -> dict[str, list[float]]:
    """Prints the figures; returns each mode's "flat confirmed" latencies (ns) of the good
    samples, and its failed samples' errors under ``"<mode> failed"``."""
    gateway = GatewayProcess(msgs_per_s / 2.2, seed)
    engine: Engine | None = None
    rng = random.Random(seed)
    good: dict[str, list[Sample]] = {m: [] for m in MODES}
    failed: dict[str, list[Sample]] = {m: [] for m in MODES}
    entries_sent = 0
    disturbed = 0
    paused_frames = paused_ns = 0  # market data only: in the pauses before the kills
    try:
        await gateway.start()
        broker = gateway.broker()
        sent = SentStamps(broker)
        engine = await gateway.engine(broker, MarketConfig(risk=RISK))
        stream = engine.listen()
        await asyncio.sleep(warmup_s)  # history, first ticks
        rate = await gateway.calibrate(msgs_per_s)
        turn = 0
        while sum(len(good[m]) + len(failed[m]) for m in MODES) < samples * len(MODES):
            mode = MODES[turn % len(MODES)]
            problem = await set_up(engine)
            frames_a, pause_a = await frames_now(gateway)
            await asyncio.sleep(rng.uniform(pause_s, pause_s + 0.1))  # at a random moment
            frames_b, pause_b = await frames_now(gateway)
            paused_frames += frames_b - frames_a
            paused_ns += pause_b - pause_a
            assert engine.portfolio is not None
            intact = engine.portfolio.position.quantity == 1 and len(acknowledged(engine)) == 3
            if problem or not intact:
                disturbed += 1
                if disturbed > samples:
                    print(f"  gave up: {disturbed} setups failed (last: {problem or 'moved'})")
                    break
                await engine.kill("bench: clean up a disturbed setup")
            else:
                working = set(acknowledged(engine))
                entries = await burst(engine, broker, burst_n) if mode == "burst" else []
                entries_sent += len(entries)
                sample = await one_kill(gateway, engine, stream, sent, working, entries)
                (failed if sample.error else good)[mode].append(sample)
                turn += 1
            refusal = engine.rearm("bench")
            if refusal is not None:
                print(f"  re-arm refused, stopping: {refusal}")
                break
    finally:
        if engine is not None:
            await bounded(engine.stop(), START_S, "the engine to stop")
        gateway.stop()
    msgs = paused_frames / max(paused_ns, 1) * 1e9
    counts = ", ".join(f"{m} {len(good[m])} samples ({len(failed[m])} failed)" for m in MODES)
    print(f"{msgs:>6,.0f} msgs/s of market data to the engine (--rate {rate:,.0f}): {counts}, "
          f"{disturbed} setups disturbed")  # fmt: skip
    for sample in (failed["quiet"] + failed["burst"])[:3]:
        print(f"  FAILED: {sample.error}")
    heads = {"quiet": "quiet", "burst": f"right after a burst of {burst_n} + {BURST_ENTRIES}"}
    print(f"  {'':<34}" + "   ".join(f"{heads[m]:<44}" for m in MODES))
    print(line("last cancel at the gateway:", good, lambda s: s.cancels))
    print(line("  (the engine's call to IbBroker)", good, lambda s: s.cancels_sent))
    print(line("flatten order at the gateway:", good, lambda s: s.flatten))
    print(line("  (the engine's call to IbBroker)", good, lambda s: s.flatten_sent))
    print(line("flat confirmed (kill returned):", good, lambda s: s.confirmed))
    bursts = good["burst"] + failed["burst"]
    if bursts:
        queued = sorted(s.queued for s in bursts)
        dropped = sum(s.dropped for s in bursts)
        print(f"  burst: messages queued in this process when the kill was pressed p50 "
              f"{queued[len(queued) // 2]}, max {queued[-1]}; entries reported never sent "
              f"{dropped} of {entries_sent}")  # fmt: skip
    for mode in MODES:
        if good[mode]:
            print(f"  {mode}: steps published (engine clock, ms from t0), p50: "
                  f"{step_offsets(good[mode])}")  # fmt: skip
            slowest = max(good[mode], key=lambda s: s.confirmed)
            print(f"  {mode}: the slowest kill: {step_offsets([slowest])}")
    found: dict[str, Any] = {m: [s.confirmed for s in good[m]] for m in MODES}
    return found | {f"{m} failed": [s.error for s in failed[m]] for m in MODES}


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=50, help="kills per mode and rate")
    parser.add_argument("--burst", type=int, default=80,
                        help="order messages right before each burst-mode kill")  # fmt: skip
    parser.add_argument("--msg-rates", type=rates, default=rates("1000"),
                        help="background market-data messages/s to the engine")  # fmt: skip
    parser.add_argument("--pause", type=float, default=1.0,
                        help="seconds from a setup to its kill (or its burst)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    return parser


def bench(args: argparse.Namespace) -> dict[float, dict[str, list[float]]]:
    """Every rate's kills, printed; returned by rate (see :func:`bench_kill`)."""
    logging.getLogger("ib_async").setLevel(logging.CRITICAL)  # each cancel: an "error" 202
    logging.getLogger("tradeterm").setLevel(logging.ERROR)  # REDUCING, HALTED, cancelled
    run: Callable[[Any], Any] = asyncio.run
    print(load_line())
    print("kill-switch latency (Engine.kill with long 1, stop + target + 1 resting limit working "
          "-> cancels and flatten at the gateway process -> flat confirmed):")  # fmt: skip
    found = {}
    for msgs_per_s in args.msg_rates:
        found[msgs_per_s] = run(bench_kill(msgs_per_s, args.samples, args.seed, args.warmup,
                                           args.pause, args.burst))  # fmt: skip
    return found


def main() -> None:
    script("bench_kill", parser, bench)


if __name__ == "__main__":
    main()
