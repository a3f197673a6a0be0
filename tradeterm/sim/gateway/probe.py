"""A latency probe for benchmarks: timestamps taken inside the fake gateway, on the wire.

* **Outgoing markers.** :meth:`WireProbe.arm` with a frame matcher (e.g.
  :func:`frame_with`); the next frame the gateway writes to a client socket that matches is
  stamped (``marks``) and the probe disarms. Every written frame is counted (``frames``).
* **Incoming orders.** Each placeOrder is stamped the moment it arrives decoded, before the
  order desk handles it (``orders``: ``(order id, ns)``); ``on_order`` is called too. Each
  cancelOrder likewise (``cancels``: ``(order id, ns)``; ``on_cancel``).

Stamps are ``time.monotonic_ns()``: CLOCK_MONOTONIC, system-wide on Linux, so stamps taken
in the gateway's process compare with stamps taken in a client's process.

Nothing of this runs unless :meth:`WireProbe.install` is called: the server then wraps each
new connection's writer (its ``wrap_writer`` hook) and the placeOrder and cancelOrder
handlers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from tradeterm.sim.gateway.protocol.request_types import CancelOrder, PlaceOrder

if TYPE_CHECKING:
    from tradeterm.sim.gateway.protocol.client_session import ClientSession
    from tradeterm.sim.gateway.protocol.server import GatewayServer

FrameMatcher = Callable[[bytes], bool]


def frame_with(msg_id: int, field: str) -> FrameMatcher:
    """A matcher of frames of message ``msg_id`` (e.g. 99, tick-by-tick) that carry a field
    exactly equal to ``field`` (e.g. a marker trade's size)."""
    head = f"{msg_id}\0".encode()
    needle = f"\0{field}\0".encode()

    def match(frame: bytes) -> bool:
        return frame.startswith(head, 4) and needle in frame

    return match


class WireProbe:
    """See the module notes. ``clock``: nanoseconds (default ``time.monotonic_ns``)."""

    def __init__(self, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.clock = clock
        self.frames = 0  # frames written to clients since install
        self.marks: list[int] = []  # when each armed marker frame was written
        self.orders: list[tuple[int, int]] = []  # (order id, when its placeOrder arrived)
        self.what_ifs: list[tuple[int, int]] = []  # placeOrder with whatIf=1: places nothing
        self.on_order: Callable[[int, int], None] | None = None
        self.cancels: list[tuple[int, int]] = []  # (order id, when its cancelOrder arrived)
        self.on_cancel: Callable[[int, int], None] | None = None
        self._armed: FrameMatcher | None = None

    def install(self, server: GatewayServer) -> None:
        """Wrap the writers of connections made from now on, and the placeOrder and
        cancelOrder handlers (install after the order desk registered them)."""
        server.wrap_writer = self.wrap
        handler = server.handlers[PlaceOrder]

        async def stamped(session: ClientSession, request: PlaceOrder) -> None:
            now = self.clock()
            if request.whatIf:  # a margin question (the account panel's), not an order
                self.what_ifs.append((request.orderId, now))
            else:
                self.orders.append((request.orderId, now))
                if self.on_order is not None:
                    self.on_order(request.orderId, now)
            await handler(session, request)

        server.register(PlaceOrder, stamped)
        cancel_handler = server.handlers[CancelOrder]

        async def stamped_cancel(session: ClientSession, request: CancelOrder) -> None:
            now = self.clock()
            self.cancels.append((request.orderId, now))
            if self.on_cancel is not None:
                self.on_cancel(request.orderId, now)
            await cancel_handler(session, request)

        server.register(CancelOrder, stamped_cancel)

    def arm(self, match: FrameMatcher) -> None:
        """Stamp the next written frame that ``match`` accepts (one frame, then disarm)."""
        self._armed = match

    @property
    def armed(self) -> bool:
        return self._armed is not None

    def wrap(self, writer: asyncio.StreamWriter) -> asyncio.StreamWriter:
        return cast(asyncio.StreamWriter, _ProbeWriter(self, writer))

    def _written(self, data: bytes) -> None:
        self.frames += 1
        match = self._armed
        if match is not None and match(data):
            self.marks.append(self.clock())
            self._armed = None


class _ProbeWriter:
    """A StreamWriter that tells the probe about each write (one frame per write: that is how
    :class:`ClientSession` writes); everything else goes to the real writer."""

    def __init__(self, probe: WireProbe, writer: asyncio.StreamWriter) -> None:
        self._probe = probe
        self._writer = writer

    def write(self, data: bytes) -> None:
        self._probe._written(data)
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)
