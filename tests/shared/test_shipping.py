"""Journal shipping to a real PostgreSQL server: two journals into one database, exactly once
and in order, through a database outage, and after a kill -9 of the shipping process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.postgres import PostgresServer, SharedDb
from tests.support.waiting import until
from tests.unit.journal.factories import booked, fill, order
from tradeterm.engine.types import OrderRole
from tradeterm.journal import Journal
from tradeterm.shared.shipper import Identity, Shipper, ShippingThread
from tradeterm.shared.target import Target

T0 = 1_780_000_000 * 10**9  # a test clock's start


def shipper(db: SharedDb, journal: Path, name: str) -> Shipper:
    return Shipper(journal, Target(db.writer_url), Identity(name, "host-" + name, "ES", "sim"),
                   batch_size=7, poll_s=0.02, retry_min_s=0.05, retry_max_s=0.2)  # fmt: skip


def ship_log(journal: Path) -> list[tuple[int, str]]:
    import sqlite3

    with sqlite3.connect(journal) as conn:
        return conn.execute("SELECT seq, kind FROM ship_log ORDER BY seq").fetchall()


def shipped(db: SharedDb, name: str) -> list[tuple[int, str]]:
    return [
        (int(seq), str(kind))
        for seq, kind in db.query(
            "SELECT r.seq, r.kind FROM tradeterm.journal_rows r JOIN tradeterm.instances i "
            "USING (instance_id) WHERE i.name = %s ORDER BY r.seq",
            (name,),
        )
    ]


def fills_once(db: SharedDb, name: str, count: int) -> bool:
    """The shared database holds ``name``'s fills 0 .. count-1, each exactly once."""
    fills = db.query("SELECT exec_id FROM tradeterm.fills")
    return sorted(str(e) for (e,) in fills) == sorted(f"{name}-e{n}" for n in range(count))


async def trade(journal: Journal, name: str, fills: int, start: int = 0) -> None:
    """``fills`` orders, each with its intent committed (fsynced) first and then its fill."""
    for n in range(start, start + fills):
        o = order(n + 1)
        await journal.commit_intent(o, f"cmd-{name}-{n}", OrderRole.PLAIN)
        journal.record(booked(fill(f"{name}-e{n}", o.client_id, price=24000 + n % 9)))
    await journal.flush()


async def test_two_journals_ship_every_fill_exactly_once_in_order(
    shared_db: SharedDb, tmp_path: Path
) -> None:
    threads = []
    journals = {}
    for name in ("a", "b"):
        j = Journal(tmp_path / f"{name}.sqlite", clock=lambda: T0, ship=True)
        await j.open()
        await j.start_session("ES", "sim", "test")
        journals[name] = j
        thread = ShippingThread(shipper(shared_db, j.path, name))
        thread.start()
        threads.append(thread)
    try:
        await asyncio.gather(trade(journals["a"], "a", 40), trade(journals["b"], "b", 25))
        for name, j in journals.items():
            await until(lambda: shipped(shared_db, name) == ship_log(j.path),  # noqa: B023
                        f"{name}'s journal shipped")  # fmt: skip
    finally:
        for thread in threads:
            thread.stop()
        for j in journals.values():
            await j.close()
    fills = shared_db.query("SELECT instance, exec_id FROM tradeterm.fills ORDER BY seq")
    for name, count in (("a", 40), ("b", 25)):
        mine = sorted(str(e) for i, e in fills if i == name)
        assert mine == sorted(f"{name}-e{n}" for n in range(count))  # each once, none lost
    lags = [t.shipper.lag() for t in threads]
    assert [lag.rows for lag in lags] == [0, 0]


async def test_a_database_outage_loses_nothing_and_never_holds_up_the_journal(
    postgres_server: PostgresServer, shared_db: SharedDb, tmp_path: Path
) -> None:
    j = Journal(tmp_path / "a.sqlite", clock=lambda: T0, ship=True)
    await j.open()
    await j.start_session("ES", "sim", "test")
    thread = ShippingThread(shipper(shared_db, j.path, "a"))
    thread.start()
    try:
        await trade(j, "a", 10)
        await until(lambda: shipped(shared_db, "a") == ship_log(j.path), "the first rows shipped")
        postgres_server.stop("immediate")  # the database is gone
        try:
            await until(lambda: not thread.shipper.connected, "the shipper noticing")
            await trade(j, "a", 30, start=10)  # intents still commit: orders still go out
            await until(
                lambda: (thread.shipper.lag().rows or 0) >= 60, "the lag measured"
            )  # 30 x 2
            lag = thread.shipper.lag()
            assert not lag.connected and lag.problem and (lag.seconds or 0) > 0
        finally:
            postgres_server.start()
        await until(lambda: shipped(shared_db, "a") == ship_log(j.path), "the rest shipped", 60)
    finally:
        thread.stop()
        await j.close()
    assert fills_once(shared_db, "a", 40)


_CHILD = """
import asyncio, sys, time
from pathlib import Path
from tradeterm.shared.target import Target
from tradeterm.shared.shipper import Identity, Shipper
journal, url = Path(sys.argv[1]), sys.argv[2]
s = Shipper(journal, Target(url), Identity("a", "h", "ES", "sim"), batch_size=3, poll_s=0.01)
asyncio.run(s.run())
"""


async def test_kill_9_while_shipping_and_a_restart_leave_no_gap_and_no_duplicate(
    shared_db: SharedDb, tmp_path: Path
) -> None:
    j = Journal(tmp_path / "a.sqlite", clock=lambda: T0, ship=True)
    await j.open()
    await j.start_session("ES", "sim", "test")
    await trade(j, "a", 300)
    expected = ship_log(j.path)
    try:
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(j.path), shared_db.writer_url], env=env
        )
        try:
            await until(lambda: len(shipped(shared_db, "a")) >= 30, "shipping under way")
            os.kill(child.pid, signal.SIGKILL)  # mid-shipping: batches of 3, 900 rows
        finally:
            child.wait(30)
        partial = shipped(shared_db, "a")
        assert 0 < len(partial) < len(expected)
        assert partial == expected[: len(partial)]  # in order, no gap
        thread = ShippingThread(shipper(shared_db, j.path, "a"))
        thread.start()
        try:
            await until(lambda: shipped(shared_db, "a") == expected, "the restart shipped the rest")
        finally:
            thread.stop()
    finally:
        await j.close()
    mark = shared_db.query("SELECT shipped_seq FROM tradeterm.instances WHERE name = 'a'")
    assert mark == [(expected[-1][0],)]
