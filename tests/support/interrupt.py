"""Ctrl-C as a user presses it on a command run in a subprocess: once the command has shown
it reached a point (a marker file it writes), SIGINT, then its output."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

GUARD_S = 120  # a guard against a hang, not a timing


def interrupt_at(
    args: list[str],
    marker: Path,
    env: dict[str, str],
    *,
    after: Callable[[], object] = lambda: None,
) -> tuple[int, str, str]:
    """Run ``args``; once ``marker`` exists send SIGINT, call ``after`` (release what the
    command waits on), and return its exit status, stdout and stderr. Fails when the command
    ended before the marker appeared."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip
    try:
        guard = time.monotonic() + GUARD_S
        while not marker.exists() and proc.poll() is None and time.monotonic() < guard:
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        after()
        out, err = proc.communicate(timeout=GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, err
