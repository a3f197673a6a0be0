"""The kill switch under slow acknowledgements, as whole runs (issue 12): used by
tests/integration/test_engine_kill_slow_acks.py and scripts/kill_slow_acks.py.

* :func:`slow_run`: the engine (real ib_async client) holds 5 contracts with a bracket and two
  resting limits; the gateway's acknowledgements are delayed (TWS-like ``delay``, or the
  worst-case ``hide``), then the kill switch is pressed.
* :func:`crash_run`: a ``tradeterm console`` process builds the same book, the kill switch is
  typed with acknowledgements delayed, the process is killed with SIGKILL somewhere in the
  kill, and a second console starts on the same journal: it must finish the kill.

Each checks, once every held request is processed, against the gateway's own books: flat,
nothing of ours working, exactly one close (SELL 5 MKT) sent in all. :class:`Failed` says
what broke.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from tests.integration.engine_helpers import always_open
from tests.integration.journal_helpers import private_env
from tradeterm.broker.ib import IbBroker
from tradeterm.config import ConnectionConfig, MarketConfig, RiskConfig
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceBracket, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

TODAY = date(2026, 11, 20)  # a Friday: ESZ6 is the front month
MASTER = 99
CONSOLE_TOML = """
[journal]
dir = "{journal}"
flush_interval_ms = 20

[markets.ES.risk]
max_position = 10
max_order_qty = 10
daily_loss_limit = 1000000000
max_drawdown = 1000000000
no_entry_before_break_min = 0
fat_finger_ticks = 100000
kill_timeout_s = 30
"""


class Failed(Exception):
    pass


async def wait_for(check: Callable[[], object], what: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise Failed(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Truth:
    """What the gateway itself holds."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gw = gateway
        self.feed = gateway.market.feed_for_symbol("ES")
        self.con_id = self.feed.con_id

    def position(self) -> int:
        return self.gw.books.account(self.gw.config.account).position(self.con_id).qty

    def working(self) -> list[str]:
        return [o.req.order_ref for o in self.gw.oms.orders.values() if not o.done]

    def closes(self, after: int) -> list[tuple[str, int]]:
        new = sorted(self.gw.oms.orders.values(), key=lambda o: o.perm_id)[after:]
        return [(o.req.order_type, o.req.total_qty) for o in new if o.req.action == "SELL"]

    def bid(self) -> float:
        return float((self.feed.engine.best_bid or 0) * self.feed.tick)

    async def settled(self) -> None:
        """Every held request processed, then the delay off."""
        await wait_for(lambda: self.gw.desk.pending_acks == 0, "the held requests", 60)
        self.gw.faults.set_ack_delay(0.0)
        await asyncio.sleep(0.3)

    def check(self, before: int) -> None:
        problems = []
        if self.position() != 0:
            problems.append(f"gateway position {self.position()}")
        if self.working():
            problems.append(f"working at the gateway: {self.working()}")
        if self.closes(before) != [("MKT", 5)]:
            problems.append(f"closes sent: {self.closes(before)} (want one SELL 5 MKT)")
        if problems:
            raise Failed("; ".join(problems))


async def start_gateway(seed: int, rate: float) -> tuple[FakeGateway, Truth]:
    gw = FakeGateway(
        GatewayConfig(port=0, rate=rate, seed=seed, master_client_id=MASTER, today=TODAY)
    )
    await gw.start()
    return gw, Truth(gw)


# ---- slow: the engine in this process --------------------------------------------------------


async def slow_run(delay: float, hide: bool, seed: int) -> float:
    gw, truth = await start_gateway(seed, 0.0)
    conn = ConnectionConfig(port=gw.config.port, client_id=1, reconnect_min_s=0.1)
    limits = RiskConfig(max_position=10, max_order_qty=10, fat_finger_ticks=100000)
    engine = Engine(IbBroker(conn, port=gw.config.port), "ES", MarketConfig(risk=limits),
                    calendar=always_open(), timer_s=0.05)  # fmt: skip
    try:
        await engine.start()
        done = await engine.submit(PlaceBracket(Side.BUY, 5, stop_ticks=40, target_ticks=80))
        if not done.ok:
            raise Failed(f"bracket refused: {done.reason}")
        await wait_for(lambda: truth.position() == 5 and len(truth.working()) == 2, "long 5")
        bid = truth.bid()
        for ticks in (20, 24):
            px = f"{bid - ticks * 0.25:.2f}"
            placed = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=px))
            if not placed.ok:
                raise Failed(f"limit refused: {placed.reason}")
        await wait_for(lambda: len(truth.working()) == 4, "two limits working")
        before = len(gw.oms.orders)
        gw.faults.set_ack_delay(delay, hide=hide)
        started = time.monotonic()
        result = await asyncio.wait_for(engine.kill("slow acks"), 120)
        took = time.monotonic() - started
        await truth.settled()
        truth.check(before)
        if not (result.ok and result.step == "halted"):
            raise Failed(f"the kill ended {result.step}: {result.detail}")
        return took
    finally:
        await engine.stop()
        await gw.stop()


# ---- crash: kill -9 of a console in the middle of its kill -----------------------------------


class Console:
    def __init__(self, workdir: Path, port: int, n: int) -> None:
        self.out = workdir / f"console-{n}.out"
        self.args = [
            sys.executable, "-m", "tradeterm.cli", "console", "--config",
            str(workdir / "tradeterm.toml"), "--port", str(port), "--client-id", "1",
        ]  # fmt: skip
        self.env = private_env(workdir)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._file = self.out.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            *self.args, stdin=asyncio.subprocess.PIPE, stdout=self._file,
            stderr=asyncio.subprocess.STDOUT, env=self.env,
        )  # fmt: skip

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    async def type(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        await self.proc.stdin.drain()

    async def kill9(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()
        self._file.close()

    async def quit(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.type("quit")
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        self._file.close()


async def crash_run(delay: float, hide: bool, seed: int, rng: random.Random) -> float:
    gw, truth = await start_gateway(seed, 100.0)
    with tempfile.TemporaryDirectory(prefix="tt-kill-crash-") as tmp:
        workdir = Path(tmp)
        (workdir / "tradeterm.toml").write_text(CONSOLE_TOML.format(journal=workdir / "j"))
        first = Console(workdir, gw.config.port, 1)
        second = Console(workdir, gw.config.port, 2)
        try:
            await first.start()
            await wait_for(lambda: "RECONCILED (start)" in first.text(), "the console ready")
            await first.type("bracket buy 5 stop 40 target 80")
            await wait_for(lambda: truth.position() == 5 and len(truth.working()) == 2, "long 5")
            bid = truth.bid()
            await first.type(f"buy 1 limit {bid - 5:.2f}")
            await first.type(f"buy 1 limit {bid - 6:.2f}")
            await wait_for(lambda: len(truth.working()) == 4, "two limits working")
            before = len(gw.oms.orders)
            gw.faults.set_ack_delay(delay, hide=hide)
            await first.type("kill crash test")
            await wait_for(lambda: "KILL cancelling" in first.text(), "the kill under way")
            await asyncio.sleep(rng.uniform(0.0, delay + 2.0))  # somewhere in the kill
            await first.kill9()
            started = time.monotonic()
            await second.start()
            await wait_for(lambda: "KILL halted" in second.text() or "KILL failed" in
                           second.text(), "the restarted kill's end", 120)  # fmt: skip
            took = time.monotonic() - started
            await truth.settled()
            truth.check(before)
            if "KILL halted" not in second.text():
                raise Failed("the restarted kill did not end halted")
            return took
        except Failed as exc:
            raise Failed(f"{exc}\n--- second console ---\n{second.text()[-3000:]}") from None
        finally:
            for c in (first, second):
                if c.proc is not None and c.proc.returncode is None:
                    await c.quit()
            await gw.stop()
