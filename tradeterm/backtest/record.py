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
  contract, each order's intent with ``source`` = the strategy's name (one market order per
  ``Fill.order_id``, a fill without one its own order), its fills, their commissions
  (``commission`` x quantity), the position and P&L after each fill (the engine's
  :class:`~tradeterm.engine.portfolio.Portfolio`), the order's end, and the closed bars.
* Times are the data's, not the wall clock's: each row is stamped with the time of the fill
  or bar it records (the journal's clock follows the run), so trading days in the report are
  the backtest's. The moment of recording is in the system event and the file name.
* A contract without a conId (a backtest's usually has none) is recorded as conId 0, which IB
  never gives: the report finds the tick value of the fills through it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from pathlib import Path

from tradeterm import __version__
from tradeterm.backtest.spec import BacktestResult
from tradeterm.backtest.stats import BAR_NS
from tradeterm.domain import Fill, Order, OrderStatus, OrderType
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
from tradeterm.journal.store import JournalError
from tradeterm.paths import backtests_dir

MODE = "backtest"  # the session's mode
NO_CON_ID = 0  # never an IB conId
BATCH = 10_000  # rows a transaction: a long run is written in few fsyncs


class RecordError(Exception):
    """The backtest cannot be recorded; worded for the user."""


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


def record(result: BacktestResult, path: Path | None = None, *, now_ns: int | None = None) -> Path:
    """Record ``result`` in a new journal at ``path`` (default: :func:`default_path`) and
    return where. ``now_ns``: the moment of recording (default: now). Raises
    :class:`RecordError`. Not from a running event loop: await :func:`write_journal` there."""
    now = time.time_ns() if now_ns is None else now_ns
    target = path if path is not None else default_path(result, now)
    asyncio.run(write_journal(result, target, now_ns=now))
    return target


async def write_journal(result: BacktestResult, path: Path, *, now_ns: int) -> None:
    """Write ``result`` into a new journal at ``path`` (see the module notes). Raises
    :class:`RecordError`."""
    if path.exists():
        raise RecordError(
            f"{path} exists already: a backtest is recorded in a new journal file of its own"
        )
    clock = _Clock(_first_ns(result, now_ns))
    journal = Journal(path, clock=clock, batch_size=BATCH)
    try:
        await journal.open()
    except JournalError as exc:
        raise RecordError(str(exc)) from None
    try:
        await _write(journal, clock, result, now_ns)
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


async def _write(journal: Journal, clock: _Clock, result: BacktestResult, now_ns: int) -> None:
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
    orders = _orders(result.fills)
    strategy = result.spec.strategy
    open_orders: dict[str, Order] = {}
    # One list per table, written in this order: a long run of rows of one statement is one
    # executemany (the writer groups consecutive rows), and an intent precedes its updates.
    intents: list[R.Row] = []
    fills: list[R.Row] = []
    commissions: list[R.Row] = []
    ends: list[R.Row] = []
    positions: list[R.Row] = []
    for raw in result.fills:
        now = clock.now = raw.ts_ns
        order_id = _order_id(raw)
        fill = dataclasses.replace(raw, instrument=inst, order_id=order_id)
        order = open_orders.get(order_id)
        if order is None:
            order = Order(order_id, inst, fill.side, orders[order_id], OrderType.MARKET,
                          source=strategy)  # fmt: skip
            order.submit()
            open_orders[order_id] = order
            intents.append(
                (R.INSERT_INTENT, R.intent_row(order, _command(order_id), "", session, now))
            )
        commission = result.commission * fill.quantity
        fills += _rows(FillBooked(fill, own=True, historical=False), now, session)
        commissions.append(R.commission_row(fill.exec_id, commission, now))
        portfolio.on_mark(fill.price)
        portfolio.add_fill(fill)
        portfolio.add_commission(fill.exec_id, commission)
        order.apply_fill(fill)
        if order.status is OrderStatus.FILLED:
            del open_orders[order_id]
            view = OrderView.of(order, command_id=_command(order_id))
            ends += _rows(OrderUpdated(view), now, session)
        positions += _rows(PositionChanged(portfolio.pnl()), now, session)
    for rows in (intents, fills, commissions, ends, positions):
        journal.record_rows(rows, critical=True)
        await journal.flush()
    clock.now = _last_ns(result, now_ns)
    if result.last_price is not None:
        portfolio.on_mark(result.last_price)
        journal.record(PositionChanged(portfolio.pnl()))
    await _bars(journal, inst.con_id, result)
    journal.end_session(
        "backtest stopped early (partial)" if not result.complete else "backtest done"
    )
    await journal.flush()


def _rows(event: EngineEvent, now_ns: int, session: int) -> list[R.Row]:
    """The rows the journal writes for ``event`` (what ``Journal.record`` queues)."""
    return R.rows_for(event, now_ns, session)[0]


def _order_id(fill: Fill) -> str:
    return fill.order_id if fill.order_id is not None else f"bt.{fill.exec_id}"


def _command(order_id: str) -> str:
    return f"backtest:{order_id}"


def _orders(fills: list[Fill]) -> dict[str, int]:
    """The quantity of each order: what its fills add up to."""
    out: dict[str, int] = {}
    for f in fills:
        key = _order_id(f)
        out[key] = out.get(key, 0) + f.quantity
    return out


async def _bars(journal: Journal, con_id: int, result: BacktestResult) -> None:
    """The closed bars, in batches the journal's bulk lane takes whole (never dropped)."""
    size = max(min(journal.queue_max, journal.batch_size), 1)
    for i in range(0, len(result.bars), size):
        rows = [R.bar_row(con_id, b) for b in result.bars[i : i + size]]
        journal.record_rows(rows, critical=False)
        await journal.flush()
