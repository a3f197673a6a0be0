"""An instance's side of the shared control plane (``[shared] url``): it registers in the
shared database, beats there with its status (what ``tradeterm status`` says of it), LISTENs
for kill commands and runs its kill switch on each, writing its outcome back
(``plane_rows.py``: the tables and which commands an instance runs).

The control socket's server starts it (:class:`PlaneAgent`, ``ControlServer.serve``) and
stops it. It is never in the path of an order: nothing in the engine waits on it, and a
database that is down or slow never halts or slows trading by itself: a failure is logged
(once per outage), the link is tried again with a doubling backoff, and on its return the
instance registers again and runs every kill command written while it was away.

Two connections: one only LISTENs (``notifies``), the other beats and writes the outcomes, so
a kill in progress (up to its timeout) never delays a heartbeat. A kill's first answer is
written when the control socket would give it (the run's end, its timeout, or waiting for a
connection to IB that is down); a run not over by then writes its end when it comes, on
the link working then: an end the link dropped before it was written is kept and written
once the instance has registered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import psycopg

from tradeterm import logs
from tradeterm.config import SharedConfig
from tradeterm.control import plane_rows as rows
from tradeterm.control.protocol import Message
from tradeterm.shared.migrations import SchemaMismatch, check_version
from tradeterm.shared.target import SharedError, Target

log = logging.getLogger(__name__)

Failure = (psycopg.Error, OSError, TimeoutError, SharedError, SchemaMismatch)
T = TypeVar("T")


class Killable(Protocol):
    """The instance as the plane acts on it (``ControlServer``)."""

    def status(self) -> Message:
        """What ``tradeterm status`` says of it."""

    async def kill(self, reason: str, timeout_s: float, *, by: str) -> Message:
        """Press the kill switch; the control socket's answer to a kill request."""

    async def kill_end(self) -> Message:
        """The same answer once the kill switch's run is over."""


def flat_and_halted(reply: Message) -> bool:
    """What an outcome row's ``flat`` says: proved flat at the broker, trading HALTED."""
    kill = reply.get("kill") or {}
    status = reply.get("status") or {}
    return bool(kill.get("flat")) and status.get("trading_state") == "HALTED"


class PlaneAgent:
    """The instance ``me`` in the shared database at ``target`` (see the module notes)."""

    def __init__(self, target: Target, me: rows.Presence, instance: Killable, *,
                 retry_min_s: float, retry_max_s: float) -> None:  # fmt: skip
        self.target = target
        self.me = me
        self.instance = instance
        self.retry_min_s = retry_min_s
        self.retry_max_s = min(max(retry_max_s, retry_min_s), me.beat_s)
        self.up = False  # registered, the link working
        self.failures = 0  # links failed in a row
        self._task: asyncio.Task[None] | None = None
        self._writes: asyncio.Lock | None = None
        self._conn: rows.Conn | None = None  # the writing connection, while registered
        self._ends: dict[int, Message] = {}  # kill runs' ends not written yet, by command id
        self._follow_ups: set[asyncio.Task[None]] = set()

    @classmethod
    def configured(cls, config: SharedConfig, name: str, symbol: str, mode: str,
                   instance: Killable) -> PlaneAgent | None:  # fmt: skip
        """The agent ``config`` asks for; None without ``shared.url``."""
        target = Target.of(config)
        if target is None:
            return None
        me = rows.Presence(name, socket.gethostname(), symbol.upper(), mode, os.getpid(),
                           time.monotonic(), config.heartbeat_s)  # fmt: skip
        return cls(target, me, instance, retry_min_s=config.retry_min_s,
                   retry_max_s=config.retry_max_s)  # fmt: skip

    def start(self) -> None:
        self.target.hide()  # before anything connects: the password never reaches a log
        self._task = asyncio.create_task(self._run(), name="control-plane")

    async def close(self) -> None:
        """Stop, and say so in the database (best effort, briefly: never holds a stop up)."""
        for task in [self._task, *self._follow_ups]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = None
        if not self.up:
            return
        with contextlib.suppress(*Failure):
            async with asyncio.timeout(self.target.connect_timeout_s):
                async with await self.target.connect() as conn:
                    await rows.stopped(conn, self.me.name, self.instance.status())

    async def _run(self) -> None:
        while True:
            try:
                await self._session()
            except Failure as exc:
                if self.up or self.failures == 0:  # once per outage
                    log.warning("shared control plane at %s unreachable (%s): trading goes "
                                "on; tried again", self.target.shown, said(exc))  # fmt: skip
                self.up = False
            delay = min(self.retry_min_s * 2 ** min(self.failures, 20), self.retry_max_s)
            self.failures += 1
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """One link to the database: register, LISTEN, run what is pending, beat; returns
        only by raising (the link failed)."""
        timeout = self.target.connect_timeout_s
        async with await self.target.connect() as conn, await self.target.connect() as listen:
            await check_version(conn)
            await listen.execute(f"LISTEN {rows.COMMANDS}")  # before the pending are read
            self._writes = asyncio.Lock()
            await self._write(lambda: rows.beat(conn, self.me, self.instance.status()), timeout)
            self.up, self.failures, self._conn = True, 0, conn
            log.warning("shared control plane at %s: registered as %s", self.target.shown,
                        self.me.name)  # fmt: skip
            await self._write_ends()  # those the last link dropped
            worker = asyncio.create_task(self._commands(conn, listen), name="control-plane-kill")
            try:
                while True:
                    done, _ = await asyncio.wait({worker}, timeout=self.me.beat_s)
                    if done:
                        worker.result()  # raises what ended it
                    await self._write(
                        lambda: rows.beat(conn, self.me, self.instance.status()), timeout
                    )
            finally:
                self._conn = None
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError, *Failure):
                    await worker

    async def _commands(self, conn: rows.Conn, listen: rows.Conn) -> None:
        """Run the pending commands, then each one notified, in order."""
        while True:
            for command in await self._write(lambda: rows.pending(conn, self.me.name)):
                await self._kill(conn, command)
            # a notification only says "look"; one missed (while a kill ran) waits one beat
            async for _ in listen.notifies(timeout=self.me.beat_s, stop_after=1):
                pass

    async def _kill(self, conn: rows.Conn, command: rows.Command) -> None:
        by = f"tradeterm kill --all --shared, command {command.id} from {command.issued_by}"
        reply = await self.instance.kill(command.reason, command.timeout_s, by=by)
        await self._answer(conn, command.id, reply)
        if not (reply.get("kill") or {}).get("finished"):  # its end is written when it comes
            task = asyncio.create_task(self._end(command.id))
            self._follow_ups.add(task)
            task.add_done_callback(self._follow_ups.discard)

    async def _end(self, command_id: int) -> None:
        self._ends[command_id] = await self.instance.kill_end()
        await self._write_ends()

    async def _write_ends(self) -> None:
        """Write the kill runs' ends not written yet on the link working now (none: they
        wait for the next registration); one the link drops on stays for the next."""
        for command_id, reply in sorted(self._ends.items()):
            conn = self._conn
            if conn is None:
                return
            try:
                await self._answer(conn, command_id, reply)
            except Failure:
                return  # the link is down: written after registering again
            self._ends.pop(command_id, None)

    async def _answer(self, conn: rows.Conn, command_id: int, reply: Message) -> None:
        flat = flat_and_halted(reply)
        await self._write(lambda: rows.answer(conn, command_id, self.me.name, reply, flat=flat))
        log.warning("shared control plane: kill command %d answered: %s", command_id,
                    "flat and HALTED" if flat else "NOT FLAT")  # fmt: skip

    async def _write(self, write: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        """One database call at a time on the writing connection, within ``timeout`` (the
        link taken for down past it)."""
        assert self._writes is not None
        async with self._writes, asyncio.timeout(timeout or self.target.connect_timeout_s * 2):
            return await write()


def said(exc: BaseException) -> str:
    """An exception in one line, for the log or the terminal: its secrets blanked (libpq
    quotes a password it cannot parse)."""
    text = str(exc).strip().splitlines()
    return logs.redact(text[0]) if text else type(exc).__name__
