"""The send queue of the IB adapter: two lanes in front of ib_async's message pacing, so the
kill switch's messages go ahead of a burst of ordinary ones and the orders still queued can be
dropped before they are sent.

ib_async 2.1.0 paces what it sends (``Client.sendMsg``: at most ``MaxRequests`` = 45 messages
per ``RequestsInterval`` = 1 s; IB allows about 50) and queues the rest, first in first out.
A kill switch pressed right after a burst of order messages waited behind them, and the
orders still queued went out after it had started. :class:`SendLanes` takes that queue over,
in this one place: it replaces ``sendMsg`` on the one client instance (ib_async's
``Client.send`` hands it every encoded request; nothing else of ib_async is changed) and
passes a message on to ib_async's own ``sendMsg`` only when the rate allows, so ib_async's
queue stays empty and its pacing is a backstop that never engages
(``tests/unit/broker/test_ib_lanes.py`` pins that behaviour of ib_async).

* One budget, two lanes: at most ``MaxRequests`` messages in any ``RequestsInterval``.
  Urgent messages (sent inside :meth:`SendLanes.priority`) always go first; ordinary ones may
  use only ``MaxRequests - URGENT_RESERVE`` of the window, so a burst never leaves the kill
  switch waiting for the window to slide.
* Messages about one order keep their order: an urgent message about an order takes that
  order's queued messages with it, ahead of itself (a cancel never overtakes its order).
* :meth:`SendLanes.drop_orders` drops the queued placeOrder messages (new orders and
  modifications), which then never reach IB. Cancels and every other request are never
  dropped.
* Each connection starts with empty lanes: what was queued for a connection that dropped is
  lost, as ib_async's own queue is when it resets.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

URGENT_RESERVE = 10
"""Messages of each pacing window that ordinary traffic leaves to urgent ones: a kill's cancels
of a bracket and a few orders, its flatten and its two reads."""
LATE_S = 0.001  # a paused lane wakes this much after its slot frees, rather than spin on it


class Kind(enum.Enum):
    """What a message does to an order."""

    NEW = "new"  # placeOrder of an order IB has not seen
    MODIFY = "modify"  # placeOrder of an order already sent
    CANCEL = "cancel"


class PacedClient(Protocol):
    """What the lanes use of ib_async's ``Client``."""

    @property
    def MaxRequests(self) -> int: ...

    @property
    def RequestsInterval(self) -> float: ...

    def sendMsg(self, msg: Any) -> Any: ...  # a message, or None: send what is queued

    def isConnected(self) -> bool: ...


@dataclass(slots=True, frozen=True)
class _Message:
    text: str
    order_id: int | None = None
    kind: Kind | None = None


class SendLanes:
    """See the module notes. Built once per ``IB`` client, for its lifetime."""

    def __init__(self, client: PacedClient, *, reserve: int = URGENT_RESERVE) -> None:
        self._client = client
        self._reserve = reserve
        self._forward: Callable[[Any], Any] = client.sendMsg  # ib_async's pacing
        client.sendMsg = self._submit  # type: ignore[method-assign,assignment]  # the hook
        self._urgent_var = contextvars.ContextVar(f"urgent-{id(self)}", default=False)
        self._urgent: deque[_Message] = deque()
        self._ordinary: deque[_Message] = deque()
        self._sent: deque[float] = deque()  # when each message of the window was passed on
        self._about: tuple[int, Kind] | None = None
        self._wake: asyncio.TimerHandle | None = None

    # ---- what the adapter calls ---------------------------------------------------------

    @contextlib.contextmanager
    def priority(self) -> Iterator[None]:
        """Every message sent inside this block (by this task, and the tasks it starts) is
        urgent."""
        token = self._urgent_var.set(True)
        try:
            yield
        finally:
            self._urgent_var.reset(token)

    @contextlib.contextmanager
    def about(self, order_id: int, kind: Kind) -> Iterator[None]:
        """The messages sent inside this block (one ib_async call) are ``kind`` for
        ``order_id``."""
        self._about = (order_id, kind)
        try:
            yield
        finally:
            self._about = None

    def drop_orders(self) -> tuple[list[int], list[int]]:
        """Drop every queued placeOrder. Returns the ids of the new orders dropped (never
        sent), and of the orders whose modification was dropped (sent before, so at IB with
        their old values), each once, in queue order."""
        new: dict[int, None] = {}
        changed: dict[int, None] = {}
        for lane in (self._urgent, self._ordinary):
            kept = [m for m in lane if m.kind not in (Kind.NEW, Kind.MODIFY)]
            for m in lane:
                if m.order_id is not None and m.kind is Kind.NEW:
                    new[m.order_id] = None
                elif m.order_id is not None and m.kind is Kind.MODIFY:
                    changed[m.order_id] = None
            lane.clear()
            lane.extend(kept)
        return list(new), [i for i in changed if i not in new]

    def clear(self) -> None:
        """A new connection: nothing queued for the last one is sent on it."""
        if self._urgent or self._ordinary:
            log.warning("%d queued message(s) to IB dropped with the connection",
                        len(self._urgent) + len(self._ordinary))  # fmt: skip
        self._urgent.clear()
        self._ordinary.clear()
        self._sent.clear()
        if self._wake is not None:
            self._wake.cancel()
            self._wake = None

    @property
    def queued(self) -> int:
        """Messages waiting for their turn."""
        return len(self._urgent) + len(self._ordinary)

    # ---- the send path ------------------------------------------------------------------

    def _submit(self, text: str | None) -> None:
        """ib_async's ``sendMsg``, replaced: queue ``text`` in its lane and send what the
        rate allows."""
        if text is None:  # ib_async's timer for its own queue (kept empty): let it run
            self._forward(None)
            return
        order_id, kind = self._about or (None, None)
        message = _Message(text, order_id, kind)
        if self._urgent_var.get():
            if order_id is not None:  # the order's queued messages go first, in order
                own = [m for m in self._ordinary if m.order_id == order_id]
                if own:
                    rest = [m for m in self._ordinary if m.order_id != order_id]
                    self._ordinary.clear()
                    self._ordinary.extend(rest)
                    self._urgent.extend(own)
            self._urgent.append(message)
        else:
            self._ordinary.append(message)
        self._drain()

    def _drain(self) -> None:
        if self._wake is not None:  # woken, or something new came: the wake is recomputed
            self._wake.cancel()
            self._wake = None
        client = self._client
        if not client.isConnected():
            self.clear()
            return
        loop = asyncio.get_running_loop()
        limit, window = client.MaxRequests, client.RequestsInterval
        sent = self._sent
        while self._urgent or self._ordinary:
            now = loop.time()
            while sent and now - sent[0] > window:  # ib_async's own rule
                sent.popleft()
            lane = self._urgent or self._ordinary
            room = limit if lane is self._urgent else max(1, limit - self._reserve)
            if limit and len(sent) >= room:
                # the oldest sends must leave the window until one more fits
                self._wake = loop.call_at(sent[len(sent) - room] + window + LATE_S, self._drain)
                return
            self._forward(lane.popleft().text)
            # stamped after ib_async's own stamp: its window never holds more than this one
            sent.append(loop.time())
