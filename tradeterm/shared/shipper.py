"""Journal shipping: an instance's journal rows, copied to the shared database in the background.

The journal (SQLite) stays the source of truth: a trigger copies each row worth sharing into
``ship_log`` in the same transaction that writes it (``journal/schema.py``, version 4), numbered
by a ``seq`` that never goes back. The shipper reads ``ship_log`` from ``seq`` onward with its
own read-only connection and sends it to PostgreSQL in batches, in ``seq`` order:

* **Exactly once, in order.** A batch is one PostgreSQL transaction: its rows (keyed by
  instance, session and seq; a row already there is skipped) and the instance's high-water
  mark ``instances.shipped_seq``. On every connect the mark is read back from PostgreSQL and
  shipping resumes after it, so a crash (kill -9 at any point), an outage or a restart neither
  skips a row nor sends one twice.
* **Never in the order path.** An instance runs the shipper in a process of its own
  (``ship_process.py``): no network wait, no batch building, no SQLite read of it runs in the
  trading process, nor holds its GIL. The engine and the journal do not know it exists.
* **A database that is down** costs nothing but lag: the shipper retries with a doubling
  backoff (``retry_min_s`` .. ``retry_max_s``) and holds at most one batch in memory; what is
  not shipped stays in SQLite and is read again when the database is back.
* **The lag** (rows and seconds behind: the oldest row not yet shipped) is measured against
  the journal while the database is away too (:meth:`Shipper.lag`); the status bar and
  ``tradeterm status`` show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from tradeterm import logs
from tradeterm.config import SharedConfig
from tradeterm.shared.migrations import SchemaMismatch, check_version
from tradeterm.shared.target import SharedError, Target

log = logging.getLogger(__name__)

_INSERT = (
    "INSERT INTO tradeterm.journal_rows (instance_id, session_id, seq, kind, ts_ns, data) "
    "VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING"
)
_REGISTER = (
    "INSERT INTO tradeterm.instances (instance_id, name, host, symbol, mode) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (instance_id) DO UPDATE SET name = EXCLUDED.name, "
    "host = EXCLUDED.host, symbol = EXCLUDED.symbol, mode = EXCLUDED.mode, last_seen = now() "
    "RETURNING shipped_seq"
)
_MARK = (
    "UPDATE tradeterm.instances SET shipped_seq = %s, shipped_ts_ns = %s, last_seen = now() "
    "WHERE instance_id = %s AND shipped_seq < %s"
)
FAILURES = (psycopg.Error, OSError, TimeoutError, sqlite3.Error, SharedError, SchemaMismatch)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who ships: the instance's name and where it runs (``shared.config.instance_name``)."""

    name: str
    host: str
    symbol: str
    mode: str


@dataclass(frozen=True, slots=True)
class Lag:
    """How far the shared database is behind the journal: rows and seconds None (unknown)
    until its high-water mark has been read from the database, a first connect."""

    rows: int | None
    seconds: float | None
    connected: bool
    problem: str | None  # why it is not connected (one line), or None

    def as_status(self) -> dict[str, Any]:
        return {
            "rows_behind": self.rows,
            "seconds_behind": None if self.seconds is None else round(self.seconds, 3),
            "connected": self.connected,
            "problem": self.problem,
        }


class Shipper:
    """Ships ``journal``'s ``ship_log`` to ``target`` (see the module notes). Run it with
    :class:`ShippingThread`; :meth:`run` ends when :meth:`stop` is called."""

    def __init__(
        self,
        journal: Path,
        target: Target,
        identity: Identity,
        *,
        batch_size: int = 500,
        poll_s: float = 0.1,
        heartbeat_s: float = 5.0,
        retry_min_s: float = 0.5,
        retry_max_s: float = 30.0,
        request_timeout_s: float = 30.0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.journal = journal
        self.target = target
        self.identity = identity
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self.request_timeout_s = request_timeout_s
        self.clock = clock
        self.shipped_seq: int | None = None  # the high-water mark PostgreSQL holds (once known)
        self.latest_seq = 0  # the journal's last row
        self.rows_shipped = 0  # by this run
        self.connected = False
        self.problem: str | None = "not connected yet"
        self._oldest_ms: int | None = None  # when the oldest row not shipped was written
        self._stopping = asyncio.Event()  # bound to the loop that first waits on it
        self._finishing = False  # stop once nothing is left to ship (or the database is away)
        self._sqlite: sqlite3.Connection | None = None
        self._instance_id = ""
        self._said: str | None = None  # the failure last logged

    @classmethod
    def configured(
        cls, journal: Path, config: SharedConfig, identity: Identity, **kw: Any
    ) -> Shipper | None:
        """The shipper ``config`` asks for (None without ``shared.url``)."""
        target = Target.of(config)
        if target is None:
            return None
        return cls(
            journal,
            target,
            identity,
            batch_size=config.batch_size,
            retry_min_s=config.retry_min_s,
            retry_max_s=config.retry_max_s,
            **kw,
        )

    def lag(self) -> Lag:
        """Rows and seconds the shared database is behind (read from plain attributes: safe
        from any thread)."""
        shipped = self.shipped_seq
        if shipped is None:  # what the database holds is not known yet
            return Lag(None, None, self.connected, self.problem)
        rows = max(0, self.latest_seq - shipped)
        oldest = self._oldest_ms
        seconds = max(0.0, self.clock() / 1e9 - oldest / 1e3) if rows and oldest else 0.0
        return Lag(rows, seconds, self.connected, self.problem)

    def stop(self) -> None:
        """Make :meth:`run` return (call it on the shipper's own loop)."""
        self._stopping.set()

    def finish(self) -> None:
        """Make :meth:`run` return once it has shipped everything the journal holds, or at
        once while the database is away (call it on the shipper's own loop)."""
        self._finishing = True
        if not self.connected:
            self._stopping.set()

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self) -> None:
        self.target.hide()  # before connecting: a libpq error may quote the password
        attempt = 0
        try:
            while not self._stopping.is_set():
                try:
                    async with await self._connect() as conn:
                        attempt = 0
                        await self._ship(conn)
                except FAILURES as exc:
                    self._down(exc)
                    if self._finishing:
                        return
                    await self._pause(self._backoff(attempt))
                    attempt += 1
        finally:
            self.connected = False
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        self._refresh()
        conn = await self.target.connect()
        try:
            async with asyncio.timeout(self.request_timeout_s):
                await check_version(conn)
                ident = self.identity
                cur = await conn.execute(_REGISTER, (self._instance_id, ident.name, ident.host,
                                                     ident.symbol, ident.mode))  # fmt: skip
                row = await cur.fetchone()
        except BaseException:
            await conn.close()
            raise
        self.shipped_seq = int(row[0]) if row else 0  # type: ignore[call-overload]
        if not self.connected:
            log.info("shipping the journal to %s from seq %d", self.target.shown, self.shipped_seq)
        self.connected, self.problem = True, None
        return conn

    async def _ship(self, conn: psycopg.AsyncConnection[Any]) -> None:
        idle_since = time.monotonic()
        while not self._stopping.is_set():
            batch = self._next_batch()
            if batch:
                await self._send(conn, batch)
                idle_since = time.monotonic()
                continue
            if self._finishing:
                self._stopping.set()
                return
            if time.monotonic() - idle_since >= self.heartbeat_s:  # notice a server gone away
                async with asyncio.timeout(self.request_timeout_s):
                    await conn.execute(
                        "UPDATE tradeterm.instances SET last_seen = now() WHERE instance_id = %s",
                        (self._instance_id,),
                    )
                idle_since = time.monotonic()
            await self._pause(self.poll_s)

    async def _send(self, conn: psycopg.AsyncConnection[Any], batch: list[tuple[Any, ...]]) -> None:
        last_seq, last_ts = batch[-1][2], batch[-1][4]
        async with asyncio.timeout(self.request_timeout_s), conn.transaction():
            async with conn.cursor() as cur:
                await cur.executemany(_INSERT, batch)
            await conn.execute(_MARK, (last_seq, last_ts, self._instance_id, last_seq))
        self.shipped_seq = last_seq
        self.rows_shipped += len(batch)
        self._said = None  # shipping again: the next failure is news
        self._refresh()

    # ---- the journal side --------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._sqlite is None:
            uri = f"{self.journal.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
            try:
                row = conn.execute("SELECT instance_id FROM ship_meta").fetchone()
            except sqlite3.Error:
                conn.close()
                raise
            self._instance_id = str(row[0])
            self._sqlite = conn
        return self._sqlite

    def _refresh(self) -> None:
        """The journal's last seq and the age of the oldest row not shipped (for the lag)."""
        db = self._db()
        self.latest_seq = db.execute("SELECT coalesce(max(seq), 0) FROM ship_log").fetchone()[0]
        row = db.execute(
            "SELECT written_ms FROM ship_log WHERE seq > ? ORDER BY seq LIMIT 1",
            (self.shipped_seq or 0,),
        ).fetchone()
        self._oldest_ms = row[0] if row else None

    def _next_batch(self) -> list[tuple[Any, ...]]:
        rows = self._db().execute(
            "SELECT session_id, seq, kind, ts_ns, data FROM ship_log WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (self.shipped_seq or 0, self.batch_size),
        )
        return [
            (self._instance_id, session, seq, kind, ts, _shippable(data))
            for session, seq, kind, ts, data in rows
        ]

    # ---- failures ----------------------------------------------------------------------------

    def _down(self, exc: BaseException) -> None:
        """Note a failure, logged once until rows ship again. A row the database refuses
        (its data) is no outage: the database stays shown up, with the refusal as problem."""
        refused = isinstance(exc, psycopg.DataError)
        problem = ("it refuses a journal row: " if refused else "") + _one_line(exc)
        if problem != self._said:
            log.warning("shared database %s: %s", self.target.shown, problem)
            self._said = problem
        self.connected, self.problem = refused, problem

    def _backoff(self, attempt: int) -> float:
        base = min(self.retry_max_s, self.retry_min_s * 2 ** min(attempt, 32))
        return base * random.uniform(0.8, 1.0)

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds`` (less when stopped), keeping the lag measured meanwhile."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            with contextlib.suppress(sqlite3.Error):
                self._refresh()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, max(self.poll_s, 0.05))):
                    await self._stopping.wait()


def _shippable(data: str) -> str:
    """A row's JSON as ``jsonb`` takes it: a NUL character (``\\u0000``, which ``jsonb``
    refuses) becomes the text ``\\u0000``."""
    if "\\u0000" not in data:
        return data
    return json.dumps(_without_nul(json.loads(data)))


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\0", "\\u0000")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _one_line(exc: BaseException) -> str:
    """An exception in one line, its secrets blanked: it is shown (``tradeterm status``)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return logs.redact(text)[:200]


class ShippingThread:
    """Runs a :class:`Shipper` on a daemon thread with its own event loop (the tests and the
    benchmark's in-process comparison; an instance ships from a process of its own,
    ``ship_process.py``)."""

    def __init__(self, shipper: Shipper) -> None:
        self.shipper = shipper
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="journal-shipper", daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(10)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            task = self._loop.create_task(self.shipper.run())
            self._loop.call_soon(self._started.set)
            self._loop.run_until_complete(task)
        except Exception:
            log.exception("journal shipping stopped")
        finally:
            self._loop.close()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop shipping (what is not shipped stays in the journal for the next run)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.shipper.stop)
        if self._thread.is_alive():
            self._thread.join(timeout_s)
