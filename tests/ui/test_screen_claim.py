"""A second screen of a market already running is refused in one clean line: the claim is
checked before Textual takes the terminal over (no alternate screen, no mouse mode first)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tradeterm.control.endpoint import ControlServer

GUARD_S = 60.0  # only reached when something hangs


def on_a_terminal(*args: str) -> tuple[int, bytes]:
    """``tradeterm ARGS`` with a pseudo-terminal for its output (stdin /dev/null, as in the
    trial): its exit status and every byte it wrote to the terminal."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tradeterm.cli", *args],
                                stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)  # fmt: skip
    finally:
        os.close(slave)
    out = b""
    try:
        while chunk := os.read(master, 4096):
            out += chunk
    except OSError:  # EIO: the terminal's last writer has gone
        pass
    finally:
        os.close(master)
    return proc.wait(GUARD_S), out


def test_a_refused_screen_writes_one_line_and_no_escape_sequence() -> None:
    running = ControlServer("ES", "sim")
    running.claim_instance()  # ES SIM is running (this process)
    try:
        code, out = on_a_terminal("ES", "--sim")
    finally:
        running.release()
    assert (code, out) == (
        1,
        f"tradeterm: ES SIM is already running (pid {os.getpid()}): one instance per market "
        "and mode\r\n".encode(),
    )


def test_a_screen_refused_at_its_gateway_writes_one_line_too() -> None:
    running = ControlServer("ES", "sim")
    running.claim_instance(("127.0.0.1", 4002))  # ES SIM trades through 127.0.0.1:4002
    try:
        code, out = on_a_terminal("ES", "--paper", "--host", "localhost", "--port", "4002")
    finally:
        running.release()
    assert (code, out) == (
        1,
        f"tradeterm: ES SIM (pid {os.getpid()}) already trades ES through 127.0.0.1:4002: "
        "one instance per market per gateway\r\n".encode(),
    )
