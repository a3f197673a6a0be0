"""The journal writer: one SQLite file per market, written from the engine's event loop.

Durability rules (what is written when, and what may be lost):

* **Order intents** are committed by :meth:`Journal.commit_intent`, awaited by the engine
  (``engine.before_send``) before the order goes to the broker: a single-row transaction with
  ``synchronous=FULL`` (fsynced to the WAL). If it cannot be written the order is not sent.
  The row says whose the order is (``Order.source``: ``manual`` or a strategy's name), so an
  order IB holds is never without its owner, whatever a kill -9 loses after it.
* **Critical rows** (order events, fills, commissions, position snapshots, risk events,
  kill-switch events, connection events, commands) go to an unbounded in-memory lane and are
  flushed by the writer task as soon as it can (one transaction per batch). They are never
  dropped: if a write fails they stay queued and are retried every ``retry_s`` seconds. A
  kill -9 loses the ones not yet flushed; fills and order states are then recovered from the
  broker when the engine reconciles at the next start (fills are unique by execution id, so
  a recovered fill is journaled exactly once).
* **Fills** are unique by execution id. One already journaled is not written again: with the
  same facts (``Fill.facts``) that is all; with other facts it is a conflict, kept as an ERROR
  system event (both versions) in the same transaction and reported to ``on_conflict``
  (runtime wires it to ``engine.fill_conflict``: trading halts). At start the engine reads
  them back (:meth:`Journal.fills`), so that a fill IB reports again is known.
* **Bulk rows** (closed 1-minute bars, notices) go to a bounded lane (``queue_max``) flushed
  every ``flush_interval_ms`` or ``batch_size`` rows. When the lane is full a new row is
  dropped and counted in :attr:`Journal.dropped`; after a failed write its rows are dropped
  (counted) too. Bars are re-filled from the broker's history at the next start.
* :meth:`Journal.record` never blocks and never awaits: the event loop (and the kill switch
  on it) is never held up by the disk. All SQLite work runs on aiosqlite's thread.
* A failed write (disk full, database locked, read-only file) calls ``on_failure`` with a
  message for the user, once per failure episode, before anything is logged (runtime wires
  it to ``engine.halt``: what cannot be recorded cannot be traded; the halt writes the halt
  latch, ``latch.py``, first). A later successful write ends the episode. Critical rows still
  unwritten at :meth:`Journal.close` are lost; :meth:`Journal.unwritten` counts them.

Kept as one module because those rules are one writer's: the lanes, the writer task, the
failure episode and the read-back at start share the connection and the queues, and each rule
above is enforced where two of them meet (a retried critical row behind an fsynced intent).
The rows themselves are built in ``rows.py``, the schema is ``schema.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiosqlite

from tradeterm.config import JournalConfig
from tradeterm.domain import (
    ExitTag,
    Fill,
    Instrument,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from tradeterm.domain.fills import conflict_text
from tradeterm.engine.canary import CanaryCarry
from tradeterm.engine.events import (
    BarsChanged,
    EngineEvent,
    FillBooked,
    PositionChanged,
)
from tradeterm.engine.order_tracking import SentOrder
from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import OrderRole, TradingState
from tradeterm.journal import rows as R
from tradeterm.journal.report import NEW_MARKET, SIGNAL_OF_INTENT, SOURCE_OF_INTENT
from tradeterm.journal.store import JournalError, WriterLock, prepare

if TYPE_CHECKING:
    from tradeterm.engine.engine import Engine
    from tradeterm.engine.stream import EventStream

log = logging.getLogger(__name__)

MAX_CRITICAL_PER_TX = 5_000


@dataclass(frozen=True, slots=True)
class IntentRecord:
    """An order intent still open in the journal (its order may be working at the broker)."""

    order_id: str
    session_id: int | None
    command_id: str
    role: str
    side: str
    quantity: int
    order_type: str
    limit_ticks: int | None
    stop_ticks: int | None
    status: str
    broker_id: int | None
    perm_id: int | None
    created_ns: int
    tif: str = "DAY"
    client_id: int | None = None  # the API client id of the session that sent it
    trail_ticks: int | None = None
    exit: ExitTag | None = None  # see ``rows.exit_tag``
    oca_group: str | None = None


class Journal:
    """See the module notes. Use::

    journal = Journal(path)
    await journal.open()
    engine = Engine(broker, before_send=journal.commit_intent)
    journal.on_failure = engine.halt
    task = journal.attach(engine)
    ...
    await journal.close()
    """

    def __init__(
        self,
        path: Path,
        *,
        batch_size: int = 500,
        flush_interval_ms: int = 250,
        queue_max: int = 50_000,
        on_failure: Callable[[str], None] | None = None,
        on_conflict: Callable[[str], None] | None = None,
        busy_timeout_ms: int = 5_000,
        retry_s: float = 1.0,
        clock: Callable[[], int] = time.time_ns,
        ship: bool = False,
    ) -> None:
        self.path = path
        self.ship = ship  # its rows copied into ship_log for the shared database (schema.py)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_ms / 1000
        self.queue_max = queue_max
        self.on_failure = on_failure
        self.on_conflict = on_conflict
        self.busy_timeout_ms = busy_timeout_ms
        self.retry_s = retry_s
        self.clock = clock
        self.session_id: int | None = None
        self.dropped = 0  # bulk rows dropped (queue full, or lost with a failed write)
        self.failure: str | None = None  # the current failure episode's message
        self.failures = 0  # failed writes so far
        self.rows_written = 0
        self._critical: deque[R.Row] = deque()
        self._bulk: deque[R.Row] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self._lock = asyncio.Lock()  # one transaction at a time on the one connection
        self._db: aiosqlite.Connection | None = None
        self._writer: asyncio.Task[None] | None = None
        self._writer_lock = WriterLock(path)
        self._awaiting_commission: set[str] = set()
        self._con_id: int | None = None

    @classmethod
    def configured(cls, path: Path, config: JournalConfig, **kw: Any) -> Journal:
        """The journal at ``path`` (``Settings.journal_path``) with ``config``'s batching."""
        return cls(
            path,
            batch_size=config.batch_size,
            flush_interval_ms=config.flush_interval_ms,
            queue_max=config.queue_max,
            **kw,
        )

    # ---- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Lock, check, migrate and open the file; start the writer task. Raises
        :class:`JournalError` (worded for the user) when the journal cannot be used."""
        self._writer_lock.acquire()
        try:
            await asyncio.to_thread(
                prepare, self.path, busy_timeout_ms=self.busy_timeout_ms, ship=self.ship
            )
            db = await aiosqlite.connect(
                self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000
            )
            try:
                await db.execute("PRAGMA synchronous = FULL")
                await db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            except sqlite3.Error as exc:
                await db.close()
                raise JournalError(f"cannot open journal {self.path}: {exc}") from None
        except BaseException:
            self._writer_lock.release()
            raise
        self._db = db
        self._writer = asyncio.create_task(self._run(), name="journal-writer")

    async def close(self) -> None:
        """Flush what is queued (critical rows: as long as writes succeed), stop the writer,
        close the file and release the lock."""
        if self._db is None:
            return
        writer, self._writer = self._writer, None
        self._closing = True  # the writer ends after the batch it is writing, if any
        self._wake.set()
        if writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        for _ in range(1000):
            if not (self._critical or self._bulk):
                break
            if not await self._flush_once():
                break
        if self._critical:
            log.error("journal closed with unwritten critical rows: %s", self.unwritten())
        db, self._db = self._db, None
        with contextlib.suppress(sqlite3.Error):
            await db.close()
        if self.failure is None:
            try:  # the daily_performance cache, from the fills (report.py)
                await asyncio.to_thread(self._save_daily)
            except (sqlite3.Error, ArithmeticError, ValueError):
                log.exception("journal: cannot update daily_performance")
        self._writer_lock.release()

    def _save_daily(self) -> None:
        from tradeterm.journal.report import save_daily

        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_ms / 1000)
        try:
            save_daily(conn, self.clock())
        finally:
            conn.close()

    async def __aenter__(self) -> Journal:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return len(self._critical) + len(self._bulk)

    def unwritten(self) -> dict[str, int]:
        """Critical rows queued and not written, counted per table (after :meth:`close`:
        the ones that are lost)."""
        return dict(Counter(R.table_of(sql) for sql, _ in self._critical))

    async def flush(self) -> None:
        """Wait until everything queued so far is written (or a write failed)."""
        while self._critical or self._bulk:
            if not await self._flush_once():
                return

    # ---- sessions ----------------------------------------------------------------------------

    async def start_session(self, symbol: str, mode: str, version: str,
                            account: str | None = None, client_id: int | None = None,
                            new_market: str | None = None) -> int:  # fmt: skip
        """Record this run's start (and close, as crashed, runs that never recorded a stop).
        ``new_market``: this run trades a market of its own that begins now (an embedded
        gateway, why in words): the earlier runs' market ended with their gateway, so their
        orders still open end (cancelled, with that reason) and the position starts again
        from zero (a ``new market`` position basis: :meth:`fills` and the report start
        there), in the same transaction."""
        now = self.clock()
        async with self._lock:
            db = self._conn()
            try:
                await db.execute("BEGIN IMMEDIATE")
                await db.execute(
                    "UPDATE sessions SET stopped_ns = ?, stop_reason = 'no clean stop recorded "
                    "(crashed or killed)' WHERE stopped_ns IS NULL",
                    (now,),
                )
                cur = await db.execute(
                    "INSERT INTO sessions (symbol, started_ns, version, mode, account, client_id,"
                    " pid) VALUES (?,?,?,?,?,?,?)",
                    (symbol, now, version, mode, account, client_id, os.getpid()),
                )
                if new_market is not None:
                    await self._new_market(db, now, new_market)
                await db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                raise JournalError(f"cannot write journal {self.path}: {exc}") from None
        assert cur.lastrowid is not None
        self.session_id = cur.lastrowid
        return self.session_id

    @staticmethod
    async def _new_market(db: aiosqlite.Connection, now: int, why: str) -> None:
        """The earlier market's end (see :meth:`start_session`), written in its transaction."""
        ended = f"ended with its gateway: {why}"
        await db.execute(
            "UPDATE order_intents SET status = ?, state = 'done', updated_ns = ?, note = ?"
            " WHERE state = 'open'",
            (str(OrderStatus.CANCELLED), now, ended),
        )
        await db.execute(*R.new_market_row(now))
        await db.execute(*R.system_row(now, NEW_MARKET, "INFO", f"a new market: {why}"))

    def end_session(self, reason: str = "stopped") -> None:
        """Queue this run's stop (written by :meth:`close`)."""
        if self.session_id is not None:
            self._critical.append((
                "UPDATE sessions SET stopped_ns = ?, stop_reason = ? WHERE id = ?",
                (self.clock(), reason, self.session_id),
            ))  # fmt: skip
            self._wake.set()

    # ---- the intent ----------------------------------------------------------------------

    async def commit_intent(self, order: Order, command_id: str, role: OrderRole) -> None:
        """Commit ``order``'s intent durably before it is sent (``engine.before_send``).
        Raises :class:`JournalError` when it cannot be written: the order must not be sent."""
        row = R.intent_row(order, command_id, role, self.session_id, self.clock())
        async with self._lock:
            try:
                await self._conn().execute(R.INSERT_INTENT, row)
            except (sqlite3.Error, ValueError) as exc:
                message = self._fail("order intent", exc)
                raise JournalError(message) from None
        self._recovered()

    # ---- events ------------------------------------------------------------------------------

    def record(self, event: EngineEvent) -> None:
        """Queue the rows of one engine event; never blocks (see the module notes)."""
        rows, critical = R.rows_for(event, self.clock(), self.session_id)
        if not rows:
            return
        if critical:
            self._critical.extend(rows)
            self._wake.set()
        else:
            self._add_bulk(rows)

    def record_rows(self, rows: list[R.Row], *, critical: bool) -> None:
        if critical:
            self._critical.extend(rows)
            self._wake.set()
        else:
            self._add_bulk(rows)

    def _add_bulk(self, rows: list[R.Row]) -> None:
        room = self.queue_max - len(self._bulk)
        if room < len(rows):
            self.dropped += len(rows) - max(room, 0)
            rows = rows[: max(room, 0)]
        self._bulk.extend(rows)
        if len(self._bulk) >= self.batch_size:
            self._wake.set()

    def attach(self, engine: Engine) -> asyncio.Task[None]:
        """Listen to ``engine`` now (no event is missed) and journal its events in a task,
        until the engine stops."""
        return asyncio.create_task(self.follow(engine, engine.listen()), name="journal-follow")

    async def follow(self, engine: Engine, stream: EventStream | None = None) -> None:
        """Journal every event of ``engine`` (closed bars and commissions included) until its
        stream closes. Open intents of earlier runs stay open until the engine's order events
        close them on IB's word."""
        stream = stream if stream is not None else engine.listen()
        async for event in stream:
            try:
                self._follow_one(engine, event)
            except Exception:  # a journal bug must not stop the journal
                log.exception("journal: cannot record %r", event)

    def _follow_one(self, engine: Engine, event: EngineEvent) -> None:
        inst = engine.instrument
        if inst is not None and self._con_id is None and inst.con_id is not None:
            self._con_id = inst.con_id
            self.record_rows([R.instrument_row(inst, self.clock())], critical=True)
        self.record(event)
        if isinstance(event, FillBooked):
            self._awaiting_commission.add(event.fill.exec_id)
        if isinstance(event, (FillBooked, PositionChanged)) and self._awaiting_commission:
            self._commissions(engine)
        if isinstance(event, BarsChanged) and event.closed and engine.bars is not None:
            self._closed_bars(engine, event.closed)

    def _commissions(self, engine: Engine) -> None:
        portfolio = engine.portfolio
        if portfolio is None:
            return
        now = self.clock()
        for exec_id in list(self._awaiting_commission):
            amount = portfolio.ledger.commission(exec_id)
            if amount is not None:
                self._awaiting_commission.discard(exec_id)
                self.record_rows([R.commission_row(exec_id, amount, now)], critical=True)

    def _closed_bars(self, engine: Engine, closed: int) -> None:
        builder = engine.bars
        if builder is None or self._con_id is None:
            return
        bars = builder.bars()
        if builder.forming is not None:
            bars = bars[:-1]
        self.record_rows([R.bar_row(self._con_id, b) for b in bars[-closed:]], critical=False)

    def note_broker(self, account: str | None, client_id: int | None) -> None:
        """Once connected: the session's IB account (whose state this journal keeps, see
        :meth:`owner`) and API client id (whose order ids its open intents are)."""
        if self.session_id is not None:
            self._critical.append((
                "UPDATE sessions SET account = ?, client_id = coalesce(?, client_id)"
                " WHERE id = ?",
                (account, client_id, self.session_id),
            ))  # fmt: skip
        self._wake.set()

    async def owner(self) -> str | None:
        """The IB account whose state this journal keeps: the one its latest earlier session
        traded (None while no session has named one)."""
        row = await self._fetchone(
            "SELECT account FROM sessions WHERE account IS NOT NULL AND account != ''"
            " AND id IS NOT ? ORDER BY id DESC LIMIT 1",
            (self.session_id,),
        )
        return str(row[0]) if row is not None else None

    async def sent_orders(self) -> list[SentOrder]:
        """The open intents of earlier runs as orders for the engine to track again (an
        intent that cannot be read back is left for the report, with a warning)."""
        out: list[SentOrder] = []
        for r in await self.open_intents():
            if r.session_id == self.session_id:
                continue
            try:
                out.append(SentOrder(
                    r.order_id, Side(r.side), r.quantity, OrderType(r.order_type),
                    r.limit_ticks, r.stop_ticks, TimeInForce(r.tif), OrderRole(r.role), r.command_id,
                    r.broker_id, r.perm_id, r.client_id, r.created_ns, r.trail_ticks, r.exit,
                    r.oca_group,
                ))  # fmt: skip
            except ValueError as exc:
                log.warning("journal: open intent %s cannot be read back: %s", r.order_id, exc)
        return out

    # ---- reads -------------------------------------------------------------------------------

    async def last_transition(self) -> RiskTransition | None:
        """The last trading-state transition journaled (to restore HALTED at start)."""
        row = await self._fetchone(
            "SELECT previous, state, reason, ts_ns FROM risk_events WHERE kind = 'transition'"
            " ORDER BY id DESC LIMIT 1"
        )
        if row is None:
            return None
        previous, state, reason, ts_ns = row
        try:
            to_state = TradingState(state)
            from_state = TradingState(previous) if previous else to_state
        except ValueError:
            return None
        return RiskTransition(from_state, to_state, reason, ts_ns)

    async def fills(self, instrument: Instrument) -> list[tuple[Fill, Decimal | None]]:
        """The fills of ``instrument`` (by its conId) with their commissions, in execution
        order (``engine.journaled_fills``), since the market began (those of a market that
        ended, :meth:`start_session`'s ``new_market``, are another market's: an embedded
        gateway's, a replay run's). When they cannot be read, none, and ``on_failure`` is told:
        without them the fills cannot be trusted (trading halts)."""
        try:
            rows = await self._fetchall(
                "SELECT f.exec_id, f.order_id, f.side, f.quantity, f.price_ticks, f.ts_ns,"
                " f.perm_id, c.amount FROM fills f LEFT JOIN commissions c USING (exec_id)"
                " WHERE f.con_id = ? AND f.booked_ns > coalesce((SELECT max(ts_ns) FROM"
                " position_snapshots WHERE cause = ?), -1) ORDER BY f.ts_ns, f.rowid",
                (instrument.con_id, NEW_MARKET),
            )
        except JournalError as exc:
            log.error("%s", exc)
            if self.on_failure is not None:
                self.on_failure(f"{exc} (the fills journaled before this run)")
            return []
        return [
            (Fill(exec_id, order_id, instrument, Side(side), qty, price, ts, perm_id=perm_id),
             Decimal(amount) if amount is not None else None)
            for exec_id, order_id, side, qty, price, ts, perm_id, amount in rows
        ]  # fmt: skip

    async def highest_order_id(self) -> int:
        """The highest broker order id (or permId) this journal has seen, 0 for none: where
        an in-process broker (SHADOW's paper broker) must number its orders above, so that
        its execution ids never repeat an earlier run's. Raises ``JournalError``."""
        row = await self._fetchone(
            "SELECT max(coalesce((SELECT max(max(coalesce(broker_id, 0), coalesce(perm_id, 0)))"
            " FROM order_intents), 0), coalesce((SELECT max(max(coalesce(broker_id, 0),"
            " coalesce(perm_id, 0))) FROM order_events), 0), coalesce((SELECT max(perm_id)"
            " FROM fills), 0))"
        )
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def strategy_orders(self, source: str) -> frozenset[str]:
        """The client order ids of every order a command of ``source`` (a strategy's name)
        sent, in any session: what a restarted strategy takes as its own (their fills make
        its position, their later fills and updates count for it; ``StrategyRunner``'s
        ``carried``). Each intent says whose it is (written before its order was sent, so a
        kill -9 never leaves one without it); an intent of a journal older than that, its
        command's signal row. Raises ``JournalError``."""
        rows = await self._fetchall(
            f"SELECT oi.order_id FROM order_intents oi LEFT JOIN {SIGNAL_OF_INTENT}"
            f" WHERE {SOURCE_OF_INTENT} = ?",
            (source,),
        )
        return frozenset(str(r[0]) for r in rows)

    async def canary_carry(self, strategy: str) -> CanaryCarry:
        """What ``strategy``'s CANARY runs in any session left: the intents journaled (the
        selector's count) and the signed sum of their paper fills (the paper track's
        position), for a restarted run to continue from (``engine/canary.py``). Raises
        ``JournalError``."""
        row = await self._fetchone(
            "SELECT (SELECT count(*) FROM canary_intents WHERE strategy = ?),"
            " (SELECT coalesce(sum(CASE f.side WHEN 'BUY' THEN f.quantity"
            " ELSE -f.quantity END), 0) FROM intent_fills f"
            " JOIN canary_intents c ON c.intent_id = f.intent_id"
            " WHERE c.strategy = ? AND f.mode = 'paper')",
            (strategy, strategy),
        )
        return CanaryCarry(int(row[0]), int(row[1]))

    async def open_intents(self) -> list[IntentRecord]:
        """Intents whose orders are not known to be finished, oldest first."""
        rows = await self._fetchall(
            "SELECT i.order_id, i.session_id, i.command_id, i.role, i.side, i.quantity,"
            " i.order_type, i.limit_ticks, i.stop_ticks, i.status, i.broker_id, i.perm_id,"
            " i.created_ns, i.tif, s.client_id, i.trail_ticks, i.oca_group, i.exit_strategy,"
            " i.exit_fill_ticks, i.breakeven_after_ticks, i.breakeven_offset_ticks"
            " FROM order_intents i LEFT JOIN sessions s ON s.id = i.session_id"
            " WHERE i.state = 'open' ORDER BY i.created_ns, i.order_id"
        )
        # then the OCA group, and the last four columns: the exit tag's (``rows.exit_tag``)
        return [
            replace(IntentRecord(*r[:-5]), oca_group=r[-5], exit=R.exit_tag(*r[-4:])) for r in rows
        ]

    async def _fetchone(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _fetchall(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            async with self._conn().execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise JournalError(f"cannot read journal {self.path}: {exc}") from None

    # ---- the writer --------------------------------------------------------------------------

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise JournalError(f"journal {self.path} is not open")
        return self._db

    async def _run(self) -> None:
        while not self._closing:
            if not self._critical and len(self._bulk) < self.batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
            if self._closing:
                return
            if not (self._critical or self._bulk):
                continue
            try:
                ok = await self._flush_once()
            except Exception as exc:  # never die silently: a writer that stopped is a failure
                self._fail("rows", exc)
                ok = False
            if not ok and not self._closing:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # retry later (or at close)
                    await asyncio.wait_for(self._wake.wait(), self.retry_s)

    async def _flush_once(self) -> bool:
        """Write one batch in one transaction. True when it was written."""
        async with self._lock:  # taken inside the lock: a concurrent flush never repeats rows
            critical = list(itertools.islice(self._critical, MAX_CRITICAL_PER_TX))
            bulk = [self._bulk.popleft() for _ in range(min(self.batch_size, len(self._bulk)))]
            if not critical and not bulk:
                return True
            db = self._conn()
            conflicts: list[str] = []
            try:
                await db.execute("BEGIN IMMEDIATE")
                for sql, group in itertools.groupby(critical + bulk, key=lambda r: r[0]):
                    params = [p for _, p in group]
                    if sql == R.FILL:
                        conflicts += await self._write_fills(db, params)
                    else:
                        await db.executemany(sql, params)
                await db.execute("COMMIT")
            except (sqlite3.Error, ValueError) as exc:
                with contextlib.suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
                self.dropped += len(bulk)
                self._fail("rows", exc)
                return False
            for _ in critical:
                self._critical.popleft()
        self.rows_written += len(critical) + len(bulk)
        self._recovered()
        for text in conflicts:
            self._conflict(text)
        return True

    async def _write_fills(self, db: aiosqlite.Connection, rows: list[Any]) -> list[str]:
        """Insert fill rows; one whose execution id is journaled already is a no-op when its
        facts agree, and a conflict (returned, and kept as an ERROR system event) otherwise."""
        conflicts = []
        for params in rows:
            cursor = await db.execute(R.FILL, params)
            if cursor.rowcount:
                continue
            async with db.execute(R.JOURNALED_FACTS, params) as cur:
                known = await cur.fetchone()
            new = R.facts_of(params)
            if known is not None and tuple(known) != new:
                text = conflict_text(params["exec_id"], tuple(known), new)
                await db.execute(*R.system_row(self.clock(), "fill conflict", "ERROR", text))
                conflicts.append(text)
        return conflicts

    def _conflict(self, text: str) -> None:
        log.error("journal %s: %s", self.path, text)
        if self.on_conflict is not None:
            try:
                self.on_conflict(text)
            except Exception:
                log.exception("journal on_conflict callback")

    def _fail(self, what: str, exc: BaseException) -> str:
        self.failures += 1
        message = f"journal {self.path} cannot record {what}: {_why(exc)}"
        if self.failure is None:
            self.failure = message
            if self.on_failure is not None:  # first: the halt latch before the log line
                try:
                    self.on_failure(message)
                except Exception:
                    log.exception("journal on_failure callback")
            log.error("%s", message)
        return message

    def _recovered(self) -> None:
        """A write succeeded: the failure episode ends once no critical row is left over."""
        if self.failure is not None and not self._critical:
            log.warning("journal %s writes again (after: %s)", self.path, self.failure)
            self.failure = None


def _why(exc: BaseException) -> str:
    text = str(exc)
    low = text.lower()
    if "full" in low:
        return f"the disk is full ({text})"
    if "locked" in low or "busy" in low:
        return f"the file is locked by another program ({text})"
    if "readonly" in low or "read-only" in low:
        return f"the file is read-only ({text})"
    return text
