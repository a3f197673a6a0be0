"""The engine's event stream: one queue per listener (the screen, the console, the journal).

A slow listener never holds the engine up and never misses an order, fill or notice: market
and bar events coalesce while it is behind (the next paint shows the latest state anyway);
everything else is kept in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable

from tradeterm.engine.events import BarsChanged, EngineEvent, MarketChanged
from tradeterm.engine.marketdata import Changes


class EventStream:
    """One listener's queue. Market and bar events coalesce while the listener is behind;
    everything else is kept in order, never dropped."""

    def __init__(self, on_close: Callable[[EventStream], None]) -> None:
        self._items: deque[EngineEvent] = deque()
        self._wake = asyncio.Event()
        self._on_close = on_close
        self.closed = False

    def push(self, event: EngineEvent) -> None:
        items = self._items
        if items:
            last = items[-1]
            if isinstance(event, MarketChanged) and isinstance(last, MarketChanged):
                a, b = last.changes, event.changes
                items[-1] = MarketChanged(
                    Changes(a.kinds | b.kinds, a.rows | b.rows, a.all_rows or b.all_rows)
                )
                return
            if isinstance(event, BarsChanged) and isinstance(last, BarsChanged):
                items[-1] = BarsChanged(event.forming, last.closed + event.closed)
                return
        items.append(event)
        self._wake.set()

    def drain(self) -> list[EngineEvent]:
        """Everything queued, without waiting."""
        out = list(self._items)
        self._items.clear()
        return out

    def __aiter__(self) -> AsyncIterator[EngineEvent]:
        return self

    async def __anext__(self) -> EngineEvent:
        while not self._items:
            if self.closed:
                raise StopAsyncIteration
            self._wake.clear()
            await self._wake.wait()
        return self._items.popleft()

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self._on_close(self)
