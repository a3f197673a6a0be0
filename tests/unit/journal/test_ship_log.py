"""The shipping copy (``ship_log``, schema version 6) is written only while the journal ships:
an instance with no shared database pays neither the trigger's copy nor the file's growth."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.unit.journal.factories import T0, booked, fill, order
from tradeterm.engine.types import OrderRole
from tradeterm.journal import Journal


def copied(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT session_id, kind FROM ship_log ORDER BY seq").fetchall()


async def trade(path: Path, ship: bool, n: int) -> None:
    async with Journal(path, clock=lambda: T0, ship=ship) as j:
        await j.start_session("ES", "sim", "test")
        o = order(n)
        await j.commit_intent(o, f"cmd-{n}", OrderRole.PLAIN)
        j.record(booked(fill(f"e{n}", o.client_id)))
        await j.flush()


async def test_a_journal_that_does_not_ship_copies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await trade(path, ship=False, n=1)
    assert copied(path) == []


async def test_the_copy_follows_the_setting_of_each_run(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    await trade(path, ship=True, n=1)
    shipping_run = copied(path)
    assert {kind for _, kind in shipping_run} >= {"sessions", "order_intents", "fills"}
    await trade(path, ship=False, n=2)  # shipping switched off: nothing more is copied
    assert copied(path) == shipping_run
    await trade(path, ship=True, n=3)  # on again: this run's rows are copied
    third = set(copied(path)[len(shipping_run) :])
    assert third >= {(3, "sessions"), (3, "order_intents"), (3, "fills")}
    assert not {(2, "order_intents"), (2, "fills")} & third
