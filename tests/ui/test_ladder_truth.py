"""The ladder never silently lags the engine's book: the painter's byte budget may hold far
rows back, never the touch; a stale flip repaints only the cells it greys; while far rows
are held back the status bar's data age is what the ladder shows. Paints are counted, never timed; the screen and the engine on a test clock."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.clock import Clock
from tests.ui.helpers import Market, gateway, ladder, make_app, ready, settle
from tradeterm.engine.calendar import CME
from tradeterm.sim.market_events import BookDelta, BookSide
from tradeterm.ui import painter as painter_module
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets import ladder as ladder_module
from tradeterm.ui.widgets.ladder import Ladder, Row
from tradeterm.ui.widgets.status import StatusPanel

from .test_banners import WEDNESDAY, banner


def shown_touch(lad: Ladder) -> tuple[int | None, int | None]:
    """The best bid and ask the ladder has painted (not the data it was handed)."""
    rows = [r for r in lad._rows.values() if isinstance(r, Row)]
    bid = next((r.price for r in rows if r.inside == -1), None)
    ask = next((r.price for r in rows if r.inside == 1), None)
    return bid, ask


def engine_touch(app: TradingApp) -> tuple[int | None, int | None]:
    market = app.engine.market if app.engine is not None else None
    quote = market.quote if market is not None else None
    return (quote.bid, quote.ask) if quote is not None else (None, None)


def push(market: Market, side: BookSide, price: int, size: int) -> None:
    market.feed.push(BookDelta(market.gateway.now_ns(), side, price, size), external=True)


def move_up(market: Market, ticks: int) -> tuple[int, int]:
    """The public book moves up ``ticks``: the asks it crosses leave, bids join above."""
    bid, ask = market.bid, market.ask
    for price in range(ask, ask + ticks):
        push(market, BookSide.ASK, price, 0)
    for price in range(bid + 1, bid + ticks + 1):
        push(market, BookSide.BID, price, 7)
    return bid + ticks, ask + ticks


def count_paints(app: TradingApp) -> list[int]:
    """A counter of the painter's cycles (every tick of its timer, painting or not)."""
    count = [0]
    paint = app.painter.paint

    def counted(*args: Any) -> None:
        count[0] += 1
        paint(*args)

    app.painter.paint = counted  # type: ignore[method-assign, assignment]
    return count


async def test_after_a_burst_and_a_stale_flip_the_touch_is_the_engines_within_two_paints() -> None:
    clock = Clock(WEDNESDAY)
    app = make_app(clock=clock, engine_clock=clock, calendar=CME)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        gateway(app).faults.stall(3600)  # the book goes stale (every row greys) ...
        clock.advance(7.2)
        await settle(pilot, app, lambda: "STALE" in banner(lad), "the STALE banner")
        gateway(app).faults.stall(0)  # ... and comes back: the flip off
        push(market, BookSide.BID, market.bid, 33)
        await settle(pilot, app, lambda: "STALE" not in banner(lad), "the banner gone")
        paints = count_paints(app)
        touch = move_up(market, 3)  # a burst: the market moves three ticks
        await settle(pilot, app, lambda: engine_touch(app) == touch, "the engine's new touch")
        seen = paints[0]
        await settle(pilot, app, lambda: shown_touch(lad) == touch, "the ladder's new touch")
        assert paints[0] - seen <= 2, f"the touch took {paints[0] - seen} paints"


async def test_a_stale_flip_repaints_only_the_cells_it_greys() -> None:
    clock = Clock(WEDNESDAY)
    app = make_app(clock=clock, engine_clock=clock, calendar=CME)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        lad = ladder(app)
        assert lad.data is not None
        gateway(app).faults.stall(3600)
        await pilot.pause(1.0)  # what came before the stall painted (held rows: by HOLD_S)
        sizes = sum(1 for p in [*lad.data.bids, *lad.data.asks] if lad.y_of(p) is not None)
        cells = lad.painted_cells  # counted from here: the flip's cells alone
        clock.advance(7.2)
        await settle(pilot, app, lambda: "STALE" in banner(lad), "the STALE banner")
        header = len(lad._layout)
        # the sizes (and a last trade's marks, if any) grey; the header carries the banner
        assert lad.painted_cells - cells <= sizes + 2 + header < lad.rows * len(lad._layout)


async def test_while_rows_are_held_back_the_status_age_is_the_ladders(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(painter_module, "LADDER_BYTES_WIDE", 1)  # no bytes for far rows
    monkeypatch.setattr(painter_module, "LADDER_BYTES_NARROW", 1)
    monkeypatch.setattr(ladder_module, "HOLD_S", 1e9, raising=False)  # held back for good
    app = make_app()  # the status bar's age: the engine's data keeps coming (at the touch)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        far = market.bid - 8
        y = lad.y_of(far)
        assert y is not None
        far_size = 77
        push(market, BookSide.BID, far, far_size)  # a far level changes: the budget holds it
        touch = move_up(market, 1)  # the touch moves: painted at once
        await settle(pilot, app, lambda: shown_touch(lad) == touch, "the ladder's touch")

        def status_age() -> float:
            found = re.search(r"age (\d+\.\d)s", app.screen.query_one(StatusPanel).shown)
            return float(found.group(1)) if found else 0.0

        for size in range(8, 200):  # fresh data at the touch every 0.1 s, far rows held
            if status_age() >= 1.0:
                break
            if not lad.holding:  # a health flip painted every row at once: hold it anew
                far_size += 1
                push(market, BookSide.BID, far, far_size)
            push(market, BookSide.BID, touch[0], size)
            await pilot.pause(0.1)
        assert status_age() >= 1.0, app.screen.query_one(StatusPanel).shown
        market_ts = app.engine.snapshot(tape=0).market.ts_ns  # type: ignore[union-attr]
        assert (app.clock() - market_ts) / 1e9 < 1.0  # the engine's own data is fresh
        row = lad._rows[y]
        assert isinstance(row, Row) and row.price == far and row.bid != far_size  # still held
