"""The trading screen under a real pseudo-terminal, fed ~5,000 market-data messages/s.

The fake gateway runs in this process with the wire probe (tradeterm.sim.gateway.probe); the
real ``tradeterm`` command runs in a child process on a pty of the given size, connected to
it. Measured:

* first frame: start of the process -> the first frame on the terminal (the ladder's header),
  and -> the status bar saying the connection is OK (IB OK);
* terminal output: bytes per second the screen writes while the market runs (over SSH, bytes
  are latency); targets <= 30 KB/s at 200x50 and <= 15 KB/s at 80x24;
* key press -> order on the wire: ``[`` (a buy limit at the ladder cursor, moved a page below
  the market so it rests) written to the pty -> the placeOrder decoded by the gateway, and
  ``x`` (cancel at the cursor) -> the cancelOrder; CLOCK_MONOTONIC on both sides
  (system-wide on Linux). Target p99 <= 20 ms.

The screen runs on the real clock (it is the real command), so the benchmark lets it trade at
any hour: its entries are not cut off before the session break (``no_entry_before_break_min``
0; with the default 5, a run at 15:55-16:00 CT waited in vain for its first placeOrder). The
fake gateway's market trades whatever the date. Every wait is bounded (``GUARD_S``): one that
runs out prints what it waited for and the script exits 1.

It prints figures and asserts nothing::

    python benchmarks/bench_ui.py [--sizes 200x50,80x24] [--msgs 5000] [--seconds 10] [--samples 60]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from tradeterm.bench.timing import ScreenBench, Stuck, calibrate, pct, plain
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe

GUARD_S = 30.0
# The screen's settings that are the benchmark's own: entries at any hour (see the notes).
SETTINGS = {"TRADETERM_MARKETS__ES__RISK__NO_ENTRY_BEFORE_BREAK_MIN": "0"}


class Terminal:
    """The child's pty: everything it writes is counted and kept (the tail, for matching)."""

    def __init__(self, cols: int, rows: int, port: int, home: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.runtime = home / "run"  # its instance's claim and control socket, not the trader's
        self.runtime.mkdir(mode=0o700)
        env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor",
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
               "XDG_STATE_HOME": str(home / "state"), "XDG_CACHE_HOME": str(home / "cache"),
               "XDG_RUNTIME_DIR": str(self.runtime)}  # fmt: skip
        env = {k: v for k, v in env.items() if not k.startswith("TRADETERM_")} | SETTINGS
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradeterm.cli", "--sim", "--port", str(port)],
            stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True,
        )  # fmt: skip
        os.close(slave)
        os.set_blocking(self.master, False)
        self.bytes = 0
        self.tail = b""
        self.seen: dict[bytes, float] = {}
        self.watch: tuple[bytes, ...] = ()

    def on_readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except (BlockingIOError, OSError):
            return
        now = time.monotonic()
        self.bytes += len(data)
        self.tail = (self.tail + data)[-200_000:]
        for needle in self.watch:
            if needle not in self.seen and needle in self.tail:
                self.seen[needle] = now

    def press(self, key: bytes) -> int:
        stamp = time.monotonic_ns()
        os.write(self.master, key)
        return stamp

    async def wait_for(self, needle: bytes) -> float:
        self.watch = (*self.watch, needle)
        deadline = time.monotonic() + GUARD_S
        while needle not in self.seen:
            if needle in self.tail:
                self.seen[needle] = time.monotonic()
                break
            ended = self.proc.poll() is not None
            if ended or time.monotonic() > deadline:
                after = "" if ended else f"after {GUARD_S:g} s "
                raise Stuck(f"no {needle.decode()!r} on the screen {after}({self.last_words()})")
            await asyncio.sleep(0.005)
        return self.seen[needle] - self.started

    def last_words(self) -> str:
        """The last line the child wrote, as text (its control sequences left out), or what
        became of it: for a failure note of one readable line."""
        lines = [line.strip() for line in plain(self.tail).splitlines() if line.strip()]
        said = f"it said: {lines[-1][-200:]}" if lines else "it wrote no text"
        code = self.proc.poll()
        return said if code is None else f"it ended with status {code}; {said}"

    def close(self) -> None:
        with contextlib.suppress(Exception):
            os.write(self.master, b"q")
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            if self.proc.poll() is None:
                self.proc.kill()
        os.close(self.master)


async def until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not predicate():
        if time.monotonic() > deadline:
            raise Stuck(f"waited {GUARD_S:g} s for {what}")
        await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def screen(cols: int, rows: int, gateway: FakeGateway) -> AsyncIterator[Terminal]:
    """The real ``tradeterm`` screen on a ``cols`` x ``rows`` pty, in SIM against the started
    ``gateway``, with a home of its own (config, journal, logs); quit and reaped afterwards."""
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory() as home:
        term = Terminal(cols, rows, gateway.config.port, Path(home))
        loop.add_reader(term.master, term.on_readable)
        try:
            yield term
        finally:
            loop.remove_reader(term.master)
            term.close()


async def run_size(cols: int, rows: int, args: argparse.Namespace) -> dict[str, float]:
    """One size's figures, printed and returned: ``first_s``, ``live_s``, ``bytes_per_s``,
    ``msgs_per_s`` and (with samples) ``order_p50_ms``, ``order_p99_ms``, ``cancel_p50_ms``,
    ``cancel_p99_ms``."""
    gateway = FakeGateway(GatewayConfig(port=0, rate=args.msgs / 2.5, seed=7))
    probe = WireProbe()
    probe.install(gateway.server)
    await gateway.start()
    try:
        async with screen(cols, rows, gateway) as term:
            # drawn in every state (a banner takes the header)
            first = await term.wait_for(b"POSITION")
            live = await term.wait_for(b"IB OK")
            rate = await calibrate(gateway, probe, args.msgs, rounds=5, within=0.05)
            await asyncio.sleep(args.warmup)
            b0, f0, t0 = term.bytes, probe.frames, time.monotonic()
            await asyncio.sleep(args.seconds)
            elapsed = time.monotonic() - t0
            out_rate = (term.bytes - b0) / elapsed
            msgs = (probe.frames - f0) / elapsed
            target = 30_000 if cols >= 200 else 15_000
            print(f"{cols}x{rows}: first frame {first:.2f} s, IB OK after {live:.2f} s "
                  "(target first frame <= 1.5 s)")  # fmt: skip
            print(f"{cols}x{rows}: market data {msgs:,.0f} msgs/s (gateway rate {rate:,.0f} events/s); "
                  f"terminal output {out_rate / 1000:.1f} KB/s (target <= {target / 1000:.0f} KB/s)")  # fmt: skip
            found = {"first_s": first, "live_s": live, "bytes_per_s": out_rate,
                     "msgs_per_s": msgs}  # fmt: skip
            if args.samples:
                found |= await latency(term, probe, args.samples, cols, rows)
            return found
    finally:
        await gateway.stop()


async def latency(
    term: Terminal, probe: WireProbe, samples: int, cols: int, rows: int
) -> dict[str, float]:
    term.press(b"a")  # arm
    await term.wait_for(b" ARMED ")
    term.press(b"\x1b[6~")  # page down: the cursor a page below the market
    await asyncio.sleep(0.3)
    orders: list[float] = []
    cancels: list[float] = []
    for _ in range(samples):
        n = len(probe.orders)
        sent = term.press(b"[")  # buy limit at the cursor
        await until(lambda n=n: len(probe.orders) > n, "the placeOrder of key [")  # type: ignore[misc]
        orders.append((probe.orders[n][1] - sent) / 1e6)
        await asyncio.sleep(0.15)
        n = len(probe.cancels)
        sent = term.press(b"x")
        await until(lambda n=n: len(probe.cancels) > n, "the cancelOrder of key x")  # type: ignore[misc]
        cancels.append((probe.cancels[n][1] - sent) / 1e6)
        await asyncio.sleep(0.25)  # stay under the risk manager's order rate
    for name, lags in (("key [ -> placeOrder", orders), ("key x -> cancelOrder", cancels)):
        print(f"{cols}x{rows}: {name}: p50 {pct(lags, 0.5):.1f} ms, p99 {pct(lags, 0.99):.1f} ms, "
              f"max {max(lags):.1f} ms ({len(lags)} samples; target p99 <= 20 ms)")  # fmt: skip
    return {"order_p50_ms": pct(orders, 0.5), "order_p99_ms": pct(orders, 0.99),
            "cancel_p50_ms": pct(cancels, 0.5), "cancel_p99_ms": pct(cancels, 0.99)}  # fmt: skip


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--samples", type=int, default=60, help="key -> order samples per size")


BENCH = ScreenBench("bench_ui", __doc__, "200x50,80x24", 10.0, options, run_size)
parser, bench, main = BENCH.parser, BENCH.bench, BENCH.main

if __name__ == "__main__":
    main()
