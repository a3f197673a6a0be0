"""The queue ahead of our resting order, beside it on the ladder and in the orders panel:
never ahead of the gateway's truth, ``q?`` where the depth has not shown its level, a 3-digit
queue readable at 120 columns, and key Q hiding the figures."""

from __future__ import annotations

import re
from typing import Any

from textual.widgets import DataTable

from tests.support.waiting import until
from tests.ui.helpers import gateway, ladder, make_app, own_working, ready, settle
from tradeterm.sim.market_events import BookDelta, BookSide
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.ladder_data import QUEUE

UNKNOWN = "?"  # the figure of a queue nobody can see


def row_at(app: TradingApp, price: int) -> str:
    """The ladder's row at ``price`` as painted ('' when off screen)."""
    lad = ladder(app)
    y = lad.y_of(price)
    return lad.row_text(y) if y is not None else ""


def ahead_cell(app: TradingApp) -> str:
    """The orders panel's ``ahead`` figure of its one order ('' without the column)."""
    table: DataTable[Any] = app.screen.query_one("#orders", DataTable)
    if table.row_count != 1:
        return ""
    labels = [str(c.label).strip() for c in table.ordered_columns]
    row = [str(c).strip() for c in table.get_row_at(0)]
    return dict(zip(labels, row, strict=True)).get("ahead", "")


async def test_the_queue_ahead_shows_beside_a_joined_bid_never_ahead_of_the_gateway() -> None:
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "B")  # arm, join the bid
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a bid at the gateway")
        (order,) = own_working(app)
        price = order.lmt_ticks
        assert price is not None
        figure = re.compile(rf"\b1L{QUEUE}(\d+)\b")
        await settle(pilot, app, lambda: figure.search(row_at(app, price)), "the queue figure")
        shown = figure.search(row_at(app, price))
        assert shown is not None
        true = gateway(app).queue_position(order.perm_id)
        assert true is not None and int(shown[1]) >= true
        await settle(pilot, app, lambda: ahead_cell(app) == shown[1], "the orders panel's")
        await pilot.press("Q")  # hidden: the order alone, no ahead column
        await settle(pilot, app, lambda: QUEUE not in row_at(app, price), "figures hidden")
        assert re.search(r"\b1L\b", row_at(app, price)) and ahead_cell(app) == ""
        await pilot.press("Q")
        await settle(pilot, app, lambda: figure.search(row_at(app, price)), "shown again")


async def test_a_limit_beyond_the_depth_shows_an_unknown_queue() -> None:
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        snap = app.engine.snapshot(tape=0)  # type: ignore[union-attr]
        assert snap.market is not None
        deepest = min(level.price for level in snap.market.bids)
        lad = ladder(app)
        assert lad.cursor is not None
        await pilot.press("a", *["down"] * (lad.cursor - (deepest - 3)), "left_square_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a deep bid at the gateway")
        (order,) = own_working(app)
        assert order.lmt_ticks == deepest - 3  # beyond the depth the engine is shown
        await settle(pilot, app, lambda: ahead_cell(app) == UNKNOWN, "the orders panel's ?")
        assert re.search(rf"\b1L{QUEUE}\{UNKNOWN}", row_at(app, deepest - 3))
        assert f"{QUEUE}0" not in row_at(app, deepest - 3)


async def test_a_three_digit_queue_reads_at_120_columns() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid = market.bid
        market.feed.push(BookDelta(gateway(app).now_ns(), BookSide.BID, bid, 312), external=True)

        def shown_at_bid() -> int | None:
            m = app.engine.snapshot(tape=0).market  # type: ignore[union-attr]
            return next((lv.size for lv in m.bids if lv.price == bid), None) if m else None

        await until(lambda: shown_at_bid() == 312, "312 bid shown")
        await pilot.press("a", "B")  # join behind the 312
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a bid at the gateway")
        (order,) = own_working(app)
        assert order.lmt_ticks == bid
        assert gateway(app).queue_position(order.perm_id) == 312
        await settle(pilot, app, lambda: f"{QUEUE}312" in row_at(app, bid), "q312 on the ladder")
        await pilot.resize_terminal(200, 50)  # at 120 columns the orders panel has no room
        await settle(pilot, app, lambda: ahead_cell(app) == "312", "312 in the orders panel")
