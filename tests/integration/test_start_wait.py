"""The real ``tradeterm console`` process started with ``--wait-for-gateway`` before the
gateway listens (as a tmux window started by systemd while IB Gateway restarts): one short
line per attempt after the advice said once, then it connects to the gateway started late on
that port and trades. ``quit`` or SIGTERM while it waits: exit status 0 and the journal's
session closed. A client id in use still ends the start at once; without the flag an
unreachable gateway still ends it with status 1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.journal_helpers import query
from tests.integration.test_console_stop import GUARD_S, Console
from tradeterm.paths import journal_dir

pytestmark = pytest.mark.integration
ADVICE = "Check that IB Gateway or TWS is running"


def free_port() -> int:
    """A port nothing listens on (the gateway is started there later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gateway:
    """A ``tradeterm gateway`` process on ``port``, once it accepts connections."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradeterm.cli", "gateway", "--port", str(port)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "listening on HOST:PORT", once it accepts
        assert line.startswith("listening on "), line

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(GUARD_S)


@pytest.fixture
def started() -> Iterator[list[Console | Gateway]]:
    """Everything a test starts, ended after it."""
    procs: list[Console | Gateway] = []
    yield procs
    for proc in procs:
        if isinstance(proc, Console):
            proc.kill()
        elif proc.proc.poll() is None:
            proc.stop()


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADETERM_CONNECTION__RECONNECT_MIN_S", "0.2")
    monkeypatch.setenv("TRADETERM_CONNECTION__RECONNECT_MAX_S", "0.5")


def sessions() -> list[tuple[int, str]]:
    return query(journal_dir(), "SELECT stopped_ns IS NOT NULL, stop_reason FROM sessions",
                 mode="paper")  # fmt: skip


def test_a_console_waits_for_a_gateway_started_late_then_trades(
    started: list[Console | Gateway],
) -> None:
    port = free_port()
    console = Console("--paper", "--port", str(port), "--wait-for-gateway")
    started.append(console)
    console.wait_for("attempt 2 failed")
    console.type("buy 1")  # while waiting: refused, never kept for later
    console.wait_for("? 'buy 1' not done: waiting for the gateway")
    started.append(Gateway(port))
    console.wait_for("RECONCILED (start)")
    console.type("buy 1")
    console.wait_for("FILL BUY 1")
    console.type("quit")
    code, err = console.finish()
    assert code == 0, err
    assert console.out.count(ADVICE) == 1  # said once, then one short line per attempt
    attempts = [line for line in console.lines if "waiting for the gateway at" in line]
    assert len(attempts) >= 2 and all(ADVICE not in line for line in attempts)
    assert f"RECONNECTING: waiting for the gateway at 127.0.0.1:{port}: attempt 1 failed " \
           "(nothing is listening there) (retry in" in attempts[0]  # fmt: skip
    assert "DONE cmd-1" in console.out and "cmd-2" not in console.out  # one order only
    assert query(journal_dir(), "SELECT count(*) FROM fills", mode="paper") == [(1,)]
    assert sessions() == [(1, "stopped")]


def test_without_the_flag_an_unreachable_gateway_still_ends_the_start() -> None:
    port = free_port()
    code, err = Console("--paper", "--port", str(port)).finish()
    assert code == 1 and err.count("\n") == 1
    assert err.startswith(
        f"tradeterm: cannot start: cannot connect to IB at 127.0.0.1:{port}: nothing is "
        "listening there."
    )


def test_a_client_id_in_use_ends_a_waiting_start_at_once(
    started: list[Console | Gateway], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    started.append(Gateway(port))
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(tmp_path / "first"))  # its own journal
    first = Console("--paper", "--port", str(port))
    started.append(first)
    first.wait_for("RECONCILED (start)")
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(tmp_path / "second"))
    # another market given the first one's client id (ES's console: 115): a second ES would
    # be refused before it connects (one instance per market per gateway), never reaching 326
    second = Console("NQ", "--paper", "--port", str(port), "--client-id", "115",
                     "--wait-for-gateway")  # fmt: skip
    started.append(second)
    code, err = second.finish()
    assert code == 1 and err.count("\n") == 1 and "(error 326)" in err
    assert "waiting for the gateway" not in second.out


@pytest.mark.parametrize("how", ["quit", "SIGTERM"])
def test_quitting_while_waiting_ends_cleanly(started: list[Console | Gateway], how: str) -> None:
    console = Console("--paper", "--port", str(free_port()), "--wait-for-gateway")
    started.append(console)
    console.wait_for("attempt 1 failed")
    if how == "quit":
        console.type("quit")
    else:
        os.kill(console.proc.pid, signal.SIGTERM)
    code, err = console.finish()
    assert code == 0 and err == ""
    assert "RECONCILED" not in console.out and "Traceback" not in console.out
    assert sessions() == [(1, "stopped" if how == "quit" else f"stopped by {how}")]
