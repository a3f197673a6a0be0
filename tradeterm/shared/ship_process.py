"""Journal shipping in a process of its own: nothing in the order path shares an interpreter
(its GIL) with the network, psycopg or the rows' JSON.

The trading process starts ``python -m tradeterm.shared.ship_process`` (:class:`ShippingProcess`),
niced, in a session of its own (a Ctrl-C at the terminal is the trading process's to handle),
and writes it one line on its stdin: what to ship and where (the URL travels there, never on a
command line others can read). The child runs a :class:`~tradeterm.shared.shipper.Shipper` on
the journal file, read-only, and writes back one JSON line a few times a second: its lag
(``{"lag": ...}``) and what it logs (``{"log": [level, text]}``), which the trading process
logs through its own log file and filter. The child's stdin is its lifeline: at EOF (the
trading process stopped, or was killed with -9) it ships what is left, if the database is
there, and ends. A child that dies is started again with a doubling backoff; what it had not
shipped it ships then, from the high-water mark PostgreSQL holds (exactly once either way).

In the trading process a thread reads those lines (a few a second): the lag the status bar and
``tradeterm status`` show is the last one reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from tradeterm.config import Settings
from tradeterm.shared.shipper import Identity, Lag, Shipper
from tradeterm.shared.target import Target, instance_name

log = logging.getLogger(__name__)

REPORT_S = 0.25  # how often the child reports its lag
NICE = 10  # the child yields the CPU to the trading process
_FINISH_S = 10.0  # how long a stop waits for the child to ship what is left


class ShippingProcess:
    """The trading process's side: starts the child, keeps its last lag, stops it."""

    @classmethod
    def started(cls, settings: Settings, journal: Path) -> ShippingProcess | None:
        """Shipping ``journal`` as ``settings`` ask (``[shared]``), started; None without a
        ``shared.url``. The log filter learns the secrets before anything connects."""
        if settings.shared.url is None:
            return None
        shared = settings.shared
        process = cls(cls.spec_of(settings, journal), retry_min_s=shared.retry_min_s,
                      retry_max_s=shared.retry_max_s)  # fmt: skip
        process.start()
        return process

    @staticmethod
    def spec_of(settings: Settings, journal: Path) -> dict[str, Any]:
        """What the child is told (``shared.url`` set): its target's secrets are hidden from
        the log from now on."""
        shared = settings.shared
        target = Target.of(shared)
        assert target is not None
        target.hide()
        return {
            "journal": str(journal),
            "url": target.url,
            "password_file": str(target.password_file) if target.password_file else None,
            "connect_timeout_s": target.connect_timeout_s,
            "identity": [instance_name(settings), socket.gethostname(), settings.symbol,
                         settings.mode],
            "batch_size": shared.batch_size,
            "retry_min_s": shared.retry_min_s,
            "retry_max_s": shared.retry_max_s,
        }  # fmt: skip

    def __init__(self, spec: dict[str, Any], *, retry_min_s: float = 0.5,
                 retry_max_s: float = 30.0) -> None:  # fmt: skip
        self.spec = spec
        self.retry_min_s, self.retry_max_s = retry_min_s, retry_max_s
        self.pid: int | None = None  # the child's, while it runs
        self.starts = 0  # children started so far
        self._lag = Lag(None, None, False, "not connected yet")  # unknown until reported
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="journal-shipper", daemon=True)

    def lag(self) -> Lag:
        """The shipping's lag as the child last reported it."""
        return self._lag

    @property
    def connected(self) -> bool:
        return self._lag.connected

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = _FINISH_S) -> None:
        """Stop shipping: the child ships what is left (database up, within ``timeout_s``)
        and ends; what it could not ship stays in the journal for the next run."""
        self._stopping.set()
        with self._lock:
            proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()  # its EOF: finish and end
        self._thread.join(timeout_s)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(5)
        self._thread.join(5)

    # ---- the watcher thread ------------------------------------------------------------------

    def _watch(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            began = time.monotonic()
            code = self._run_child()
            if self._stopping.is_set():
                break
            problem = f"the shipping process ended (exit status {code})"
            log.warning("journal shipping: %s; starting it again", problem)
            self._lag = Lag(self._lag.rows, self._lag.seconds, False, problem)
            attempt = 0 if time.monotonic() - began > self.retry_max_s else attempt + 1
            delay = min(self.retry_max_s, self.retry_min_s * 2 ** min(attempt, 32))
            self._stopping.wait(delay)

    def _run_child(self) -> int | None:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tradeterm.shared.ship_process"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )  # fmt: skip
        except OSError as exc:
            log.warning("journal shipping: cannot start its process: %s", exc)
            return None
        with self._lock:
            self._proc, self.pid = proc, proc.pid
            self.starts += 1
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(self.spec).encode() + b"\n")
            proc.stdin.flush()
        except OSError:
            pass  # it died at once: its output says why
        if self._stopping.is_set():  # stopped while it started: its EOF now
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for line in proc.stdout:
            self._take(line)
        code = proc.wait()
        with self._lock:
            self._proc, self.pid = None, None
        return code

    def _take(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if isinstance(message, dict) and isinstance(message.get("lag"), dict):
            lag = message["lag"]
            rows, seconds = lag["rows_behind"], lag["seconds_behind"]
            self._lag = Lag(None if rows is None else int(rows),
                            None if seconds is None else float(seconds),
                            bool(lag["connected"]), lag["problem"])  # fmt: skip
        elif isinstance(message, dict) and isinstance(message.get("log"), list):
            level, text = message["log"]
            log.log(int(level), "journal shipping: %s", text)
        elif text := line.decode(errors="replace").rstrip():  # what it printed (a traceback)
            log.warning("journal shipping process: %s", text)


# ---- the child -------------------------------------------------------------------------------


class _Reporter(logging.Handler):
    """The child's stdout: its lag and its log records, one JSON line each. Once the pipe is
    gone (the trading process killed with -9) nobody reads it: reporting stops, and the
    shipping goes on to ship what is left."""

    def __init__(self, out: IO[str]) -> None:
        super().__init__(logging.INFO)
        self.out = out
        self.gone = False  # the reader's end is closed
        self.writing = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        with self.writing:
            if self.gone:
                return
            try:
                self.out.write(json.dumps(message) + "\n")
                self.out.flush()
            except (OSError, ValueError):  # BrokenPipeError; ValueError: closed
                self.gone = True

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.send({"log": [record.levelno, record.getMessage()]})


def _shipper(spec: dict[str, Any]) -> Shipper:
    password_file = Path(spec["password_file"]) if spec.get("password_file") else None
    target = Target(spec["url"], password_file, float(spec["connect_timeout_s"]))
    return Shipper(Path(spec["journal"]), target, Identity(*spec["identity"]),
                   batch_size=int(spec["batch_size"]), retry_min_s=float(spec["retry_min_s"]),
                   retry_max_s=float(spec["retry_max_s"]))  # fmt: skip


async def _child(shipper: Shipper, reporter: _Reporter) -> None:
    loop = asyncio.get_running_loop()

    def lifeline() -> None:  # the trading process's end (or its kill -9): EOF on stdin
        sys.stdin.buffer.read()
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(shipper.finish)

    threading.Thread(target=lifeline, daemon=True).start()
    shipping = asyncio.create_task(shipper.run())
    while not shipping.done():
        reporter.send({"lag": shipper.lag().as_status()})
        await asyncio.wait({shipping}, timeout=REPORT_S)
    reporter.send({"lag": shipper.lag().as_status()})
    await shipping


def main() -> None:
    """The child: one spec line on stdin, then ship until stdin ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(NICE)
    reporter = _Reporter(sys.stdout)
    root = logging.getLogger()
    root.addHandler(reporter)
    root.setLevel(logging.INFO)
    spec = json.loads(sys.stdin.buffer.readline())
    asyncio.run(_child(_shipper(spec), reporter))
    if reporter.gone:  # no flush of a dead pipe at exit (its error would end the status 120)
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    main()
