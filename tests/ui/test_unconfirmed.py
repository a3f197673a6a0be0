"""An order IB has not confirmed (it may still fill) is shown as such: marked and reversed on
the ladder, UNCONFIRMED in the orders panel, until IB answers."""

from __future__ import annotations

from tests.ui.helpers import gateway, ladder, make_app, ready, settle
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.ui.widgets.orders_table import OrdersTable


async def test_an_order_ib_has_not_confirmed_is_shown_as_such() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        inst, lad = app.instrument, ladder(app)
        assert inst is not None and lad.data is not None
        table = app.screen_stack[1].query_one(OrdersTable)
        price = market.bid - 4
        gateway(app).faults.set_ack_delay(3.0)  # listed as PendingSubmit, answered 3 s late
        app.send(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=inst.to_price(price)), "buy")
        await settle(pilot, app, lambda: lad.data.buys.get(price) == "1L?", "1L? on the ladder")  # type: ignore[union-attr]
        y = lad.y_of(price)
        assert y is not None and "1L?" in lad.row_text(y)
        cell = lad.cell_strip("BUY", 5, y)
        assert any(s.style is not None and s.style.reverse for s in cell if "1L?" in s.text)
        await settle(pilot, app, lambda: table.row_count == 1, "the order listed")
        (order_id,) = [str(k.value) for k in table.rows]
        assert str(table.get_row(order_id)[-1]).strip() == "UNCONFIRMED: not acknowledged"
        # IB answers: an ordinary working order again
        await settle(pilot, app, lambda: lad.data.buys.get(price) == "1L", "1L on the ladder")  # type: ignore[union-attr]
        assert not any(s.style is not None and s.style.reverse
                       for s in lad.cell_strip("BUY", 5, y) if "1L" in s.text)  # fmt: skip
        await settle(pilot, app, lambda: str(table.get_row(order_id)[-1]).strip() == "working",
                     "working")  # fmt: skip
        status = list(table.columns.values())[-1]
        assert status.content_width == len(" working")  # as wide as what it shows now
