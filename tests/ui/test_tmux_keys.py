"""The order keys at the cursor through a real terminal: ``[`` and ``{`` typed into tmux reach
the screen as the buy limit and buy stop keys (no pilot: the bytes go through tmux, the pty and
Textual's input parser)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ui.test_tmux import Tmux, exit_status, start_screen

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def term() -> Iterator[Tmux]:
    t = Tmux(f"tradeterm-keys-{uuid.uuid4().hex[:8]}")
    yield t
    t.run("kill-server")
    for pid in t.pids:  # the screen and its shell, should they outlive the server
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_bracket_keys_place_a_buy_limit_and_a_buy_stop_in_tmux(term: Tmux, tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    start_screen(term, rc)
    term.arm()
    term.keys("Q")  # the queue figures hidden: a one-lot's cell would show q104, not 1L
    assert "1L" not in term.screen() and "1S" not in term.screen()
    term.keys("Down", "Down", "Down", "[")  # a buy limit under the market
    term.wait_for(lambda s: "1L" in s, "the buy limit on the ladder")
    term.keys(*["Up"] * 8, "{")  # a buy stop above the market
    term.wait_for(lambda s: "1S" in s and "1L" in s, "the buy stop on the ladder")
    term.keys("c")  # cancel both: q then quits without asking
    term.wait_for(lambda s: "1S" not in s and "1L" not in s, "both cancelled")
    term.keys("q")
    assert exit_status(rc) == "0"
