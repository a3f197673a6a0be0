"""Journal shipping from real ``tradeterm console`` processes (two journals, the fake gateway)
to one real PostgreSQL server: every fill of both there exactly once through a 30 s outage
of the database while they trade (the orders' round trips before and during it recorded as
figures, never asserted on time); the shipping runs in a child process of each console, which
ends by itself when its console is killed; ``kill -9`` of a console and of its shipping
mid-shipping, and a restart on the same journal, leave no gap and no duplicate. (Dates do
not matter here: the gateway's catalog day is fixed, ``TODAY``.)"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.engine_helpers import TODAY
from tests.integration.test_control_plane import plane_env
from tests.integration.test_instance_control import Console, start_console, tradeterm
from tests.support.postgres import SharedDb
from tests.support.tcp_proxy import Relay
from tests.support.waiting import until
from tradeterm.paths import journal_file
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration
GUARD_S = 90.0
OUTAGE_S = 30.0  # the outage: the database stopped this long while both trade
PACE_S = 0.5  # one order per console this often during the outage
GAP_S = 0.15  # between two orders of a console (the risk's order rate: 10/s at most)
RATE = 5.0  # the gateway's market moves, as a live one does, while they trade

StartConsole = Callable[..., Awaitable[Console]]


@pytest.fixture
async def console() -> AsyncIterator[StartConsole]:
    """``await console(gateway, symbol, url, **env)``: a console shipping to ``url``."""
    started: list[Console] = []

    async def start(gateway: FakeGateway, symbol: str, url: str, **env: str) -> Console:
        limits = {
            f"TRADETERM_MARKETS__{symbol}__RISK__DAILY_LOSS_LIMIT": "100000",
            f"TRADETERM_MARKETS__{symbol}__RISK__MAX_DRAWDOWN": "100000",
        }  # many round trips
        return await start_console(started, gateway, symbol, {**plane_env(url), **limits, **env})

    yield start
    for c in started:
        await c.stop()


def journal(symbol: str) -> Path:
    return journal_file(symbol, "sim")


def local(symbol: str, statement: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{journal(symbol)}?mode=ro", uri=True)) as c:
        return c.execute(statement).fetchall()


def instance_id(symbol: str) -> str:
    return str(local(symbol, "SELECT instance_id FROM ship_meta")[0][0])


def ship_log(symbol: str) -> list[tuple[int, str]]:
    return [
        (int(s), str(k)) for s, k in local(symbol, "SELECT seq, kind FROM ship_log ORDER BY seq")
    ]


def shipped(db: SharedDb, symbol: str) -> list[tuple[int, str]]:
    rows = db.query("SELECT seq, kind FROM tradeterm.journal_rows WHERE instance_id = %s "
                    "ORDER BY seq", (instance_id(symbol),))  # fmt: skip
    return [(int(s), str(k)) for s, k in rows]


def all_shipped(db: SharedDb, symbol: str) -> bool:
    return shipped(db, symbol) == ship_log(symbol)


def fills_there(db: SharedDb, symbol: str) -> list[str]:
    rows = db.query("SELECT exec_id FROM tradeterm.fills WHERE instance_id = %s",
                    (instance_id(symbol),))  # fmt: skip
    return sorted(str(e) for (e,) in rows)


def fills_here(symbol: str) -> list[str]:
    return sorted(str(e) for (e,) in local(symbol, "SELECT exec_id FROM fills"))


def shipping_child(console: Console) -> int | None:
    """The pid of the console's journal-shipping process (its child), or None."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
            if parent == console.proc.pid and b"tradeterm.shared.ship_process" in command:
                return int(entry.name)
    return None


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def order(console: Console, side: str) -> float:
    """Send one market order; seconds until its fill is printed (a figure, not a test)."""
    fills = console.out.count("FILL ")
    began = time.perf_counter()
    await console.type(f"{side} 1")
    ends = began + GUARD_S
    while console.out.count("FILL ") == fills:
        said = "\n".join(console.out.splitlines()[-30:])
        assert console.proc.returncode is None and time.perf_counter() < ends, said
        await asyncio.sleep(0.002)
    return time.perf_counter() - began


async def trade(console: Console, orders: int) -> list[float]:
    """``orders`` market orders, buy and sell in turn, under the risk's order rate."""
    took = []
    for n in range(orders):
        took.append(await order(console, "buy" if n % 2 == 0 else "sell"))
        await asyncio.sleep(GAP_S)
    return took


def figures(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return f"{len(ms)} orders, p50 {statistics.median(ms):.1f} ms, max {ms[-1]:.1f} ms"


async def test_two_consoles_ship_every_fill_once_through_a_30s_database_outage(
    start_gateway: Callable[..., Awaitable[FakeGateway]], console: StartConsole, shared_db: SharedDb,
    record_property: Callable[[str, object], None],
) -> None:  # fmt: skip
    gw = await start_gateway(rate=RATE, today=TODAY, symbols=("ES", "NQ"))
    consoles = {s: await console(gw, s, shared_db.writer_url) for s in ("ES", "NQ")}
    for c in consoles.values():
        assert shipping_child(c) is not None  # the shipping runs in a process of its own
    before: list[float] = []
    for c in consoles.values():
        before += await trade(c, 6)
    for s in consoles:
        await until(lambda: all_shipped(shared_db, s), f"{s}'s rows shipped", GUARD_S)  # noqa: B023

    server = shared_db.server
    server.stop("immediate")  # the shared database goes away while both trade
    during: list[float] = []
    try:
        ends = time.monotonic() + OUTAGE_S
        n = 0
        while time.monotonic() < ends:
            for c in consoles.values():
                during.append(await order(c, "buy" if n % 2 == 0 else "sell"))
            n += 1
            await asyncio.sleep(PACE_S)
        code, out, _ = await tradeterm("status", env=plane_env(shared_db.writer_url))
        assert code == 0 and out.count("shared database down (") == 2, out
    finally:
        server.start()
    for s in consoles:
        await until(lambda: all_shipped(shared_db, s), f"{s}'s rows shipped after", GUARD_S)  # noqa: B023
        assert fills_there(shared_db, s) == fills_here(s)  # every fill, each exactly once
        assert len(fills_here(s)) == 6 + len(during) // 2
    record_property("order_round_trip_before", figures(before))
    record_property("order_round_trip_during_outage", figures(during))
    print(f"\norder -> fill printed, database up: {figures(before)}; during the "
          f"{OUTAGE_S:g} s outage: {figures(during)}")  # fmt: skip


async def test_kill_9_mid_shipping_and_a_restart_leave_no_gap_and_no_duplicate(
    start_gateway: Callable[..., Awaitable[FakeGateway]], console: StartConsole, shared_db: SharedDb
) -> None:
    gw = await start_gateway(rate=RATE, today=TODAY, symbols=("ES",))
    relay = Relay("127.0.0.1", shared_db.server.port)  # the console's link to the database
    await relay.start()
    server_port = f":{shared_db.server.port}/"
    url = shared_db.writer_url.replace(server_port, f":{relay.port}/")
    try:
        es = await console(gw, "ES", url, TRADETERM_SHARED__BATCH_SIZE="1")
        await trade(es, 2)
        await until(lambda: all_shipped(shared_db, "ES"), "the first rows shipped", GUARD_S)
        relay.cut()  # a backlog builds up while it trades
        await trade(es, 30)
        backlog = len(ship_log("ES")) - len(shipped(shared_db, "ES"))
        assert backlog > 100
        child = shipping_child(es)
        assert child is not None
        done = len(shipped(shared_db, "ES"))
        relay.restore()
        await until(lambda: len(shipped(shared_db, "ES")) > done, "shipping under way", GUARD_S,
                    poll=0.001)  # fmt: skip
        es.proc.kill()  # kill -9 of the trading instance and of its shipping, mid-shipping
        os.kill(child, signal.SIGKILL)
        await es.proc.wait()
        partial = shipped(shared_db, "ES")
        assert done < len(partial) < len(ship_log("ES"))
        assert partial == ship_log("ES")[: len(partial)]  # in order, no gap

        es = await console(gw, "ES", url, TRADETERM_SHARED__BATCH_SIZE="1")  # the same journal
        await until(lambda: all_shipped(shared_db, "ES"), "the restart shipped the rest", GUARD_S)
        assert fills_there(shared_db, "ES") == fills_here("ES")

        await trade(es, 2)
        child = shipping_child(es)
        assert child is not None
        es.proc.kill()  # kill -9 of the console alone: its shipping ships what is left, ends
        gone = child
        await until(lambda: not alive(gone), "the shipping process ending", GUARD_S)
        assert all_shipped(shared_db, "ES")
        assert fills_there(shared_db, "ES") == fills_here("ES") and len(fills_here("ES")) == 34
    finally:
        await relay.stop()
