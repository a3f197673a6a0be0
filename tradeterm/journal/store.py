"""Opening a journal file safely: checks, permissions, WAL, migrations, the writer's lock.

Rules:

* The file is created with mode 0600 (its directory 0700); an existing file keeps its mode.
* A file that is not a tradeterm journal, is corrupt, was written by a newer tradeterm
  (``user_version`` above :data:`~tradeterm.journal.schema.SCHEMA_VERSION`) or is marked
  read-only (no owner write bit) raises :class:`JournalError` with a message for the user,
  and is never written: the checks run before anything (WAL, migration) touches it.
* One writer per file: the writer holds an exclusive ``flock`` on ``<file>.lock`` for as long
  as it runs (released by the kernel if the process dies), so a second instance trading the
  same market into the same journal is refused instead of interleaving.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
from pathlib import Path

from tradeterm.journal.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from tradeterm.paths import ensure_dir

SQLITE_HEADER = b"SQLite format 3\x00"


class JournalError(Exception):
    """The journal cannot be opened or written; worded for the user."""


def _check_file(path: Path) -> None:
    """What can be told from the file itself before SQLite opens it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise JournalError(f"journal {path} is not a regular file")
    if not st.st_mode & stat.S_IWUSR:
        raise JournalError(
            f"journal {path} is read-only (mode {stat.S_IMODE(st.st_mode):04o}): "
            "nothing can be recorded, so nothing can be traded; make it writable (chmod u+w) "
            "or point journal.dir elsewhere"
        )
    if st.st_size == 0:
        return  # created but never written (a crash right after creating it): SQLite inits it
    with path.open("rb") as f:
        header = f.read(len(SQLITE_HEADER))
    if header != SQLITE_HEADER:
        raise JournalError(
            f"journal {path} is not an SQLite database (corrupt or another file); it was "
            "left untouched: move it away to start a new journal"
        )


def _create(path: Path) -> None:
    ensure_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)


def check_version(conn: sqlite3.Connection, path: Path) -> int:
    """The file's schema version, after checking that it is a journal this build can read.
    Raises :class:`JournalError` otherwise."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise JournalError(
            f"journal {path} is corrupt ({exc}); it was left untouched: move it away to start "
            "a new journal"
        ) from None
    if app_id not in (0, APPLICATION_ID) or (version == 0 and tables):
        raise JournalError(f"{path} is an SQLite file but not a tradeterm journal; left untouched")
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"journal {path} was written by a newer tradeterm (schema {version}; this build "
            f"reads up to {SCHEMA_VERSION}); upgrade tradeterm or point journal.dir elsewhere"
        )
    return int(version)


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION`, one migration per transaction. Returns
    the version found before."""
    found = check_version(conn, path)
    for version in range(found, SCHEMA_VERSION):
        script = MIGRATIONS[version]
        conn.executescript(
            f"BEGIN IMMEDIATE;\n{script}\n"
            f"PRAGMA application_id = {APPLICATION_ID};\n"
            f"PRAGMA user_version = {version + 1};\nCOMMIT;"
        )
    return found


def prepare(path: Path, *, busy_timeout_ms: int = 5000, ship: bool = False) -> None:
    """Create or check ``path`` and migrate it; WAL mode; its rows copied for shipping from now
    on when ``ship`` (``ship_meta.shipping``, schema version 6). Raises :class:`JournalError`."""
    _check_file(path)
    try:
        _create(path)
    except OSError as exc:
        raise JournalError(f"cannot create journal {path}: {exc.strerror or exc}") from None
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open journal {path}: {exc}") from None
    try:
        check_version(conn, path)  # before WAL: a file we refuse is never written
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"journal {path}: WAL mode unavailable (got {mode})")
        migrate(conn, path)
        conn.execute("UPDATE ship_meta SET shipping = ? WHERE shipping != ?", (ship, ship))
    except sqlite3.OperationalError as exc:
        raise JournalError(f"cannot open journal {path}: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise JournalError(
            f"journal {path} is corrupt ({exc}); it was left untouched: move it away to start "
            "a new journal"
        ) from None
    finally:
        conn.close()


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection for reports and exports (never migrates or writes). A journal
    of an older schema is read as it is (a legacy journal is never upgraded: no instance
    writes it any more); a reader of a table a later schema added finds none there."""
    if not path.exists():
        raise JournalError(f"no journal at {path}")
    _check_file_readable(path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open journal {path}: {exc}") from None
    try:
        version = check_version(conn, path)
    except JournalError:
        conn.close()
        raise
    if version == 0:
        conn.close()
        raise JournalError(
            f"journal {path} has no schema yet (never written by tradeterm): nothing to read"
        )
    return conn


def _check_file_readable(path: Path) -> None:
    try:
        with path.open("rb") as f:
            header = f.read(len(SQLITE_HEADER))
    except OSError as exc:  # a directory, no permission
        raise JournalError(f"cannot read journal {path}: {exc.strerror or exc}") from None
    if header and header != SQLITE_HEADER:
        raise JournalError(f"journal {path} is not an SQLite database (corrupt or another file)")


class WriterLock:
    """An exclusive ``flock`` on ``<journal>.lock``: one writer per journal."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            ensure_dir(self.path.parent)
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise JournalError(
                f"cannot use journal directory {self.path.parent}: {exc.strerror or exc}"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise JournalError(
                f"journal {self.path.with_suffix('')} is in use by another tradeterm process "
                f"(pid {holder}): one instance per market"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
