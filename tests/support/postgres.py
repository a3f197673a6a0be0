"""A real PostgreSQL server for the tests: ``initdb`` into a temporary directory, ``pg_ctl``
on a free port of 127.0.0.1, password authentication (SCRAM), no mock.

The binaries: ``TRADETERM_PG_BIN``, else ``pg_config --bindir``, else the newest Debian
``/usr/lib/postgresql/*/bin`` (``.ci/run`` installs Debian's ``postgresql``), else ``initdb``
on the PATH. :func:`find_bindir` is None where there is none: the fixtures skip, one line.

Run as root (CI, containers), initdb and postgres refuse to start: the server then runs as
``nobody`` (every command started with ``user=``/``group=``, no supplementary groups), in a
temporary directory under /tmp that it owns; as any other user it runs as that user.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from tradeterm.shared.migrations import migrate
from tradeterm.shared.roles import READ_GRANTS, READER, WRITER, grant

SUPERUSER = "tt_admin"
SKIP_REASON = (
    "no PostgreSQL server binaries (initdb, pg_ctl): install Debian's postgresql "
    "or set TRADETERM_PG_BIN"
)


def find_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or None."""
    candidates: list[str] = []
    if os.environ.get("TRADETERM_PG_BIN"):
        candidates.append(os.environ["TRADETERM_PG_BIN"])
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10
            )
            candidates.append(out.stdout.strip())
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(debian, key=lambda p: int(Path(p).parent.name), reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(str(Path(initdb).parent))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").is_file() and (path / "pg_ctl").is_file():
            return path
    return None


@contextlib.contextmanager
def started_server() -> Iterator[PostgresServer | None]:
    """A started server, destroyed at the end; None where no binaries exist."""
    bindir = find_bindir()
    if bindir is None:
        yield None
        return
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One server: :meth:`start` (initdb on first start), :meth:`stop`, :meth:`start` again on
    the same port and data (a database outage), :meth:`destroy`."""

    bindir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tt-pg-")))
    _uid: int | None = None
    _gid: int | None = None

    def __post_init__(self) -> None:
        if os.geteuid() == 0:  # initdb and postgres refuse root
            nobody = pwd.getpwnam("nobody")
            self._uid, self._gid = nobody.pw_uid, nobody.pw_gid
            os.chown(self.base, self._uid, self._gid)
        self.data = self.base / "data"

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _run(self, *args: str) -> None:
        kw: dict[str, object] = {}
        if self._uid is not None:
            kw = {"user": self._uid, "group": self._gid, "extra_groups": []}
        done = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            cwd=self.base,
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "LANG": "C"},
            timeout=120,
            **kw,  # type: ignore[call-overload]
        )
        if done.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{tail}")

    def _initdb(self) -> None:
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._uid is not None:
            os.chown(pwfile, self._uid, self._gid or 0)
        pwfile.chmod(0o600)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, f"--pwfile={pwfile}",
                  "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
                  "--no-instructions")  # fmt: skip
        pwfile.unlink()

    def start(self) -> None:
        if not self.data.exists():
            self._initdb()
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB "
            "-c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate``: as if killed). Clients see their connections end."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def url(
        self, database: str = "postgres", user: str = SUPERUSER, password: str | None = None
    ) -> str:
        """A URL with the password in it (the superuser's unless another is given)."""
        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def create_role(self, name: str, password: str) -> None:
        """A login role (cluster-wide), created once; its grants are per database."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(name), sql.Literal(password)
                    )
                )


WRITER_PASSWORD = "writer-" + secrets.token_urlsafe(9)
READER_PASSWORD = "reader-" + secrets.token_urlsafe(9)
_databases = itertools.count(1)


@dataclass(frozen=True)
class SharedDb:
    """A fresh database on ``server``: migrated by the owner, the writer and reader roles
    granted."""

    server: PostgresServer
    name: str

    @classmethod
    def create(cls, server: PostgresServer) -> SharedDb:
        name = f"tt_{os.getpid()}_{next(_databases)}"
        server.create_database(name)
        server.create_role(WRITER, WRITER_PASSWORD)
        server.create_role(READER, READER_PASSWORD)
        db = cls(server, name)
        asyncio.run(db._migrate())
        return db

    async def _migrate(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.admin_url, autocommit=True) as conn:
            await migrate(conn)
            await grant(conn, WRITER)
            await grant(conn, READER, READ_GRANTS)

    @property
    def admin_url(self) -> str:
        return self.server.url(self.name)

    @property
    def writer_url(self) -> str:
        return self.server.url(self.name, WRITER, WRITER_PASSWORD)

    @property
    def reader_url(self) -> str:
        return self.server.url(self.name, READER, READER_PASSWORD)

    def query(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``statement`` run as the owner (what the tests check)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return conn.execute(statement.encode(), params).fetchall()
