"""The panels around the ladder. Each takes plain values from the app's paint and repaints
only when what it shows changed (``Panel.set``): over SSH every repaint costs bytes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

from rich.text import Text
from textual.widgets import DataTable, Static

from tradeterm.domain import Bar, Instrument
from tradeterm.engine.events import EngineSnapshot, OrderView
from tradeterm.engine.marketdata import Print
from tradeterm.engine.portfolio import PnL
from tradeterm.engine.session import CHICAGO, SessionCalendar
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


def position_text(inst: Instrument, pnl: PnL | None, wide: bool) -> Text:
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
    t.append(f"  comm {pnl.commissions:,.2f}" if wide else "")
    return t


def risk_text(
    snap: EngineSnapshot, *, limit: Decimal, max_dd: Decimal, drawdown: Decimal | None,
    max_position: int, rate: int | None, max_rate: float,
) -> Text:  # fmt: skip
    t = Text(no_wrap=True, overflow="ellipsis")
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
        t.append(f"  dd {drawdown:,.0f}/{max_dd:,.0f}")
    t.append("\n")
    pos = abs(snap.pnl.quantity) if snap.pnl else 0
    t.append(f"pos {pos}/{max_position}")
    if rate is not None:
        t.append(f"  rate {rate}/{max_rate:g}/s")
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


def order_status(o: OrderView) -> str:
    """The orders table's status cell: UNCONFIRMED and what IB has not confirmed (the order
    may still fill), else the status; another client's orders say so."""
    if o.unconfirmed:
        return f"UNCONFIRMED: {o.unconfirmed}"
    return str(o.status) + ("" if o.own else " (other)")


class OrdersTable(DataTable[str]):
    """This instance's working orders (and other clients', read-only). ``delete`` cancels."""

    BINDINGS = [("delete,backspace", "cancel_selected", "cancel the selected order")]

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("id", "side", "qty", "type", "price", "status")
        self._shown: tuple[object, ...] = ()

    def show(self, inst: Instrument, orders: Sequence[OrderView]) -> None:
        key = tuple((o.order_id, o.remaining, o.status, o.price, o.unconfirmed) for o in orders)
        if key == self._shown:
            return
        self._shown = key
        row = self.cursor_row
        self.clear()
        for o in orders:
            price = inst.format_price(o.price) if o.price is not None else "MKT"
            ident = o.order_id.rsplit(".", 1)[-1] if o.own else o.order_id
            self.add_row(ident, str(o.side), f"{o.remaining}/{o.quantity}", o.order_type,
                         price, order_status(o), key=o.order_id)  # fmt: skip
        if orders:
            self.move_cursor(row=min(row, len(orders) - 1))

    def clear(self, columns: bool = False) -> OrdersTable:
        """Also forget the widest cell each column has shown: the table is as wide as what it
        shows now (an UNCONFIRMED status gone no longer widens its column)."""
        super().clear(columns)
        for column in self.columns.values():
            column.content_width = column.label.cell_len
        return self

    def selected_order(self) -> str | None:
        if not self.row_count:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def action_cancel_selected(self) -> None:
        order_id = self.selected_order()
        if order_id is not None:
            cancel = getattr(self.app, "cancel_order", None)
            if cancel is not None:
                cancel(order_id)


def chart_text(inst: Instrument, bars: Sequence[Bar], width: int, height: int,
               avg: Fraction | None, dark: bool) -> Text:  # fmt: skip
    """1-minute candles with plotext (costly: the app calls this on bar close, ≤ 2 Hz)."""
    import plotext as plt

    if width < 20 or height < 6 or not bars:
        return Text("1-min candles: waiting for bars" if not bars else "")
    shown = list(bars[-max((width - 12) // 2, 5) :])
    tick = float(inst.tick)
    xs = list(range(len(shown)))
    plt.clf()
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
    if avg is not None:
        plt.hline(float(avg) * tick, "magenta")
    labels = [dt.datetime.fromtimestamp(b.start_ns / NS, CHICAGO).strftime("%H:%M") for b in shown]
    step = max(len(xs) // 6, 1)
    plt.xticks(xs[::step], labels[::step])
    plt.title(f"{inst.local_symbol} 1 min")
    return Text.from_ansi(plt.build(), no_wrap=True)
