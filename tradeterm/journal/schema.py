"""The journal's schema and its migrations.

One SQLite file per market. The schema version lives in ``PRAGMA user_version`` and the file
is marked as tradeterm's with ``PRAGMA application_id``. ``MIGRATIONS[i]`` takes a file from
version ``i`` to ``i + 1``; each runs in one transaction with the version bump, so a crash
mid-migration leaves the old version intact.

Conventions: times are UTC nanoseconds (``*_ns``); prices are integer ticks of the
instrument (``*_ticks``); money is exact decimal text (``Decimal`` ``str``), never a float.
"""

from __future__ import annotations

APPLICATION_ID = 0x54545452  # "TTTR"

_V1 = """
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    symbol TEXT NOT NULL,
    started_ns INTEGER NOT NULL,
    stopped_ns INTEGER,
    stop_reason TEXT,
    version TEXT NOT NULL,
    mode TEXT NOT NULL,
    account TEXT,
    client_id INTEGER,
    pid INTEGER
);
CREATE TABLE instruments (
    con_id INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    local_symbol TEXT NOT NULL,
    exchange TEXT NOT NULL,
    tick TEXT NOT NULL,
    multiplier TEXT NOT NULL,
    currency TEXT NOT NULL,
    seen_ns INTEGER NOT NULL
);
CREATE TABLE bars (
    con_id INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    open_ticks INTEGER NOT NULL,
    high_ticks INTEGER NOT NULL,
    low_ticks INTEGER NOT NULL,
    close_ticks INTEGER NOT NULL,
    volume INTEGER NOT NULL,
    PRIMARY KEY (con_id, start_ns)
) WITHOUT ROWID;
CREATE TABLE signals (
    id INTEGER PRIMARY KEY,
    session_id INTEGER,
    ts_ns INTEGER NOT NULL,
    command_id TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    ok INTEGER NOT NULL,
    reason TEXT NOT NULL,
    order_ids TEXT NOT NULL
);
CREATE INDEX signals_command ON signals (command_id, session_id);
CREATE TABLE order_intents (
    order_id TEXT PRIMARY KEY,
    session_id INTEGER,
    command_id TEXT NOT NULL,
    role TEXT NOT NULL,
    con_id INTEGER,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    limit_ticks INTEGER,
    stop_ticks INTEGER,
    tif TEXT NOT NULL,
    parent_id TEXT,
    oca_group TEXT,
    created_ns INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'open',
    status TEXT NOT NULL DEFAULT 'PENDING_SUBMIT',
    broker_id INTEGER,
    perm_id INTEGER,
    updated_ns INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX order_intents_open ON order_intents (state);
CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    broker_id INTEGER,
    perm_id INTEGER,
    own INTEGER NOT NULL,
    status TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL,
    limit_ticks INTEGER,
    stop_ticks INTEGER,
    filled INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    avg_fill_ticks TEXT,
    role TEXT NOT NULL,
    command_id TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id);
CREATE TABLE fills (
    exec_id TEXT NOT NULL UNIQUE,
    order_id TEXT,
    perm_id INTEGER,
    con_id INTEGER,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price_ticks INTEGER NOT NULL,
    price TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    own INTEGER NOT NULL,
    historical INTEGER NOT NULL,
    booked_ns INTEGER NOT NULL
);
CREATE INDEX fills_ts ON fills (ts_ns);
CREATE TABLE commissions (
    exec_id TEXT PRIMARY KEY,
    amount TEXT NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE TABLE position_snapshots (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    quantity INTEGER NOT NULL,
    avg_price_ticks TEXT,
    mark_ticks INTEGER,
    realized TEXT NOT NULL,
    unrealized TEXT NOT NULL,
    commissions TEXT NOT NULL,
    daily TEXT NOT NULL,
    cause TEXT NOT NULL
);
CREATE TABLE risk_events (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    rule TEXT NOT NULL,
    reason TEXT NOT NULL,
    state TEXT NOT NULL,
    previous TEXT NOT NULL
);
CREATE INDEX risk_events_transitions ON risk_events (kind, ts_ns);
CREATE TABLE system_events (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    level TEXT NOT NULL,
    code INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE kill_events (
    id INTEGER PRIMARY KEY,
    ts_ns INTEGER NOT NULL,
    step TEXT NOT NULL,
    detail TEXT NOT NULL,
    reason TEXT NOT NULL,
    position INTEGER NOT NULL,
    working INTEGER NOT NULL,
    done INTEGER NOT NULL,
    ok INTEGER NOT NULL
);
CREATE TABLE daily_performance (
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    trades INTEGER NOT NULL,
    wins INTEGER NOT NULL,
    gross TEXT NOT NULL,
    commissions TEXT NOT NULL,
    net TEXT NOT NULL,
    updated_ns INTEGER NOT NULL,
    PRIMARY KEY (day, source)
) WITHOUT ROWID;
"""

_V2 = """
CREATE TABLE canary_intents (
    intent_id TEXT PRIMARY KEY,
    session_id INTEGER,
    ts_ns INTEGER NOT NULL,
    strategy TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    live INTEGER NOT NULL,
    paper_qty INTEGER NOT NULL,
    live_qty INTEGER NOT NULL,
    command_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    con_id INTEGER
);
CREATE TABLE intent_fills (
    id INTEGER PRIMARY KEY,
    intent_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    leg TEXT NOT NULL,
    exec_id TEXT NOT NULL,
    side TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    price_ticks INTEGER NOT NULL,
    ts_ns INTEGER NOT NULL
);
CREATE INDEX intent_fills_intent ON intent_fills (intent_id);
"""
"""CANARY mode (``engine/canary.py``): each intent of a strategy, and the fills of both its
sides, ``mode`` ``paper`` or ``live`` (a live fill is also in ``fills``; a paper one only
here). Read by ``report --compare`` (``compare.py``)."""

_V3 = """
ALTER TABLE order_intents ADD COLUMN source TEXT;
"""
"""Whose an order is (its command's ``source``: ``manual`` or a strategy's name), in the
intent's own fsynced row: a kill -9 between the intent and its command's ``signals`` row no
longer leaves an order (and its fills) without its strategy. NULL in the rows written before
(their owner is their command's signal row: ``report.SOURCE_OF_INTENT``)."""

# The rows shipped to the shared database (tradeterm/shared/shipper.py), with the columns
# each carries; the time ``ts_ns`` of a row is its first column named here that is not NULL.
_SHIPPED: dict[str, tuple[tuple[str, ...], str]] = {
    "sessions": (("id", "symbol", "started_ns", "stopped_ns", "stop_reason", "version", "mode",
                  "account", "client_id", "pid"), "coalesce(NEW.stopped_ns, NEW.started_ns)"),
    "signals": (("id", "session_id", "ts_ns", "command_id", "source", "kind", "detail", "ok",
                 "reason", "order_ids"), "NEW.ts_ns"),
    "order_intents": (("order_id", "session_id", "command_id", "role", "con_id", "side",
                       "quantity", "order_type", "limit_ticks", "stop_ticks", "tif", "parent_id",
                       "oca_group", "created_ns", "state", "status", "broker_id", "perm_id",
                       "updated_ns", "note", "source"), "NEW.updated_ns"),
    "order_events": (("id", "ts_ns", "order_id", "broker_id", "perm_id", "own", "status", "side",
                      "quantity", "order_type", "limit_ticks", "stop_ticks", "filled",
                      "remaining", "avg_fill_ticks", "role", "command_id", "reason"), "NEW.ts_ns"),
    "fills": (("exec_id", "order_id", "perm_id", "con_id", "side", "quantity", "price_ticks",
               "price", "ts_ns", "own", "historical", "booked_ns"), "NEW.ts_ns"),
    "commissions": (("exec_id", "amount", "ts_ns"), "NEW.ts_ns"),
    "position_snapshots": (("id", "ts_ns", "quantity", "avg_price_ticks", "mark_ticks",
                            "realized", "unrealized", "commissions", "daily", "cause"),
                           "NEW.ts_ns"),
    "risk_events": (("id", "ts_ns", "kind", "rule", "reason", "state", "previous"), "NEW.ts_ns"),
    "kill_events": (("id", "ts_ns", "step", "detail", "reason", "position", "working", "done",
                     "ok"), "NEW.ts_ns"),
}  # fmt: skip
_UPDATED = ("sessions", "order_intents")  # rows that change: each change is shipped too
_TRIGGERS = [(t, "INSERT") for t in _SHIPPED] + [(t, "UPDATE") for t in _UPDATED]


def _ship_trigger(table: str, event: str, when: str = "") -> str:
    columns, ts = _SHIPPED[table]
    data = ", ".join(f"'{c}', NEW.{c}" for c in columns)
    session = "NEW.id" if table == "sessions" else "coalesce((SELECT max(id) FROM sessions), 0)"
    return (
        f"CREATE TRIGGER ship_{table}_{event.lower()} AFTER {event} ON {table} {when}BEGIN "
        f"INSERT INTO ship_log (session_id, kind, ts_ns, written_ms, data) VALUES ({session}, "
        f"'{table}', {ts}, {_NOW_MS}, json_object({data})); END;"
    )


_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"

_V4 = """
CREATE TABLE ship_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    instance_id TEXT NOT NULL
);
INSERT INTO ship_meta VALUES (1, lower(hex(randomblob(16))));
CREATE TABLE ship_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    ts_ns INTEGER NOT NULL,
    written_ms INTEGER NOT NULL,
    data TEXT NOT NULL
);
""" + "\n".join(_ship_trigger(t, e) for t, e in _TRIGGERS)
"""The shipping log: every row of the tables in ``_SHIPPED``, copied as JSON by a trigger in
the same transaction that writes it (so the fsynced intent carries its own copy, and no code
path can write a row without it), numbered by ``seq``, which AUTOINCREMENT never reuses. The
shipper sends ``ship_log`` in ``seq`` order; ``ship_meta.instance_id`` (random, one per journal
file) names this journal in the shared database, so a new journal never inherits an old
high-water mark. Older rows (written before this version) are not shipped."""

_V5 = """
ALTER TABLE order_intents ADD COLUMN trail_ticks INTEGER;
ALTER TABLE order_intents ADD COLUMN exit_strategy TEXT;
ALTER TABLE order_intents ADD COLUMN exit_fill_ticks INTEGER;
ALTER TABLE order_intents ADD COLUMN breakeven_after_ticks INTEGER;
ALTER TABLE order_intents ADD COLUMN breakeven_offset_ticks INTEGER;
"""
"""In the intent, before it is sent: a TRAIL order's trailing amount, and the exit strategy
(``engine/exits.py``) an order was sent with (an entry) or for (its exits: the entry's fill
price they protect and the breakeven rule), so that a restart restores a trailing stop whole
and breakeven keeps watching the stops. NULL in the rows written before."""
_SHIPPING_ON = "WHEN (SELECT shipping FROM ship_meta) "
_V6 = "ALTER TABLE ship_meta ADD COLUMN shipping INTEGER NOT NULL DEFAULT 0;\n" + "\n".join(
    f"DROP TRIGGER ship_{t}_{e.lower()};\n{_ship_trigger(t, e, _SHIPPING_ON)}" for t, e in _TRIGGERS
)
"""The copy into ``ship_log`` only while this journal ships (``ship_meta.shipping``, set by
``Journal.open`` from ``[shared] url``): an instance with no shared database pays neither the
trigger's JSON copy on its writer (it doubles a fill row's write: docs/performance.md) nor
the file's growth.
Rows written while it did not ship are never shipped, like the rows older than version 4."""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
"""``MIGRATIONS[i]`` upgrades version ``i`` to ``i + 1``. Append only; never edit one that
has shipped."""

SCHEMA_VERSION = len(MIGRATIONS)

TABLES = (
    "sessions", "instruments", "bars", "signals", "order_intents", "order_events", "fills",
    "commissions", "position_snapshots", "risk_events", "system_events", "kill_events",
    "daily_performance", "canary_intents", "intent_fills", "ship_meta", "ship_log",
)  # fmt: skip
