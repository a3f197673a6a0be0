"""The real commands in tmux, as the README's workflow runs them: two markets side by side on
one ``tradeterm gateway`` with no client-id flag (each market has its own API client id), and
the demo's kill switch never carrying over to paper trading on the same data dir.

Arming is the proof that a screen is connected and trading is ACTIVE: ``a`` is answered "not
connected yet" before the engine has started, and asks for a re-arm reason when HALTED."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.journal_helpers import query
from tests.ui.test_tmux import Tmux, exit_status, tmux  # noqa: F401 (fixture)
from tradeterm.journal.latch import latch_file
from tradeterm.paths import journal_dir, journal_file

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def gateway_port() -> Iterator[int]:
    """``tradeterm gateway --symbols ES,NQ --port 0`` in the background: the port it took."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradeterm.cli", "gateway", "--symbols", "ES,NQ", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "listening on HOST:PORT", once it accepts connections
        assert line.startswith("listening on "), line + (proc.stderr.read() if proc.stderr else "")
        yield int(line.rsplit(":", 1)[1])
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def start(screen: Tmux, rc: Path, *argv: str) -> None:
    """``tradeterm ARGV`` in tmux with the test's own XDG dirs; its exit status goes to ``rc``."""
    command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "tradeterm.cli", *argv))
    env = {k: v for k, v in os.environ.items() if k.startswith("XDG_")}
    args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    screen.run("new-session", "-d", "-s", "tt", "-x", "120", "-y", "40", *args,
               "sh", "-c", f"{command}; echo $? > {shlex.quote(str(rc))}")  # fmt: skip


@pytest.fixture
def second_tmux() -> Iterator[Tmux]:
    t = Tmux(f"tradeterm-test-{uuid.uuid4().hex[:8]}")
    yield t
    t.run("kill-server")


def test_two_markets_share_one_gateway_with_no_client_id_flags(
    tmux: Tmux,  # noqa: F811
    second_tmux: Tmux,
    gateway_port: int,
    tmp_path: Path,
) -> None:
    screens = {"ES": tmux, "NQ": second_tmux}
    for symbol, screen in screens.items():
        start(screen, tmp_path / f"rc-{symbol}", symbol, "--paper", "--port", str(gateway_port))
    for symbol, screen in screens.items():
        screen.arm()  # connected, and no "client id in use"
        shown = screen.screen()
        assert symbol in shown and "326" not in shown and "in use" not in shown
    for symbol, client_id in (("ES", 110), ("NQ", 130)):
        assert query(journal_dir(), "SELECT client_id, account FROM sessions", (), symbol,
                     "paper") == [(client_id, "DU0000001")]  # fmt: skip
    for symbol, screen in screens.items():
        screen.keys("q")
        assert exit_status(tmp_path / f"rc-{symbol}") == "0"
        assert "Traceback" not in screen.screen()


def test_the_demos_kill_switch_does_not_halt_paper_on_the_same_data_dir(
    tmux: Tmux,  # noqa: F811
    second_tmux: Tmux,
    gateway_port: int,
    tmp_path: Path,
) -> None:
    start(tmux, tmp_path / "rc-demo")  # `tradeterm`: the SIM demo
    tmux.arm()
    tmux.keys("C-k")
    tmux.wait_for(lambda s: "HALTED" in s, "the kill switch to end HALTED")
    tmux.keys("Escape")
    tmux.keys("q")
    assert exit_status(tmp_path / "rc-demo") == "0"
    assert latch_file(journal_file("ES", "sim")).exists()

    start(second_tmux, tmp_path / "rc-paper", "--paper", "--port", str(gateway_port))
    second_tmux.arm()  # HALTED would ask for a re-arm reason instead
    assert "HALTED" not in second_tmux.screen()
    assert not latch_file(journal_file("ES", "paper")).exists()
    second_tmux.keys("q")
    assert exit_status(tmp_path / "rc-paper") == "0"
