"""What the ladder says when its book cannot be trusted: a banner across it (the book's cells
grey out, own orders and the position keep showing).

One banner at a time, the first that holds: the connection down (``DISCONNECTED, retry in
4 s`` from the reconnect backoff, ``RECONNECTING`` while trying), the market closed by the
engine's session calendar (``CLOSED, opens 17:00 CT``: the daily break, weekends), the book
stale (``STALE depth 7.2 s``: which feeds and how old their data is, also at once when IB says
no market data comes, before the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradeterm.broker.port import ConnectionState
from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.staleness import Feed
from tradeterm.ui.widgets.status import session_text

BOOK = (Feed.QUOTES, Feed.DEPTH)  # the feeds the ladder's book is made of
RETRY_SHOWN_S = 0.5  # a retry closer than this is under way: RECONNECTING


@dataclass(frozen=True, slots=True)
class Banner:
    """The ladder's banner: ``alarm`` (the theme's stale colour) unless the market is merely
    closed."""

    text: str
    alarm: bool = True
    short: str = ""  # for a ladder too narrow for ``text`` (the feeds' names left out)

    def fitting(self, width: int) -> str:
        """The text to show across ``width`` columns (with a space either side)."""
        return self.text if len(self.text) + 2 <= width or not self.short else self.short


def book_banner(snap: EngineSnapshot, now_ns: int, retry_in_s: float | None) -> Banner | None:
    """The banner for the book in ``snap`` at ``now_ns`` (see the module notes), None when the
    book is live. ``retry_in_s``: seconds to the next reconnect attempt, when known."""
    health = snap.health
    state = health.state
    if state is ConnectionState.RECONNECTING and (retry_in_s or 0) >= RETRY_SHOWN_S:
        return Banner(f"DISCONNECTED, retry in {retry_in_s:.0f} s")
    if state in (ConnectionState.RECONNECTING, ConnectionState.CONNECTING):
        return Banner("RECONNECTING")
    if state is ConnectionState.DISCONNECTED:
        return Banner("DISCONNECTED")
    if not snap.calendar.is_open(now_ns):
        return Banner(session_text(snap.calendar, now_ns), alarm=False)
    stale = [f for f in health.stale if f in BOOK]
    if not stale and not health.market_data_down:
        return None
    feeds = stale or list(BOOK)
    ages = dict(snap.feed_ages)
    age = max((ages[f] for f in feeds if f in ages), default=None)
    aged = f" {age:.1f} s" if age is not None else ""
    why = f", {health.market_data_down}" if health.market_data_down else ""
    return Banner(f"STALE {'+'.join(feeds)}{aged}{why}", short=f"STALE{aged}{why}")
