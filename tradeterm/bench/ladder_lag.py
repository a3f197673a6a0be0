"""How far the ladder's book lags the engine's under a firehose, and what it writes.

The screen runs in this process (Textual's test driver, made to render its frames as a
terminal would so that every byte is counted), on the fake gateway's synthetic market at
about ``--msgs`` market-data messages/s, with a stall in the middle of the window long
enough for the book to go stale and come back (the stale flip on and off). Every engine
snapshot the screen takes is recorded; sampled every few milliseconds:

* touch lag: how long ago the engine's touch (best bid, best ask) was the one the ladder
  shows (0 while they agree): the worst and the 99th percentile;
* row lag: the same for every book row in view (bid and ask size at its price): the worst;
* terminal output: bytes/s the screen wrote over the window, and the paints of the ladder.

It prints figures and asserts nothing::

    python benchmarks/bench_ladder_lag.py [--sizes 120x40,200x50] [--msgs 5000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from textual.drivers.headless_driver import HeadlessDriver

from tradeterm.bench.timing import ScreenBench, Stuck, calibrate, pct
from tradeterm.bench.ui import until
from tradeterm.broker.ib import IbBroker
from tradeterm.config import Settings, load_settings
from tradeterm.engine.calendar import SessionCalendar
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineSnapshot
from tradeterm.runtime import Runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.ladder import Ladder, Row
from tradeterm.ui.widgets.ladder_data import LadderData

SAMPLE_S = 0.003
NS = 1_000_000_000


class CountingDriver(HeadlessDriver):
    """The test driver, rendering frames as a terminal driver does and counting their bytes."""

    written = 0

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        CountingDriver.written += len(data.encode())


def opener(settings: Settings, gateway: FakeGateway) -> Callable[[], Any]:
    """The runtime on the started ``gateway``, its engine's session open all along."""

    @contextlib.asynccontextmanager
    async def open_() -> AsyncIterator[Runtime]:
        connection = settings.connection.model_copy(
            update={"host": gateway.config.host, "client_id": settings.client_id()}
        )
        now = time.time_ns()
        engine = Engine(
            IbBroker(connection, port=gateway.config.port), settings.symbol, settings.market(),
            calendar=SessionCalendar([(now - 3600 * NS, now + 24 * 3600 * NS)]),
        )  # fmt: skip
        try:
            yield Runtime(settings, engine, gateway.config.host, gateway.config.port, gateway)
        finally:
            await engine.stop()

    return open_


class Truth:
    """When the engine's book last held each touch and each row (price, bid, ask): recorded
    at every snapshot the screen takes and at every sample."""

    def __init__(self, ladder: Ladder) -> None:
        self.ladder = ladder
        self.touch: dict[tuple[int | None, int | None], float] = {}
        self.rows: dict[tuple[int, int, int], float] = {}

    def record(self, snap: EngineSnapshot) -> None:
        if snap.instrument is None:
            return
        now = time.monotonic()
        data = LadderData.build(snap.instrument, snap.market, (), 0, None, None)
        self.touch[(data.best_bid, data.best_ask)] = now
        top = self.ladder.top
        if top is None:
            return
        for price in range(top - self.ladder.rows - 8, top + 9):
            self.rows[(price, data.bids.get(price, 0), data.asks.get(price, 0))] = now

    def lags(self, now: float) -> tuple[float, float] | None:
        """(the shown touch's age, the oldest shown row's age) in seconds."""
        shown = [r for r in self.ladder._rows.values() if isinstance(r, Row)]
        if not shown:
            return None
        bid = next((r.price for r in shown if r.inside == -1), None)
        ask = next((r.price for r in shown if r.inside == 1), None)
        touch = now - self.touch.get((bid, ask), now)
        rows = max(now - self.rows.get((r.price, r.bid, r.ask), now) for r in shown)
        return touch, rows


async def run_size(cols: int, rows: int, args: argparse.Namespace) -> dict[str, float]:
    """One size's figures, printed and returned."""
    gateway = FakeGateway(GatewayConfig(port=0, rate=args.msgs / 2.5, seed=7))
    probe = WireProbe()
    probe.install(gateway.server)
    await gateway.start()
    try:
        settings = load_settings(None, {}).settings
        app = TradingApp(settings, opener=opener(settings, gateway))
        async with app.run_test(size=(cols, rows)):
            assert app._driver is not None
            app._driver.__class__ = CountingDriver  # frames rendered to bytes from now on
            await until(lambda: app.started.is_set() or bool(app.startup_error), "start")
            if app.startup_error:
                raise Stuck(f"the screen did not start: {app.startup_error}")
            engine = app.engine
            assert engine is not None
            ladder = app.screen_stack[-1].query_one(Ladder)
            await until(lambda: ladder.top is not None, "the ladder's first book")
            truth = Truth(ladder)
            taken = engine.snapshot

            def snapshot(**kw: Any) -> EngineSnapshot:
                snap = taken(**kw)
                truth.record(snap)
                return snap

            engine.snapshot = snapshot  # type: ignore[method-assign, assignment]
            rate = await calibrate(gateway, probe, args.msgs, rounds=4, within=0.05)
            await asyncio.sleep(args.warmup)
            touch_lags: list[float] = []
            row_lags: list[float] = []
            bytes0, frames0 = CountingDriver.written, probe.frames
            cells0 = ladder.painted_cells
            t0 = time.monotonic()
            stalled = False
            while (now := time.monotonic()) - t0 < args.seconds:
                if not stalled and now - t0 >= args.stall_at:
                    gateway.faults.stall(args.stall)  # stale on after 5 s, off as it resumes
                    stalled = True
                truth.record(taken(tape=0))
                found = truth.lags(time.monotonic())
                if found is not None:
                    touch_lags.append(found[0])
                    row_lags.append(found[1])
                await asyncio.sleep(SAMPLE_S)
            elapsed = time.monotonic() - t0
            written = (CountingDriver.written - bytes0) / elapsed
            msgs = (probe.frames - frames0) / elapsed
            cells = (ladder.painted_cells - cells0) / elapsed
            app._driver.__class__ = HeadlessDriver  # the app's own prints reach stdout again
    finally:
        await gateway.stop()
    print(f"{cols}x{rows}: {msgs:,.0f} msgs/s (gateway rate {rate:,.0f}), "
          f"{args.stall:g} s stall at {args.stall_at:g} s; "
          f"touch lag worst {max(touch_lags):.3f} s, p99 {pct(touch_lags, 0.99):.3f} s; "
          f"row lag worst {max(row_lags):.3f} s, p99 {pct(row_lags, 0.99):.3f} s; "
          f"output {written / 1000:.1f} KB/s, {cells:,.0f} ladder cells/s "
          f"({len(touch_lags)} samples)")  # fmt: skip
    return {"msgs_per_s": msgs, "touch_lag_max_s": max(touch_lags),
            "touch_lag_p99_s": pct(touch_lags, 0.99), "row_lag_max_s": max(row_lags),
            "row_lag_p99_s": pct(row_lags, 0.99), "bytes_per_s": written,
            "cells_per_s": cells}  # fmt: skip


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stall-at", type=float, default=4.0, help="s into the window")
    parser.add_argument("--stall", type=float, default=7.0, help="s without market data")


BENCH = ScreenBench("bench_ladder_lag", __doc__, "120x40,200x50", 20.0, options, run_size)
parser, bench, main = BENCH.parser, BENCH.bench, BENCH.main

if __name__ == "__main__":
    main()
