"""The panels around the ladder. Each takes plain values from the app's paint and repaints
only when what it shows changed (``Panel.set``): over SSH every repaint costs bytes."""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Self

from rich.console import RenderableType
from rich.text import Text
from textual.events import Resize
from textual.widgets import DataTable, RichLog, Static

from tradeterm.domain import Bar, Instrument, OrderStatus
from tradeterm.engine.calendar import CHICAGO, SessionCalendar
from tradeterm.engine.events import EngineSnapshot, OrderView
from tradeterm.engine.marketdata import Print
from tradeterm.engine.portfolio import PnL
from tradeterm.ui.styles import resolve

NS = 1_000_000_000


class Panel(Static):
    """A Static that ignores updates equal to what it shows."""

    DEFAULT_CSS = "Panel { height: auto; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: object = None
        self.updates = 0

    def set(self, text: Text | str) -> None:
        key = (text.plain, tuple(text.spans)) if isinstance(text, Text) else text
        if key == self._shown:
            return
        self._shown = key
        self.updates += 1
        self._source = text
        self.update(resolve(text, self.app) if isinstance(text, Text) else text)

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._retheme, init=False)

    def _retheme(self) -> None:
        source = getattr(self, "_source", None)
        if isinstance(source, Text):
            self.update(resolve(source, self.app))

    @property
    def shown(self) -> str:
        return self._shown[0] if isinstance(self._shown, tuple) else str(self._shown or "")


def money(amount: Decimal | float) -> str:
    return f"{amount:+,.2f}"


def signed(text: Text, label: str, amount: Decimal, style_up: str, style_down: str) -> None:
    text.append(label)
    style = style_up if amount > 0 else style_down if amount < 0 else ""
    text.append(money(amount), style=style)


def price_of(inst: Instrument, avg: Fraction | None) -> str:
    if avg is None:
        return "-"
    if avg.denominator == 1:
        return inst.format_price(int(avg))
    return f"{float(avg) * float(inst.tick):.{inst.price_decimals + 2}f}"


def ct_clock(now_ns: int) -> str:
    return dt.datetime.fromtimestamp(now_ns / NS, CHICAGO).strftime("%H:%M:%S CT")


def duration(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h >= 24:
        return f"{h // 24}d{h % 24:02d}h"
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


_ZONE_LABELS = {
    "America/Chicago": "CT", "US/Central": "CT", "America/New_York": "ET", "US/Eastern": "ET",
}  # fmt: skip


def zone_label(moment: dt.datetime) -> str:
    """The zone as traders name it: CT for Chicago in winter and summer alike, else IB's."""
    return _ZONE_LABELS.get(getattr(moment.tzinfo, "key", ""), moment.strftime("%Z"))


def session_text(calendar: SessionCalendar, now_ns: int) -> str:
    """The status bar's word on the session: the countdown to the break while the market is
    open, else when it opens, in the market's own zone (with the day when it is not today)."""
    if calendar.is_open(now_ns):
        return f"break in {duration(calendar.seconds_to_break(now_ns))}"
    tz = calendar.tz
    opens = dt.datetime.fromtimestamp(calendar.next_open_ns(now_ns) // NS, tz)
    days = (opens.date() - dt.datetime.fromtimestamp(now_ns // NS, tz).date()).days
    day = "" if days == 0 else opens.strftime("%a ") if days < 7 else opens.strftime("%a %d %b ")
    return f"CLOSED, opens {day}{opens:%H:%M} {zone_label(opens)}"


def status_text(
    *,
    mode: str,
    symbol: str,
    snap: EngineSnapshot | None,
    armed: bool,
    confirmed: bool,
    qty: int,
    now_ns: int,
    session: str | None,
    wide: bool,
    retry_in_s: float | None = None,
) -> Text:
    """The one-line status bar: mode, market, connection, data age, armed, qty, clock, and
    (wide) ``session``, the word on the session (:func:`session_text`)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    badge = {"live": "mode-live", "paper": "mode-paper"}.get(mode, "mode-sim")
    if mode == "live":
        t.append(" ██ LIVE ██ ", style=f"bold reverse ${badge}")
    else:
        t.append(f" {mode.upper()} ", style=f"bold reverse ${badge}")
    t.append(" ")
    inst = snap.instrument if snap else None
    t.append(inst.local_symbol if inst else symbol, style="bold")
    if snap is not None:
        health = snap.health
        state = str(health.state)
        warn = "bold $warning"
        style = {"OK": "$success", "DEGRADED": warn, "SYNCING": warn}.get(state, "bold $error")
        t.append(" ")
        t.append(f"IB {state}", style=style)  # the connection: never "LIVE", a trading mode
        if health.cause and state == "DEGRADED":  # why, in a word or two: fits 80 columns
            t.append(f" {health.cause}", style="$warning")
        if retry_in_s is not None and state == "RECONNECTING":  # counts down each second
            t.append(f" retry in {retry_in_s:.0f}s", style="$warning")
        market = snap.market
        if market is not None and market.ts_ns:
            age = max((now_ns - market.ts_ns) / NS, 0.0)
            t.append(f" age {age:.1f}s" if age < 60 else f" age {duration(age)}",
                     style="$warning" if age > 5 else "")  # fmt: skip
        if wide and snap.account:
            t.append(f"  acct {snap.account}")
    t.append("  ")
    if snap is not None and snap.trading_state != "ACTIVE":
        t.append(f" {snap.trading_state} ", style="bold reverse $error")
    elif mode == "live" and not confirmed:
        t.append(" UNCONFIRMED ", style="bold reverse $warning")
    elif armed:
        t.append(" ARMED ", style="bold reverse $armed")
    else:
        t.append(" DISARMED ", style="dim reverse")
    t.append(f"  qty {qty}", style="bold")
    t.append(f"  {ct_clock(now_ns)}")
    if session is not None and wide:
        t.append(f"  {session}")
    return t


def append_item(text: Text, item: Text | str, width: int, sep: str = "  ") -> None:
    """Append ``item`` to the last line of ``text``, ``sep`` before it, or on a new line when
    it would pass ``width``: a narrow panel breaks between items, never inside a number."""
    line = text.plain.rsplit("\n", 1)[-1]
    if not line:
        text.append(item)
    elif width and len(line) + len(sep) + len(item) > width:
        text.append("\n")
        text.append(item)
    else:
        text.append(sep)
        text.append(item)


def position_text(inst: Instrument, pnl: PnL | None, width: int) -> Text:
    """The position panel in ``width`` columns."""
    t = Text(no_wrap=True)
    if pnl is None:
        return Text("position -")
    qty = pnl.quantity
    t.append("POSITION ", style="bold")
    side = "LONG" if qty > 0 else "SHORT" if qty < 0 else "FLAT"
    t.append(f"{side} {abs(qty)}" if qty else "FLAT",
             style="bold $success" if qty > 0 else "bold $error" if qty < 0 else "")  # fmt: skip
    if qty:
        t.append(f" @ {price_of(inst, pnl.avg_price)}")
    t.append("\n")
    ticks = f" ({pnl.unrealized_ticks:+d}t)" if qty else ""
    signed(t, "unreal ", pnl.unrealized, "$profit", "$loss")
    t.append(ticks)
    t.append("\n")
    signed(t, "real   ", pnl.realized, "$profit", "$loss")
    t.append(f" ({pnl.realized_ticks:+d}t)")
    t.append("\n")
    signed(t, "today  ", pnl.daily, "$profit", "$loss")
    append_item(t, f"comm {pnl.commissions:,.2f}", width)
    return t


def risk_text(
    snap: EngineSnapshot, *, limit: Decimal, max_dd: Decimal, drawdown: Decimal | None,
    max_position: int, rate: int | None, max_rate: float, width: int = 0,
) -> Text:  # fmt: skip
    """The risk panel in ``width`` columns: figures move to the next line rather than being
    cut, sentences wrap between words."""
    t = Text()
    t.append("RISK ", style="bold")
    state = snap.trading_state
    t.append(
        state,
        style={"ACTIVE": "bold $success", "REDUCING": "bold $warning"}.get(
            state, "bold reverse $error"
        ),
    )
    if snap.trading_reason and state != "ACTIVE":
        t.append(f" {snap.trading_reason}")
    t.append("\n")
    daily = snap.pnl.daily if snap.pnl else Decimal(0)
    used = -daily / limit if daily < 0 else Decimal(0)
    t.append(f"day {money(daily)} / -{limit:,.0f}",
             style="$loss" if used >= Decimal("0.8") else "")  # fmt: skip
    if drawdown is not None:
        append_item(t, f"dd {drawdown:,.0f}/{max_dd:,.0f}", width)
    t.append("\n")
    pos = abs(snap.pnl.quantity) if snap.pnl else 0
    t.append(f"pos {pos}/{max_position}")
    if rate is not None:
        append_item(t, f"rate {rate}/{max_rate:g}/s", width)
    if snap.entries_blocked:
        t.append("\n")
        t.append(f"entries blocked: {snap.entries_blocked}", style="$warning")
    if snap.last_refusal:
        t.append("\n")
        t.append(f"refused: {snap.last_refusal}", style="$error")
    return t


def tape_text(inst: Instrument, prints: Sequence[Print], lines: int) -> Text:
    t = Text(no_wrap=True)
    t.append("TIME & SALES\n", style="bold")
    for i, p in enumerate(reversed(prints[-lines:])):
        if i:
            t.append("\n")
        stamp = dt.datetime.fromtimestamp(p.ts_ns / NS, CHICAGO).strftime("%H:%M:%S")
        side = "B" if p.aggressor and str(p.aggressor) == "BUY" else "S" if p.aggressor else " "
        style = (
            "bold reverse $large-print"
            if p.large
            else ("$ladder-own-buy" if side == "B" else "$ladder-own-sell" if side == "S" else "")
        )
        t.append(f"{stamp} {inst.format_price(p.price):>9} {p.size:>4} {side}", style=style)
    return t


class LogPanel(RichLog):
    """The on-screen log. Lines wrap between words at the panel's width, and wrap again when
    the width changes: a RichLog renders each line once, at the width of that moment (and at
    least ``min_width``, 78 by default), so a line written before a resize would be cut."""

    def __init__(self, *, id: str | None = None, max_lines: int = 500) -> None:
        super().__init__(id=id, max_lines=max_lines, wrap=True, markup=False, min_width=1)
        self._entries: deque[object] = deque(maxlen=max_lines)
        self._wrapped_at = 0

    def write(
        self,
        content: RenderableType | object,
        width: int | None = None,
        expand: bool = False,
        shrink: bool = True,
        scroll_end: bool | None = None,
        animate: bool = False,
    ) -> Self:
        if self._size_known:  # before, RichLog keeps it and writes it again once sized
            self._entries.append(content)
        return super().write(content, width, expand, shrink, scroll_end, animate)

    def on_resize(self, event: Resize) -> None:
        width = event.size.width
        if self._size_known and width and width != self._wrapped_at:
            self.clear()
            for entry in self._entries:
                super().write(entry)
        if width:
            self._wrapped_at = width


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


def order_row(inst: Instrument, order: OrderView, filled: bool) -> list[Text]:
    """One row of the orders table: number, side, quantity, (filled,) type, price on the tick
    in the market's format, status in words. Each cell starts with the space between columns."""
    price = order.price
    cells = [
        Text(f" {order_number(order)}", justify="right"),
        Text(f" {order.side}"),
        Text(f" {order.quantity}", justify="right"),
        *([Text(f" {order.filled}", justify="right")] if filled else []),
        Text(f" {order.order_type}"),
        Text(f" {inst.format_price(price) if price is not None else '-'}", justify="right"),
        Text(f" {order_status(order)}"),
    ]
    return cells


class OrdersTable(DataTable[Text]):
    """This instance's working orders (and other clients', read-only). ``delete`` cancels.

    The columns are rebuilt with the rows: their widths follow what is listed now (a
    DataTable column only ever grows, so a status shown once, e.g. ``sending``, would
    otherwise keep its width for the rest of the session). The row key is the order's full
    id; it shows under the table when the table has focus."""

    BINDINGS = [("delete,backspace", "cancel_selected", "cancel the selected order")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", cell_padding=0)
        self._shown: tuple[object, ...] | None = None  # the column names show before any order

    def show(self, inst: Instrument, orders: Sequence[OrderView]) -> None:
        key = tuple((o.order_id, o.broker_id, o.filled, o.remaining, o.status, o.price,
                     o.unconfirmed) for o in orders)  # fmt: skip
        if key == self._shown:
            return
        self._shown = key
        row = self.cursor_row
        filled = any(o.filled for o in orders)
        self.clear(columns=True)
        labels = ["#", "side", "qty", *(["filled"] if filled else []), "type", "price", "status"]
        right = {"#", "qty", "filled", "price"}
        self.add_columns(
            *(Text(f" {c}", justify="right" if c in right else "left") for c in labels)
        )
        for o in orders:
            self.add_row(*order_row(inst, o, filled), key=o.order_id)
        if orders:
            self.move_cursor(row=min(row, len(orders) - 1))
        self._show_selected(self.has_focus)

    def selected_order(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def _show_selected(self, focused: bool) -> None:
        self.border_subtitle = (self.selected_order() or "") if focused else ""

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


_ROUND_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))


def axis_prices(tick: Decimal, low: int, high: int, most: int) -> list[int]:
    """Prices (in ticks) for at most ``most`` axis labels from ``low`` to ``high``, a round
    step apart: 1, 2, 2.5 or 5 times a power of ten in price units that is a whole number of
    ticks (ES 1.00 or 2.50, CL 0.05, GC 0.50), else one tick. Every label is a price a market
    can trade at."""
    steps = {1}
    for power in range(-8, 9):
        for m in _ROUND_STEPS:
            in_ticks = m * Decimal(10) ** power / tick
            if in_ticks >= 1 and in_ticks == in_ticks.to_integral_value():
                steps.add(int(in_ticks))
    span = max(high - low, 0)
    step = next((s for s in sorted(steps) if span // s + 1 <= max(most, 1)), max(steps))
    first = -(-low // step) * step
    return list(range(first, high + 1, step))


def chart_text(inst: Instrument, bars: Sequence[Bar], width: int, height: int,
               avg: Fraction | None, dark: bool) -> Text:  # fmt: skip
    """1-minute candles with plotext (costly: the app calls this on bar close, ≤ 2 Hz); the
    price axis labelled on the tick in the market's format (:func:`axis_prices`)."""
    import plotext as plt

    if width < 20 or height < 6 or not bars:
        return Text("1-min candles: waiting for bars" if not bars else "")
    shown = list(bars[-max((width - 12) // 2, 5) :])
    tick = float(inst.tick)
    xs = list(range(len(shown)))
    plt.clf()
    plt.limitsize(False, False)  # the panel's size, not the size of the terminal plotext sees
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.frame(False)
    data = {
        "Open": [b.open * tick for b in shown],
        "Close": [b.close * tick for b in shown],
        "High": [b.high * tick for b in shown],
        "Low": [b.low * tick for b in shown],
    }
    plt.candlestick(xs, data)
    low, high = min(b.low for b in shown), max(b.high for b in shown)
    if avg is not None:
        plt.hline(float(avg) * tick, "magenta")
        low, high = min(low, math.floor(avg)), max(high, math.ceil(avg))
    prices = axis_prices(inst.tick, low, high, (height - 3) // 3)
    plt.yticks([p * tick for p in prices], [f"{inst.format_price(p)} " for p in prices])
    labels = [dt.datetime.fromtimestamp(b.start_ns / NS, CHICAGO).strftime("%H:%M") for b in shown]
    step = max(len(xs) // 6, 1)
    plt.xticks(xs[::step], labels[::step])
    plt.title(f"{inst.local_symbol} 1 min")
    return Text.from_ansi(plt.build(), no_wrap=True, overflow="crop")
