"""The ladder says at a glance when its book cannot be trusted: a banner across it (STALE with
the feeds and their age, DISCONNECTED with the reconnect countdown, CLOSED with the next open)
and the book's cells greyed, while our orders and position keep showing. The screen and the
engine run on a test clock (a weekday in session, a weekend, the daily break), never the real
date."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re

import pytest
from rich.color import Color
from rich.style import Style

from tests.support.clock import Clock
from tests.support.waiting import until
from tests.ui.helpers import gateway, ladder, make_app, ready, settings, settle
from tradeterm.domain import OrderType, Side
from tradeterm.engine.calendar import CHICAGO, CME, NS
from tradeterm.engine.commands import PlaceOrder
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.ladder import Ladder


def ct(month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(dt.datetime(2026, month, day, hour, minute, tzinfo=CHICAGO).timestamp()) * NS


WEDNESDAY = ct(12, 9, 10)  # in session
SATURDAY = ct(12, 5, 12)  # the weekend
BREAK = ct(12, 9, 16, 30)  # the daily maintenance break


def banner(lad: Ladder) -> str:
    return lad.row_text(0).strip()


def bid_styles(lad: Ladder) -> list[Style]:
    """The styles of the bid sizes on screen (at least one; the cursor sets a background)."""
    assert lad.data is not None
    width = dict(lad._layout)["BID"]
    styles = [
        s.style
        for price in lad.data.bids
        if (y := lad.y_of(price)) is not None
        for s in lad.cell_strip("BID", width, y)
        if s.text.strip() and s.style is not None
    ]
    assert styles, "no bid on screen"
    return styles


def live(lad: Ladder) -> bool:
    """Every bid size painted as a live bid (the theme's bid text colour)."""
    bid = lad._style("bid")
    return all(s.color == bid.color for s in bid_styles(lad))


def greyed(lad: Ladder) -> bool:
    """Every bid size painted in the theme's muted colour, none as a live bid."""
    muted = lad.app.current_theme.variables.get("ladder-muted")
    bid = lad._style("bid")
    return muted is not None and all(
        s.color == Color.parse(muted) and s.bgcolor != bid.bgcolor for s in bid_styles(lad)
    )


async def resting_buy(app: TradingApp, price: int) -> None:
    """A limit of ours working at ``price`` (below the market), shown on the ladder."""
    inst, lad = app.instrument, ladder(app)
    assert inst is not None
    app.send(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=inst.to_price(price)), "buy")
    await until_label(lad, price, "1L")


async def until_label(lad: Ladder, price: int, label: str) -> None:
    await until(
        lambda: lad.data is not None and lad.data.buys.get(price) == label,
        f"{label} at {price} on the ladder",
    )


async def test_stale_book_says_which_feeds_and_how_old_and_greys_out() -> None:
    clock = Clock(WEDNESDAY)
    app = make_app(clock=clock, engine_clock=clock, calendar=CME)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        await resting_buy(app, market.bid - 4)
        assert "STALE" not in banner(lad) and live(lad)
        gateway(app).faults.stall(3600)  # market data stops (a resubscription brings none)
        clock.advance(7.2)  # nothing has come for 7.2 s: past the 5 s threshold
        await settle(pilot, app, lambda: "STALE" in banner(lad), "the STALE banner")
        await settle(pilot, app, lambda: banner(lad) == "STALE quotes+depth 7.2 s", "its age")
        assert greyed(lad)
        assert lad.data is not None and lad.data.buys[market.bid - 4] == "1L"  # still shown
        clock.advance(1.0)  # it ages on screen
        await settle(pilot, app, lambda: banner(lad) == "STALE quotes+depth 8.2 s", "older")


async def test_stale_at_once_when_ib_says_its_data_farm_is_down() -> None:
    clock = Clock(WEDNESDAY)
    app = make_app(clock=clock, engine_clock=clock, calendar=CME)
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        lad = ladder(app)
        outage = asyncio.create_task(gateway(app).faults.farm_outage(30))
        try:
            await settle(pilot, app, lambda: "STALE" in banner(lad), "the banner, at once")
            assert app.engine is not None and app.engine.health.stale == ()  # before any threshold
            assert banner(lad) == "STALE quotes+depth 0.0 s, data farm down"
            assert greyed(lad)
        finally:
            outage.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await outage


async def test_disconnected_counts_down_to_the_retry_and_keeps_orders_and_position() -> None:
    cfg = settings(**{"connection": {"reconnect_min_s": 4}})
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        app.send(PlaceOrder(Side.BUY, 1), "buy")  # long 1: the average and P&L on the ladder
        await settle(pilot, app, lambda: lad.data is not None and lad.data.position == 1, "long 1")
        await resting_buy(app, market.bid - 4)
        restart = asyncio.create_task(gateway(app).restart(3.0))  # IB Gateway restarts
        try:
            countdown = re.compile(r"DISCONNECTED, retry in (\d+) s")
            await settle(pilot, app, lambda: countdown.search(banner(lad)), "DISCONNECTED")
            first = int(countdown.search(banner(lad)).group(1))  # type: ignore[union-attr]
            assert greyed(lad)
            assert lad.data is not None and lad.data.buys[market.bid - 4] == "1L"
            assert lad.data.position == 1 and any(
                "◆" in lad.row_text(y) for y in range(1, lad.rows + 1)
            )  # fmt: skip
            await settle(
                pilot, app,
                lambda: (m := countdown.search(banner(lad))) is None or int(m.group(1)) < first,
                "the countdown",
            )  # fmt: skip
            status = app.screen_stack[1].query_one("#status")
            await settle(pilot, app, lambda: "IB OK" in status.shown, "reconnected")  # type: ignore[attr-defined]
            await settle(pilot, app, lambda: "DISCONNECTED" not in banner(lad), "no banner")
            await settle(pilot, app, lambda: live(lad), "the book live again")
        finally:
            await restart


@pytest.mark.parametrize(
    ("now", "text"),
    [(SATURDAY, "CLOSED, opens Sun 17:00 CT"), (BREAK, "CLOSED, opens 17:00 CT")],
    ids=["weekend", "daily-break"],
)
async def test_closed_says_when_it_opens(now: int, text: str) -> None:
    clock = Clock(now)
    app = make_app(clock=clock, engine_clock=clock, calendar=CME)
    async with app.run_test(size=(80, 24)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        await settle(pilot, app, lambda: banner(lad) == text, text)
        assert greyed(lad)
        await resting_buy(app, market.bid - 4)  # our orders keep showing
        assert banner(lad) == text


async def test_a_banner_survives_the_ladders_columns_changing_under_it() -> None:
    """trial21: with a banner across the ladder (CLOSED here; DISCONNECTED and STALE alike),
    a resize to 80x24 or `d` ended the screen in a traceback (`ValueError: 'LAST' is not in
    list`): a column being removed painted its banner cell against the new layout."""
    clock = Clock(SATURDAY)
    app = make_app(clock=clock, engine_clock=clock, calendar=CME)
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        lad = ladder(app)
        await settle(pilot, app, lambda: banner(lad).startswith("CLOSED"), "the banner")
        seen = {tuple(name for name, _ in lad._layout)}
        for _ in range(3):  # the volume views: columns come and go
            await pilot.press("d")
            await pilot.pause(0.1)
            seen.add(tuple(name for name, _ in lad._layout))
        for size in ((80, 24), (120, 40), (200, 50), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause(0.1)
            seen.add(tuple(name for name, _ in lad._layout))
        assert len(seen) >= 3, seen  # the layout did change under the banner
        assert banner(ladder(app)).startswith("CLOSED")
        assert app.is_running


async def test_a_panel_that_fails_to_paint_leaves_the_others_telling_the_truth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """trial21: the ladder's paint raised under a banner, and the position panel said LONG 1
    for two minutes after the kill switch had made the account flat: one paint step's failure
    ended the whole paint. Each panel now paints whatever another's paint does, and the
    failure is said."""
    from tradeterm.ui.widgets.panel import Panel

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)

        def broken(*_: object, **__: object) -> None:
            raise ValueError("the ladder cannot paint")

        monkeypatch.setattr(Ladder, "show_snapshot", broken)
        await pilot.press("a", "b")  # armed, buy 1 at market
        position = app.screen.query_one("#position", Panel)
        await settle(pilot, app, lambda: "LONG 1" in position.shown, "LONG 1 in the panel")
        log = app.screen.query_one("#log")
        said = "\n".join(str(line.text) for line in log.lines)  # type: ignore[attr-defined]
        assert "the ladder cannot paint" in said
