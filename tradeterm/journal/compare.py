"""CANARY's divergence report: a strategy's live fills against its paper fills of the same
intents, per strategy per CME trading day (``report --compare``), from ``canary_intents`` and
``intent_fills`` (schema 2).

Rules (an intent belongs to the trading day it was emitted on; ``report.trading_day``):

* **Fill rate**, each side: of the intents that sent that side an order (``paper_qty`` /
  ``live_qty`` not 0), the share whose order filled completely (its entry leg: a target's
  order, a bracket's entry; a bracket's exits are not counted).
* **Slippage** in ticks, per live intent whose entry filled on both sides in the same
  direction: live average price minus paper average price, signed so that positive is live
  worse (paid more buying, got less selling); the day's figure is the mean over those intents
  (``compared`` says how many). A target not picked can make the two sides trade opposite
  ways (the paper track reverses, IB only goes flat): such an intent is not compared.
* **Time to fill**, each side: from the intent to its entry's last fill, in milliseconds,
  median and mean, over the intents whose entry filled completely.
* **P&L difference**, live minus paper, over the compared live intents: each leg (entry and
  exits) filled on both sides in the same direction, valued at the live quantity,
  ``(paper avg - live avg) x direction x quantity x tick value``. It is the money the live
  fills made or lost against the paper fills of the same orders (a bracket that ran its
  course on both sides: live P&L minus paper P&L at the live size).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from tradeterm.journal.report import trading_day

NO_DATA = "no CANARY data in this journal: run a strategy with --canary FRACTION"

MODES = ("paper", "live")
CENT = Decimal("0.01")
_NS_PER_MS = 1_000_000


@dataclass
class _Leg:
    """The fills of one leg of one intent on one side."""

    quantity: int = 0
    cost: int = 0  # sum of quantity x price, ticks
    last_ns: int = 0
    sign: int = 0

    @property
    def avg(self) -> Fraction:
        return Fraction(self.cost, self.quantity)


@dataclass
class _Intent:
    intent_id: str
    ts_ns: int
    strategy: str
    live: bool
    qty: dict[str, int]
    tick_value: Decimal
    legs: dict[tuple[str, str], _Leg] = field(default_factory=dict)  # (mode, leg)

    def filled(self, mode: str) -> bool:
        entry = self.legs.get((mode, "entry"))
        return bool(self.qty[mode]) and entry is not None and entry.quantity >= abs(self.qty[mode])

    def same_way(self, leg: str) -> tuple[_Leg, _Leg] | None:
        live, paper = self.legs.get(("live", leg)), self.legs.get(("paper", leg))
        if live is None or paper is None or live.sign != paper.sign:
            return None
        return live, paper


@dataclass(frozen=True, slots=True)
class CompareRow:
    day: dt.date
    strategy: str
    intents: int
    live_intents: int
    sent: dict[str, int]
    filled: dict[str, int]
    fill_ms: dict[str, list[float]]
    slippage: list[Fraction]
    pnl_diff: Decimal

    def fill_rate(self, mode: str) -> float | None:
        return round(self.filled[mode] / self.sent[mode], 4) if self.sent[mode] else None

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "day": self.day.isoformat(),
            "strategy": self.strategy,
            "intents": self.intents,
            "live_intents": self.live_intents,
        }
        for mode in MODES:
            ms = self.fill_ms[mode]
            out[f"{mode}_sent"] = self.sent[mode]
            out[f"{mode}_filled"] = self.filled[mode]
            out[f"{mode}_fill_rate"] = self.fill_rate(mode)
            out[f"{mode}_fill_ms_median"] = round(statistics.median(ms), 3) if ms else None
            out[f"{mode}_fill_ms_avg"] = round(statistics.fmean(ms), 3) if ms else None
        out["compared"] = len(self.slippage)
        out["slippage_ticks"] = (
            round(float(sum(self.slippage) / len(self.slippage)), 4) if self.slippage else None
        )
        out["pnl_diff"] = str(self.pnl_diff)
        return out


def has_data(conn: sqlite3.Connection) -> bool:
    """Whether the journal has CANARY intents (an older schema has not even the table)."""
    found = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'canary_intents'"
    ).fetchone()
    return found is not None and conn.execute("SELECT 1 FROM canary_intents").fetchone() is not None


def build(conn: sqlite3.Connection, start: dt.date | None = None,
          end: dt.date | None = None) -> list[CompareRow]:  # fmt: skip
    """The rows for trading days ``start``..``end`` (inclusive; None: unbounded), by day and
    strategy; empty when the journal has no CANARY data there."""
    if not has_data(conn):
        return []
    intents = _intents(conn)
    cells: dict[tuple[dt.date, str], list[_Intent]] = defaultdict(list)
    for intent in intents.values():
        day = trading_day(intent.ts_ns)
        if (start is None or day >= start) and (end is None or day <= end):
            cells[day, intent.strategy].append(intent)
    return [_row(day, strategy, group) for (day, strategy), group in sorted(cells.items())]


def _intents(conn: sqlite3.Connection) -> dict[str, _Intent]:
    sql = """
        SELECT c.intent_id, c.ts_ns, c.strategy, c.live, c.paper_qty, c.live_qty,
               i.tick, i.multiplier
        FROM canary_intents c LEFT JOIN instruments i ON i.con_id = c.con_id
        ORDER BY c.ts_ns, c.rowid
    """
    out: dict[str, _Intent] = {}
    for intent_id, ts, strategy, live, paper_qty, live_qty, tick, mult in conn.execute(sql):
        tick_value = Decimal(tick) * Decimal(mult) if tick and mult else Decimal(0)
        qty = {"paper": paper_qty, "live": live_qty}
        out[intent_id] = _Intent(intent_id, ts, strategy, bool(live), qty, tick_value)
    fills = "SELECT intent_id, mode, leg, side, quantity, price_ticks, ts_ns FROM intent_fills"
    for intent_id, mode, leg, side, qty, price, ts in conn.execute(fills + " ORDER BY ts_ns, id"):
        intent = out.get(intent_id)
        if intent is None:
            continue
        got = intent.legs.setdefault((mode, leg), _Leg(sign=1 if side == "BUY" else -1))
        got.quantity += qty
        got.cost += qty * price
        got.last_ns = max(got.last_ns, ts)
    return out


def _row(day: dt.date, strategy: str, intents: list[_Intent]) -> CompareRow:
    sent = {m: sum(1 for i in intents if i.qty[m]) for m in MODES}
    filled = {m: sum(1 for i in intents if i.filled(m)) for m in MODES}
    fill_ms = {
        m: [(i.legs[m, "entry"].last_ns - i.ts_ns) / _NS_PER_MS for i in intents if i.filled(m)]
        for m in MODES
    }
    slippage: list[Fraction] = []
    pnl = Fraction(0)
    for intent in intents:
        entry = intent.same_way("entry") if intent.live else None
        if entry is None:
            continue
        live, paper = entry
        slippage.append((live.avg - paper.avg) * live.sign)
        for leg in ("entry", "exit"):
            pair = intent.same_way(leg)
            if pair is not None:
                live, paper = pair
                tick_value = Fraction(intent.tick_value)
                pnl += (paper.avg - live.avg) * live.sign * live.quantity * tick_value
    pnl_diff = (Decimal(pnl.numerator) / Decimal(pnl.denominator)).quantize(CENT)
    live_intents = sum(1 for i in intents if i.live)
    return CompareRow(day, strategy, len(intents), live_intents, sent, filled, fill_ms,
                      slippage, pnl_diff)  # fmt: skip
