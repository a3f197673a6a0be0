"""Fixtures for the whole suite.

Every test runs with its own XDG directories and without the developer's ``TRADETERM_*``
variables, so nothing on the machine (a real tradeterm.toml, a real journal) leaks in or out.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from tests.support.postgres import PostgresServer, SharedDb

# CI runs the same examples every time (a red CI must be reproducible); local runs keep
# exploring new ones, which is where property tests find bugs.
settings.register_profile("ci", derandomize=True, deadline=None)
# The big fuzz run: TRADETERM_FUZZ_EXAMPLES=N pytest tests/fuzz runs N examples per unit of a
# fuzz test's weight (tests/fuzz/budget.py) instead of 100, exploring new ones every time.
FUZZ_EXAMPLES = os.environ.get("TRADETERM_FUZZ_EXAMPLES", "")
settings.register_profile(
    "fuzz", max_examples=int(FUZZ_EXAMPLES or 10_000), deadline=None, print_blob=True
)
if FUZZ_EXAMPLES:
    settings.load_profile("fuzz")
elif os.environ.get("CI"):
    settings.load_profile("ci")

# A test run started in the background by a shell without job control (a CI runner's
# `cmd &`) inherits SIGINT ignored, which Python keeps, and so does every process it starts:
# the Ctrl-C tests then sent a SIGINT nobody heard (a sweep ran to its end and exited 0, an
# in-process sweep waited out its timeout). Ctrl-C is what those tests are about, so the run
# hears it as a terminal's user would, and the processes it starts are born hearing it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    # the control sockets' directory: short (a socket's path has at most 107 bytes), 0700
    runtime = Path(tempfile.mkdtemp(prefix="tt-run-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for name in list(os.environ):
        if name.upper().startswith("TRADETERM_"):
            monkeypatch.delenv(name)
    yield home
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """Commands under test call setup_logging(); put the root logger back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture(autouse=True)
def forget_hidden_secrets() -> Iterator[None]:
    """The secrets a test's channels or server hid stay hidden for the process (on purpose:
    a request still running after its notifier closed must not log one); between tests they
    are forgotten, so one test's URL ("/hook") never blanks another test's expected text."""
    from tradeterm.logs import SECRETS
    from tradeterm.notify.channel import REDACT

    kept = {redact: list(redact._secrets) for redact in (SECRETS, REDACT)}
    yield
    for redact, secrets in kept.items():
        redact._secrets = secrets


@pytest.fixture
def shared_data() -> Path:
    """The recorded CME data beside the repository; tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"recorded market data not available at {SHARED_DATA}")
    return SHARED_DATA


# ---- the shared PostgreSQL database (tradeterm/shared): a real server, one per session ----


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole session (tests/support/postgres.py); skipped
    with one line where no server binaries exist."""
    from tests.support.postgres import SKIP_REASON, started_server

    with started_server() as server:
        if server is None:
            pytest.skip(SKIP_REASON)
        yield server


@pytest.fixture
def shared_db(postgres_server: PostgresServer) -> Iterator[SharedDb]:
    """A fresh database on the session's server, migrated by its owner, with the writer role
    granted as an administrator would (tradeterm.shared.roles): dropped after the test."""
    from tests.support.postgres import SharedDb

    db = SharedDb.create(postgres_server)
    try:
        yield db
    finally:
        postgres_server.drop_database(db.name)
