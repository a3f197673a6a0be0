"""A stop signal is a quit: SIGTERM and SIGHUP (``kill``, tmux or an SSH session closing) end
an instance the same orderly way as quitting does (the console and the screen install it around
their run: the engine stopped, the journal closed, :mod:`tradeterm.runtime`'s block left).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def on_stop_signals(callback: Callable[[str], None]) -> Iterator[None]:
    """While inside, SIGTERM and SIGHUP (``kill``, tmux or an SSH session closing) call
    ``callback`` with the signal's name on the running loop instead of ending the process
    where it stands. Outside the main thread nothing is installed."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, callback, sig.name)
        except (ValueError, RuntimeError, NotImplementedError):
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
