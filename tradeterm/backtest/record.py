"""Recording a backtest in a journal of its own, so ``tradeterm report --journal FILE`` reads
its trades, P&L and strategy as it reads a live session's.

Rules:

* One run, one journal file: by default a new file in ``<data dir>/backtests``
  (:func:`~tradeterm.paths.backtests_dir`) named after the market, the strategy and when it
  was recorded; a file given that exists already is refused (two runs in one file would be
  read as one account's trading).
* It is written through the project's :class:`~tradeterm.journal.Journal` and its rows
  (``journal/rows.py``), as a live session writes them: a session of mode ``backtest``, a
  ``backtest`` system event saying what was run (and "partial" for a run stopped early), the
  contract, each order the run placed (``BacktestResult.orders``: a target's market order, a
  bracket's entry, stop and target, with their type, side, quantity, prices, parent and OCA
  group) as an intent with ``source`` = the strategy's name, their fills
  (``Fill.order_id``; a fill of an order not in ``orders`` is one market order per id, a fill
  without one its own order), their commissions (``commission`` x quantity), the position and
  P&L after each fill (the engine's :class:`~tradeterm.engine.portfolio.Portfolio`), and each
  order's end: filled, or, for one not filled when the run ended, cancelled (nothing stays
  working after a backtest).
* No bars: ``tradeterm report`` reads fills, orders and the system event, never bars, and the
  bars are the data file's (named in the system event); writing each one made a long run's
  journal tens of MB and most of its writing time.
* All or nothing: it is written to a hidden file beside ``path`` and linked to ``path`` only
  when complete (never over a file that appeared meanwhile); a failed or stopped write
  (``stop`` set: Ctrl-C) leaves neither it nor its writer's lock file behind.
* Times are the data's, not the wall clock's: each row is stamped with the time of the fill
  or bar it records (the journal's clock follows the run), so trading days in the report are
  the backtest's. The moment of recording is in the system event and the file name.
* A contract without a conId (a backtest's usually has none) is recorded as conId 0, which IB
  never gives: the report finds the tick value of the fills through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from threading import Event

from tradeterm import __version__
from tradeterm.backtest.spec import BacktestResult
from tradeterm.backtest.stats import BAR_NS
from tradeterm.domain import Fill, Instrument, Order, OrderStatus, OrderType
from tradeterm.domain.bars import NS_PER_SECOND
from tradeterm.engine.events import (
    EngineEvent,
    FillBooked,
    OrderUpdated,
    OrderView,
    PositionChanged,
)
from tradeterm.engine.portfolio import Portfolio
from tradeterm.journal import Journal
from tradeterm.journal import rows as R
from tradeterm.journal.report import BACKTEST_EVENT
from tradeterm.journal.store import JournalError, WriterLock
from tradeterm.paper.track import TrackOrder
from tradeterm.paths import backtests_dir

MODE = "backtest"  # the session's mode
NO_CON_ID = 0  # never an IB conId
BATCH = 10_000  # rows a transaction: a long run is written in few fsyncs
STEP = 2_000  # rows between two looks at ``stop`` (and two progress reports)


Progress = Callable[[int, int], None]
"""``progress(rows written, rows in all)``."""


class RecordError(Exception):
    """The backtest cannot be recorded; worded for the user."""


class RecordStopped(RecordError):
    """The write was stopped (``stop`` set): no journal was written."""


def check_path(path: Path) -> None:
    """Refuse, before a run, a journal file that could not be written: one that exists, or a
    folder that is a file or is not ours to write. Raises :class:`RecordError`."""
    if path.exists() or path.is_symlink():
        raise RecordError(
            f"{path} exists already: a backtest is recorded in a new journal file of its own"
        )
    check_folder(path.parent)


def check_folder(folder: Path) -> None:
    """Refuse a folder a journal could not be written in (its nearest existing folder, the
    rest being created, a file or not writable). Raises :class:`RecordError`."""
    there = folder
    while not there.exists() and there != there.parent:
        there = there.parent
    if not there.is_dir():
        raise RecordError(f"cannot write a journal in {folder}: {there} is not a folder")
    if not os.access(there, os.W_OK | os.X_OK):
        raise RecordError(f"cannot write a journal in {folder}: {there} is not writable")


def default_path(result: BacktestResult, now_ns: int) -> Path:
    """A new file in ``<data dir>/backtests``: ``ES-sma_cross-20261119T153000Z.sqlite``
    (``-2``, ``-3``... when that name is taken)."""
    stamp = dt.datetime.fromtimestamp(now_ns // NS_PER_SECOND, dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{result.instrument.root}-{result.spec.strategy}-{stamp}"
    directory = backtests_dir()
    path = directory / f"{base}.sqlite"
    n = 2
    while path.exists():
        path = directory / f"{base}-{n}.sqlite"
        n += 1
    return path


def record(result: BacktestResult, path: Path | None = None, *, now_ns: int | None = None,
           stop: Event | None = None, progress: Progress | None = None) -> Path:  # fmt: skip
    """Record ``result`` in a new journal at ``path`` (default: :func:`default_path`) and
    return where; all or nothing (see the module notes). ``now_ns``: the moment of recording
    (default: now); ``stop``: looked at between batches of rows (set: :class:`RecordStopped`);
    ``progress`` told after each batch. Raises :class:`RecordError`. Not from a running event
    loop: await :func:`write_journal` there."""
    now = time.time_ns() if now_ns is None else now_ns
    target = path if path is not None else default_path(result, now)
    check_path(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        asyncio.run(write_journal(result, partial, now_ns=now, stop=stop, progress=progress))
        _checkpoint(partial)
        os.link(partial, target)  # unlike a rename, never over a file made meanwhile
    except FileExistsError:
        raise RecordError(
            f"{target} exists already: a backtest is recorded in a new journal file of its own"
        ) from None
    except OSError as exc:
        raise RecordError(f"cannot write journal {target}: {exc.strerror or exc}") from None
    finally:
        for leftover in (partial, WriterLock(partial).path, *_sidecars(partial)):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return target


def _sidecars(path: Path) -> tuple[Path, Path]:
    """SQLite's WAL files of ``path``."""
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _checkpoint(path: Path) -> None:
    """Everything in ``path`` itself (its WAL folded in), so the file alone is the journal."""
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise RecordError(f"cannot write journal {path}: {exc}") from None


async def write_journal(result: BacktestResult, path: Path, *, now_ns: int,
                        stop: Event | None = None, progress: Progress | None = None) -> None:  # fmt: skip
    """Write ``result`` into a new journal at ``path`` (see the module notes), in place (use
    :func:`record` for all or nothing). Raises :class:`RecordError`."""
    check_path(path)
    clock = _Clock(_first_ns(result, now_ns))
    journal = Journal(path, clock=clock, batch_size=BATCH)
    try:
        await journal.open()
    except JournalError as exc:
        raise RecordError(str(exc)) from None
    try:
        await _write(journal, clock, result, now_ns, _Batches(journal, stop, progress))
    except JournalError as exc:
        raise RecordError(str(exc)) from None
    finally:
        await journal.close()
    lost = journal.unwritten()
    if journal.failure is not None or lost:
        raise RecordError(journal.failure or f"journal {path}: rows not written: {lost}")


class _Clock:
    """The journal's clock: the time of what is being recorded."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _first_ns(result: BacktestResult, now_ns: int) -> int:
    times = [t for t in (
        result.bars[0].start_ns if result.bars else None,
        result.fills[0].ts_ns if result.fills else None,
    ) if t is not None]  # fmt: skip
    return min(times, default=now_ns)


def _last_ns(result: BacktestResult, now_ns: int) -> int:
    times = [t for t in (
        result.bars[-1].start_ns + BAR_NS if result.bars else None,
        result.fills[-1].ts_ns if result.fills else None,
    ) if t is not None]  # fmt: skip
    return max(times, default=now_ns)


def description(result: BacktestResult, now_ns: int) -> str:
    """The system event that says what this journal is."""
    spec = result.spec
    params = " ".join(f"{k}={v}" for k, v in spec.params)
    recorded = dt.datetime.fromtimestamp(now_ns // NS_PER_SECOND, dt.UTC).isoformat()
    text = (
        f"backtest, not trading: {spec.strategy}{' ' + params if params else ''} on "
        f"{result.instrument.local_symbol} from {spec.data}, {result.count} {result.kind}, fill "
        f"at {spec.fill}, commission {result.commission} per contract per side, slippage "
        f"{spec.slippage_ticks} ticks, latency {spec.latency_ms} ms; recorded {recorded}"
    )
    return text + ("; partial: the run was stopped early" if not result.complete else "")


class _Batches:
    """Rows into the journal a batch at a time: ``stop`` looked at and ``progress`` told
    between two."""

    def __init__(self, journal: Journal, stop: Event | None, progress: Progress | None) -> None:
        self.journal, self.stop, self.progress = journal, stop, progress
        self.done, self.total = 0, 0

    async def put(self, rows: list[R.Row]) -> None:
        size = max(min(self.journal.batch_size, STEP), 1)
        for i in range(0, len(rows), size):
            if self.stop is not None and self.stop.is_set():
                raise RecordStopped("interrupted")
            self.journal.record_rows(rows[i : i + size], critical=True)
            await self.journal.flush()
            self.done += len(rows[i : i + size])
            if self.progress is not None:
                self.progress(self.done, self.total)


async def _write(journal: Journal, clock: _Clock, result: BacktestResult, now_ns: int,
                 batches: _Batches) -> None:  # fmt: skip
    inst = result.instrument
    if inst.con_id is None:
        inst = dataclasses.replace(inst, con_id=NO_CON_ID)
    assert inst.con_id is not None
    session = await journal.start_session(inst.root, MODE, __version__)
    journal.record_rows([
        R.system_row(clock.now, BACKTEST_EVENT, "INFO", description(result, now_ns)),
        R.instrument_row(inst, clock.now),
    ], critical=True)  # fmt: skip
    portfolio = Portfolio(inst, clock=clock)
    strategy = result.spec.strategy
    orders = _orders(result, inst, strategy)
    # One list per table, written in this order: a long run of rows of one statement is one
    # executemany (the writer groups consecutive rows), and an intent precedes its updates.
    intents: list[R.Row] = [(R.INSERT_INTENT, R.intent_row(order, _command(key), "", session, ts))
               for key, (order, ts) in orders.items()]  # fmt: skip
    fills: list[R.Row] = []
    commissions: list[R.Row] = []
    ends: list[R.Row] = []
    positions: list[R.Row] = []
    for raw in result.fills:
        now = clock.now = raw.ts_ns
        order_id = _order_id(raw)
        fill = dataclasses.replace(raw, instrument=inst, order_id=order_id)
        order = orders[order_id][0]
        commission = result.commission * fill.quantity
        fills += _rows(FillBooked(fill, own=True, historical=False), now, session)
        commissions.append(R.commission_row(fill.exec_id, commission, now))
        portfolio.on_mark(fill.price)
        portfolio.add_fill(fill)
        portfolio.add_commission(fill.exec_id, commission)
        order.apply_fill(fill)
        if order.status is OrderStatus.FILLED:
            ends += _end(order, order_id, now, session)
        positions += _rows(PositionChanged(portfolio.pnl()), now, session)
    clock.now = _last_ns(result, now_ns)
    for order_id, (order, _) in orders.items():  # nothing stays working after a backtest
        if not order.is_terminal and order.on_status(OrderStatus.CANCELLED):
            ends += _end(order, order_id, clock.now, session)
    tables = (intents, fills, commissions, ends, positions)
    batches.total = sum(len(rows) for rows in tables)
    for rows in tables:
        await batches.put(rows)
    if result.last_price is not None:
        portfolio.on_mark(result.last_price)
        journal.record(PositionChanged(portfolio.pnl()))
    journal.end_session(
        "backtest stopped early (partial)" if not result.complete else "backtest done"
    )
    await journal.flush()


def _end(order: Order, order_id: str, now_ns: int, session: int) -> list[R.Row]:
    return _rows(OrderUpdated(OrderView.of(order, command_id=_command(order_id))), now_ns, session)


def _rows(event: EngineEvent, now_ns: int, session: int) -> list[R.Row]:
    """The rows the journal writes for ``event`` (what ``Journal.record`` queues)."""
    return R.rows_for(event, now_ns, session)[0]


def _order_id(fill: Fill) -> str:
    return fill.order_id if fill.order_id is not None else f"bt.{fill.exec_id}"


def _command(order_id: str) -> str:
    return f"backtest:{order_id}"


def _orders(result: BacktestResult, inst: Instrument, strategy: str
            ) -> dict[str, tuple[Order, int]]:  # fmt: skip
    """Each order of the run, submitted, and when it was placed: ``result.orders`` as they
    were, then, for fills of an order not among them, a market order of what they add up to,
    placed at its first fill."""
    out: dict[str, tuple[Order, int]] = {}
    for o in result.orders:
        out[o.order_id] = (_order(o, inst, strategy), o.ts_ns)
    unknown: dict[str, tuple[Fill, int]] = {}
    for f in result.fills:
        key = _order_id(f)
        if key not in out:
            first, quantity = unknown.get(key, (f, 0))
            unknown[key] = (first, quantity + f.quantity)
    for key, (first, quantity) in unknown.items():
        order = Order(key, inst, first.side, quantity, OrderType.MARKET, source=strategy)
        order.submit()
        out[key] = (order, first.ts_ns)
    return out


def _order(o: TrackOrder, inst: Instrument, strategy: str) -> Order:
    order = Order(o.order_id, inst, o.side, o.quantity, o.order_type, limit=o.limit,
                  stop=o.stop, parent_id=o.parent, oca_group=o.oca, source=strategy)  # fmt: skip
    order.submit()
    return order
