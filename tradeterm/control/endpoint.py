"""The instance's side of the control socket (see the package notes).

:meth:`ControlServer.claim_instance` takes the market and mode, and the market at the gateway
it trades through (refusing a second instance), :meth:`ControlServer.claim_account` the market
in the IB account once connected, and :meth:`ControlServer.serve` listens once the engine
exists; :meth:`ControlServer.close` stops
listening and removes the socket. Each connection carries one request; its peer's uid is read
from the kernel (``SO_PEERCRED``) and any other user than this one is refused, though the
directory (0700) and the socket (0600) already keep them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Callable
from typing import Any

from tradeterm.broker.port import CONNECTED
from tradeterm.config import SharedConfig
from tradeterm.control.place import (
    Claim,
    Held,
    Lock,
    MarketTaken,
    control_dir,
    gateway_key,
    instance_name,
    market_lock,
)
from tradeterm.control.plane import PlaneAgent
from tradeterm.control.protocol import (
    MAX_LINE,
    Message,
    ProtocolError,
    encode,
    kill_outcome,
    read_message,
    status_of,
)
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import HealthChanged, KillProgress
from tradeterm.engine.stream import EventStream
from tradeterm.engine.types import KillStep

log = logging.getLogger(__name__)

KILL_TIMEOUT_S = 30.0  # a kill request's wait for the run's end, unless it says


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (the kernel's)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class ControlServer:
    """The control socket of the instance trading ``symbol`` in ``mode``. ``peer_uid``:
    how a connection's uid is read (tests pass their own). With ``shared`` (``[shared]``
    with a ``url``, and this instance's name there) the instance also answers the shared
    control plane (``plane.py``) while it serves."""

    def __init__(
        self, symbol: str, mode: str, *, peer_uid: Callable[[socket.socket], int] = peer_uid,
        shared: tuple[SharedConfig, str] | None = None,
    ) -> None:  # fmt: skip
        self.symbol = symbol.upper()
        self.mode = mode
        self.peer_uid = peer_uid
        self.shared = shared  # [shared] and the instance's name there: the control plane
        self.plane: PlaneAgent | None = None
        self.claim: Claim | None = None
        self._markets: dict[str, Lock] = {}  # the market at its gateway and in its account
        self._server: asyncio.Server | None = None
        self._engine: Engine | None = None
        self._watch: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self.connection_since_ns: int | None = None
        self.shipping: Callable[[], Message] | None = None  # [shared]: the shipping's lag

    @property
    def path(self) -> os.PathLike[str] | None:
        return self.claim.socket_path if self.claim is not None else None

    def claim_instance(self, gateway: tuple[str, int] | None = None) -> None:
        """Take this market and mode and, with ``gateway`` (the host and port it trades
        through), the market at that gateway. Raises ``InstanceRunning`` (another instance has
        the market and mode), ``MarketTaken`` (another trades the market through that gateway)
        or ``ControlError`` (no safe directory)."""
        directory = control_dir()
        claim = Claim(directory, instance_name(self.symbol, self.mode))
        claim.acquire()
        self.claim = claim
        if gateway is not None:
            key = gateway_key(*gateway)
            try:
                self._hold(key, f"through {key}", "one instance per market per gateway")
            except BaseException:
                self.release()
                raise

    def claim_account(self, account: str) -> None:
        """Take this market in IB account ``account`` (once connected: the gateway said which).
        Raises ``MarketTaken`` when another instance trades the market in that account."""
        self._hold(account, f"in IB account {account}", "one instance per market per IB account")

    def _hold(self, key: str, where: str, rule: str) -> None:
        assert self.claim is not None, "claim_instance first"
        if key in self._markets:  # held already (connected again): ours
            return
        lock = market_lock(self.claim.lock_path.parent, self.symbol, key, self.claim.name)
        try:
            lock.acquire()
        except Held as held:
            raise MarketTaken(held.holder, held.pid, self.symbol, where, rule) from None
        self._markets[key] = lock

    def release(self) -> None:
        """Let go of every claim (the socket removed first); :meth:`close` does it too."""
        for lock in self._markets.values():
            lock.release()
        self._markets.clear()
        if self.claim is not None:
            self.claim.release()
            self.claim = None

    async def serve(self, engine: Engine) -> None:
        """Listen for ``tradeterm status`` and ``tradeterm kill`` on behalf of ``engine``."""
        assert self.claim is not None, "claim_instance first"
        self._engine = engine
        self.connection_since_ns = engine.clock()
        self._watch = asyncio.create_task(self._follow(engine), name="control-watch")
        path = self.claim.socket_path
        self._server = await asyncio.start_unix_server(self._accept, path=path, limit=MAX_LINE)
        os.chmod(path, 0o600)  # the directory is 0700 already: only the owner reaches it
        log.info("control socket %s", path)
        if self.shared is not None:
            config, name = self.shared
            self.plane = PlaneAgent.configured(config, name, self.symbol, self.mode, self)
            if self.plane is not None:
                self.plane.start()

    async def close(self) -> None:
        if self.plane is not None:
            await self.plane.close()
            self.plane = None
        if self._server is not None:
            self._server.close()
            for task in list(self._handlers):
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        self.release()

    async def _follow(self, engine: Engine) -> None:
        """When the connection last went up or down (``tradeterm status``'s "for how long")."""
        was_up = False
        async for event in engine.listen():
            if isinstance(event, HealthChanged):
                up = event.state in CONNECTED
                if up != was_up:
                    was_up, self.connection_since_ns = up, event.ts_ns

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            answer = await self._answer(reader, writer)
            writer.write(encode(answer))
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Message:
        sock = writer.get_extra_info("socket")
        try:
            uid = self.peer_uid(sock)
        except OSError as exc:
            return _error(f"cannot read the peer's credentials: {exc}")
        if uid != os.getuid():
            log.warning("control socket: refused a connection from uid %s", uid)
            return _error("refused: this instance answers only its own user")
        try:
            request = await asyncio.wait_for(read_message(reader), 10)
        except (ProtocolError, TimeoutError) as exc:
            return _error(f"bad request: {exc or 'none within 10 s'}")
        engine = self._engine
        assert engine is not None
        op = request.get("op")
        if op == "status":
            return self._status()
        if op == "kill":
            reason = request.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                return _error("a kill needs a reason")
            timeout = request.get("timeout_s", KILL_TIMEOUT_S)
            if not isinstance(timeout, (int, float)) or timeout <= 0:
                return _error("timeout_s must be a positive number")
            return await self.kill(reason, float(timeout), by="tradeterm kill")
        return _error(f"unknown request {op!r}")

    def status(self) -> Message:
        """What ``tradeterm status`` says of this instance."""
        assert self._engine is not None
        shipping = self.shipping() if self.shipping is not None else None
        return status_of(self._engine, self.symbol, self.mode, self.connection_since_ns, shipping)

    def _status(self) -> Message:
        return {"ok": True, "status": self.status()}

    async def kill_end(self) -> Message:
        """:meth:`kill`'s answer once the kill switch's run under way (or the last) is over."""
        assert self._engine is not None
        await self._engine.kill_switch.join()
        return self._kill_answer(self._engine)

    async def kill(self, reason: str, timeout_s: float, *, by: str) -> Message:
        """Press the kill switch (``by``: who asked, said in its reason) and wait for its end
        up to ``timeout_s``, or until it waits for a connection that is down (nothing can
        change before IB is back: the answer says so at once, never flat): a run not over by
        then goes on in the instance; the answer says where it stands (the control socket's
        answer to a kill request, the shared control plane's outcome row)."""
        engine = self._engine
        assert engine is not None, "serve first"
        log.warning("%s: kill switch requested: %s", by, reason)
        reason = f"{reason} ({by})"
        # before the engine has started (waiting for the gateway) the run halts at once and
        # waits, as it does for a connection that is down: answered at once, never flat
        events = engine.listen()  # before the request: its first steps are seen
        try:
            run = engine.kill_switch.request(reason)
            stuck = asyncio.create_task(_until_waiting_offline(engine, events))
            await asyncio.wait({run, stuck}, timeout=timeout_s,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            stuck.cancel()
        finally:
            events.close()
        return self._kill_answer(engine)

    def _kill_answer(self, engine: Engine) -> Message:
        answer = self._status()
        answer["kill"] = kill_outcome(engine.kill_switch.last, engine)
        return answer


async def _until_waiting_offline(engine: Engine, events: EventStream) -> None:
    """Until ``engine``'s kill switch waits for a connection that is down."""

    def waiting() -> bool:
        last = engine.kill_switch.last
        return (
            last is not None and last.step is KillStep.WAITING and not last.done
            and not engine.connected
        )  # fmt: skip

    if waiting():  # a run already waiting (pressed before): nothing new will be said
        return
    async for event in events:
        if isinstance(event, (KillProgress, HealthChanged)) and waiting():
            return


def _error(text: str) -> Message:
    return {"ok": False, "error": text}
