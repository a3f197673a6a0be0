"""Benchmark: how many market-data messages the fake gateway sustains, and how many the real
ib_async client consumes.

1. In-process, no client: the synthetic market is pushed through the feed as fast as it goes
   (matching engine, book, bars, L1/depth/tick-by-tick encoding for one subscriber of each
   kind into a counting sink) -> events/s and encoded messages/s the gateway can produce.
2. Gateway in a child process (``tradeterm gateway --rate R``), the real ``ib_async.IB`` in
   this one, subscribed to L1 + RTVolume, 10-level depth and tick-by-tick AllLast + BidAsk:
   for each target rate, the frames/s the gateway delivered (counted raw on the socket, no
   decoding) and the messages/s ib_async decoded on its normal path.

Run: ``python benchmarks/bench_gateway.py [--seconds 5] [--rates 1000,5000,10000,20000]``.
It prints figures; it asserts nothing. Every wait is bounded: one that runs out prints what it
waited for and the script exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from typing import Any

from ib_async import IB, Future

from tradeterm.bench.timing import BenchError, bounded, script
from tradeterm.sim import catalog
from tradeterm.sim.gateway.desks.feed import InstrumentFeed, Watch
from tradeterm.sim.synthetic import SyntheticMarket


class CountingSession:
    """Stands in for a ClientSession: encodes like the real one, counts and drops."""

    closed = False

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    def send(self, fields: list[str]) -> None:
        self.messages += 1
        self.bytes += sum(len(f) + 1 for f in fields) + 4


def bench_in_process(events: int) -> float:
    """TWS messages/s the feed encodes for one subscriber of each kind (printed and returned)."""
    entry = catalog.front_month("ES")
    assert entry is not None
    market = SyntheticMarket(tick_size=entry.tick, start_price_ticks=24_000, seed=1)
    feed = InstrumentFeed(entry, on_fills=lambda fills: None, synthetic=market,
                          now_ns=time.time_ns)  # fmt: skip
    sink = CountingSession()
    for req_id, kind in enumerate(("mktData", "depth", "tbtAllLast", "tbtBidAsk"), start=1):
        watch = Watch(sink, req_id, kind, rt_volume=True)  # type: ignore[arg-type]
        feed.watches[(1, req_id, kind)] = watch
        if kind == "depth":
            feed.send_depth_snapshot(watch)
    t0 = time.perf_counter()
    for _ in range(events):
        feed.push(market.next_event())
    elapsed = time.perf_counter() - t0
    print(f"in-process feed: {events / elapsed:,.0f} market events/s -> "
          f"{sink.messages / elapsed:,.0f} TWS messages/s "
          f"({sink.bytes / elapsed / 1e6:.1f} MB/s) for one L1+depth+AllLast+BidAsk subscriber")  # fmt: skip
    return sink.messages / elapsed


class FrameCounter:
    """Counts whole TWS frames on the client's socket without decoding them: what the
    gateway delivers, independent of how fast ib_async can decode."""

    def __init__(self) -> None:
        self.frames = 0
        self._buffer = bytearray()

    def __call__(self, data: bytes) -> None:
        buf = self._buffer
        buf += data
        pos = 0
        while len(buf) - pos >= 4:
            size = int.from_bytes(buf[pos : pos + 4], "big")
            if len(buf) - pos - 4 < size:
                break
            pos += 4 + size
            self.frames += 1
        del buf[:pos]


async def bench_ib_async(rate: int, seconds: float, raw: bool) -> float:
    """Messages/s the gateway process delivered at ``--rate`` ``rate`` (``raw``: counted on
    the socket) or ib_async decoded; printed and returned."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeterm.cli", "gateway", "--port", "0", "--rate", str(rate),
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ},
    )  # fmt: skip
    assert proc.stdout is not None
    line = (await bounded(proc.stdout.readline(), 30, "the gateway to listen")).decode().strip()
    host, port = line.removeprefix("listening on ").rsplit(":", 1)
    ib = IB()
    try:
        await bounded(
            ib.connectAsync(host, int(port), clientId=1, timeout=0), 10, "ib_async to connect"
        )
        details = await bounded(ib.reqContractDetailsAsync(Future("ES", exchange="CME")), 30,
                                "ES's contract details")  # fmt: skip
        contracts = [d.contract for d in details if d.contract is not None]
        if not contracts:
            raise BenchError("the gateway listed no ES contract")
        contract = min(contracts, key=lambda c: c.lastTradeDateOrContractMonth)
        ticker = ib.reqMktData(contract, "233")
        ib.reqMktDepth(contract, 10)
        ib.reqTickByTickData(contract, "AllLast")
        ib.reqTickByTickData(contract, "BidAsk")
        await asyncio.sleep(1.0)  # warm up
        if raw:
            counter = FrameCounter()
            ib.client.conn.hasData -= ib.client._onSocketHasData
            ib.client.conn.hasData += counter
            t0 = time.perf_counter()
            await asyncio.sleep(seconds)
            elapsed = time.perf_counter() - t0
            print(f"offered {rate:>6,} events/s: gateway delivered {counter.frames / elapsed:>9,.0f}"
                  " msgs/s (raw frame count, no decoding)")  # fmt: skip
            return counter.frames / elapsed
        start_msgs = ib.client._numMsgRecv
        start_bytes = ib.client._numBytesRecv
        t0 = time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - t0
        msgs = (ib.client._numMsgRecv - start_msgs) / elapsed
        kbytes = (ib.client._numBytesRecv - start_bytes) / elapsed / 1e3
        print(f"offered {rate:>6,} events/s: ib_async decoded  {msgs:>9,.0f} msgs/s "
              f"({kbytes:,.0f} KB/s); last {ticker.last} bid {ticker.bid} ask {ticker.ask}")  # fmt: skip
        return msgs
    finally:
        ib.disconnect()
        proc.terminate()
        await bounded(proc.wait(), 30, "the gateway process to end")


async def bench_connect(count: int) -> None:
    """connectAsync = handshake + the whole startup sync (positions, open and completed
    orders, account updates, executions), against an in-process gateway."""
    from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

    gateway = FakeGateway(GatewayConfig(port=0, rate=0))
    host, port = await gateway.start()
    times = []
    try:
        for i in range(count):
            ib = IB()
            t0 = time.perf_counter()
            await bounded(
                ib.connectAsync(host, port, clientId=i + 1, timeout=0), 5, "ib_async to connect"
            )
            times.append(time.perf_counter() - t0)
            ib.disconnect()
    finally:
        await gateway.stop()
    times.sort()
    print(f"connect + full startup sync: p50 {times[len(times) // 2] * 1e3:.1f} ms, "
          f"max {times[-1] * 1e3:.1f} ms over {count} connects")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rates", default="1000,5000,10000,20000")
    parser.add_argument("--connects", type=int, default=20)
    return parser


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """Every figure printed; returned: ``feed`` (TWS messages/s in-process), ``delivered``
    and ``decoded`` (by --rate: msgs/s)."""
    asyncio.run(bench_connect(args.connects))
    found: dict[str, Any] = {"feed": bench_in_process(args.events), "delivered": {},
                             "decoded": {}}  # fmt: skip
    for rate in (int(r) for r in args.rates.split(",")):
        found["delivered"][rate] = asyncio.run(bench_ib_async(rate, args.seconds, raw=True))
        found["decoded"][rate] = asyncio.run(bench_ib_async(rate, args.seconds, raw=False))
    return found


def main() -> None:
    script("bench_gateway", parser, bench)


if __name__ == "__main__":
    main()
