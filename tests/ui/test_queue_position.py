"""The queue ahead of our resting order, beside it on the ladder."""

from __future__ import annotations

import re

from tests.ui.helpers import gateway, ladder, make_app, own_working, ready, settle
from tradeterm.ui.widgets.ladder_data import QUEUE, with_queue


async def test_the_queue_ahead_shows_beside_a_joined_bid_never_ahead_of_the_gateway() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("a", "B")  # arm, join the bid
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a bid at the gateway")
        (order,) = own_working(app)
        price = order.lmt_ticks
        assert price is not None

        def cell() -> str:
            data = ladder(app).data
            return (
                with_queue(data.buys.get(price, ""), data.buys_ahead.get(price))
                if data is not None
                else ""
            )

        await settle(pilot, app, lambda: QUEUE in cell(), "the queue beside the order")
        shown = re.fullmatch(rf"1L{QUEUE}(\d+)", cell())
        assert shown is not None, cell()
        true = gateway(app).queue_position(order.perm_id)
        assert true is not None and int(shown[1]) >= true
