"""A journal row PostgreSQL's ``jsonb`` would refuse: a NUL character is shipped escaped, and
a row refused all the same is no database outage, logged once (not on every retry)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from tests.shared.test_shipping import T0, ship_log, shipped, shipper, trade
from tests.support.postgres import SharedDb
from tests.support.waiting import until
from tradeterm.journal import Journal
from tradeterm.shared.shipper import ShippingThread


async def _journal(path: Path) -> Journal:
    j = Journal(path, clock=lambda: T0, ship=True)
    await j.open()
    await j.start_session("ES", "sim", "test")
    return j


def _write(path: Path, statement: str, params: tuple[object, ...]) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(statement, params)


async def test_a_row_with_a_nul_character_ships_escaped_and_the_rest_after_it(
    shared_db: SharedDb, tmp_path: Path
) -> None:
    j = await _journal(tmp_path / "a.sqlite")
    _write(j.path, "INSERT INTO signals (session_id, ts_ns, command_id, source, kind, detail, "
           "ok, reason, order_ids) VALUES (1, ?, 'c', 'manual', 'buy', '', 0, ?, '[]')",
           (T0, "a\0b"))  # fmt: skip
    thread = ShippingThread(shipper(shared_db, j.path, "a"))
    thread.start()
    try:
        await trade(j, "a", 5)
        await until(lambda: shipped(shared_db, "a") == ship_log(j.path), "every row shipped")
    finally:
        thread.stop()
        await j.close()
    (reason,) = shared_db.query(
        "SELECT data->>'reason' FROM tradeterm.journal_rows WHERE kind = 'signals'"
    )[0]
    assert reason == "a\\u0000b"


async def test_a_row_the_database_refuses_is_said_once_and_not_as_the_database_down(
    shared_db: SharedDb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tradeterm.shared.shipper")
    j = await _journal(tmp_path / "a.sqlite")
    _write(j.path, "INSERT INTO ship_log (session_id, kind, ts_ns, written_ms, data) "
           "VALUES (1, 'signals', ?, 0, ?)", (T0, '{"reason": "\\ud800"}'))  # fmt: skip
    ship = shipper(shared_db, j.path, "a")
    connects = 0
    connect = ship._connect

    async def counted() -> object:
        nonlocal connects
        connects += 1
        return await connect()

    ship._connect = counted  # type: ignore[method-assign,assignment]
    thread = ShippingThread(ship)
    thread.start()
    try:
        await until(lambda: connects >= 5, "five tries", 60)
        lag = ship.lag()
        assert lag.connected and lag.problem and "refuses a journal row" in lag.problem
    finally:
        thread.stop()
        await j.close()
    said = [r.getMessage() for r in caplog.records if r.name == "tradeterm.shared.shipper"]
    assert len(said) == 1 and "refuses a journal row" in said[0]
