"""The notifier of one instance: follows the engine's events, rings the bell and queues each
alert on every channel (see the package notes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from tradeterm.config import NotifyConfig
from tradeterm.notify.alerts import Alert, Watcher
from tradeterm.notify.channel import Channel, Message

if TYPE_CHECKING:
    from tradeterm.engine.engine import Engine
    from tradeterm.engine.stream import EventStream

log = logging.getLogger(__name__)

FLUSH_S = 3.0  # at close, how long queued messages may still take to go


class Notifier:
    """Notifications for ``market`` in ``mode`` as ``config`` asks. ``bell``: set by the
    front end (the screen's ``App.bell``, the console's ``\\a``), rung on every alert when
    ``config.bell``. Only :meth:`attach` starts anything; :meth:`close` ends it."""

    def __init__(self, config: NotifyConfig, market: str, mode: str) -> None:
        self.config = config
        self.prefix = f"{market} {mode.upper()}"
        self.bell: Callable[[], None] | None = None
        self.channels: list[Channel] = []
        self._events = frozenset(config.events)
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._watcher: Watcher | None = None

    @property
    def wanted(self) -> bool:
        """Whether anything would come of an alert: a channel, or the bell."""
        return bool(self.config.urls) or self.config.bell

    def attach(self, engine: Engine) -> asyncio.Task[None] | None:
        """Listen to ``engine`` now and notify in a task until its stream closes; None (and
        nothing started) when no channel is configured and the bell is off."""
        if not self.wanted:
            return None
        config = self.config
        if config.urls:
            self._executor = ThreadPoolExecutor(len(config.urls), thread_name_prefix="notify")
            self.channels = [
                Channel(url, queue_max=config.queue_max, retries=config.retries,
                        backoff_s=config.backoff_s, executor=self._executor)
                for url in config.urls
            ]  # fmt: skip
            for channel in self.channels:
                self._tasks.append(asyncio.create_task(channel.run(), name="notify-send"))
            log.info("notify: %s (%s)", ", ".join(c.name for c in self.channels),
                     ", ".join(config.events))  # fmt: skip
        self._watcher = Watcher(self.post, config.disconnect_after_s, lambda: engine.instrument)
        return asyncio.create_task(self.follow(engine.listen()), name="notify-follow")

    async def follow(self, stream: EventStream) -> None:
        assert self._watcher is not None
        async for event in stream:
            try:
                self._watcher.see(event)
            except Exception:  # a notifier bug must not stop the notifier
                log.exception("notify: cannot handle %r", event)

    def post(self, alert: Alert) -> None:
        """Ring the bell and queue ``alert`` on every channel, if its event is wanted."""
        if alert.event not in self._events:
            return
        if self.config.bell and self.bell is not None:
            try:
                self.bell()
            except Exception:
                log.exception("notify: the bell failed")
        message = Message(f"tradeterm {self.prefix}", f"{self.prefix}: {alert.text}", alert.level)
        for channel in self.channels:
            channel.put(message)

    async def close(self, flush_s: float = FLUSH_S) -> None:
        """Give what is queued ``flush_s`` seconds to go, then stop; what is left unsent is
        logged. The worker threads are not waited for (a hung request ends at apprise's own
        timeout)."""
        if self._watcher is not None:
            self._watcher.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_s):
                while not all(c.idle for c in self.channels):
                    await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for channel in self.channels:
            if channel.pending:
                log.warning("notify %s: %d message(s) not sent at the stop",
                            channel.name, channel.pending)  # fmt: skip
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
