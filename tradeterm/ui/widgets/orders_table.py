"""The orders table: this instance's working orders and other clients' in this contract
(read-only, ``other``), from the engine snapshot; the account's orders in other markets are
not listed as this market's, only named under the table (``1 order in another market: GCZ6``).
While one of our resting limits has a queue estimate, an ``ahead`` column gives it (the
contracts ahead of it at its price, ``?`` where its level has not been shown; key Q hides it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

from tradeterm.domain import Instrument, OrderStatus
from tradeterm.engine.events import EngineSnapshot, OrderView, other_markets_text
from tradeterm.ui.widgets.ladder_data import queue_figure

_STATUS_WORDS = {
    OrderStatus.NEW: "new",
    OrderStatus.PENDING_SUBMIT: "sending",
    OrderStatus.SUBMITTED: "working",
    OrderStatus.PENDING_MODIFY: "modifying",
    OrderStatus.PENDING_CANCEL: "cancelling",
    OrderStatus.INACTIVE: "inactive",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
}


def order_status(order: OrderView) -> str:
    """The status in words; UNCONFIRMED and what IB has not confirmed while it may still
    fill (the safety rule: an order IB has not answered for is shown as working)."""
    if order.unconfirmed:
        return f"UNCONFIRMED: {order.unconfirmed}"
    return _STATUS_WORDS.get(order.status, str(order.status).lower())


def order_number(order: OrderView) -> str:
    """What a trader calls an order: IB's order id (as TWS shows it), ``other`` for another
    client's, ``-`` before IB has given it one."""
    if not order.own:
        return "other"
    return str(order.broker_id) if order.broker_id is not None else "-"


def order_words(inst: Instrument, order: OrderView) -> str:
    """An order as the trader sees it in the table and on the ladder, for a message: side,
    quantity, type, price (``BUY 1 STP 6001.50``), never its internal id."""
    price = order.price
    at = f" {inst.format_price(price)}" if price is not None else ""
    return f"{order.side} {order.quantity} {order.order_type}{at}"


def order_row(
    inst: Instrument, order: OrderView, filled: bool, queue: Mapping[str, int | None] | None
) -> list[Text]:
    """One row of the orders table: number, side, quantity, (filled,) type, price on the tick
    in the market's format, status in words, (the queue ahead: ``queue`` by order id, None when
    the table shows none; last, so that a narrow panel cuts it rather than the status). Each
    cell starts with the space between columns."""
    price = order.price
    ahead = (
        "" if queue is None or order.order_id not in queue else queue_figure(queue[order.order_id])
    )
    cells = [
        Text(f" {order_number(order)}", justify="right"),
        Text(f" {order.side}"),
        Text(f" {order.quantity}", justify="right"),
        *([Text(f" {order.filled}", justify="right")] if filled else []),
        Text(f" {order.order_type}"),
        Text(f" {inst.format_price(price) if price is not None else '-'}", justify="right"),
        Text(f" {order_status(order)}"),
        *([Text(f" {ahead}", justify="right")] if queue is not None else []),
    ]
    return cells


class OrdersTable(DataTable[Text]):
    """This instance's working orders (and other clients', read-only). ``delete`` cancels.

    The columns are rebuilt with the rows: their widths follow what is listed now (a
    DataTable column only ever grows, so a status shown once, e.g. ``sending``, would
    otherwise keep its width for the rest of the session). The row key is the order's full
    id; it shows under the table when the table has focus, and otherwise what works in other
    markets (never listed here: they are not this market's)."""

    BINDINGS = [("delete,backspace", "cancel_selected", "cancel the selected order")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=0)
        self._shown: tuple[object, ...] | None = None  # the column names show before any order
        self._elsewhere = ""  # the account's orders in other markets, in words
        self.show_queue = True  # the ahead column (key Q)

    def show(
        self, inst: Instrument, orders: Sequence[OrderView],
        queue: Mapping[str, int | None] | None = None,
    ) -> None:  # fmt: skip
        """``queue``: the contracts ahead of our resting orders by order id (None: unknown)."""
        shown = {o.order_id: queue[o.order_id] for o in orders if queue and o.order_id in queue}
        ahead = shown if shown and self.show_queue else None
        key = tuple((o.order_id, o.broker_id, o.filled, o.remaining, o.status, o.price,
                     o.unconfirmed) for o in orders), ahead, self.size.width  # fmt: skip
        if key == self._shown:
            return
        self._shown = key
        row = self.cursor_row
        filled = any(o.filled for o in orders)
        self.clear(columns=True)
        rows = [order_row(inst, o, filled, ahead) for o in orders]
        labels = ["#", "side", "qty", *(["filled"] if filled else []), "type", "price", "status",
                  *(["ahead"] if ahead is not None else [])]  # fmt: skip
        if ahead is not None and self._too_wide(labels, rows):  # the ahead column goes first
            rows = [order_row(inst, o, filled, None) for o in orders]
            labels.pop()
        right = {"#", "qty", "filled", "price", "ahead"}
        self.add_columns(
            *(Text(f" {c}", justify="right" if c in right else "left") for c in labels)
        )
        for o, cells in zip(orders, rows, strict=True):
            self.add_row(*cells, key=o.order_id)
        if orders:
            self.move_cursor(row=min(row, len(orders) - 1))
        self._show_selected(self.has_focus)

    def _too_wide(self, labels: Sequence[str], rows: Sequence[list[Text]]) -> bool:
        """Whether the columns ``labels`` of ``rows`` would be wider than the panel: each as
        wide as its widest cell or heading, plus the cells' padding."""
        width = self.size.width
        if not width:
            return False
        widths = [
            max(len(label) + 1, *(row[i].cell_len for row in rows))
            for i, label in enumerate(labels)
        ]
        return sum(widths) + 2 * self.cell_padding * len(widths) > width

    def selected_order(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def _show_selected(self, focused: bool) -> None:
        self.border_subtitle = (self.selected_order() or "") if focused else self._elsewhere

    def on_data_table_row_highlighted(self) -> None:
        self._show_selected(self.has_focus)

    def on_focus(self) -> None:
        self._show_selected(True)

    def on_blur(self) -> None:
        self._show_selected(False)

    def action_cancel_selected(self) -> None:
        order_id = self.selected_order()
        if order_id is not None:
            cancel = getattr(self.app, "cancel_order", None)
            if cancel is not None:
                cancel(order_id)

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        if snap.instrument is not None:
            elsewhere = other_markets_text(snap.other_markets)
            if elsewhere != self._elsewhere:
                self._elsewhere = elsewhere
                self._show_selected(self.has_focus)
            self.show(snap.instrument, snap.orders + snap.foreign_orders, snap.queue)
