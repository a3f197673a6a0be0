"""The ladder on the real screen: last trade, volume at price, own orders, average price,
P&L at price, centring, STALE, and repainting only the rows that changed."""

from __future__ import annotations

from tests.ui.helpers import gateway, gateway_position, ladder, make_app, ready, settings, settle
from tradeterm.ui.widgets.ladder import Header, Row


async def test_a_trade_marks_the_last_price_with_its_size_and_volume() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        price = market.ask
        market.trade(price, 7)
        await settle(
            pilot, app, lambda: lad.data is not None and lad.data.last == price, "the print"
        )
        y = lad.y_of(price)
        assert y is not None
        row = lad._rows[y]
        assert isinstance(row, Row) and row.last == 7 and row.volume == 7
        text = lad.row_text(y)
        assert app.instrument is not None and app.instrument.format_price(price) in text
        assert "×7" in text


async def test_only_changed_rows_are_repainted() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        market.trade(market.bid, 1)
        await settle(
            pilot, app, lambda: lad.data is not None and lad.data.last == market.bid, "first print"
        )
        before, cells = lad.painted_rows, lad.painted_cells
        market.trade(market.ask, 2)  # the last moves one tick: two rows change (old and new last)
        await settle(
            pilot, app, lambda: lad.data is not None and lad.data.last == market.ask, "second print"
        )
        await pilot.pause(0.2)
        assert 1 <= lad.painted_rows - before <= 3 < lad.rows
        # and in those rows only the cells that changed: price and size marks, volume
        assert 1 <= lad.painted_cells - cells <= 3 * 3


async def test_auto_recentre_manual_scroll_and_the_recentre_key() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        far = market.bid - 30
        market.trade(far, 1)
        await settle(
            pilot, app, lambda: lad.data is not None and lad.data.last == far, "a print far below"
        )
        y = lad.y_of(far)
        assert y is not None and abs(y - lad.rows // 2) <= 2  # followed the market
        await pilot.press("pageup")
        assert not lad.auto
        top = lad.top
        market.trade(far - 40, 1)
        await settle(
            pilot, app, lambda: lad.data is not None and lad.data.last == far - 40, "another print"
        )
        assert lad.top == top and lad.y_of(far - 40) is None  # manual: stays where the user put it
        await pilot.press("home")
        assert lad.auto and lad.cursor == far - 40 and lad.y_of(far - 40) is not None


async def test_position_average_and_pnl_at_price_in_ticks_and_money() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        lad = ladder(app)
        ask = market.ask
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 1, "long 1")
        await settle(
            pilot, app, lambda: lad.data is not None and lad.data.avg == ask, "avg on the ladder"
        )
        y_avg, y_up = lad.y_of(ask), lad.y_of(ask + 4)
        assert y_avg is not None and y_up is not None
        avg_row, up_row = lad._rows[y_avg], lad._rows[y_up]
        assert isinstance(avg_row, Row) and avg_row.avg and avg_row.pnl == "+0t"
        assert isinstance(up_row, Row) and up_row.pnl == "+4t"
        assert "◆" in lad.row_text(y_avg)
        await pilot.press("m")
        up_row = lad._rows[y_up]
        assert isinstance(up_row, Row) and up_row.pnl == "+50"  # ES: 4 ticks x 12.50
        header = lad._rows[0]
        assert isinstance(header, Header) and header.money
        assert "P&L $" in lad.row_text(0)


async def test_stale_depth_is_shown_on_the_ladder() -> None:
    # a still market: no quote or depth update after the opening book, so with a short
    # threshold the feeds go stale and the ladder must say so
    cfg = settings(**{"markets": {"ES": {"risk": {"stale_after_s": 0.3}}}})
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        lad = ladder(app)
        await settle(pilot, app, lambda: "STALE" in lad.row_text(0), "STALE in the ladder header")
        status = app.screen.query_one("#status")
        await settle(pilot, app, lambda: "DEGRADED" in status.shown, "DEGRADED in the status bar")  # type: ignore[attr-defined]


async def test_narrow_terminal_folds_panels_and_keeps_the_ladder() -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot, app)
        screen = app.screen
        assert screen.has_class("narrow") and screen.has_class("short")
        assert not screen.query_one("#middle").display
        assert screen.query_one("#position").display and screen.query_one("#orders").display
        lad = ladder(app)
        assert lad.size.height >= 20 and lad.size.width >= 40
        assert "PRICE" in lad.row_text(0)
    app = make_app()
    async with app.run_test(size=(200, 60)) as pilot:
        await ready(pilot, app)
        screen = app.screen
        assert not screen.has_class("narrow")
        for panel in ("#chart", "#log", "#tape", "#risk", "#orders"):
            assert screen.query_one(panel).display and screen.query_one(panel).size.height > 0
