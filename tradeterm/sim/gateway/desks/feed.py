"""One instrument's market inside the fake gateway: its matching engine, its source (synthetic
or replayed), its bars, and the market-data streams that clients subscribed to.

Every event goes through :meth:`InstrumentFeed.push`: the matching engine sees it first (fills of
resting orders go to the order desk), then subscribers get what changed — top of book and
trades as ticks (reqMktData), tick-by-tick AllLast/Last/BidAsk, depth rows, 5-second bars and
keepUpToDate history bars. Depth rows are position-stable, as ib_async requires: a changed row
is updated in place, new rows are appended at the bottom and surplus rows deleted from the
bottom (ib_async keeps the book in a dict keyed by row, listed in insertion order).

A replayed bar-only file reaches the feed as book changes and trades
(:mod:`~tradeterm.sim.bar_market`: each 1-minute bar prints open, nearer extreme, other
extreme and close, the book following each print, one level a side, bid at the print and ask
a tick above), so clients get quotes, depth, trades and 5-second bars that add up to the
file's bars. A :class:`BarPrint` pushed as such (bars beside trades in a mixed file) only
updates history, the last price and the volume.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from tradeterm.sim.bar_builders import NS, Bar, BarAggregator, BarHistory, format_bar_time
from tradeterm.sim.catalog import ContractEntry
from tradeterm.sim.gateway.protocol import encode
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.records import BarRecord
from tradeterm.sim.market_events import (
    BarPrint,
    BookClear,
    BookDelta,
    BookSide,
    BookUpdate,
    MarketEvent,
    TradePrint,
)
from tradeterm.sim.matching import MatchingEngine
from tradeterm.sim.synthetic import SyntheticMarket

if TYPE_CHECKING:
    from tradeterm.sim.matching import SimFill

log = logging.getLogger(__name__)

DEPTH_ROWS = 10

# reqMktData tick types
BID, ASK, LAST, HIGH, LOW, CLOSE, OPEN = 1, 2, 4, 6, 7, 9, 14
BID_SIZE, ASK_SIZE, LAST_SIZE, VOLUME = 0, 3, 5, 8
LAST_TIMESTAMP, RT_VOLUME = 45, 48


@dataclass(slots=True)
class Watch:
    """One client's subscription to one stream of this feed."""

    session: ClientSession
    req_id: int
    kind: str  # mktData | tbtLast | tbtAllLast | tbtBidAsk | tbtMidPoint | depth | rtBars | history
    rt_volume: bool = False  # mktData with generic tick 233
    rows: int = DEPTH_ROWS  # depth
    smart: bool = False  # depth: reply with L2 messages
    sent: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # depth rows per side
    format_date: int = 1  # history
    bar_size: int = 60  # history


class InstrumentFeed:
    def __init__(
        self,
        entry: ContractEntry,
        *,
        on_fills: Callable[[list[SimFill]], None],
        synthetic: SyntheticMarket | None = None,
        now_ns: Callable[[], int],
        frozen: Callable[[], bool] = lambda: False,
    ) -> None:
        self.entry = entry
        self.con_id = entry.conId
        self.tick = entry.tick
        self._tick_float = float(entry.tick)
        self.engine = MatchingEngine()
        self.synthetic = synthetic
        self.history = BarHistory()
        self.rt_bars = BarAggregator(5)
        self.watches: dict[tuple[int, int, str], Watch] = {}  # (id(session), reqId, kind)
        self._on_fills = on_fills
        self._now_ns = now_ns
        self._frozen = frozen  # a data stall: the book moves, clients are told nothing
        # session statistics
        self.volume = 0
        self.high: int | None = None
        self.low: int | None = None
        self.open: int | None = None
        self.close: int | None = None  # the prior session's close
        self._value_ticks = 0  # sum of price x size, for the VWAP
        self._top: tuple[int | None, int, int | None, int] = (None, 0, None, 0)
        self._last: tuple[int, int] | None = None  # (price, size) of the last trade published
        self.events = 0
        self._clock_second = 0  # the second of the last clock_tick

    # ---- prices ---------------------------------------------------------------------------

    def price(self, ticks: int) -> float:
        """Ticks to the float the wire carries (exact: it prints as the decimal price)."""
        return float(ticks * self.tick)

    @property
    def last(self) -> int | None:
        """The last trade published (ours included), else the book's."""
        return self._last[0] if self._last is not None else self.engine.book.last_price

    @property
    def last_size(self) -> int:
        return self._last[1] if self._last is not None else self.engine.book.last_size or 0

    def vwap(self) -> float:
        if not self.volume:
            return 0.0
        return float(Decimal(self._value_ticks) / self.volume * self.tick)

    # ---- events ---------------------------------------------------------------------------

    def push(self, event: MarketEvent | BookUpdate, *, external: bool = False) -> None:
        """Apply one market event: match, then publish (a :class:`BookUpdate`, one exchange
        event's book changes, is applied whole and published once). ``external`` events
        (injected by tests or faults) are also fed back to the synthetic market so its book
        stays consistent."""
        changes = event.changes if isinstance(event, BookUpdate) else (event,)
        self.events += len(changes)
        fills: list[SimFill] = []
        for change in changes:
            fills += self.engine.on_market(change)
            if external and self.synthetic is not None:
                self.synthetic.on_external(change)
        self._publish(event)
        if fills or self.engine.trail_moved:  # the order desk reports trailing stops moved
            self._on_fills(fills)
        self.after_orders()

    def after_orders(self) -> None:
        """Publish what our own orders did to the public market (their trades and the liquidity
        they took) and let the synthetic market know."""
        for event in self.engine.drain_public():
            if self.synthetic is not None:
                self.synthetic.on_external(event)
            self._publish(event)

    def _publish(self, event: MarketEvent | BookUpdate) -> None:
        if isinstance(event, BookDelta | BookUpdate):
            self._publish_book()
        elif isinstance(event, TradePrint):
            self._publish_trade(event)
        elif isinstance(event, BarPrint):
            self._publish_bar(event)
        elif isinstance(event, BookClear):
            self._publish_book()

    def _alive(self) -> list[Watch]:
        """The watches to publish to: none while the data is frozen (see :meth:`thaw`)."""
        dead = [k for k, w in self.watches.items() if w.session.closed]
        for key in dead:
            del self.watches[key]
        return [] if self._frozen() else list(self.watches.values())

    def thaw(self) -> None:
        """The end of a stall or a replay's jump: quotes as they are now, both sides stated
        (the client holds the quote from before the freeze: a side emptied meanwhile is sent
        as "no quote", never left at its old price), and depth rows that changed meanwhile
        (each depth watch is diffed against what it was last sent)."""
        for w in self._alive():
            if w.kind == "mktData":
                self.send_quote_snapshot(w, held=True)
            elif w.kind == "depth":
                self._send_depth(w)

    def _publish_book(self) -> None:
        book = self.engine.book
        bid, ask = book.best_bid, book.best_ask
        top = (bid, book.size(BookSide.BID, bid) if bid is not None else 0,
               ask, book.size(BookSide.ASK, ask) if ask is not None else 0)  # fmt: skip
        top_changed = top != self._top
        old = self._top
        self._top = top
        now_s = self._now_ns() // NS
        for w in self._alive():
            if w.kind == "depth":
                self._send_depth(w)
            elif not top_changed:
                continue
            elif w.kind == "mktData":
                self._send_top(w, old, top)
            elif w.kind == "tbtBidAsk" and bid is not None and ask is not None:
                w.session.send(
                    encode.tick_by_tick_bid_ask(
                        w.req_id, now_s, self.price(bid), self.price(ask), top[1], top[3]
                    )
                )
            elif w.kind == "tbtMidPoint" and bid is not None and ask is not None:
                mid = float((bid + ask) * self.tick / 2)
                w.session.send(encode.tick_by_tick_mid_point(w.req_id, now_s, mid))

    def _send_top(
        self,
        w: Watch,
        old: tuple[int | None, int, int | None, int],
        new: tuple[int | None, int, int | None, int],
        *,
        held: bool = False,
    ) -> None:
        """The top-of-book ticks that take the client from ``old`` to ``new``; ``held``: the
        client holds a quote not known here, so every side is sent."""
        send = w.session.send
        sides = ((BID, BID_SIZE, new[0], new[1], old[0], old[1]),
                 (ASK, ASK_SIZE, new[2], new[3], old[2], old[3]))  # fmt: skip
        for price_type, size_type, price, size, old_price, old_size in sides:
            if price is None:
                if old_price is not None or held:  # the side emptied: size 0 means "no quote"
                    send(encode.tick_price(w.req_id, price_type, -1.0, 0))
            elif price != old_price or held:
                send(encode.tick_price(w.req_id, price_type, self.price(price), size))
            elif size != old_size:
                send(encode.tick_size(w.req_id, size_type, size))

    def send_depth_snapshot(self, w: Watch) -> None:
        w.sent = {BookSide.BID: [], BookSide.ASK: []}
        if not self._frozen():  # else it goes at the thaw
            self._send_depth(w)

    def _send_depth(self, w: Watch) -> None:
        """Bring the client's rows from what it was sent to the book as it is, one row per
        message, in an order that keeps every book it holds in between sorted with no price
        twice: surplus rows deleted (from the bottom), then rows whose price moves away from
        the inside (deepest first, both sides: it makes room), rows whose size alone changed,
        rows whose price moves toward the inside (best first), new rows appended."""
        book = self.engine.book
        deletes: list[tuple[int, int, BookSide, tuple[int, int]]] = []
        away: list[tuple[int, int, BookSide, tuple[int, int]]] = []
        sizes: list[tuple[int, int, BookSide, tuple[int, int]]] = []
        toward: list[tuple[int, int, BookSide, tuple[int, int]]] = []
        inserts: list[tuple[int, int, BookSide, tuple[int, int]]] = []
        for side in (BookSide.ASK, BookSide.BID):
            new = book.levels(side, w.rows)
            old = w.sent.get(side, [])
            if new == old:
                continue
            w.sent[side] = new
            better = 1 if side is BookSide.BID else -1  # the inside's direction
            common = min(len(old), len(new))
            for i in range(len(old) - 1, common - 1, -1):
                deletes.append((i, 2, side, old[i]))
            for i in range(common - 1, -1, -1):
                moved = (new[i][0] - old[i][0]) * better
                if moved < 0:
                    away.append((i, 1, side, new[i]))
            for i in range(common):
                moved = (new[i][0] - old[i][0]) * better
                if moved > 0:
                    toward.append((i, 1, side, new[i]))
                elif moved == 0 and new[i][1] != old[i][1]:
                    sizes.append((i, 1, side, new[i]))
            for i in range(common, len(new)):
                inserts.append((i, 0, side, new[i]))
        for row, op, side, level in (*deletes, *away, *sizes, *toward, *inserts):
            self._depth_row(w, row, op, side, level)

    def _depth_row(
        self, w: Watch, row: int, op: int, side: BookSide, level: tuple[int, int]
    ) -> None:
        price, size = self.price(level[0]), level[1]
        if w.smart:
            msg = encode.update_mkt_depth_l2(w.req_id, row, "CME", op, int(side), price, size, True)
        else:
            msg = encode.update_mkt_depth(w.req_id, row, op, int(side), price, size)
        w.session.send(msg)

    def _publish_trade(self, trade: TradePrint) -> None:
        price, size = trade.price, trade.size
        self._last = (price, size)
        self.volume += size
        self._value_ticks += price * size
        if self.open is None:
            self.open = price
        new_high = self.high is None or price > self.high
        new_low = self.low is None or price < self.low
        if new_high:
            self.high = price
        if new_low:
            self.low = price
        now_ns = self._now_ns()
        now_s = now_ns // NS
        px = self.price(price)
        watches = self._alive()
        history_updates: dict[Hashable, Bar] = dict(self.history.on_trade(trade))
        rt_bars = self.rt_bars.on_trade(trade)
        for w in watches:
            send = w.session.send
            if w.kind == "mktData":
                send(encode.tick_price(w.req_id, LAST, px, size))
                send(encode.tick_size(w.req_id, LAST_SIZE, size))
                send(encode.tick_size(w.req_id, VOLUME, self.volume))
                send(encode.tick_string(w.req_id, LAST_TIMESTAMP, str(now_s)))
                if new_high:
                    send(encode.tick_price(w.req_id, HIGH, px, 0))
                if new_low:
                    send(encode.tick_price(w.req_id, LOW, px, 0))
                if w.rt_volume:
                    value = encode.rt_volume(px, size, now_ns // 1_000_000, self.volume,
                                             self.vwap(), True)  # fmt: skip
                    send(encode.tick_string(w.req_id, RT_VOLUME, value))
            elif w.kind in ("tbtLast", "tbtAllLast"):
                send(encode.tick_by_tick_last(w.req_id, now_s, px, size,
                                              all_last=w.kind == "tbtAllLast", exchange="CME"))  # fmt: skip
            elif w.kind == "history":
                bar = history_updates.get((id(w.session), w.req_id))
                if bar is not None:
                    send(encode.historical_data_update(w.req_id, self.bar_record(bar, w)))
            elif w.kind == "rtBars":
                for b in rt_bars:
                    send(self._rt_bar(w.req_id, b))

    def _publish_bar(self, bar: BarPrint) -> None:
        """A bar-only source (OHLCV replay): history, and the close as the last price."""
        updates = dict(self.history.on_bar(bar))
        self._last = (bar.close, 0)
        self.volume += bar.volume
        self._value_ticks += bar.close * bar.volume
        self.high = bar.high if self.high is None else max(self.high, bar.high)
        self.low = bar.low if self.low is None else min(self.low, bar.low)
        if self.open is None:
            self.open = bar.open
        for w in self._alive():
            if w.kind == "history":
                b = updates.get((id(w.session), w.req_id))
                if b is not None:
                    w.session.send(encode.historical_data_update(w.req_id, self.bar_record(b, w)))
            elif w.kind == "mktData":
                w.session.send(encode.tick_price(w.req_id, LAST, self.price(bar.close), 0))
                w.session.send(encode.tick_size(w.req_id, VOLUME, self.volume))

    def clock_tick(self) -> None:
        """Called often by the desk's pump: once the feed's own clock (the wall clock, or a
        replay's clock) is in a new second, :meth:`on_time` at that time."""
        now_ns = self._now_ns()
        if now_ns // NS != self._clock_second:
            self._clock_second = now_ns // NS
            self.on_time(now_ns)

    def on_time(self, now_ns: int) -> None:
        """Clock tick (about once a second): close 5-second bars, refresh current history bars."""
        watches = self._alive()
        rt = self.rt_bars.on_time(now_ns)
        updates = dict(self.history.on_time(now_ns))
        for w in watches:
            if w.kind == "rtBars":
                for b in rt:
                    w.session.send(self._rt_bar(w.req_id, b))
            elif w.kind == "history":
                current = updates.get((id(w.session), w.req_id))
                if current is not None:
                    w.session.send(
                        encode.historical_data_update(w.req_id, self.bar_record(current, w))
                    )

    # ---- snapshots for new subscribers ------------------------------------------------------

    def send_quote_snapshot(self, w: Watch, *, held: bool = False) -> None:
        """The quote as it is now, to one watch (``held``: see :meth:`_send_top`)."""
        if self._frozen():  # it goes at the thaw
            return
        self._send_top(w, (None, 0, None, 0), self._top, held=held)
        send = w.session.send
        if self.last is not None:
            send(encode.tick_price(w.req_id, LAST, self.price(self.last), self.last_size))
        for tick_type, value in ((HIGH, self.high), (LOW, self.low), (OPEN, self.open),
                                 (CLOSE, self.close)):  # fmt: skip
            if value is not None:
                send(encode.tick_price(w.req_id, tick_type, self.price(value), 0))
        send(encode.tick_size(w.req_id, VOLUME, self.volume))

    def bar_record(self, bar: Bar, w: Watch) -> BarRecord:
        return BarRecord(
            date=format_bar_time(bar.time, w.bar_size, w.format_date, self.entry.timeZoneId),
            open=self.price(bar.open),
            high=self.price(bar.high),
            low=self.price(bar.low),
            close=self.price(bar.close),
            volume=float(bar.volume),
            wap=float(bar.wap * self._tick_float) if bar.wap else 0.0,
            barCount=bar.count,
        )

    def _rt_bar(self, req_id: int, b: Bar) -> list[str]:
        return encode.realtime_bar(
            req_id, b.time, self.price(b.open), self.price(b.high), self.price(b.low),
            self.price(b.close), float(b.volume), float(b.wap * self._tick_float), b.count,
        )  # fmt: skip
