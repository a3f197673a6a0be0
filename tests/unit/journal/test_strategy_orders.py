"""``Journal.strategy_orders``: the orders a strategy's commands sent in earlier sessions,
found as ``report`` finds a fill's source: the source each intent carries (schema 3), or for
an intent written before, the signal row of its command. ``Journal.canary_carry``: what a
strategy's CANARY runs left (its intents' count, its paper position)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.unit.journal.factories import ES, booked, fill, order
from tradeterm.domain import Side
from tradeterm.engine.canary import CanaryCarry
from tradeterm.engine.commands import CommandResult, PlaceBracket, PlaceOrder
from tradeterm.engine.events import CanaryIntent, CommandDone, IntentFill, StrategySignal
from tradeterm.engine.types import OrderRole
from tradeterm.journal import Journal
from tradeterm.journal import rows as R
from tradeterm.journal.report import build
from tradeterm.journal.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from tradeterm.journal.store import open_readonly


async def test_a_strategys_orders_of_earlier_sessions_are_its_own_and_no_one_elses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ES.sqlite"
    first = Journal(path, flush_interval_ms=10)
    await first.open()
    await first.start_session("ES", "sim", "0.1.0")
    plan = [  # (command id, source, the roles of its orders: orders 1, 2, 3, 4-6)
        ("cmd-1", "sma_cross", (OrderRole.PLAIN,)),
        ("cmd-2", "manual", (OrderRole.PLAIN,)),
        ("cmd-3", "orb", (OrderRole.PLAIN,)),
        ("cmd-4", "sma_cross", (OrderRole.ENTRY, OrderRole.STOP, OrderRole.TARGET)),
    ]
    seq = 0
    for command_id, source, roles in plan:
        ids = []
        for role in roles:
            seq += 1
            o = order(seq, Side.BUY, source=source)
            o.submit()
            await first.commit_intent(o, command_id, role)
            ids.append(o.client_id)
        bracket = len(roles) > 1
        cmd = PlaceBracket(Side.BUY, 1, 8, 16, source=source) if bracket else PlaceOrder(
            Side.BUY, 1, source=source
        )  # fmt: skip
        first.record(CommandDone(CommandResult(command_id, cmd, True, order_ids=tuple(ids))))
        if source != "manual":
            first.record(StrategySignal(source, "TargetPosition", "quantity=1", "why", True,
                                        ",".join(ids), 0, command_id))  # fmt: skip
    await first.close()

    second = Journal(path, flush_interval_ms=10)
    await second.open()
    await second.start_session("ES", "sim", "0.1.0")
    try:
        assert await second.strategy_orders("sma_cross") == {
            order(n).client_id for n in (1, 4, 5, 6)
        }
        assert await second.strategy_orders("orb") == {order(3).client_id}
        assert await second.strategy_orders("scalper") == frozenset()
    finally:
        await second.close()


async def test_an_order_whose_signal_row_was_lost_is_still_its_strategys(tmp_path: Path) -> None:
    """A kill -9 after the intent's commit, before its command's rows were written: the
    order went to IB and filled, but no ``signals`` row says whose it was. The intent does,
    so the restarted strategy takes it back and the report books its trade for it."""
    path = tmp_path / "ES.sqlite"
    async with Journal(path, flush_interval_ms=10) as first:
        await first.start_session("ES", "sim", "0.1.0")
        first.record_rows([R.instrument_row(ES, 0)], critical=True)
        for seq, side, price in ((1, Side.BUY, 24000), (2, Side.SELL, 24008)):
            o = order(seq, side, source="sma_cross")
            o.submit()
            await first.commit_intent(o, f"cmd-{seq}", OrderRole.PLAIN)
            first.record(booked(fill(f"e{seq}", o.client_id, side, 1, price, seq)))
    conn = open_readonly(path)
    try:
        assert conn.execute("SELECT count(*) FROM signals").fetchone()[0] == 0
        report = build(conn)
    finally:
        conn.close()
    assert set(report.by_source) == {"sma_cross"}
    assert report.by_source["sma_cross"].gross == 8 * ES.tick * ES.multiplier
    async with Journal(path, flush_interval_ms=10) as second:
        await second.start_session("ES", "sim", "0.1.0")
        assert await second.strategy_orders("sma_cross") == {order(1).client_id, order(2).client_id}


def schema_2_journal(path: Path) -> None:
    """A journal as a build before the intents carried their source (schema 2) left it: a
    ``sma_cross`` round trip (orders 1 and 2) and a manual buy (order 3), each intent's owner
    in its command's signal row only."""
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    conn.execute(*R.instrument_row(ES, 0))
    conn.execute("INSERT INTO sessions (id, symbol, started_ns, stopped_ns, version, mode)"
                 " VALUES (1, 'ES', 0, 1, 'old', 'sim')")  # fmt: skip
    plan = (
        (1, "BUY", 24000, "sma_cross"),
        (2, "SELL", 24004, "sma_cross"),
        (3, "BUY", 24002, "manual"),
    )
    for seq, side, price, source in plan:
        oid = order(seq).client_id
        conn.execute(
            "INSERT INTO order_intents (order_id, session_id, command_id, role, con_id, side,"
            " quantity, order_type, tif, created_ns, updated_ns) VALUES (?,1,?,'',?,?,1,"
            "'MKT','DAY',?,?)",
            (oid, f"cmd-{seq}", ES.con_id, side, seq, seq),
        )
        conn.execute(
            "INSERT INTO signals (session_id, ts_ns, command_id, source, kind, detail, ok,"
            " reason, order_ids) VALUES (1,?,?,?,'PlaceOrder','',1,'',?)",
            (seq, f"cmd-{seq}", source, oid),
        )
        conn.execute(
            "INSERT INTO fills (exec_id, order_id, con_id, side, quantity, price_ticks, price,"
            " ts_ns, own, historical, booked_ns) VALUES (?,?,?,?,1,?,'',?,1,0,?)",
            (f"e{seq}", oid, ES.con_id, side, price, seq, seq),
        )
    conn.close()


def sources(path: Path) -> dict[str, int]:
    """The report's trades per source, read as ``tradeterm report`` reads (never migrates)."""
    conn = open_readonly(path)
    try:
        return {s: st.trades for s, st in build(conn).by_source.items()}
    finally:
        conn.close()


async def test_a_schema_2_journal_is_read_as_it_is_then_upgraded_its_old_intents_still_owned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ES.sqlite"
    schema_2_journal(path)
    assert sources(path) == {"sma_cross": 1}  # the report reads it as it is

    async with Journal(path, flush_interval_ms=10) as j:
        await j.start_session("ES", "sim", "0.1.0")
        assert await j.strategy_orders("sma_cross") == {order(1).client_id, order(2).client_id}
        assert await j.strategy_orders("manual") == {order(3).client_id}
        new = order(4, Side.SELL, session="2", source="sma_cross")
        new.submit()
        await j.commit_intent(new, "cmd-1", OrderRole.PLAIN)  # no signal row: a kill -9
        j.record(booked(fill("e4", new.client_id, Side.SELL, 1, 24006, 4)))
        assert await j.strategy_orders("sma_cross") == {
            order(1).client_id,
            order(2).client_id,
            new.client_id,
        }
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 3
        rows = conn.execute("SELECT order_id, source FROM order_intents ORDER BY created_ns")
        assert rows.fetchall() == [
            *((order(n).client_id, None) for n in (1, 2, 3)),
            (new.client_id, "sma_cross"),
        ]
    finally:
        conn.close()
    # the manual buy of order 3 is closed by the strategy's sell: the trade is the opener's
    assert sources(path) == {"manual": 1, "sma_cross": 1}


async def test_a_strategys_canary_count_and_paper_position_are_read_back_from_every_session(
    tmp_path: Path,
) -> None:
    """Two sessions of ``marker`` (and one of another strategy): the count is every intent
    of ``marker`` journaled, the position the signed sum of its paper fills only (not its
    live ones, not the other strategy's)."""
    path = tmp_path / "ES.sqlite"
    Fills = list[tuple[Side, int]]
    plan: list[list[tuple[str, str, Fills, Fills]]] = [  # session: (strategy, intent id,
        # paper fills as (side, quantity), live fills)
        [("marker", "m.1", [(Side.SELL, 1)], []), ("marker", "m.2", [], [(Side.SELL, 1)])],
        [
            ("marker", "m.3", [(Side.BUY, 3), (Side.SELL, 1)], []),
            ("orb", "o.1", [(Side.BUY, 5)], []),
        ],
    ]
    execs = 0
    for session in plan:
        async with Journal(path, flush_interval_ms=10) as j:
            await j.start_session("ES", "sim", "0.1.0")
            for name, intent_id, paper, live in session:
                j.record(CanaryIntent(name, intent_id, "TargetPosition", "", bool(live), 0, 0,
                                      "", "", ES.con_id, 1))  # fmt: skip
                for mode, fills in (("paper", paper), ("live", live)):
                    for side, qty in fills:
                        execs += 1
                        j.record(IntentFill(name, intent_id, mode, "entry", side, qty, 24000,
                                            execs, f"x{execs}"))  # fmt: skip
    async with Journal(path, flush_interval_ms=10) as j:
        await j.start_session("ES", "sim", "0.1.0")
        assert await j.canary_carry("marker") == CanaryCarry(3, -1 + 3 - 1)
        assert await j.canary_carry("orb") == CanaryCarry(1, 5)
        assert await j.canary_carry("scalper") == CanaryCarry(0, 0)
