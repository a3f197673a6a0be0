"""Helpers for the journal's integration tests: settings that point an instance at a test
gateway and a test journal directory, and reads of the journal file from outside."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import resource
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tradeterm.config import Settings
from tradeterm.paths import journal_file


def settings_for(port: int, journal_dir: Path, client_id: int = 1, **market: Any) -> Settings:
    """SIM mode against an already running gateway on ``port`` (no embedded one), with fast
    reconnects, journaling into ``journal_dir``."""
    markets: dict[str, Any] = {"markets": {"ES": market}} if market else {}
    return Settings(
        connection={
            "port": port, "client_id": client_id, "connect_timeout_s": 3,
            "request_timeout_s": 5, "reconnect_min_s": 0.1, "reconnect_max_s": 0.4,
        },
        journal={"dir": journal_dir, "flush_interval_ms": 20},
        **markets,
    )  # fmt: skip


def query(
    journal_dir: Path, sql: str, params: tuple[Any, ...] = (), symbol: str = "ES",
    mode: str = "sim",
) -> list[Any]:  # fmt: skip
    """Rows of ``sql`` read from the journal file (of ``mode``, under ``journal.dir`` =
    ``journal_dir``) by a separate connection, as another process would see them."""
    conn = sqlite3.connect(f"file:{journal_file(symbol, mode, journal_dir)}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def fill_the_disk(pid: int, room: int) -> None:
    """From now on, process ``pid`` cannot write past ``room`` bytes of any file (EFBIG), as
    if its disk were full: SQLite's pages fail, a few bytes at the start of a file still fit.
    Skips the test where another process's limits cannot be changed."""
    try:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (room, room))
    except (AttributeError, OSError) as exc:
        pytest.skip(f"cannot lower another process's file-size limit here: {exc}")


# ---- the crash harness (test_journal_crash.py) -----------------------------------------------

CONFIG_TOML = """
[journal]
dir = "{journal_dir}"
flush_interval_ms = 50

[markets.ES.risk]
max_position = 6
max_order_qty = 2
daily_loss_limit = 1000000000
max_drawdown = 1000000000
max_orders_per_s = 45
no_entry_before_break_min = 0
fat_finger_ticks = 100000
"""

COMMANDS = (
    "buy 1", "sell 1", "buy 2", "sell 2",
    "bracket buy 1 stop 3 target 3", "bracket sell 1 stop 3 target 3",
    "bracket buy 1 stop 6 target 12", "bracket sell 2 stop 6 target 12",
    "flatten", "cancel all", "status",
)  # fmt: skip
MASTER_CLIENT_ID = 99


def private_env(workdir: Path) -> dict[str, str]:
    """The environment for a tradeterm process of a test: no TRADETERM_ settings from outside,
    and its config, data, state and cache dirs under ``workdir``."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRADETERM_")}
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                     ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):  # fmt: skip
        env[var] = str(workdir / "home" / sub)
    return env


@dataclass(frozen=True)
class GatewayOrder:
    """One order the gateway holds, as the master client reads it. ``client_id``,
    ``order_id`` and ``parent_id`` are IB's (0 in a completed order, as TWS reports them);
    prices are IB's (``limit``/``stop`` None when not set)."""

    ref: str
    perm_id: int
    client_id: int
    order_id: int
    parent_id: int
    action: str
    quantity: int
    order_type: str
    limit: float | None
    stop: float | None
    status: str
    working: bool


@dataclass
class GatewayState:
    """What the gateway holds, read by the master client (every client's orders)."""

    refs: list[str]  # the orderRef of every order it ever took (open and completed), once each
    working: set[str]  # orderRefs of working orders
    exec_ids: set[str]
    position: int
    orders: list[GatewayOrder] = field(default_factory=list)  # open then completed, once each


@dataclass
class JournalState:
    exec_ids: list[str]
    position: int  # the sum of the journal's fills
    intents: set[str]
    open_intents: set[str]


@dataclass
class CrashRun:
    """A gateway process that outlives ``tradeterm console`` processes killed with SIGKILL."""

    workdir: Path
    rng: random.Random
    python: str = sys.executable
    gateway: asyncio.subprocess.Process | None = None
    port: int = 0
    ib: Any = None
    kills: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def journal_dir(self) -> Path:
        return self.workdir / "journal"

    @property
    def config(self) -> Path:
        return self.workdir / "tradeterm.toml"

    def env(self) -> dict[str, str]:
        return private_env(self.workdir)

    async def start(self, seed: int = 7, rate: float = 300.0) -> None:
        self.config.write_text(CONFIG_TOML.format(journal_dir=self.journal_dir))
        self.gateway = await asyncio.create_subprocess_exec(
            self.python, "-m", "tradeterm.cli", "gateway", "--port", "0", "--seed", str(seed),
            "--rate", str(rate), "--master-client-id", str(MASTER_CLIENT_ID),
            stdout=asyncio.subprocess.PIPE, env=self.env(),
        )  # fmt: skip
        assert self.gateway.stdout is not None
        line = (await asyncio.wait_for(self.gateway.stdout.readline(), 30)).decode()
        match = re.search(r"listening on [^:]+:(\d+)", line)
        assert match, f"gateway said {line!r}"
        self.port = int(match.group(1))
        from ib_async import IB

        self.ib = IB()
        await self.ib.connectAsync("127.0.0.1", self.port, clientId=MASTER_CLIENT_ID, timeout=10)

    async def stop(self) -> None:
        if self.ib is not None:
            self.ib.disconnect()
        if self.gateway is not None and self.gateway.returncode is None:
            self.gateway.kill()
            await self.gateway.wait()

    def _console_args(self) -> list[str]:
        return [
            self.python, "-m", "tradeterm.cli", "console", "--config", str(self.config),
            "--port", str(self.port), "--client-id", "1",
        ]  # fmt: skip

    async def crash_once(self, max_s: float = 2.4) -> str:
        """Run a console, type random orders once it has reconciled, SIGKILL it at a random
        moment (maybe before it even connected). Returns its output."""
        out_path = self.workdir / f"console-{self.kills}.out"
        with out_path.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                *self._console_args(), stdin=asyncio.subprocess.PIPE, stdout=out,
                stderr=asyncio.subprocess.STDOUT, env=self.env(),
            )  # fmt: skip
            kill_at = time.monotonic() + self.rng.uniform(0.2, max_s)
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while time.monotonic() < kill_at and proc.returncode is None:
                    if b"RECONCILED" in out_path.read_bytes():
                        proc.stdin.write((self.rng.choice(COMMANDS) + "\n").encode())
                    await asyncio.sleep(self.rng.uniform(0.02, 0.12))
            proc.kill()  # SIGKILL: no cleanup of any kind
            await proc.wait()
        self.kills += 1
        return out_path.read_text(errors="replace")

    async def clean_run(self, cancel: Iterable[str] = ()) -> str:
        """A console that starts, reconciles, cancels the orders ``cancel`` names (typed
        commands), and quits normally (journal flushed)."""
        proc = await asyncio.create_subprocess_exec(
            *self._console_args(), stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=self.env(),
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        seen: list[str] = []
        async with asyncio.timeout(60):
            while True:
                line = (await proc.stdout.readline()).decode()
                if not line:
                    break
                seen.append(line)
                if "RECONCILED (start)" in line:
                    await asyncio.sleep(2.0)  # let the position check settle
                    for ref in cancel:
                        proc.stdin.write(f"cancel {ref}\n".encode())
                    if cancel:
                        await proc.stdin.drain()
                        await asyncio.sleep(3.0)  # IB answers, the lists are read again
                    proc.stdin.write(b"quit\n")
                    await proc.stdin.drain()
            await proc.wait()
        text = "".join(seen)
        assert proc.returncode == 0, text[-3000:]
        return text

    async def gateway_state(self) -> GatewayState:
        return await read_gateway(self.ib)

    def journal_state(self) -> JournalState:
        return read_journal(self.journal_dir)


FINISHED = ("Cancelled", "Filled", "Inactive", "ApiCancelled")
UNSET = 1e300  # ib_async's UNSET_DOUBLE is above this


async def read_gateway(ib: Any) -> GatewayState:
    """The gateway's orders (every client's, open and completed), executions and position, as
    ``ib`` (an ib_async IB connected as the master client) reads them. An order listed both
    open and completed (it finished between the two requests) counts once, by its permId."""
    open_trades = await ib.reqAllOpenOrdersAsync()
    completed = await ib.reqCompletedOrdersAsync(False)
    fills = await ib.reqExecutionsAsync()
    positions = await ib.reqPositionsAsync()
    orders: dict[int, GatewayOrder] = {}
    listed = [(t, True) for t in open_trades] + [(t, False) for t in completed]
    for trade, is_open in listed:
        o, status = trade.order, trade.orderStatus.status
        if not o.orderRef or o.permId in orders:
            continue
        orders[o.permId] = GatewayOrder(
            o.orderRef, o.permId, o.clientId, o.orderId, o.parentId, o.action,
            int(o.totalQuantity), o.orderType, _price(o.lmtPrice), _price(o.auxPrice), status,
            is_open and status not in FINISHED,
        )  # fmt: skip
    position = sum(int(p.position) for p in positions if p.contract.symbol == "ES")
    return GatewayState(
        [o.ref for o in orders.values()], {o.ref for o in orders.values() if o.working},
        {f.execution.execId for f in fills}, position, list(orders.values()),
    )  # fmt: skip


def _price(value: float) -> float | None:
    return None if value is None or value > UNSET else value


def read_journal(journal_dir: Path) -> JournalState:
    """The journal's fills, position and order intents, read from the file as another process
    would."""
    if not journal_file("ES", "sim", journal_dir).exists():  # killed before creating it
        return JournalState([], 0, set(), set())
    fills = query(journal_dir, "SELECT exec_id, side, quantity FROM fills")
    intents = query(journal_dir, "SELECT order_id, state FROM order_intents")
    position = sum(q if side == "BUY" else -q for _, side, q in fills)
    return JournalState(
        [f[0] for f in fills], position, {i[0] for i in intents},
        {i[0] for i in intents if i[1] == "open"},
    )  # fmt: skip


def check_after_kill(gw: GatewayState, journal: JournalState) -> list[str]:
    """Invariants that hold at any moment, even right after a kill -9: no order was sent twice,
    and every order the gateway has from tradeterm had its intent in the journal first."""
    problems = []
    dupes = sorted(r for r, n in Counter(gw.refs).items() if n > 1)
    if dupes:
        problems.append(f"orders sent twice: {dupes}")
    ours = {r for r in gw.refs if r.startswith("tt.")}
    missing = sorted(ours - journal.intents)
    if missing:
        problems.append(f"orders at the gateway without a journaled intent: {missing}")
    return problems


def check_after_restart(gw: GatewayState, journal: JournalState) -> list[str]:
    """After a clean restart (reconciled, journal flushed): every fill exactly once, the
    journal's position is the broker's, the journal's open intents are exactly the orders
    working at the broker."""
    problems = check_after_kill(gw, journal)
    if len(journal.exec_ids) != len(set(journal.exec_ids)):
        problems.append("a fill is journaled twice")
    if set(journal.exec_ids) != gw.exec_ids:
        problems.append(
            f"fills differ: missing {sorted(gw.exec_ids - set(journal.exec_ids))}, "
            f"extra {sorted(set(journal.exec_ids) - gw.exec_ids)}"
        )
    if journal.position != gw.position:
        problems.append(f"journal position {journal.position} != broker's {gw.position}")
    ours_working = {r for r in gw.working if r.startswith("tt.")}
    if ours_working - journal.open_intents:
        problems.append(f"orphan working orders: {sorted(ours_working - journal.open_intents)}")
    if journal.open_intents - ours_working:
        problems.append(f"stale open intents: {sorted(journal.open_intents - ours_working)}")
    return problems
