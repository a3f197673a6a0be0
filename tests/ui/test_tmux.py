"""The real ``tradeterm`` command in tmux, driven with send-keys and read with capture-pane,
as a user over SSH would: SIM demo, arm, buy, flatten, quit. And the two ways the screen is
stopped from outside: SIGTERM, and the terminal closing (SIGHUP), each the orderly stop of
``q`` (journal flushed, the session's stop recorded, exit status 0)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.journal_helpers import fill_the_disk, query
from tradeterm.paths import journal_dir

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
GUARD_S = 30.0  # only reached when something hangs


class Tmux:
    def __init__(self, socket: str) -> None:
        self.socket = socket
        self.pids: list[int] = []  # processes that may outlive the server (killed at the end)

    def run(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              check=False, timeout=10)  # fmt: skip
        return proc.stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "tt", key)
            time.sleep(0.15)  # a person's pace; the screen reads keys one by one

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tt")

    def wait_for(self, predicate: Callable[[str], bool], what: str,
                 guard_s: float = GUARD_S) -> str:  # fmt: skip
        deadline = time.monotonic() + guard_s
        while time.monotonic() < deadline:
            text = self.screen()
            if predicate(text):
                return text
            time.sleep(0.1)
        pytest.fail(f"timed out waiting for {what}; the screen shows:\n{self.screen()}")

    def arm(self) -> None:
        """Press ``a`` until the status bar says ARMED. The ladder shows before the engine has
        reconciled; a press then is answered "not connected yet" and ignored, and a trader
        presses again, as this does."""
        deadline = time.monotonic() + GUARD_S
        while True:
            self.keys("a")
            try:
                self.wait_for(lambda s: " ARMED " in s, "ARMED in the status bar", 2.0)
                return
            except pytest.fail.Exception:
                if time.monotonic() > deadline:
                    raise


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(f"tradeterm-test-{uuid.uuid4().hex[:8]}")
    yield t
    t.run("kill-server")
    for pid in t.pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_the_real_command_in_tmux(tmux: Tmux, tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    command = f"{shlex.quote(sys.executable)} -m tradeterm.cli; echo $? > {shlex.quote(str(rc))}"
    env = {k: v for k, v in os.environ.items() if k.startswith("XDG_")}  # the test's own dirs
    args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    tmux.run("new-session", "-d", "-s", "tt", "-x", "120", "-y", "40", *args, "sh", "-c", command)
    shown = tmux.wait_for(lambda s: "IB OK" in s and "POSITION FLAT" in s, "the ladder, connected")
    assert "SIM" in shown and "DISARMED" in shown
    tmux.keys("b")  # disarmed: nothing happens
    time.sleep(0.5)
    assert "FLAT" in tmux.screen()
    tmux.arm()
    tmux.keys("b")
    tmux.wait_for(lambda s: "LONG 1" in s, "a long position")
    tmux.keys("q")
    tmux.wait_for(lambda s: "Quit anyway?" in s, "the quit question")
    tmux.keys("n", "f")
    tmux.wait_for(lambda s: "POSITION FLAT" in s, "flat again")
    tmux.keys("q")
    deadline = time.monotonic() + GUARD_S
    while not rc.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rc.read_text().strip() == "0"
    assert "Traceback" not in tmux.screen()


def start_screen(tmux: Tmux, rc: Path, *, hold: bool = False) -> int:
    """The real command in tmux, under a shell that outlives a hangup to record its exit
    status in ``rc`` (``hold``: and keeps the pane open to show what was printed after the
    screen closed); the screen's pid once it shows the ladder, connected."""
    command = (
        f"trap '' HUP; {shlex.quote(sys.executable)} -m tradeterm.cli; "
        f"echo $? > {shlex.quote(str(rc))}" + ("; read _" if hold else "")
    )
    env = {k: v for k, v in os.environ.items() if k.startswith("XDG_")}
    args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    tmux.run("new-session", "-d", "-s", "tt", "-x", "120", "-y", "40", *args, "sh", "-c", command)
    tmux.wait_for(lambda s: "IB OK" in s and "POSITION" in s, "the ladder, connected")
    shell = int(tmux.run("list-panes", "-t", "tt", "-F", "#{pane_pid}").strip())
    (child,) = Path(f"/proc/{shell}/task/{shell}/children").read_text().split()
    tmux.pids += [int(child), shell]
    return int(child)


def exit_status(rc: Path) -> str:
    deadline = time.monotonic() + GUARD_S
    while not (rc.exists() and rc.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return rc.read_text().strip() if rc.exists() else "still running"


def buy_one(tmux: Tmux) -> None:
    tmux.arm()
    tmux.keys("b")
    tmux.wait_for(lambda s: "LONG 1" in s, "a long position")  # q would ask first


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_screen_like_q_without_asking(
    tmux: Tmux, tmp_path: Path, sig: signal.Signals
) -> None:
    rc = tmp_path / "rc"
    pid = start_screen(tmux, rc)
    buy_one(tmux)
    os.kill(pid, sig)
    assert exit_status(rc) == "0"
    assert "Traceback" not in tmux.screen()
    assert query(journal_dir(), "SELECT stop_reason FROM sessions") == [(f"stopped by {sig.name}",)]
    assert query(journal_dir(), "SELECT count(*) FROM fills") == [(1,)]


def test_closing_the_terminal_stops_the_screen_like_q(tmux: Tmux, tmp_path: Path) -> None:
    """The shell ignores SIGHUP (to outlive the terminal and record the exit status), so no
    SIGHUP reaches the screen: it must notice by itself that its terminal is gone."""
    rc = tmp_path / "rc"
    start_screen(tmux, rc)
    buy_one(tmux)
    tmux.run("kill-server")  # the terminal is gone: its writes fail, its reads end
    assert exit_status(rc) == "0"
    assert query(journal_dir(), "SELECT stop_reason FROM sessions") == [("stopped by SIGHUP",)]
    assert query(journal_dir(), "SELECT count(*) FROM fills") == [(1,)]


def test_a_quit_after_the_disk_filled_says_what_was_lost_and_exits_3(
    tmux: Tmux, tmp_path: Path
) -> None:
    rc = tmp_path / "rc"
    pid = start_screen(tmux, rc, hold=True)
    fill_the_disk(pid, 4096)  # the next rows cannot be written: trading halts
    tmux.arm()
    tmux.keys("b")  # a write now (the buy's intent), not at the next bar close
    tmux.wait_for(lambda s: "RISK HALTED journal" in s, "HALTED by the journal")
    tmux.keys("q")
    assert exit_status(rc) == "3"
    shown = tmux.wait_for(
        lambda s: "were never written" in s.replace("\n", ""), "the line after the screen"
    ).replace("\n", "")  # the line, wrapped at the pane's width
    assert "tradeterm: journal" in shown and "risk_events" in shown
    assert "Traceback" not in shown
