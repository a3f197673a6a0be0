"""The shared database's foundation on a real PostgreSQL server: the migration runner, the
writer role's least privilege, the connection settings and their secrets."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import psycopg
import pytest

from tests.support.postgres import PostgresServer, SharedDb
from tradeterm import logs
from tradeterm.config import ConfigError, LoggingConfig, load_settings
from tradeterm.shared.migrations import SCHEMA_VERSION, SchemaMismatch, check_version, migrate
from tradeterm.shared.target import SharedError, Target


async def test_migrations_run_once_and_record_their_version(shared_db: SharedDb) -> None:
    rows = shared_db.query("SELECT version, description FROM tradeterm.schema_version")
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))

    # again, and from two connections at once: nothing applied twice, no error
    async def again() -> int:
        async with await psycopg.AsyncConnection.connect(shared_db.admin_url, autocommit=True) as c:
            return await migrate(c)

    assert await asyncio.gather(again(), again()) == [SCHEMA_VERSION, SCHEMA_VERSION]
    assert len(shared_db.query("SELECT * FROM tradeterm.schema_version")) == SCHEMA_VERSION


async def test_a_database_not_migrated_is_refused_with_one_line(
    postgres_server: PostgresServer,
) -> None:
    postgres_server.create_database("tt_bare")
    try:
        async with await psycopg.AsyncConnection.connect(postgres_server.url("tt_bare")) as conn:
            with pytest.raises(SchemaMismatch, match="schema version 0, this tradeterm needs"):
                await check_version(conn)
    finally:
        postgres_server.drop_database("tt_bare")


async def test_the_writer_ships_but_cannot_rewrite_or_alter(shared_db: SharedDb) -> None:
    async with await Target(shared_db.writer_url).connect() as conn:
        await check_version(conn)
        await conn.execute(
            "INSERT INTO tradeterm.instances (instance_id, name, host, symbol, mode) "
            "VALUES ('00000000-0000-0000-0000-000000000001', 'h/ES/sim', 'h', 'ES', 'sim')"
        )
        await conn.execute(
            "INSERT INTO tradeterm.journal_rows (instance_id, session_id, seq, kind, ts_ns, data) "
            "VALUES ('00000000-0000-0000-0000-000000000001', 1, 1, 'fills', 0, '{}')"
        )
        for forbidden in (
            "UPDATE tradeterm.journal_rows SET kind = 'x'",
            "DELETE FROM tradeterm.journal_rows",
            "DELETE FROM tradeterm.instances",
            "DROP TABLE tradeterm.journal_rows",
            "CREATE TABLE tradeterm.mine (x int)",
            "CREATE TABLE public.mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await conn.execute(forbidden.encode())
    assert shared_db.query("SELECT count(*) FROM tradeterm.journal_rows") == [(1,)]


def test_the_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_SHARED__URL", "postgresql://w:s3cret-pw@db.example:5432/tt")
    loaded = load_settings()
    assert loaded.settings.shared.url == "postgresql://w:s3cret-pw@db.example:5432/tt"
    shown = {key: value for key, value, _ in loaded.rows()}["shared.url"]
    assert shown == "postgresql://w@db.example:5432/tt"  # the role and database kept (trial20)


def test_a_password_in_a_readable_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "tradeterm.toml"
    config.write_text('[shared]\nurl = "postgresql://w:s3cret-pw@db.example/tt"\n')
    config.chmod(0o644)
    with pytest.raises(ConfigError, match="holds a password but the file is not private"):
        load_settings(config)
    config.chmod(0o600)
    assert load_settings(config).settings.shared.url is not None


def test_a_password_file_is_refused_unless_private(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-pw\n")
    secret.chmod(0o640)
    config = tmp_path / "tradeterm.toml"
    config.write_text(
        f'[shared]\nurl = "postgresql://w@db.example/tt"\npassword_file = "{secret}"\n'
    )
    with pytest.raises(ConfigError, match=r"shared.password_file .*chmod 600.*mode 640"):
        load_settings(config)
    secret.chmod(0o600)
    loaded = load_settings(config)
    target = Target.of(loaded.settings.shared)
    assert target is not None and target.password() == "s3cret-pw"
    secret.chmod(0o644)  # changed after the start: refused at the next connect
    with pytest.raises(SharedError, match="chmod 600"):
        target.password()


async def test_the_password_never_reaches_the_log(shared_db: SharedDb, tmp_path: Path) -> None:
    path = logs.setup_logging(LoggingConfig(dir=tmp_path), "shared-test")
    good = Target(shared_db.writer_url)
    bad = Target(shared_db.writer_url.replace("@", "x@", 1))  # a wrong password
    for target in (good, bad):
        target.hide()
    log = logging.getLogger("tradeterm.shared")
    with pytest.raises(psycopg.OperationalError) as failed:
        await bad.connect()
    log.error("cannot connect to %s: %s", bad.url, failed.value, exc_info=True)
    log.info("shipping to %s", good.shown)
    text = path.read_text()
    for secret in good.secrets() | bad.secrets():
        assert secret not in text
    assert good.shown in text and "password authentication failed" in text
    assert json.loads(text.splitlines()[-1])["msg"].startswith("shipping to postgresql://")


def test_tradeterm_shared_migrate_brings_a_new_database_to_the_version(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from tradeterm.cli.main import main

    postgres_server.create_database("tt_cli")
    try:
        assert main(["shared", "migrate", "--url", postgres_server.url("tt_cli")]) == 0
        out = capsys.readouterr().out
        assert out.strip().endswith(f"tt_cli: schema version {SCHEMA_VERSION}")
        assert postgres_server.password not in out
        assert main(["shared", "roles"]) == 0
        roles = capsys.readouterr().out
        assert 'GRANT INSERT ON tradeterm.journal_rows TO "tradeterm_writer";' in roles
        assert 'CREATE ROLE "tradeterm_reader" LOGIN' in roles and "tradeterm.outcomes TO " in roles
    finally:
        postgres_server.drop_database("tt_cli")
