"""The price ladder: a Line-API widget that repaints only the rows that changed.

Each paint (10-20 Hz) the painter hands the ladder one engine snapshot (``show_snapshot``)
as a :class:`~tradeterm.ui.widgets.ladder_data.LadderData`. The ladder turns every visible
price into a :class:`Row` (plain values), compares it with the row shown, and refreshes only
the rows that differ; ``render_line`` serves cached ``Strip`` objects. Over SSH, bytes are latency: a quiet market costs nothing, a busy one a few
rows per paint. Within the painter's byte budget the rows that matter (the inside market,
the last trade, orders, the cursor) paint every time; far rows may wait, at most ``HOLD_S``
(the age of what they show, :meth:`Ladder.lag_s`, is the status bar's data age then).
Kept as one module because a row's values, the cells drawn from them and the
columns that fit are one drawing: a column added touches all three, and apart they would only
pass each other private state.

Traded volume (``VOL`` the session's volume at price; ``BVOL`` its part sellers traded at the
bid, ``AVOL`` buyers at the ask; ``RCNT`` the trades of the last few seconds, coloured by the
side that traded more of them) shows as the view chosen (:data:`VOLUME_VIEWS`, key ``d``)
and the width allow; a price alert is marked ``!`` before its price.

Row 0 is a header (column names, centring mode, P&L units), or a banner across the ladder
when the book cannot be trusted (``tradeterm.ui.banners``: stale, disconnected, closed), with
the book's cells greyed. Prices descend downwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from tradeterm.engine.events import EngineSnapshot
from tradeterm.ui.banners import Banner
from tradeterm.ui.widgets.ladder_data import (
    ORDER_CELL,
    ORDER_CELL_WIDE,
    OTHERS,
    QUEUE,
    UNCONFIRMED,
    LadderData,
    with_queue,
)

ALERT = "!"  # before the price of a price alert
EDGE = 3  # auto re-centre when the last trade comes this close to the top or bottom row
HOLD_S = 0.5  # the byte budget holds a row back at most this long (the touch: never)


@dataclass(frozen=True, slots=True)
class Row:
    """One ladder row's content; equal rows are not repainted."""

    price: int
    buys: str
    bid: int
    ask: int
    sells: str
    last: int | None  # the last trade's size when it printed at this price
    volume: int
    avg: bool
    pnl: str
    pnl_sign: int
    cursor: bool
    inside: int  # -1 best bid, 1 best ask, 0 neither
    muted: bool = False  # the book cannot be trusted: its cells grey
    at_bid: int = 0  # of volume: sellers hit the bid
    at_ask: int = 0  # of volume: buyers lifted the offer
    recent: int = 0  # traded in the last few seconds
    recent_side: int = 0  # of those, -1 more at the bid, 1 more at the ask, 0 neither
    alert: bool = False  # a price alert is set at this price


@dataclass(frozen=True, slots=True)
class Header:
    banner: Banner | None
    auto: bool
    money: bool
    width: int


def _matters(before: Row | Header | None, row: Row, touch: tuple[int, int]) -> bool:
    """Whether ``row`` (shown as ``before``) is painted whatever the byte budget says: a price
    new to its line, the inside market (every price from the lowest to the highest touch
    shown or to show: no level stays painted inside a market that moved), the last trade,
    own or other clients' orders, the average price, the cursor (shown or to show)."""
    if not isinstance(before, Row) or before.price != row.price:
        return True
    if touch[0] <= row.price <= touch[1]:
        return True
    return any(r.last is not None or r.buys or r.sells or r.avg or r.cursor for r in (before, row))


def _cell(row: Row, name: str) -> object:
    """What one column of a row shows (equal: the cell need not be repainted)."""
    if name == "BUY":
        return row.buys
    # the book's cells grey when it cannot be trusted: a size, the last trade's mark
    if name == "BID":
        return row.bid, row.inside == -1, row.muted and bool(row.bid)
    if name == "PRICE":
        return row.last is not None, row.avg, row.alert, row.muted and row.last is not None
    if name == "ASK":
        return row.ask, row.inside == 1, row.muted and bool(row.ask)
    if name == "SELL":
        return row.sells
    if name == "LAST":
        return row.last, row.muted and row.last is not None
    if name == "VOL":
        return row.volume
    if name == "RCNT":
        return row.recent, row.recent_side
    if name == "BVOL":
        return row.at_bid
    if name == "AVOL":
        return row.at_ask
    return row.pnl, row.pnl_sign


# column widths: (name, width); PRICE's follows the instrument's price format (_price_width)
_COLUMNS = (
    ("BUY", ORDER_CELL_WIDE), ("BID", 6), ("PRICE", 0), ("ASK", 6), ("SELL", ORDER_CELL_WIDE),
    ("LAST", 5), ("VOL", 6),
    ("RCNT", 4), ("BVOL", 5), ("AVOL", 5), ("P&L", 8),
)  # fmt: skip
# the traded-volume columns beyond VOL each view shows (key d cycles them), first the default
VOLUME_VIEWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("recent and by side", ("RCNT", "BVOL", "AVOL")),
    ("recent", ("RCNT",)),
    ("session volume only", ()),
)
_EXTRA = frozenset(n for _, names in VOLUME_VIEWS for n in names)  # after the chart (layout)
# What a ladder with too little room gives up, first to last (columns dropped together in one
# step): first the order cells' room for a whole queue figure (``_NARROW``: they narrow to
# ``ORDER_CELL``, where a compact figure still shows); then with a position open the volume by
# side, the recent trades, the volume and the last trade's size before the P&L at price; flat,
# the P&L column (empty) first. The book, own orders and prices always stay.
_NARROW = ("BUY", "SELL")  # a step that narrows these cells rather than dropping them
_DROP_IN_POSITION = (_NARROW, ("BVOL", "AVOL"), ("RCNT",), ("VOL",), ("LAST",), ("P&L",))
_DROP_FLAT = (_NARROW, ("P&L",), ("BVOL", "AVOL"), ("RCNT",), ("VOL",), ("LAST",))
_REQUIRED = ("BUY", "BID", "PRICE", "ASK", "SELL", "P&L")  # what the screen makes room for


def _width(columns: Iterable[tuple[str, int]]) -> int:
    return sum(w + 1 for _, w in columns)  # one space after each cell


def _narrow(columns: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(n, ORDER_CELL if n in _NARROW else w) for n, w in columns]


def _fit(
    columns: list[tuple[str, int]], room: int, drop: tuple[tuple[str, ...], ...]
) -> list[tuple[str, int]]:
    """``columns`` without the fewest of ``drop`` (in that order) that makes them fit ``room``
    (``_NARROW`` narrows the order cells instead)."""
    for names in drop:
        if _width(columns) <= room:
            break
        if names is _NARROW:
            columns = _narrow(columns)
        else:
            columns = [c for c in columns if c[0] not in names]
    return columns


def _count(n: int, w: int) -> str:
    """A volume in ``w`` characters: ``12345``, else in thousands (``123k``); empty for 0."""
    if not n:
        return ""
    text = str(n)
    return text if len(text) <= w else f"{n // 1000}k"


class LadderColumn(Widget):
    """One column of the ladder. Each column is its own region on the screen, so a changed
    cell costs only that cell's bytes: Textual writes a dirty line of a widget from the
    widget's left edge to the end of the dirty span, and at kHz market data most rows change
    one size per paint."""

    DEFAULT_CSS = "LadderColumn { height: 1fr; }"

    def __init__(self, ladder: Ladder, name: str, width: int) -> None:
        super().__init__(classes="ladder-column")
        self.ladder = ladder
        self.column = name
        self.cell_width = width
        self.styles.width = width + 1  # one space after each cell
        self._strips: dict[int, Strip] = {}

    def invalidate(self, y: int | None = None) -> None:
        if y is None:
            self._strips.clear()
            self.refresh()
        else:
            self._strips.pop(y, None)
            self.refresh(Region(0, y, self.cell_width + 1, 1))

    def repaint(self, y: int) -> bool:
        """Row ``y``'s cell drawn anew if it changed (the header: a banner's changing figure
        costs only the cells it crosses); whether it did."""
        strip = self.ladder.cell_strip(self.column, self.cell_width, y)
        if self._strips.get(y) == strip:
            return False
        self._strips[y] = strip
        self.refresh(Region(0, y, self.cell_width + 1, 1))
        return True

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            strip = self._strips[y] = self.ladder.cell_strip(self.column, self.cell_width, y)
        return strip


class Ladder(Widget, can_focus=True):
    """See the module notes. The app calls :meth:`show` at the paint rate."""

    class WidthsChanged(Message):
        """The widths the ladder fits in changed (:meth:`Ladder.fit_width`)."""

    DEFAULT_CSS = """
    Ladder { width: 1fr; height: 1fr; min-width: 30; layout: horizontal; overflow: hidden; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.data: LadderData | None = None
        self.show_queue = True  # the queue ahead of our resting orders (key Q)
        self.top: int | None = None  # price at row 1
        self.auto = True  # follow the last trade
        self.cursor: int | None = None
        self.pnl_money = False
        self.volume_view = 0  # the index in VOLUME_VIEWS
        self._rows: dict[int, Row | Header] = {}
        self._held: dict[int, float] = {}  # rows the byte budget held back: y -> since
        self._styles: dict[str, Style] = {}
        self._layout: list[tuple[str, int]] = []
        self.painted_rows = 0  # rows with a change since start (tests read it)
        self.painted_cells = 0  # cells repainted since start (tests and benchmarks read it)

    # ---- geometry ------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Price rows visible (below the header)."""
        return max(self.size.height - 1, 1)

    def price_at(self, y: int) -> int | None:
        if self.top is None or y < 1:
            return None
        return self.top - (y - 1)

    def y_of(self, price: int) -> int | None:
        if self.top is None:
            return None
        y = self.top - price + 1
        return y if 1 <= y <= self.rows else None

    def centre(self, price: int) -> None:
        self.top = price + self.rows // 2

    # ---- input from the app ----------------------------------------------------------------

    def show(self, data: LadderData, cells: int | None = None) -> None:
        """Show ``data``; ``cells``: the byte budget of this paint (:meth:`_update`)."""
        self.data = data
        ref = data.reference
        if ref is not None:
            if self.top is None:
                self.centre(ref)
            elif self.auto:
                y = self.top - ref + 1
                if y <= EDGE or y > self.rows - EDGE:
                    self.centre(ref)
            if self.cursor is None:
                self.cursor = ref
        self._update(cells)

    def show_snapshot(
        self, snap: EngineSnapshot, banner: Banner | None, cells: int | None = None
    ) -> None:
        """Show the book, own orders (other clients' in this contract marked apart) and the
        position of ``snap``; ``banner``: why the book cannot be trusted
        (``tradeterm.ui.banners``), None when it can; ``cells``: the byte budget of this
        paint in cells (:meth:`_update`), None: every change at once."""
        if snap.instrument is None:
            return
        pnl, strategy = snap.pnl, snap.strategy
        self.show(
            LadderData.build(
                snap.instrument, snap.market, snap.orders,
                pnl.quantity if pnl else 0, pnl.avg_price if pnl else None, banner,
                strategy.orders if strategy is not None else (), snap.foreign_orders,
                snap.queue if self.show_queue else None,
                snap.price_alerts,
            ),
            cells,
        )  # fmt: skip

    def recentre(self) -> None:
        self.auto = True
        if self.data is not None and self.data.reference is not None:
            self.centre(self.data.reference)
            self.cursor = self.data.reference
        self._update()

    def move_cursor(self, ticks: int) -> None:
        if self.cursor is None:
            return
        self.cursor += ticks
        y = self.y_of(self.cursor)
        if y is None and self.top is not None:  # the cursor leaves the view: scroll with it
            self.auto = False
            if self.cursor > self.top:
                self.top = self.cursor
            else:
                self.top = self.cursor + self.rows - 1
        self._update()

    def page(self, pages: int) -> None:
        if self.top is None:
            return
        self.auto = False
        step = max(self.rows - 2, 1) * pages
        self.top += step
        if self.cursor is not None:
            self.cursor += step
        self._update()

    def toggle_pnl(self) -> None:
        self.pnl_money = not self.pnl_money
        self._update()

    def toggle_queue(self) -> bool:
        """Show or hide the queue figures beside our orders (hidden, the order cells need no
        room for them); whether they show now. The widths the ladder fits in change."""
        self.show_queue = not self.show_queue
        self.post_message(self.WidthsChanged())
        if self.data is not None and not self.show_queue:
            self.data.buys_ahead, self.data.sells_ahead = {}, {}
        self._update()
        return self.show_queue

    def next_volume_view(self) -> str:
        """Show the next traded-volume view (``VOLUME_VIEWS``); its name. The widths the
        ladder fits in change with it: the screen is told."""
        self.volume_view = (self.volume_view + 1) % len(VOLUME_VIEWS)
        self.post_message(self.WidthsChanged())
        self._update()
        return VOLUME_VIEWS[self.volume_view][0]

    def view_columns(self) -> frozenset[str]:
        """The columns the traded-volume view adds beyond the session volume."""
        return frozenset(VOLUME_VIEWS[self.volume_view][1])

    def columns_at(self, width: int) -> frozenset[str]:
        """The names of the columns shown in ``width`` columns (inside the border)."""
        return frozenset(name for name, _ in self._columns(width))

    # ---- layout ----------------------------------------------------------------------------

    def _price_width(self) -> int:
        """The price column: the widest price in view in the instrument's format (CL 70.02,
        ES 6000.25, NQ 21000.25), the average-price mark and a space; before the instrument
        is known, room for the header."""
        data = self.data
        if data is None or data.reference is None:
            return len("PRICE") + 2
        top = self.top if self.top is not None else data.reference
        shown = (top, top - self.rows + 1, data.reference)
        return max(len(data.instrument.format_price(p)) for p in shown) + 2

    def _all_columns(self, *, extras: bool = True) -> list[tuple[str, int]]:
        """Every column the view shows (without the extra volume columns: ``extras`` False)."""
        price_w = self._price_width()
        shown = VOLUME_VIEWS[self.volume_view][1] if extras else ()
        columns = [(name, w or price_w) for name, w in _COLUMNS
                   if name not in _EXTRA or name in shown]  # fmt: skip
        return columns if self.show_queue else _narrow(columns)

    def _columns(self, width: int) -> list[tuple[str, int]]:
        """The columns shown in ``width``. The room is what fits with a position open, so that
        a fill never resizes the ladder; flat, the empty P&L column gives its place to the
        volume and the last trade's size when they fit."""
        columns = self._all_columns()
        room = _width(_fit(columns, width, _DROP_IN_POSITION))
        position = self.data is not None and self.data.position != 0
        return _fit(columns, room, _DROP_IN_POSITION if position else _DROP_FLAT)

    def fit_width(self, budget: int, *, extras: bool = True) -> int:
        """The ladder's width (its border included) when it may use ``budget`` columns: the
        columns that fit, never fewer than the book, own orders, prices and P&L at price;
        ``extras`` False: without the volume by side and the recent trades (the screen gives
        the chart its room before them)."""
        gutter = self.styles.gutter.width
        columns = self._all_columns(extras=extras)
        required = _narrow(c for c in columns if c[0] in _REQUIRED)
        fitting = _fit(columns, budget - gutter, _DROP_IN_POSITION)
        return gutter + max(_width(fitting), _width(required))

    def _relayout(self) -> None:
        """(Re)build the column widgets for the current width. When the price column's width
        changed (the instrument became known, a price gained a digit), the screen is told:
        the ladder's fitting widths changed with it."""
        layout = self._columns(self.size.width)
        if layout == self._layout:
            return
        price_w = dict(layout).get("PRICE")
        if price_w != dict(self._layout).get("PRICE"):
            self.post_message(self.WidthsChanged())
        self._layout = layout
        self._rows.clear()
        self._held.clear()
        with self.app.batch_update():
            self.remove_children()
            self.mount_all([LadderColumn(self, name, w) for name, w in layout])

    def on_resize(self) -> None:
        self._relayout()
        self._rows.clear()
        self._held.clear()
        if self.data is not None and self.data.reference is not None and self.auto:
            self.centre(self.data.reference)
        self._update()

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._theme_changed, init=False)

    def _theme_changed(self) -> None:
        self._styles.clear()
        for column in self.query(LadderColumn):
            column.invalidate()

    # ---- painting --------------------------------------------------------------------------

    def _update(self, cells: int | None = None, now: float | None = None) -> None:
        """Compare every visible row with what is shown and repaint the cells that changed:
        all of them (``cells`` None), or within the painter's byte budget (``cells``: how many
        this paint may write) the rows that matter (:func:`_matters`) whatever they cost and,
        oldest change first, nearest the market next, the other rows while cells are left and
        those held back ``HOLD_S`` already. A row held back keeps showing what it showed; its
        age is the ladder's :meth:`lag_s` (the status bar's age is at least that).
        ``now``: monotonic seconds."""
        if not self.size.width:
            return
        if self._layout != self._columns(self.size.width):
            self._relayout()
        columns = list(self.query(LadderColumn))
        if not columns:
            return
        now = time.monotonic() if now is None else now
        old = self._rows
        changed: list[tuple[int, Row, list[LadderColumn]]] = []
        for y in range(1, self.rows + 1):
            row = self._row(y)
            if row is None:
                continue
            before = old.get(y)
            if before == row:
                self._held.pop(y, None)
                continue
            whole = (
                not isinstance(before, Row)
                or before.price != row.price
                or before.cursor != row.cursor
            )
            changed.append((y, row, [c for c in columns if whole or _cell(before, c.column) != _cell(row, c.column)]))  # type: ignore[arg-type]  # fmt: skip
        touch = [r.price for r in old.values() if isinstance(r, Row) and r.inside]
        touch += [p for p in (self.data.best_bid, self.data.best_ask) if p is not None] if self.data else []  # fmt: skip
        zone = (min(touch), max(touch)) if touch else (1, 0)
        far: list[tuple[float, int, int, Row, list[LadderColumn]]] = []
        for y, row, dirty in changed:
            if cells is None or _matters(old.get(y), row, zone):
                self._paint_row(y, row, dirty)
                cells = None if cells is None else cells - len(dirty)
            else:
                since = self._held.setdefault(y, now)
                far.append((since, abs(row.price - (zone[0] + zone[1]) // 2), y, row, dirty))
        for since, _, y, row, dirty in sorted(far, key=lambda f: f[:3]):
            if cells is not None and cells <= 0 and now - since < HOLD_S:
                break
            self._paint_row(y, row, dirty)
            cells = None if cells is None else cells - len(dirty)
        header = Header(
            self.data.banner if self.data else None, self.auto, self.pnl_money, self.size.width
        )
        if old.get(0) != header:
            old[0] = header
            self.painted_rows += 1
            self.painted_cells += sum(column.repaint(0) for column in columns)

    def _paint_row(self, y: int, row: Row, dirty: list[LadderColumn]) -> None:
        self._rows[y] = row
        self._held.pop(y, None)
        self.painted_rows += 1
        self.painted_cells += len(dirty)
        for column in dirty:
            column.invalidate(y)

    @property
    def holding(self) -> bool:
        """Rows the byte budget held back wait for a later paint."""
        return bool(self._held)

    def lag_s(self, now: float | None = None) -> float:
        """How long the oldest row held back by the byte budget has not shown the engine's
        book (0: the ladder shows the book of its last paint)."""
        if not self._held:
            return 0.0
        return (time.monotonic() if now is None else now) - min(self._held.values())

    def _row(self, y: int) -> Row | None:
        data, price = self.data, self.price_at(y)
        if data is None or price is None:
            return None
        pnl, sign = "", 0
        if data.position and data.avg is not None:
            per = (price - data.avg) * (1 if data.position > 0 else -1)
            sign = (per > 0) - (per < 0)
            if self.pnl_money:
                money = float(data.instrument.money(1)) * abs(data.position) * float(per)
                pnl = f"{money:+,.0f}"
            else:
                pnl = f"{float(per):+.1f}t" if per.denominator != 1 else f"{int(per):+d}t"
        avg_row = data.avg is not None and data.position != 0 and round(data.avg) == price
        bid, ask = data.best_bid, data.best_ask
        shown = dict(self._layout)  # a hidden column's values change nothing
        recent = data.recent.get(price) if "RCNT" in shown else None
        by_side = "BVOL" in shown
        return Row(
            price=price,
            buys=with_queue(
                data.buys.get(price, ""), data.buys_ahead, price, shown.get("BUY", ORDER_CELL)
            ),
            bid=data.bids.get(price, 0),
            ask=data.asks.get(price, 0),
            sells=with_queue(
                data.sells.get(price, ""), data.sells_ahead, price, shown.get("SELL", ORDER_CELL)
            ),
            last=data.last_size if price == data.last else None,
            volume=data.volume.get(price, 0),
            avg=avg_row,
            pnl=pnl,
            pnl_sign=sign,
            cursor=price == self.cursor,
            inside=-1 if price == bid else 1 if price == ask else 0,
            muted=data.banner is not None,
            at_bid=data.at_bid.get(price, 0) if by_side else 0,
            at_ask=data.at_ask.get(price, 0) if by_side else 0,
            recent=recent.volume if recent is not None else 0,
            recent_side=(recent.at_ask > recent.at_bid) - (recent.at_ask < recent.at_bid)
            if recent is not None
            else 0,
            alert=price in data.alerts,
        )

    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            v = self.app.current_theme.variables
            bg = self.app.current_theme.background or "#000000"

            def c(key: str, default: str) -> str:
                return v.get(key, default)

            specs = {
                "base": Style(color=c("ladder-price", "white"), bgcolor=bg),
                "header": Style(color=c("ladder-header", "grey50"), bgcolor=bg, bold=True),
                "stale": Style(color="white", bgcolor=c("stale", "red"), bold=True),
                "muted": Style(color=c("ladder-muted", "grey42"), bgcolor=bg),
                "muted-bar": Style(color=bg, bgcolor=c("ladder-muted", "grey42"), bold=True),
                "bid": Style(color=c("ladder-bid-text", "white"), bgcolor=c("ladder-bid", "blue")),
                "ask": Style(color=c("ladder-ask-text", "white"), bgcolor=c("ladder-ask", "red")),
                "inside": Style(bold=True),
                "last": Style(color=c("ladder-last-text", "black"), bgcolor=c("ladder-last", "yellow"), bold=True),
                "cursor": Style(bgcolor=c("ladder-cursor", "grey30")),
                "avg": Style(color=c("ladder-avg", "magenta"), bold=True),
                "volume": Style(color=c("ladder-volume", "grey50"), bgcolor=bg),
                "own-buy": Style(color=c("ladder-own-buy", "cyan"), bgcolor=bg, bold=True),
                "own-sell": Style(color=c("ladder-own-sell", "red"), bgcolor=bg, bold=True),
                "unconfirmed": Style(reverse=True),
                "alert": Style(color=self.app.current_theme.warning or "yellow", bgcolor=bg, bold=True),
                "at-bid": Style(color=c("ladder-bid", "blue"), bgcolor=bg),
                "at-ask": Style(color=c("ladder-ask", "red"), bgcolor=bg),
                "profit": Style(color=c("profit", "green"), bgcolor=bg),
                "loss": Style(color=c("loss", "red"), bgcolor=bg),
            }  # fmt: skip
            self._styles.update(specs)
            style = self._styles[name]
        return style

    def cell_strip(self, name: str, w: int, y: int) -> Strip:
        """The strip of one cell (``w`` characters and a space) of row ``y``."""
        st = self._style
        row = self._rows.get(y)
        full = w + 1
        if isinstance(row, Header):  # the column names need no market data: always shown
            banner = row.banner
            if banner is not None:  # seen even on the narrowest ladder: across every column
                names = [c for c, _ in self._layout]
                if name not in names:  # a column of the last layout, its widget not yet gone
                    return Strip.blank(full, st("base"))
                x = sum(cw + 1 for _, cw in self._layout[: names.index(name)])
                across = sum(cw + 1 for _, cw in self._layout)  # the columns drawn
                text = f" {banner.fitting(across)} ".center(across)
                style = st("stale") if banner.alarm else st("muted-bar")
                return Strip([Segment(text[x : x + full].ljust(full), style)])
            label = name if name != "P&L" else ("P&L $" if row.money else "P&L t")
            text = label.rjust(w)
            if name == self._layout[-1][0]:
                text += " " + ("AUTO" if row.auto else "MAN")[: max(full - len(text) - 1, 0)]
            return Strip([Segment(text[:full].ljust(full), st("header"))])
        if row is None or self.data is None:
            return Strip.blank(full, st("base"))
        cursor = st("cursor") if row.cursor else None

        def seg(text: str, style: Style) -> Segment:
            return Segment(text, style + cursor if cursor else style)

        segments: list[Segment]
        if name == "BUY":
            segments = [seg(row.buys.rjust(w), self._own_style(row.buys, "own-buy"))]
        elif name == "BID":
            style = (
                (st("bid") + st("inside") if row.inside == -1 else st("bid"))
                if row.bid
                else st("base")
            )
            style = st("muted") if row.muted and row.bid else style
            segments = [seg((str(row.bid) if row.bid else "").rjust(w), style)]
        elif name == "PRICE":
            text = self.data.instrument.format_price(row.price).rjust(w - 1)
            on_last = st("muted-bar") if row.muted else st("last")
            style = on_last if row.last is not None else st("avg") if row.avg else st("base")
            segments = [seg("◆" if row.avg else " ", st("avg"))]
            if row.alert:  # in the price's blank first character
                segments.append(seg(ALERT, st("alert")))
                text = text[1:]
            segments.append(Segment(text, style) if row.last is not None else seg(text, style))
        elif name == "ASK":
            style = (
                (st("ask") + st("inside") if row.inside == 1 else st("ask"))
                if row.ask
                else st("base")
            )
            style = st("muted") if row.muted and row.ask else style
            segments = [seg((str(row.ask) if row.ask else "").rjust(w), style)]
        elif name == "SELL":
            segments = [seg(row.sells.rjust(w), self._own_style(row.sells, "own-sell"))]
        elif name == "LAST":
            last = row.last is not None
            style = (st("muted-bar") if row.muted else st("last")) if last else st("base")
            segments = [seg((f"×{row.last}" if last else "").rjust(w), style)]
        elif name == "VOL":
            segments = [seg(_count(row.volume, w).rjust(w), st("volume"))]
        elif name == "RCNT":
            side = row.recent_side
            style = st("at-ask") if side > 0 else st("at-bid") if side < 0 else st("volume")
            segments = [seg(_count(row.recent, w).rjust(w), style + st("inside"))]
        elif name == "BVOL":
            segments = [seg(_count(row.at_bid, w).rjust(w), st("at-bid"))]
        elif name == "AVOL":
            segments = [seg(_count(row.at_ask, w).rjust(w), st("at-ask"))]
        else:
            style = (
                st("profit")
                if row.pnl_sign > 0
                else st("loss")
                if row.pnl_sign < 0
                else st("volume")
            )
            segments = [seg(row.pnl[:w].rjust(w), style)]
        segments.append(seg(" ", st("base")))
        return Strip(segments).crop(0, full)

    def _own_style(self, label: str, name: str) -> Style:
        """Own orders' cell: reversed while IB has not confirmed one of them (the mark ends the
        label, before any queue figure: ``1Lq?`` is confirmed); other clients' (``OTHERS``)
        grey, read-only."""
        if label.startswith(OTHERS[0]):
            return self._style("muted")
        style = self._style(name)
        unconfirmed = label.split(QUEUE, 1)[0].endswith(UNCONFIRMED)
        return style + self._style("unconfirmed") if unconfirmed else style

    def row_text(self, y: int) -> str:
        """Row ``y`` as plain text, every column (tests, the tmux check)."""
        return "".join(
            "".join(segment.text for segment in self.cell_strip(name, w, y))
            for name, w in self._layout
        )
