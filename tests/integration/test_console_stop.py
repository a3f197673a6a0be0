"""How the real ``tradeterm console`` process stops (issue 12, item 4).

The disk fills up under a running process (its file-size limit is lowered from outside with
``prlimit``, so every write past the first bytes of a file fails as on a full disk): trading
halts, a quit says which critical rows were lost and exits 3, and the next start, with room
again, is still HALTED. SIGTERM and SIGHUP stop it like ``quit``: everything is flushed, the
session's stop is journaled, exit status 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.integration.journal_helpers import fill_the_disk, query
from tradeterm.paths import journal_dir

pytestmark = pytest.mark.integration
GUARD_S = 60.0  # only reached when something hangs


class Console:
    """A ``tradeterm console`` process with its output collected line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tradeterm.cli", "console", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def out(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str) -> None:
        deadline = time.monotonic() + GUARD_S
        while text not in self.out:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                pytest.fail(f"no {text!r} from the console; it said:\n{self.out}")
            time.sleep(0.05)

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str]:
        """Wait for the exit: the exit status and stderr."""
        assert self.proc.stderr is not None
        err = self.proc.stderr.read()  # until the process closes it
        code = self.proc.wait(GUARD_S)
        self._reader.join(GUARD_S)
        return code, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def consoles() -> Iterator[list[Console]]:
    started: list[Console] = []
    yield started
    for console in started:
        console.kill()


def test_a_quit_after_the_disk_filled_exits_3_and_the_next_start_is_halted(
    consoles: list[Console],
) -> None:
    first = Console()
    consoles.append(first)
    first.wait_for("RECONCILED (start)")
    fill_the_disk(first.proc.pid, 4096)
    first.type("buy 1")
    first.wait_for("REFUSED cmd-1")
    assert "trading HALTED: journal" in first.out
    first.type("kill going home")
    first.wait_for("KILL halted")
    first.type("quit")
    code, err = first.finish()
    assert code == 3, err
    assert err.count("\n") == 1 and err.startswith("tradeterm: journal ")
    assert "critical row(s) were never written and are lost" in err
    assert "kill_events" in err and "risk_events" in err
    assert "Traceback" not in first.out + err
    # the disk has room again: the next start is still HALTED, and buy 1 is refused
    second = Console("--for", "3")
    consoles.append(second)
    second.type("buy 1")
    code, err = second.finish()
    assert code == 0, err
    assert "trading HALTED: journal" in second.out.split("RECONCILED (start)", 1)[1]
    assert "REFUSED cmd-1: trading is HALTED (journal" in second.out
    assert "FILL" not in second.out


def test_a_halt_latch_that_cannot_be_written_either_is_said(consoles: list[Console]) -> None:
    console = Console()
    consoles.append(console)
    console.wait_for("RECONCILED (start)")
    fill_the_disk(console.proc.pid, 0)  # not a byte more: the latch cannot be written
    console.type("buy 1")
    console.wait_for("REFUSED cmd-1")
    assert "ERROR cannot write the halt latch" in console.out
    assert "trading stays HALTED, but only in memory" in console.out
    console.type("quit")
    code, err = console.finish()
    assert code == 3, err
    assert "trading is HALTED but cannot write the halt latch" in err
    assert "the next start may not know it was HALTED" in err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_like_quit(consoles: list[Console], sig: signal.Signals) -> None:
    console = Console()
    consoles.append(console)
    console.wait_for("RECONCILED (start)")
    console.type("buy 1")
    console.wait_for("FILL BUY 1")
    os.kill(console.proc.pid, sig)
    code, err = console.finish()
    assert code == 0, err
    assert f"({sig.name})" in console.out.split("stopping after", 1)[1]
    assert query(journal_dir(), "SELECT stop_reason FROM sessions") == [(f"stopped by {sig.name}",)]
    assert query(journal_dir(), "SELECT count(*) FROM fills") == [(1,)]
