"""The screen's terminal may go away: tmux killed, an SSH session dropped. Then every write to
it fails (EIO), reads see the end of input, and SIGHUP comes, but only if the terminal's
session leader (the shell) passes it on: a shell that ignores SIGHUP does not.

Textual's Linux driver is not made for that: its output thread dies on the first failed write,
and once its queue of 30 writes is full the next paint blocks the app for ever (the process
then never exits and keeps the journal locked). :class:`HangupSafeDriver` drops output to a
terminal that is gone and raises SIGHUP itself the first time a write (or a read) fails, so
the app always gets the orderly stop it makes of SIGHUP (``TradingApp.stop_on_signal``).
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

from textual.drivers.linux_driver import LinuxDriver

log = logging.getLogger(__name__)


class TerminalOutput:
    """Textual's output file (the terminal): writes after the terminal is gone are dropped."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self.gone = False

    def _lost(self, exc: OSError) -> None:
        if not self.gone:
            self.gone = True
            log.warning("the terminal is gone (%s): screen output is dropped", exc)
            hang_up()

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._file.write(text)
            except OSError as exc:
                self._lost(exc)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._file.flush()
            except OSError as exc:
                self._lost(exc)

    def fileno(self) -> int:
        return self._file.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class HangupSafeDriver(LinuxDriver):
    """Textual's Linux driver with :class:`TerminalOutput` as its output, and a terminal that
    cannot be read any more raising SIGHUP instead of crashing the app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the file Textual's writer thread writes to (a private attribute of LinuxDriver)
        self._file = TerminalOutput(self._file)  # type: ignore[assignment]

    def run_input_thread(self) -> None:
        try:
            super().run_input_thread()
        except OSError as exc:
            log.warning("the terminal cannot be read (%s)", exc)
            hang_up()


def hang_up() -> None:
    """The terminal is gone: SIGHUP, as the kernel sends it (the app stops in order on it)."""
    os.kill(os.getpid(), signal.SIGHUP)
