"""Opening a journal file: a new one is private, in WAL mode and at the current schema; a file
this build must not write (newer schema, corrupt, not a journal, read-only, in use) is refused
with a clear message and left byte for byte as it was."""

from __future__ import annotations

import hashlib
import sqlite3
import stat
from pathlib import Path

import pytest

from tradeterm.journal import Journal, JournalError, schema
from tradeterm.journal.store import WriterLock, migrate, open_readonly, prepare
from tradeterm.paths import journal_file


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_new_journal_is_private_wal_and_at_the_current_schema(tmp_path: Path) -> None:
    path = journal_file("es", "paper", tmp_path / "journal")
    prepare(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == schema.APPLICATION_ID
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert set(schema.TABLES) <= tables


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    prepare(path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO system_events (ts_ns, kind, level, code, text)"
                     " VALUES (1, 'x', 'INFO', 0, 'kept')")  # fmt: skip
    prepare(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT text FROM system_events").fetchall() == [("kept",)]


def test_migrations_run_in_order_from_the_files_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ES.sqlite"
    prepare(path)
    extra = "CREATE TABLE later (x INTEGER);"
    monkeypatch.setattr("tradeterm.journal.store.MIGRATIONS", (*schema.MIGRATIONS, extra))
    monkeypatch.setattr("tradeterm.journal.store.SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, path) == schema.SCHEMA_VERSION
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION + 1
    conn.execute("INSERT INTO later VALUES (1)")


def test_a_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    prepare(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.close()
    before = digest(path)
    with pytest.raises(JournalError, match="newer tradeterm"):
        prepare(path)
    with pytest.raises(JournalError, match="newer tradeterm"):
        open_readonly(path)
    assert digest(path) == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database at all" * 100, "not an SQLite database"),
        (b"SQLite format 3\x00" + b"\xff" * 4000, "corrupt"),
    ],
)
def test_a_corrupt_file_is_refused_and_untouched(tmp_path: Path, content: bytes,
                                                 message: str) -> None:  # fmt: skip
    path = tmp_path / "ES.sqlite"
    path.write_bytes(content)
    with pytest.raises(JournalError, match=message):
        prepare(path)
    assert path.read_bytes() == content
    assert not path.with_name("ES.sqlite-wal").exists()


def test_another_sqlite_file_is_not_taken_for_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE mine (x)")
    conn.close()
    before = digest(path)
    with pytest.raises(JournalError, match="not a tradeterm journal"):
        prepare(path)
    assert digest(path) == before


def test_a_read_only_file_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    prepare(path)
    path.chmod(0o400)
    before = digest(path)
    with pytest.raises(JournalError, match="read-only"):
        prepare(path)
    assert digest(path) == before
    open_readonly(path).close()  # reports can still read it


async def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    first = Journal(path)
    await first.open()
    try:
        with pytest.raises(JournalError, match="in use by another tradeterm process"):
            await Journal(path).open()
    finally:
        await first.close()
    second = Journal(path)  # released at close
    await second.open()
    await second.close()


def test_the_lock_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "ES.sqlite"
    lock = WriterLock(path)
    lock.acquire()
    try:
        with pytest.raises(JournalError, match=r"pid \d+"):
            WriterLock(path).acquire()
    finally:
        lock.release()
