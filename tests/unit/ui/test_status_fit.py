"""The status bar in the width it has: the essential items (mode, market, connection, armed,
what is being moved, the clock or the replay's speed) are kept whatever the width; the others
are shortened, then dropped (``status._fit``)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from rich.cells import cell_len

from tests.support.instruments import ES
from tradeterm.broker.port import ConnectionState
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.events import EngineSnapshot, HealthChanged
from tradeterm.engine.marketdata import MarketState
from tradeterm.engine.staleness import Feed
from tradeterm.shared.shipper import Lag
from tradeterm.ui.trainer import ReplayState
from tradeterm.ui.widgets.status import WIDE, duration, status_text

NOW = 1_795_190_400 * NS  # 2026-11-20 10:00 CT
STALE = (Feed.QUOTES, Feed.DEPTH, Feed.TRADES, Feed.BARS)


def degraded() -> EngineSnapshot:
    health = HealthChanged(ConnectionState.DEGRADED, "stale", STALE, NOW,
                           cause="stale " + "+".join(STALE))  # fmt: skip
    market = replace(MarketState(ES).snapshot(), ts_ns=NOW - 11_600_000_000)
    return EngineSnapshot(ES, health, market, (), None, (), (), None, "DU1234567", 7,
                          calendar=CME)  # fmt: skip


def bar(width: int, *, replay: bool) -> str:
    return status_text(
        mode="replay" if replay else "sim", symbol="ES", snap=degraded(), armed=True,
        confirmed=True, qty=2, now_ns=NOW, session="break in 6h00m", wide=width >= WIDE,
        replay=ReplayState(NOW, 10.0, False) if replay else None, exits="scalp",
        carrying="BUY 1L 6000.25", shipping=Lag(12, 1.3, True, None), width=width,
    ).plain  # fmt: skip


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("replay", [False, True])
def test_the_essentials_stay_in_every_width(width: int, replay: bool) -> None:
    text = bar(width, replay=replay)
    assert cell_len(text) <= width, text
    for item in ("ESZ6", "IB DEGRADED", " ARMED ", "MOVING"):
        assert item in text, (item, text)
    assert ("10:00:00 CT x10" if replay else "10:00:00 CT") in text, text
    assert (" REPLAY " if replay else " SIM ") in text


def test_the_rest_is_said_shorter_then_dropped() -> None:
    wide = bar(200, replay=False)
    for item in ("stale quotes+depth+trades+bars", "age 11.6s", "acct DU1234567",
                 "DB lag 12/1.3s", "MOVING BUY 1L 6000.25", "qty 2", "ATM scalp"):  # fmt: skip
        assert item in wide, (item, wide)
    at120 = bar(120, replay=False)
    assert "stale 4 feeds age 12s DB lag " in at120 and "acct" not in at120, at120
    assert "MOVING BUY 1L 6000.25" in at120 and "ATM scalp" in at120, at120
    at80 = bar(80, replay=True)
    assert "MOVING " in at80 and "6000.25" not in at80 and "qty 2" in at80, at80
    assert "age" not in at80 and "DB" not in at80 and "ATM" not in at80, at80


def test_one_stale_feed_is_named_in_full() -> None:
    health = HealthChanged(ConnectionState.DEGRADED, "stale", (Feed.DEPTH,), NOW,
                           cause="stale depth")  # fmt: skip
    snap = replace(degraded(), health=health)
    text = status_text(mode="sim", symbol="ES", snap=snap, armed=False, confirmed=True, qty=1,
                       now_ns=NOW, session=None, wide=False, width=80).plain  # fmt: skip
    assert "IB DEGRADED stale depth" in text, text


@pytest.mark.parametrize(("replay", "age"), [(None, "age 0.4s"),
                                              (ReplayState(NOW, 10.0, False), "age 4.0s"),
                                              (ReplayState(NOW, math.inf, False), "age 0.4s wall"),
                                              (ReplayState(NOW, 0.0, False), "age 0.4s wall")])  # fmt: skip
def test_the_age_is_never_fresher_than_the_ladder_shows(replay: ReplayState | None,
                                                        age: str) -> None:  # fmt: skip
    """Rows the ladder's byte budget held back 0.4 s (wall) show data that old: in a replay at
    x10 that is 4 s of the market's time, the clock the age is counted on; at max speed (inf,
    or 0 as ``--speed max`` parses) a wall second is no market time: the age is the wall's."""
    snap = replace(degraded(), market=replace(degraded().market, ts_ns=NOW))  # type: ignore[type-var]
    text = status_text(mode="sim", symbol="ES", snap=snap, armed=False, confirmed=True, qty=1,
                       now_ns=NOW, session=None, wide=True, replay=replay,
                       shown_lag_s=0.4).plain  # fmt: skip
    assert age in text, text


def test_at_max_speed_an_old_market_age_is_painted_not_raised() -> None:
    """A replay at max speed whose market is minutes old (a quiet file) paints its age on the
    market's clock when nothing is held back; a duration that is no number reads ``?``."""
    text = status_text(mode="replay", symbol="ES", snap=degraded(), armed=False,
                       confirmed=True, qty=1, now_ns=NOW + 600 * NS, session=None, wide=True,
                       replay=ReplayState(NOW + 600 * NS, math.inf, False)).plain  # fmt: skip
    assert "age 10m11s" in text and "max" in text, text
    assert duration(math.inf) == duration(math.nan) == duration(-math.inf) == "?"
    assert duration(3725) == "1h02m"
