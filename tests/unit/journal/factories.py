"""Small builders for journal tests: orders, fills and engine events of an ES contract."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from tests.support.instruments import ES
from tradeterm.domain import Fill, Order, OrderStatus, OrderType, Side
from tradeterm.engine.events import FillBooked, OrderUpdated, OrderView, PositionChanged
from tradeterm.engine.portfolio import PnL
from tradeterm.engine.types import OrderRole

T0 = 1_795_000_000_000_000_000


def order(seq: int = 1, side: Side = Side.BUY, qty: int = 1, session: str = "1",
          source: str = "manual") -> Order:  # fmt: skip
    return Order(f"tt.ES.{session}.{seq:x}", ES, side, qty, OrderType.MARKET, source=source)


def updated(o: Order, status: OrderStatus, *, broker_id: int | None = None,
            perm_id: int | None = None, role: OrderRole = OrderRole.PLAIN, command_id: str = "cmd-1") -> OrderUpdated:  # fmt: skip
    o.status = status
    if broker_id is not None or perm_id is not None:
        o.bind(broker_id, perm_id)
    return OrderUpdated(OrderView.of(o, role=role, command_id=command_id))


def fill(exec_id: str, order_id: str | None = "tt.ES.1.1", side: Side = Side.BUY, qty: int = 1,
         price: int = 24000, ts: int = T0) -> Fill:  # fmt: skip
    return Fill(exec_id, order_id, ES, side, qty, price, ts)


def booked(f: Fill, historical: bool = False) -> FillBooked:
    return FillBooked(f, f.order_id is not None, historical)


def position(qty: int = 1, avg: Fraction | None = Fraction(24001, 4)) -> PositionChanged:
    return PositionChanged(PnL(
        quantity=qty, avg_price=avg, mark=24000, realized=Decimal("12.50"),
        unrealized=Decimal("-3.125"), realized_ticks=1, unrealized_ticks=0, open_ticks=None,
        commissions=Decimal("4.50"), daily=Decimal("5.875"), day_commissions=Decimal("4.50"),
        session_open_ns=None,
    ))  # fmt: skip
