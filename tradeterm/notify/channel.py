"""One apprise channel: a bounded queue of messages sent one at a time in a worker thread,
each retried with exponential backoff, then given up with a log line.

Nothing here can reach the engine: the notifier only ever calls :meth:`Channel.put`, which
never blocks (a full queue drops its oldest message, counted and logged). The URL is never
logged: the channel is named by its redacted form (``config.redacted_url``), and while a
channel is open :class:`LibraryRedact` blanks its URL's secret parts out of what apprise and the
HTTP library underneath log (a Discord webhook's token is in the path they log at DEBUG).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass

from tradeterm.config import redacted_url, url_secrets
from tradeterm.logs import Redact

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 300.0  # a retry waits at most this long
# where a channel's URL may be logged by the libraries sending it
LIBRARY_LOGGERS = ("apprise", "urllib3", "requests")


@dataclass(frozen=True, slots=True)
class Message:
    title: str
    body: str
    level: str  # apprise's NotifyType: info, success, warning, failure


class Channel:
    """A channel to one apprise ``url`` (see the module notes). ``sent``, ``dropped`` and
    ``given_up`` count messages; ``run`` is its task's body."""

    def __init__(
        self, url: str, *, queue_max: int, retries: int, backoff_s: float, executor: Executor
    ) -> None:
        import apprise  # only when notifications are configured (it takes a while)

        self.name = redacted_url(url)
        REDACT.hide(url_secrets(url))
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):  # config checked it: only a changed apprise gets here
            log.error("notify %s: apprise cannot send to this URL", self.name)
        self._queue: deque[Message] = deque()
        self._max = queue_max
        self._retries = retries
        self._backoff_s = backoff_s
        self._executor = executor
        self._wake = asyncio.Event()
        self._sending = False
        self.sent = self.dropped = self.given_up = 0

    @property
    def idle(self) -> bool:
        return not self._queue and not self._sending

    @property
    def pending(self) -> int:
        return len(self._queue) + self._sending

    def put(self, message: Message) -> None:
        """Queue ``message``, never blocking: when full, the oldest is dropped."""
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.dropped += 1
            log.warning("notify %s: queue full (%d), dropped the oldest message (%d so far)",
                        self.name, self._max, self.dropped)  # fmt: skip
        self._queue.append(message)
        self._wake.set()

    async def run(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            message = self._queue.popleft()
            self._sending = True
            try:
                await self._deliver(message)
            finally:
                self._sending = False

    async def _deliver(self, message: Message) -> None:
        loop = asyncio.get_running_loop()
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            why = await loop.run_in_executor(self._executor, self._send, message)
            if why is None:
                self.sent += 1
                return
            if attempt == attempts:
                break
            delay = min(self._backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S)
            log.warning("notify %s: not sent (%s), attempt %d of %d, next in %.1fs",
                        self.name, why, attempt, attempts, delay)  # fmt: skip
            await asyncio.sleep(delay)
        self.given_up += 1
        log.error("notify %s: gave up after %d attempts (%s): %s",
                  self.name, attempts, why, message.body)  # fmt: skip

    def _send(self, message: Message) -> str | None:
        """In a worker thread: None when sent, else why not (never an exception's text: a
        connection error names the URL)."""
        try:
            ok = self._apprise.notify(
                body=message.body, title=message.title, notify_type=message.level
            )
        except Exception as exc:
            return type(exc).__name__
        return None if ok else "the channel refused it or could not be reached"


class LibraryRedact(Redact):
    """:class:`~tradeterm.logs.Redact` on the loggers of the libraries a channel's URL goes
    through. One for the process (:data:`REDACT`): a secret once known stays hidden, even
    from a request still running in a thread after its notifier closed."""

    def hide(self, secrets: Iterable[str]) -> None:
        """From now on, blank ``secrets`` out of what the libraries log (see the module
        notes). Installed on each of their loggers by name: a logger's filter does not see
        its children's records."""
        super().hide(secrets)
        names = [name for name in logging.root.manager.loggerDict
                 if name.split(".")[0] in LIBRARY_LOGGERS]  # fmt: skip
        for name in {*names, *LIBRARY_LOGGERS}:
            logging.getLogger(name).addFilter(self)  # once: addFilter skips a known one


REDACT = LibraryRedact()
