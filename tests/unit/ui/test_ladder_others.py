"""Other clients' orders in this contract on the ladder: in parentheses (read-only, not
ours) where no own order works; an own order's label always wins its cell."""

from __future__ import annotations

from tests.support.instruments import ES, PX_5000
from tradeterm.domain import OrderStatus, Side
from tradeterm.engine.events import OrderView
from tradeterm.engine.types import OrderRole
from tradeterm.ui.widgets.ladder_data import LadderData


def view(side: Side, price: int, *, own: bool, order_type: str = "LMT") -> OrderView:
    limit, stop = (price, None) if order_type == "LMT" else (None, price)
    return OrderView(
        order_id=f"own{price}" if own else f"ib:{price}", side=side, quantity=1,
        order_type=order_type, limit=limit, stop=stop, tif="DAY", status=OrderStatus.SUBMITTED,
        filled=0, remaining=1, avg_fill_price=None, broker_id=None, perm_id=None,
        parent_id=None, oca_group=None, role=OrderRole.PLAIN if own else OrderRole.FOREIGN,
        own=own,
    )  # fmt: skip


def test_other_clients_orders_are_marked_apart_and_never_cover_our_own() -> None:
    own = [view(Side.BUY, PX_5000, own=True)]
    others = [
        view(Side.SELL, PX_5000 - 8, own=False, order_type="STP"),
        view(Side.BUY, PX_5000, own=False),  # at the price of our own buy
    ]
    data = LadderData.build(ES, None, own, 0, None, None, others=others)
    assert data.sells == {PX_5000 - 8: "(1S)"}
    assert data.buys == {PX_5000: "1L"}  # ours, not ours plus theirs
