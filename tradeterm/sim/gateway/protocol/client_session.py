"""One API connection of the fake gateway: version, client id, outbound queue,
subscriptions and the tasks working for it. See :mod:`server` for how handlers use it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from tradeterm.sim.gateway.protocol import encode
from tradeterm.sim.gateway.protocol.request_types import Request
from tradeterm.sim.gateway.protocol.wire import Handshake, encode_frame

log = logging.getLogger(__name__)

VALIDATION_ERROR = 321


@dataclass(slots=True)
class Subscription:
    """Something a client asked to keep receiving. ``task`` (if any) is cancelled when
    the subscription ends or the session closes."""

    kind: str
    key: int | str
    request: object
    task: asyncio.Task[Any] | None = None


class ClientSession:
    """One API connection: negotiated version, client id, outbound queue, subscriptions."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.version = 0
        self.handshake: Handshake | None = None
        self.client_id: int | None = None
        self.started = False
        self.market_data_type = 1
        self.auto_open_orders = False
        self.subscriptions: dict[tuple[str, int | str], Subscription] = {}
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._writer = writer
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._writer_task = asyncio.create_task(self._write_loop(), name=f"tws-write-{self.peer}")

    def __repr__(self) -> str:
        return f"<ClientSession {self.peer} clientId={self.client_id} v{self.version}>"

    # -------------------------------------------------------------------- sending

    @property
    def closed(self) -> bool:
        return self._closing

    def send(self, fields: Sequence[object]) -> None:
        """Queue one message (its fields; ints/floats/bools/None are encoded here)."""
        if not self._closing:
            self._queue.put_nowait(encode_frame(fields))

    def send_raw(self, data: bytes) -> None:
        if not self._closing:
            self._queue.put_nowait(data)

    def send_error(self, error_id: int, code: int, message: str, advanced: str = "") -> None:
        """Error/warning/info message (4) in this session's version layout."""
        self.send(encode.error(self.version, error_id, code, message, advanced))

    def send_validation_error(self, request: Request, cause: str) -> None:
        """Error 321 about ``request``, worded like TWS."""
        self.send_error(
            request.error_id,
            VALIDATION_ERROR,
            f"Error validating request.-'{request.name}' : cause - {cause}",
        )

    # -------------------------------------------------------------- subscriptions

    def subscribe(
        self, kind: str, key: int | str, request: object, task: asyncio.Task[Any] | None = None
    ) -> Subscription:
        """Record (or replace) a subscription; a replaced one's task is cancelled."""
        self.unsubscribe(kind, key)
        sub = Subscription(kind, key, request, task)
        self.subscriptions[(kind, key)] = sub
        return sub

    def unsubscribe(self, kind: str, key: int | str) -> Subscription | None:
        sub = self.subscriptions.pop((kind, key), None)
        if sub is not None and sub.task is not None:
            sub.task.cancel()
        return sub

    def subscription(self, kind: str, key: int | str) -> Subscription | None:
        return self.subscriptions.get((kind, key))

    def subscriptions_of(self, kind: str) -> list[Subscription]:
        return [s for (k, _), s in self.subscriptions.items() if k == kind]

    # ---------------------------------------------------------------- lifecycle

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``coro`` for this session; it is cancelled when the session closes and its
        exceptions are logged."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%r: task %s failed", self, task.get_name(), exc_info=task.exception())

    def close(self) -> None:
        """Send what is queued, then close the connection."""
        if not self._closing:
            self._closing = True
            self._queue.put_nowait(None)

    async def _write_loop(self) -> None:
        writer = self._writer
        try:
            while (item := await self._queue.get()) is not None:
                writer.write(item)
                while not self._queue.empty() and (item := self._queue.get_nowait()):
                    if writer.transport.is_closing():  # the client has gone (drain says so)
                        break
                    writer.write(item)
                if item is None:
                    break
                await writer.drain()
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._closing = True
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def shutdown(self) -> None:
        """Close, cancel every task of this session and wait for them (used by the server)."""
        self.close()
        for sub in self.subscriptions.values():
            if sub.task is not None:
                sub.task.cancel()
        tasks = [*self._tasks, self._writer_task]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
