"""The move keys without a screen: what each sends, or why it sends nothing
(tradeterm/ui/order_moves.py), as tables of cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.support.instruments import ES
from tests.unit.ui.test_order_entry import READY, desk
from tradeterm.domain import Order, OrderChange, OrderStatus, OrderType, Side
from tradeterm.engine.commands import ModifyOrder
from tradeterm.engine.events import OrderView
from tradeterm.engine.types import OrderRole
from tradeterm.ui import order_moves as om
from tradeterm.ui.keys import WATCH_REFUSED
from tradeterm.ui.order_entry import Refusal, Send

PX = 24_000  # 6000.00 in ES ticks


def view(
    n: int, side: Side = Side.BUY, qty: int = 1, order_type: OrderType = OrderType.LIMIT,
    limit: int | None = PX, stop: int | None = None, role: OrderRole = OrderRole.PLAIN,
    **changed: Any,
) -> OrderView:  # fmt: skip
    order = Order(f"tt.ES.1.{n}", ES, side, qty, order_type, limit=limit, stop=stop,
                  status=OrderStatus.SUBMITTED)  # fmt: skip
    v = OrderView.of(order, role=role)
    return v if not changed else OrderView(**{**_fields(v), **changed})


def _fields(v: OrderView) -> dict[str, Any]:
    return {name: getattr(v, name) for name in OrderView.__dataclass_fields__}


PENDING = view(
    1, limit=PX - 1, pending_change=OrderChange(limit=PX), unconfirmed="change not confirmed"
)


def sent(moves: om.Moves) -> list[ModifyOrder]:
    assert not isinstance(moves, Refusal), moves
    return [s.command for s in moves if isinstance(s, Send)]  # type: ignore[misc]


def test_one_tick_moves_limit_and_stop_alike() -> None:
    """A stop-limit keeps its offset; prices go as the instrument's prices, to rest."""
    orders = [view(1), view(2, Side.SELL, order_type=OrderType.STOP_LIMIT, limit=PX, stop=PX + 2)]
    assert sent(om.step(READY, orders, (), PX, 1)) == [
        ModifyOrder("tt.ES.1.1", limit=Decimal("6000.25"), resting=True),
        ModifyOrder("tt.ES.1.2", limit=Decimal("6000.25"), stop=Decimal("6000.75"), resting=True),
    ]
    stop = view(3, Side.SELL, order_type=OrderType.STOP, limit=None, stop=PX - 4)
    assert sent(om.step(READY, [stop], (), PX - 4, -1)) == [
        ModifyOrder("tt.ES.1.3", stop=Decimal("5998.75"), resting=True)
    ]


@pytest.mark.parametrize(
    ("orders", "strategy", "text"),
    [
        ([], (), "no order of ours at 6000.00"),
        ([view(1, limit=PX + 1)], (), "no order of ours at 6000.00"),
        ([view(1, own=False)], (), "no order of ours at 6000.00"),
        (
            [view(1)],
            ("tt.ES.1.1",),
            "BUY 1 LMT 6000.00 is the strategy's order: stop the strategy to move it",
        ),
        ([PENDING], (), "BUY 1 LMT 5999.75: change not confirmed; wait for IB's answer"),
    ],
)
def test_what_cannot_be_moved_is_one_line(
    orders: list[OrderView], strategy: tuple[str, ...], text: str
) -> None:
    assert om.step(READY, orders, strategy, PX, 1) == Refusal(text)


def test_nothing_moves_while_disarmed() -> None:
    off = desk(armed=False)
    orders = [view(1, role=OrderRole.TARGET)]
    for moves in (
        om.step(off, orders, (), PX, 1),
        om.pick_up(off, orders, (), PX),
        om.drop(off, orders, (), om.Pickup(("tt.ES.1.1",), PX, ""), PX - 2),
        om.exit_to(off, orders, (), PX - 2, OrderRole.TARGET),
        om.resize(off, orders, (), PX, 1),
    ):
        assert isinstance(moves, Refusal) and moves.text.endswith(": DISARMED (press a to arm)")
    assert {"move_order", "carry", "exit_to", "resize"} <= WATCH_REFUSED


def test_pick_up_then_drop_at_the_cursor() -> None:
    orders = [view(1, qty=2)]
    picked = om.pick_up(READY, orders, (), PX)
    assert picked == om.Pickup(("tt.ES.1.1",), PX, "BUY 2L 6000.00")
    assert isinstance(picked, om.Pickup)
    assert sent(om.drop(READY, orders, (), picked, PX - 3)) == [
        ModifyOrder("tt.ES.1.1", limit=Decimal("5999.25"), resting=True)
    ]
    assert om.drop(READY, orders, (), picked, PX) == Refusal("drop order: already at 6000.00")
    assert om.drop(READY, [], (), picked, PX - 3) == Refusal(
        "BUY 2L 6000.00 is no longer working: nothing moved"
    )


def test_exits_of_a_role_move_to_the_cursor() -> None:
    target = view(1, Side.SELL, role=OrderRole.TARGET, limit=PX + 8)
    stop = view(2, Side.SELL, order_type=OrderType.STOP, limit=None, stop=PX - 4,
                role=OrderRole.STOP)  # fmt: skip
    assert sent(om.exit_to(READY, [target, stop], (), PX + 5, OrderRole.TARGET)) == [
        ModifyOrder("tt.ES.1.1", limit=Decimal("6001.25"), resting=True)
    ]
    assert sent(om.exit_to(READY, [target, stop], (), PX - 2, OrderRole.STOP)) == [
        ModifyOrder("tt.ES.1.2", stop=Decimal("5999.50"), resting=True)
    ]
    assert om.exit_to(READY, [view(3)], (), PX, OrderRole.STOP) == Refusal(
        "move bracket stop: no working bracket stop"
    )


def test_quantity_keys_change_one_order_never_below_one_nor_what_filled() -> None:
    assert sent(om.resize(READY, [view(1)], (), PX, 1)) == [ModifyOrder("tt.ES.1.1", quantity=2)]
    assert sent(om.resize(READY, [view(1, qty=3)], (), PX, -1)) == [
        ModifyOrder("tt.ES.1.1", quantity=2)
    ]
    assert om.resize(READY, [view(1)], (), PX, -1) == Refusal(
        "order quantity down: BUY 1 LMT 6000.00 cannot go below 1 (cancel it to remove it)"
    )
    part = view(1, qty=3, filled=2, remaining=1)
    assert om.resize(READY, [part], (), PX, -1) == Refusal(
        "order quantity down: BUY 3 LMT 6000.00 cannot go below 3 (cancel it to remove it)"
    )
    assert om.resize(READY, [view(1), view(2)], (), PX, 1) == Refusal(
        "2 orders at 6000.00: the quantity keys change one order"
    )
