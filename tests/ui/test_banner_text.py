"""The ladder's banner, the first that holds (connection, closed, stale), as pure text; and
the muted book colour in every built-in theme."""

from __future__ import annotations

import pytest

from tests.ui.test_banners import BREAK, SATURDAY, WEDNESDAY
from tradeterm.broker.port import ConnectionState
from tradeterm.engine.calendar import CME
from tradeterm.engine.events import EngineSnapshot, HealthChanged
from tradeterm.engine.staleness import Feed
from tradeterm.ui.banners import book_banner
from tradeterm.ui.themes import load_themes


def snapshot(health: HealthChanged, ages: tuple[tuple[Feed, float], ...] = ()) -> EngineSnapshot:
    return EngineSnapshot(
        None, health, None, (), None, (), (), None, None, None, calendar=CME, feed_ages=ages
    )


@pytest.mark.parametrize(
    ("health", "now", "retry", "text"),
    [
        (HealthChanged(ConnectionState.OK, "", (), 0), WEDNESDAY, None, None),
        (HealthChanged(ConnectionState.OK, "", (), 0), SATURDAY, None, "CLOSED, opens Sun 17:00 CT"),
        # the connection first: down at the weekend says DISCONNECTED
        (HealthChanged(ConnectionState.RECONNECTING, "", (), 0, 4.0), SATURDAY, 3.6,
         "DISCONNECTED, retry in 4 s"),
        (HealthChanged(ConnectionState.RECONNECTING, "", (), 0, 4.0), WEDNESDAY, 0.2, "RECONNECTING"),
        (HealthChanged(ConnectionState.CONNECTING, "", (), 0), WEDNESDAY, None, "RECONNECTING"),
        (HealthChanged(ConnectionState.DISCONNECTED, "", (), 0), WEDNESDAY, None, "DISCONNECTED"),
        # closed first: a feed silent in the daily break is no news
        (HealthChanged(ConnectionState.DEGRADED, "", (Feed.DEPTH,), 0), BREAK, None,
         "CLOSED, opens 17:00 CT"),
        (HealthChanged(ConnectionState.DEGRADED, "", (Feed.DEPTH,), 0), WEDNESDAY, None,
         "STALE depth 7.2 s"),
        # a silent trade feed is not the book's
        (HealthChanged(ConnectionState.DEGRADED, "", (Feed.TRADES,), 0), WEDNESDAY, None, None),
        (HealthChanged(ConnectionState.DEGRADED, "", (), 0, None, "", "exchange link down"),
         WEDNESDAY, None, "STALE quotes+depth 7.2 s, exchange link down"),
    ],
)  # fmt: skip
def test_one_banner_the_first_that_holds(
    health: HealthChanged, now: int, retry: float | None, text: str | None
) -> None:
    ages = ((Feed.QUOTES, 1.5), (Feed.DEPTH, 7.2), (Feed.TRADES, 40.0))
    shown = book_banner(snapshot(health, ages), now, retry)
    assert (shown.text if shown is not None else None) == text
    assert shown is None or shown.alarm == (not text.startswith("CLOSED"))  # type: ignore[union-attr]


def test_every_builtin_theme_has_the_muted_book_colour() -> None:
    themes = load_themes()
    assert {"dark", "light", "high-contrast", "colorblind"} <= set(themes)
    assert all(theme.variables.get("ladder-muted") for theme in themes.values())


def test_a_narrow_ladder_gets_the_stale_banner_without_the_feed_names() -> None:
    """The banner is one row across the ladder: where the full text does not fit, the age and
    the reason are kept and the feeds' names left out (never a reason cut mid-word)."""
    health = HealthChanged(ConnectionState.DEGRADED, "", (Feed.QUOTES, Feed.DEPTH), 0,
                           market_data_down="data farm down")  # fmt: skip
    banner = book_banner(snapshot(health, ((Feed.QUOTES, 7.2), (Feed.DEPTH, 7.2))), WEDNESDAY, None)
    assert banner is not None
    assert banner.fitting(60) == "STALE quotes+depth 7.2 s, data farm down"
    assert banner.fitting(30) == "STALE 7.2 s, data farm down"
    closed = book_banner(snapshot(HealthChanged(ConnectionState.OK, "", (), 0)), SATURDAY, None)
    assert closed is not None and closed.fitting(20) == closed.text  # nothing shorter to say
