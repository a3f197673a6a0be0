"""Performance from the journal: trades, win rate, gross and net P&L, commissions, profit
factor, max drawdown and daily Sharpe, per trading day and per strategy (source).

Rules:

* A trade is a round trip matched first-in first-out over the journal's fills, in execution
  order. It belongs to the *source* of its opening fill (its order's, journaled with its
  intent: ``manual`` or a strategy's name, :data:`SOURCE_OF_INTENT`; ``external`` for fills
  of orders without a journaled intent) and to
  the trading day of its closing fill (CME days: from 17:00 US/Central the day is tomorrow's).
* Money is exact (``Decimal``): P&L = price difference in ticks x tick x multiplier x
  quantity. A trade carries the commissions of its opening and closing fills (pro rata for
  partial lots); net = gross - commissions. Fills of a position still open are not counted
  until it closes.
* The open position is the journal's last *position basis* (:data:`POSITION_BASES`: IB's
  position adopted by the reconciliation, or a new market's zero, see
  ``Journal.start_session``) plus the fills booked after it, so the report says what the
  engine holds after reconciling. A new market (a new embedded gateway) also starts the
  matching afresh: a lot left open in the market that ended is matched with nothing after it.
* Max drawdown: the largest fall of cumulative net P&L from a peak, trade by trade. Daily Sharpe:
  mean / sample standard deviation of daily net P&L x sqrt(252), over the days that traded
  (none with fewer than two days).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import statistics
from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

CHICAGO = ZoneInfo("America/Chicago")
NS = 1_000_000_000
TRADING_DAYS = 252


SIGNAL_OF_INTENT = """signals s ON s.id = (
    SELECT max(id) FROM signals WHERE command_id = oi.command_id AND session_id IS oi.session_id)"""
"""The signal row of the command that sent the order intent ``oi`` (its ``source``: ``manual``
or a strategy's name): the SQL to join ``signals s`` on it, for :data:`SOURCE_OF_INTENT`."""

SOURCE_OF_INTENT = "coalesce(oi.source, s.source)"
"""Whose the order of intent ``oi`` was (``manual`` or a strategy's name), with ``signals s``
joined on :data:`SIGNAL_OF_INTENT`: the source the intent carries (schema 3 on: written with
it, before the order was sent), else, for an intent written before, its command's signal row's
(NULL when that row was never written). Shared by every query that asks whose an order was."""


def source_of_intent(conn: sqlite3.Connection) -> str:
    """:data:`SOURCE_OF_INTENT`, or, for a journal read as it is (``open_readonly``) whose
    intents do not carry their source yet (schema 2 or older), their signal rows'."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(order_intents)")}
    return SOURCE_OF_INTENT if "source" in columns else "s.source"


def trading_day(ts_ns: int) -> dt.date:
    """The CME trading day of a moment: from 17:00 Chicago time on, the next day."""
    local = dt.datetime.fromtimestamp(ts_ns / NS, CHICAGO)
    return (local + dt.timedelta(hours=7)).date()


@dataclass(frozen=True, slots=True)
class FillRow:
    exec_id: str
    ts_ns: int
    side: str
    quantity: int
    price_ticks: int
    tick_value: Decimal  # money per tick per contract
    commission: Decimal
    source: str
    booked_ns: int = 0  # when the journal booked it (its clock; the bases' ``ts_ns``)


@dataclass(frozen=True, slots=True)
class Trade:
    source: str
    day: dt.date
    quantity: int
    entry_ticks: int
    exit_ticks: int
    gross: Decimal
    commissions: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.commissions


@dataclass
class Stats:
    """Figures of a group of trades (one day and source, one source, or everything)."""

    trades: int = 0
    wins: int = 0
    gross: Decimal = Decimal(0)
    commissions: Decimal = Decimal(0)
    won: Decimal = Decimal(0)
    lost: Decimal = Decimal(0)
    max_drawdown: Decimal = Decimal(0)
    daily: dict[dt.date, Decimal] = field(default_factory=dict)
    _equity: Decimal = Decimal(0)
    _peak: Decimal = Decimal(0)

    def add(self, trade: Trade) -> None:
        self.trades += 1
        self.gross += trade.gross
        self.commissions += trade.commissions
        if trade.gross > 0:
            self.wins += 1
            self.won += trade.gross
        elif trade.gross < 0:
            self.lost -= trade.gross
        self._book(trade.day, trade.net)

    def _book(self, day: dt.date, net: Decimal) -> None:
        self.daily[day] = self.daily.get(day, Decimal(0)) + net
        self._equity += net
        self._peak = max(self._peak, self._equity)
        self.max_drawdown = max(self.max_drawdown, self._peak - self._equity)

    @property
    def net(self) -> Decimal:
        return self.gross - self.commissions

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    @property
    def profit_factor(self) -> float | None:
        """Money won / money lost; None without a losing trade."""
        return float(self.won / self.lost) if self.lost else None

    @property
    def sharpe(self) -> float | None:
        days = list(self.daily.values())
        if len(days) < 2:
            return None
        sd = statistics.stdev(float(d) for d in days)
        if sd == 0:
            return None
        return statistics.fmean(float(d) for d in days) / sd * math.sqrt(TRADING_DAYS)

    def as_dict(self) -> dict[str, object]:
        return {
            "trades": self.trades,
            "wins": self.wins,
            "win_rate": _round(self.win_rate),
            "gross": str(self.gross),
            "commissions": str(self.commissions),
            "net": str(self.net),
            "profit_factor": _round(self.profit_factor),
            "max_drawdown": str(self.max_drawdown),
            "daily_sharpe": _round(self.sharpe),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def load_fills(conn: sqlite3.Connection) -> list[FillRow]:
    """The journal's fills in execution order, with commission, tick value and source."""
    sql = f"""
        SELECT f.exec_id, f.ts_ns, f.side, f.quantity, f.price_ticks,
               i.tick, i.multiplier, c.amount,
               CASE WHEN oi.order_id IS NULL THEN 'external'
                    ELSE coalesce({source_of_intent(conn)}, 'manual') END, f.booked_ns
        FROM fills f
        LEFT JOIN instruments i ON i.con_id = f.con_id
        LEFT JOIN commissions c ON c.exec_id = f.exec_id
        LEFT JOIN order_intents oi ON oi.order_id = f.order_id
        LEFT JOIN {SIGNAL_OF_INTENT}
        ORDER BY f.ts_ns, f.rowid
    """
    out = []
    for exec_id, ts, side, qty, px, tick, mult, commission, source, booked in conn.execute(sql):
        tick_value = Decimal(tick) * Decimal(mult) if tick and mult else Decimal(0)
        out.append(FillRow(exec_id, ts, side, qty, px, tick_value,
                           Decimal(commission) if commission else Decimal(0), source,
                           booked))  # fmt: skip
    return out


NEW_MARKET = "new market"
"""The cause of the position basis a new embedded gateway starts (``Journal.start_session``):
the market of the earlier runs ended with their gateway, its position and orders with it."""
POSITION_BASES = ("adopted", NEW_MARKET)
"""The causes of the ``position_snapshots`` rows the journal's position starts from: IB's
position adopted (``PositionChanged.cause``), a new market's zero."""


def position_bases(conn: sqlite3.Connection) -> list[tuple[int, int, str]]:
    """The journal's position bases, oldest first: (when booked, quantity, cause)."""
    marks = ",".join("?" * len(POSITION_BASES))
    sql = (
        "SELECT ts_ns, quantity, cause FROM position_snapshots"
        f" WHERE cause IN ({marks}) ORDER BY ts_ns, id"
    )
    return [(int(ts), int(q), str(c)) for ts, q, c in conn.execute(sql, POSITION_BASES)]


def open_position(fills: Iterable[FillRow], bases: Sequence[tuple[int, int, str]]) -> int:
    """The position the journal says is open: the last basis and the fills booked after
    it (every fill's sum without one)."""
    since, quantity = (bases[-1][0], bases[-1][1]) if bases else (None, 0)
    return quantity + sum(
        f.quantity if f.side == "BUY" else -f.quantity
        for f in fills
        if since is None or f.booked_ns > since
    )


def markets(fills: Sequence[FillRow], bases: Iterable[tuple[int, int, str]]) -> list[list[FillRow]]:
    """``fills`` cut where a new market began (a new embedded gateway): each is matched on
    its own."""
    cuts = [ts for ts, _q, cause in bases if cause == NEW_MARKET]
    out: list[list[FillRow]] = [[] for _ in range(len(cuts) + 1)]
    for f in fills:
        out[sum(1 for ts in cuts if f.booked_ns > ts)].append(f)
    return out


def trades_of(fills: Sequence[FillRow], bases: Iterable[tuple[int, int, str]]) -> list[Trade]:
    """A journal's round trips: its fills matched FIFO, afresh in each market (:func:`markets`;
    ``report`` and ``report --shared`` alike)."""
    return [t for market in markets(fills, bases) for t in match_trades(market)[0]]


def match_trades(fills: Iterable[FillRow]) -> tuple[list[Trade], list[FillRow]]:
    """Round trips (FIFO) and the fills still open at the end."""
    lots: deque[list] = deque()  # [fill, remaining qty, commission not yet charged]
    trades: list[Trade] = []
    position = 0
    for f in fills:
        sign = 1 if f.side == "BUY" else -1
        qty = f.quantity
        commission_left = f.commission
        while qty and position * sign < 0:  # closes (part of) the oldest lot
            lot = lots[0]
            opening: FillRow = lot[0]
            take = min(qty, lot[1])
            open_sign = -sign
            gross = (f.price_ticks - opening.price_ticks) * open_sign * take * f.tick_value
            open_part = lot[2] * take / lot[1]
            close_part = commission_left * take / qty
            trades.append(Trade(opening.source, trading_day(f.ts_ns), take,
                                opening.price_ticks, f.price_ticks, gross,
                                open_part + close_part))  # fmt: skip
            lot[1] -= take
            lot[2] -= open_part
            commission_left -= close_part
            qty -= take
            position += sign * take
            if lot[1] == 0:
                lots.popleft()
        if qty:
            lots.append([f, qty, commission_left])
            position += sign * qty
    return trades, [lot[0] for lot in lots]


@dataclass
class Report:
    rows: list[tuple[dt.date, str, Stats]]  # per day and source
    by_source: dict[str, Stats]
    total: Stats
    open_position: int
    backtest: str | None = None  # what was run, when the journal is a backtest's
    modes: tuple[str, ...] = ()  # the modes its sessions ran in (a replay's: "replay")


BACKTEST_EVENT = "backtest"
"""The system event's kind that makes a journal a backtest's (``backtest/record.py``)."""


def backtest_of(conn: sqlite3.Connection) -> str | None:
    """What a backtest's journal says it ran (its :data:`BACKTEST_EVENT` system event); None
    for a trading journal."""
    row = conn.execute(
        "SELECT text FROM system_events WHERE kind = ? ORDER BY id LIMIT 1", (BACKTEST_EVENT,)
    ).fetchone()
    return None if row is None else str(row[0])


def modes_of(conn: sqlite3.Connection) -> tuple[str, ...]:
    """The modes the journal's sessions ran in: a REPLAY journal's trades were made on
    recorded data, never at the market, and its report says so."""
    return tuple(str(r[0]) for r in conn.execute("SELECT DISTINCT mode FROM sessions ORDER BY 1"))


def build(conn: sqlite3.Connection, start: dt.date | None = None,
          end: dt.date | None = None) -> Report:  # fmt: skip
    """The report for trading days ``start``..``end`` (inclusive; None: unbounded)."""
    fills = load_fills(conn)
    bases = position_bases(conn)
    trades = trades_of(fills, bases)

    def within(day: dt.date) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    cells: dict[tuple[dt.date, str], Stats] = defaultdict(Stats)
    by_source: dict[str, Stats] = defaultdict(Stats)
    total = Stats()
    for trade in trades:
        if within(trade.day):
            for stats in (cells[trade.day, trade.source], by_source[trade.source], total):
                stats.add(trade)
    position = open_position(fills, bases)
    rows = sorted(((d, s, st) for (d, s), st in cells.items()), key=lambda r: (r[0], r[1]))
    return Report(rows, dict(sorted(by_source.items())), total, position, backtest_of(conn),
                  modes_of(conn))  # fmt: skip


def save_daily(conn: sqlite3.Connection, now_ns: int) -> int:
    """Write the per-day, per-source figures into ``daily_performance`` (a cache of what
    :func:`build` computes from the fills). Returns the number of rows written."""
    report = build(conn)
    rows = [
        (day.isoformat(), source, st.trades, st.wins, str(st.gross), str(st.commissions),
         str(st.net), now_ns)
        for day, source, st in report.rows
    ]  # fmt: skip
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT OR REPLACE INTO daily_performance VALUES (?,?,?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    return len(rows)
