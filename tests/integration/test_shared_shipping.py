"""Two instances (ES and NQ, two engines with two journals on one fake gateway) shipping to one
real PostgreSQL server: every fill of both there exactly once; a database outage while they
trade delays no order and loses no row; the lag is in ``tradeterm status``."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.engine_helpers import TODAY
from tests.support.postgres import PostgresServer, SharedDb
from tests.support.waiting import until
from tradeterm.cli.status import shipping_note
from tradeterm.config import Settings
from tradeterm.domain import Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.paths import journal_file
from tradeterm.runtime import Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


def settings(symbol: str, port: int, journal_dir: Path, db: SharedDb) -> Settings:
    return Settings(
        symbol=symbol,
        connection={"port": port, "client_id": 1 if symbol == "ES" else 2,
                    "reconnect_min_s": 0.1, "reconnect_max_s": 0.4},
        journal={"dir": journal_dir, "flush_interval_ms": 20},
        shared={"url": db.writer_url, "instance": f"desk/{symbol}", "retry_min_s": 0.05,
                "retry_max_s": 0.2},
    )  # fmt: skip


def local_fills(journal_dir: Path, symbol: str) -> list[str]:
    import sqlite3

    path = journal_file(symbol, "sim", journal_dir)
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return sorted(r[0] for r in conn.execute("SELECT exec_id FROM fills"))


def shared_fills(db: SharedDb, symbol: str) -> list[str]:
    rows = db.query("SELECT exec_id FROM tradeterm.fills WHERE instance = %s", (f"desk/{symbol}",))
    return sorted(str(r[0]) for r in rows)


async def trade(rt: Runtime, orders: int) -> None:
    for n in range(orders):
        result = await rt.engine.submit(PlaceOrder(Side.BUY if n % 2 == 0 else Side.SELL, 1))
        assert result.ok, result.reason


async def test_two_instances_ship_every_fill_once_through_a_database_outage(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
    postgres_server: PostgresServer,
    shared_db: SharedDb,
    tmp_path: Path,
) -> None:
    gateway = await start_gateway(rate=50.0, today=TODAY, symbols=("ES", "NQ"))
    dirs = {s: tmp_path / s for s in ("ES", "NQ")}
    async with (
        open_runtime(settings("ES", gateway.config.port, dirs["ES"], shared_db)) as es,
        open_runtime(settings("NQ", gateway.config.port, dirs["NQ"], shared_db)) as nq,
    ):
        instances = {"ES": es, "NQ": nq}
        for rt in instances.values():
            await rt.engine.start()
        for rt in instances.values():
            await trade(rt, 4)
        for s in instances:
            await until(lambda: len(local_fills(dirs[s], s)) == 4, f"{s}'s fills")  # noqa: B023
            await until(lambda: shared_fills(shared_db, s) == local_fills(dirs[s], s),  # noqa: B023
                        f"{s}'s fills shipped")  # fmt: skip
        postgres_server.stop("immediate")  # the shared database goes away as they trade
        try:
            for s, rt in instances.items():
                await until(lambda: rt.shipping is not None and not rt.shipping.connected,  # noqa: B023
                            "the shipper noticing")  # fmt: skip
                await trade(rt, 4)  # every order still goes out and fills
                await until(lambda: len(local_fills(dirs[s], s)) == 8, f"{s}'s new fills")  # noqa: B023
            status = es.control.shipping if es.control is not None else None
            assert status is not None  # what `tradeterm status` shows: the shipping's last report
            await until(lambda: status()["rows_behind"] > 0, "the lag reported")
            lag = status()
            assert not lag["connected"] and lag["rows_behind"] > 0
            assert shipping_note(lag).startswith("shared database down (")
        finally:
            postgres_server.start()
        for s in instances:
            await until(lambda: shared_fills(shared_db, s) == local_fills(dirs[s], s),  # noqa: B023
                        f"{s}'s fills shipped after the outage", 60)  # fmt: skip
        assert es.shipping is not None
        await until(lambda: es.shipping is not None and es.shipping.lag().rows == 0, "caught up")
    for s in instances:
        exec_ids = shared_fills(shared_db, s)
        assert len(exec_ids) == len(set(exec_ids)) == 8  # each fill exactly once
