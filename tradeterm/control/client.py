"""The side of ``tradeterm status`` and ``tradeterm kill``: find the running instances and ask
them, all at once.

:func:`instances` lists the sockets of the control directory, removing the stale ones (no
instance holds their lock: the process is gone). :func:`ask` sends one request to one of them
and returns its answer, or an :class:`Unreachable` saying why there is none (an instance that
holds its lock but does not answer is reported, never removed).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tradeterm.control.endpoint import peer_uid
from tradeterm.control.place import (
    clean_if_stale,
    control_dir,
    display,
    lock_pid,
)
from tradeterm.control.protocol import MAX_LINE, Message, ProtocolError, encode, read_message

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Instance:
    """A running instance's socket: ``name`` is ``<SYMBOL>.<mode>``."""

    name: str
    socket_path: Path

    @property
    def symbol(self) -> str:
        return self.name.partition(".")[0]

    @property
    def mode(self) -> str:
        return self.name.partition(".")[2]

    @property
    def lock_path(self) -> Path:
        return self.socket_path.with_suffix(".lock")

    def __str__(self) -> str:
        return display(self.name)


@dataclass(frozen=True, slots=True)
class Unreachable:
    """No answer from ``instance``: why."""

    instance: Instance
    why: str


def instances(directory: Path | None = None) -> list[Instance]:
    """The instances with a socket, by name; stale sockets are removed on the way (logged)."""
    where = directory if directory is not None else control_dir()
    found = []
    for path in sorted(where.glob("*.sock")):
        instance = Instance(path.name.removesuffix(".sock"), path)
        if clean_if_stale(instance.lock_path, path):
            log.info("removed the stale control socket %s (its instance is gone)", path)
            continue
        found.append(instance)
    return found


async def ask(instance: Instance, request: Message, timeout_s: float) -> Message | Unreachable:
    """``request``'s answer from ``instance`` within ``timeout_s`` (after connecting)."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(instance.socket_path, limit=MAX_LINE), CONNECT_TIMEOUT_S
        )
    except (ConnectionRefusedError, FileNotFoundError):
        if clean_if_stale(instance.lock_path, instance.socket_path):
            return Unreachable(instance, "gone (its stale socket was removed)")
        return Unreachable(instance, f"not answering yet (pid {_pid(instance)}: starting?)")
    except (OSError, TimeoutError) as exc:
        return Unreachable(instance, f"cannot connect: {exc or 'timed out'}")
    try:
        sock = writer.get_extra_info("socket")
        if peer_uid(sock) != os.getuid():  # never tell another user's process anything
            return Unreachable(instance, "its socket belongs to another user: not asked")
        writer.write(encode(request))
        await writer.drain()
        return await asyncio.wait_for(read_message(reader), timeout_s)
    except TimeoutError:
        return Unreachable(instance, f"no answer within {timeout_s:g} s (pid {_pid(instance)})")
    except (OSError, ProtocolError) as exc:
        return Unreachable(instance, f"no answer: {exc}")
    finally:
        writer.close()


async def ask_all(
    targets: Sequence[Instance], request: Message, timeout_s: float
) -> list[Message | Unreachable]:
    """``request`` to every one of ``targets`` at once; the answers in their order."""
    return list(await asyncio.gather(*(ask(i, request, timeout_s) for i in targets)))


def _pid(instance: Instance) -> str:
    pid = lock_pid(instance.lock_path)
    return str(pid) if pid is not None else "unknown"
