"""Engine events as journal rows: pure functions, no I/O.

A row is ``(sql, params)``. :func:`rows_for` says which rows an event makes and whether they
are *critical* (orders, fills, positions, risk, kill switch, connection: never dropped) or
*bulk* (bars, notices: written in batches, dropped and counted when the queue is full).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tradeterm.domain import Bar, ExitTag, Fill, Instrument, Order
from tradeterm.engine.events import (
    CanaryIntent,
    CommandDone,
    EngineEvent,
    EngineNotice,
    FillBooked,
    HealthChanged,
    IntentFill,
    KillProgress,
    OrderUpdated,
    PositionChanged,
    PositionDivergence,
    Reconciled,
    RiskUpdate,
    StrategySignal,
    StrategyStateChanged,
)
from tradeterm.engine.portfolio import PnL
from tradeterm.engine.types import StrategyState
from tradeterm.journal.report import NEW_MARKET

Row = tuple[str, Sequence[Any] | Mapping[str, Any]]

INSERT_INTENT = (
    "INSERT INTO order_intents (order_id, session_id, command_id, role, con_id, side, quantity,"
    " order_type, limit_ticks, stop_ticks, tif, parent_id, oca_group, created_ns, state,"
    " status, updated_ns, broker_id, source, trail_ticks, exit_strategy, exit_fill_ticks,"
    " breakeven_after_ticks, breakeven_offset_ticks)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,'open','PENDING_SUBMIT',?,?,?,?,?,?,?,?)"
)
_ORDER_EVENT = (
    "INSERT INTO order_events (ts_ns, order_id, broker_id, perm_id, own, status, side,"
    " quantity, order_type, limit_ticks, stop_ticks, filled, remaining, avg_fill_ticks, role,"
    " command_id, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INTENT_STATUS = (
    "UPDATE order_intents SET status = ?, state = ?, broker_id = coalesce(?, broker_id),"
    " perm_id = coalesce(?, perm_id), updated_ns = ?, note = ? WHERE order_id = ?"
)
FILL_FACTS = ("con_id", "side", "quantity", "price_ticks", "ts_ns", "perm_id")
"""The columns of a fill's :attr:`~tradeterm.domain.Fill.facts`, in its order."""
_FILL_COLUMNS = ("exec_id", "order_id", *FILL_FACTS, "price", "own", "historical", "booked_ns")
FILL = (
    f"INSERT INTO fills ({', '.join(_FILL_COLUMNS)})"
    f" VALUES ({', '.join(':' + c for c in _FILL_COLUMNS)}) ON CONFLICT (exec_id) DO NOTHING"
)
"""A fill row's params are a mapping by column; a fill already journaled is not written again
(the writer compares its facts: see ``Journal._write_fills``)."""
JOURNALED_FACTS = f"SELECT {', '.join(FILL_FACTS)} FROM fills WHERE exec_id = :exec_id"
_COMMISSION = "INSERT OR REPLACE INTO commissions (exec_id, amount, ts_ns) VALUES (?,?,?)"
_POSITION = (
    "INSERT INTO position_snapshots (ts_ns, quantity, avg_price_ticks, mark_ticks, realized,"
    " unrealized, commissions, daily, cause) VALUES (?,?,?,?,?,?,?,?,?)"
)
_RISK = "INSERT INTO risk_events (ts_ns, kind, rule, reason, state, previous) VALUES (?,?,?,?,?,?)"
_SYSTEM = "INSERT INTO system_events (ts_ns, kind, level, code, text) VALUES (?,?,?,?,?)"
_KILL = (
    "INSERT INTO kill_events (ts_ns, step, detail, reason, position, working, done, ok)"
    " VALUES (?,?,?,?,?,?,?,?)"
)
_SIGNAL = (
    "INSERT INTO signals (session_id, ts_ns, command_id, source, kind, detail, ok, reason,"
    " order_ids) VALUES (?,?,?,?,?,?,?,?,?)"
)
_CANARY_INTENT = (
    "INSERT OR REPLACE INTO canary_intents (intent_id, session_id, ts_ns, strategy, kind,"
    " detail, live, paper_qty, live_qty, command_id, outcome, con_id)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)
_INTENT_FILL = (
    "INSERT INTO intent_fills (intent_id, mode, leg, exec_id, side, quantity, price_ticks,"
    " ts_ns) VALUES (?,?,?,?,?,?,?,?)"
)
BAR = (
    "INSERT OR REPLACE INTO bars (con_id, start_ns, open_ticks, high_ticks, low_ticks,"
    " close_ticks, volume) VALUES (?,?,?,?,?,?,?)"
)
INSTRUMENT = (
    "INSERT OR REPLACE INTO instruments (con_id, root, local_symbol, exchange, tick,"
    " multiplier, currency, seen_ns) VALUES (?,?,?,?,?,?,?,?)"
)


def table_of(sql: str) -> str:
    """The table a row's statement writes (``fills``, ``risk_events``...)."""
    match = re.search(r"\b(?:INTO|UPDATE)\s+(\w+)", sql)
    return match.group(1) if match else "?"


def exact(value: Fraction | Decimal | None) -> str | None:
    """Exact text of a number: Decimal as is, a Fraction as ``n/d`` unless it is whole."""
    if value is None:
        return None
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else str(value)
    return str(value)


def intent_row(order: Order, command_id: str, role: str, session_id: int | None,
               now_ns: int) -> tuple[Any, ...]:  # fmt: skip
    return (
        order.client_id, session_id, command_id, role, order.instrument.con_id,
        str(order.side), order.quantity, str(order.order_type), order.limit, order.stop,
        str(order.tif), order.parent_id, order.oca_group, now_ns, now_ns, order.broker_id,
        order.source, order.trail, *exit_columns(order.exit),
    )  # fmt: skip


def exit_columns(tag: ExitTag | None) -> tuple[Any, ...]:
    """An intent's ``exit_strategy``, ``exit_fill_ticks``, ``breakeven_after_ticks`` and
    ``breakeven_offset_ticks``: what an exit strategy sent the order with or for."""
    if tag is None:
        return (None, None, None, None)
    return (tag.strategy, tag.fill, tag.breakeven_after, tag.breakeven_offset)


def exit_tag(strategy: str | None, fill: int | None, after: int | None,
             offset: int | None) -> ExitTag | None:  # fmt: skip
    """The :class:`ExitTag` of an intent's exit columns (None: not an exit strategy's)."""
    if strategy is None:
        return None
    return ExitTag(strategy, fill, after, offset or 0)


def fill_rows(fill: Fill, own: bool, historical: bool, now_ns: int) -> list[Row]:
    return [(FILL, {
        "exec_id": fill.exec_id, "order_id": fill.order_id,
        **dict(zip(FILL_FACTS, fill.facts, strict=True)),
        "price": str(fill.instrument.to_price(fill.price)), "own": int(own),
        "historical": int(historical), "booked_ns": now_ns,
    })]  # fmt: skip


def facts_of(params: Mapping[str, Any]) -> tuple[Any, ...]:
    """The facts of a fill row (``Fill.facts`` as journaled)."""
    return tuple(params[c] for c in FILL_FACTS)


def commission_row(exec_id: str, amount: Decimal, now_ns: int) -> Row:
    return (_COMMISSION, (exec_id, str(amount), now_ns))


def position_row(pnl: PnL, now_ns: int, cause: str) -> Row:
    return (_POSITION, (
        now_ns, pnl.quantity, exact(pnl.avg_price), pnl.mark, str(pnl.realized),
        str(pnl.unrealized), str(pnl.commissions), str(pnl.daily), cause,
    ))  # fmt: skip


def new_market_row(now_ns: int) -> Row:
    """The flat position a new market (a new embedded gateway) starts from: its basis."""
    return (_POSITION, (now_ns, 0, None, None, "0", "0", "0", "0", NEW_MARKET))


def bar_row(con_id: int, bar: Bar) -> Row:
    return (BAR, (con_id, bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume))


def instrument_row(inst: Instrument, now_ns: int) -> Row:
    return (INSTRUMENT, (
        inst.con_id, inst.root, inst.local_symbol, inst.exchange, str(inst.tick),
        str(inst.multiplier), inst.currency, now_ns,
    ))  # fmt: skip


def system_row(now_ns: int, kind: str, level: str, text: str, code: int = 0) -> Row:
    return (_SYSTEM, (now_ns, kind, level, code, text))


def _command_detail(command: object) -> str:
    if dataclasses.is_dataclass(command) and not isinstance(command, type):
        parts = (f"{f.name}={getattr(command, f.name)}" for f in dataclasses.fields(command))
        return " ".join(parts)
    return repr(command)


def rows_for(event: EngineEvent, now_ns: int, session_id: int | None) -> tuple[list[Row], bool]:
    """The rows for ``event`` and whether they are critical (never dropped)."""
    match event:
        case OrderUpdated(order=o):
            avg = exact(o.avg_fill_price)
            rows: list[Row] = [(_ORDER_EVENT, (
                now_ns, o.order_id, o.broker_id, o.perm_id, int(o.own), str(o.status),
                str(o.side), o.quantity, o.order_type, o.limit, o.stop, o.filled, o.remaining,
                avg, o.role, o.command_id, o.reason,
            ))]  # fmt: skip
            if o.own:
                state = "done" if o.status.is_terminal else "open"
                rows.append((_INTENT_STATUS, (
                    str(o.status), state, o.broker_id, o.perm_id, now_ns, o.reason, o.order_id,
                )))  # fmt: skip
            return rows, True
        case FillBooked(fill=f):
            return fill_rows(f, event.own, event.historical, now_ns), True
        case PositionChanged(pnl=p, cause=cause):
            return [position_row(p, now_ns, cause)], True
        case PositionDivergence():
            text = (
                f"position at the broker {event.broker}, fills said {event.ours}; adopted "
                f"(avg cost {event.broker_avg_cost}{', at start' if event.at_start else ''})"
            )
            return [system_row(event.ts_ns, "divergence", "WARNING", text)], True
        case RiskUpdate():
            return [(_RISK, (
                event.ts_ns, event.kind, event.rule, event.reason, event.state,
                event.previous or "",
            ))], True  # fmt: skip
        case KillProgress():
            return [(_KILL, (
                event.ts_ns, event.step, event.detail, event.reason, event.position,
                event.working, int(event.done), int(event.ok),
            ))], True  # fmt: skip
        case HealthChanged():
            text = f"{event.state}: {event.reason}"
            if event.stale:
                text += " (stale: " + ", ".join(str(s) for s in event.stale) + ")"
            return [system_row(event.ts_ns, "connection", "INFO", text)], True
        case Reconciled():
            return [system_row(event.ts_ns, "reconciled", "INFO",
                               f"{event.reason}: {event.detail}")], True  # fmt: skip
        case CommandDone(result=r):
            source = str(getattr(r.command, "source", "manual"))
            return [(_SIGNAL, (
                session_id, now_ns, r.command_id, source, type(r.command).__name__,
                _command_detail(r.command), int(r.ok), r.reason, ",".join(r.order_ids),
            ))], True  # fmt: skip
        case StrategySignal():
            detail = f"{event.detail} reason={event.reason}"
            return [(_SIGNAL, (
                session_id, event.ts_ns, event.command_id, event.strategy, event.kind, detail,
                int(event.ok), event.outcome, "",
            ))], True  # fmt: skip
        case StrategyStateChanged():
            level = "ERROR" if event.state is StrategyState.FAULTED else "INFO"
            text = f"{event.strategy} {event.state}: {event.reason}"
            if event.params:
                text += " (" + " ".join(f"{k}={v}" for k, v in event.params) + ")"
            return [system_row(event.ts_ns, "strategy", level, text)], True
        case CanaryIntent():
            return [(_CANARY_INTENT, (
                event.intent_id, session_id, event.ts_ns, event.strategy, event.kind,
                event.detail,
                int(event.live), event.paper_qty, event.live_qty, event.command_id,
                event.outcome, event.con_id,
            ))], True  # fmt: skip
        case IntentFill():
            return [(_INTENT_FILL, (
                event.intent_id, event.mode, event.leg, event.exec_id, str(event.side),
                event.quantity, event.price, event.ts_ns,
            ))], True  # fmt: skip
        case EngineNotice():
            return [system_row(event.ts_ns, "notice", event.level, event.text, event.code)], False
    return [], False  # market data and forming bars: bars are written when they close
