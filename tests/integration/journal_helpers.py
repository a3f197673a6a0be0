"""Helpers for the journal's integration tests: settings that point an instance at a test
gateway and a test journal directory, and reads of the journal file from outside."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tradeterm.config import Settings
from tradeterm.paths import journal_file


def settings_for(port: int, journal_dir: Path, client_id: int = 1, **market: Any) -> Settings:
    """SIM mode against an already running gateway on ``port`` (no embedded one), with fast
    reconnects, journaling into ``journal_dir``."""
    return Settings(
        connection={
            "port": port, "client_id": client_id, "connect_timeout_s": 3,
            "request_timeout_s": 5, "reconnect_min_s": 0.1, "reconnect_max_s": 0.4,
        },
        journal={"dir": journal_dir, "flush_interval_ms": 20},
        **({"markets": {"ES": market}} if market else {}),
    )  # fmt: skip


def query(
    journal_dir: Path, sql: str, params: tuple[Any, ...] = (), symbol: str = "ES"
) -> list[Any]:
    """Rows of ``sql`` read from the journal file by a separate connection, as another process
    would see them."""
    conn = sqlite3.connect(f"file:{journal_file(symbol, journal_dir)}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
