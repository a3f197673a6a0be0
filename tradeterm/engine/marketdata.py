"""Market state for one instrument.

:class:`MarketState` consumes the broker's market-data events (``QuoteEvent``,
``DepthEvent``, ``TradeEvent``; everything else is ignored) and keeps the latest quote, the
book, the last trade, and the session statistics: volume, volume at price (and its part
traded at the bid and at the ask), exact VWAP, high/low, a bounded time & sales tape, and the
trades of the last ``recent_s`` seconds at each price. :meth:`MarketState.apply` returns a
:class:`Changes`: which kinds of data changed and which price rows (ticks) of a ladder must be
repainted. :meth:`MarketState.snapshot` returns an immutable :class:`MarketSnapshot` for the
UI (10–20 Hz), never the live containers.

Session statistics come from trade prints of positive size only (a quote's ``last`` and
size-0 ticks are not counted; they still move the last-trade marker) and reset
at the first trade of a new session (:meth:`SessionCalendar.session_open_ns` changes, i.e. at
17:00 CT). The book and the tape are not reset.

The aggressor of a trade is the broker's when it gives one (replays of exchange data do); IB's
tick-by-tick ``AllLast`` gives none, and neither does the fake gateway (it speaks IB's wire
protocol), so it is inferred (:func:`infer_aggressor`) from the bid and ask in force when the
trade arrives: at or above the ask a buyer lifted the offer, at or below the bid a seller hit
the bid, in between it is not known (and counted in neither side's volume). The bid and ask in
force are the top of book's, else the best depth rows. "Recent" trades are those that arrived
within ``recent_s`` seconds of ``clock`` (the engine's clock; without one, the market's own
time), counted when :meth:`MarketState.snapshot` is taken.

The staleness of the feeds that bring these events is watched apart
(:mod:`tradeterm.engine.staleness`).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from tradeterm.broker.port import BrokerEvent, DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import DepthLevel, Instrument, Quote, Side, Trade
from tradeterm.engine.calendar import CME, NS, SessionCalendar


class Changed(enum.Flag):
    """Kinds of change in one :meth:`MarketState.apply`."""

    NONE = 0
    QUOTE = enum.auto()  # top of book
    DEPTH = enum.auto()  # the book beyond (or including) the top
    TRADE = enum.auto()  # a print: last trade, tape, volume, VWAP
    HIGH_LOW = enum.auto()  # session high or low moved
    LARGE_PRINT = enum.auto()  # the print is at or above the large-print threshold
    SESSION = enum.auto()  # a new session began: every volume row was reset


@dataclass(slots=True)
class Changes:
    """What one event changed. ``rows``: the prices (ticks) whose ladder row must be
    repainted (bid/ask size, volume at price, last-trade marker). When ``all_rows`` is True
    (a session reset) every row must be repainted and ``rows`` is not exhaustive."""

    kinds: Changed = Changed.NONE
    rows: set[int] = field(default_factory=set)
    all_rows: bool = False

    def __bool__(self) -> bool:
        return bool(self.kinds)


@dataclass(frozen=True, slots=True)
class Print:
    """One time & sales line; ``aggressor`` the broker's or inferred, None: not known."""

    ts_ns: int
    price: int
    size: int
    aggressor: Side | None
    large: bool


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """An immutable view of :class:`MarketState` for the UI."""

    instrument: Instrument
    ts_ns: int
    quote: Quote | None
    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]
    last: Print | None
    session_open_ns: int | None
    volume: int
    vwap: float | None  # ticks (a float for display; MarketState.vwap_exact is exact)
    high: int | None
    low: int | None
    volume_at_price: tuple[tuple[int, int], ...]  # (price ticks, contracts), ascending price
    tape: tuple[Print, ...]  # newest last
    at_bid: tuple[tuple[int, int], ...] = ()  # of volume_at_price: sellers hit the bid
    at_ask: tuple[tuple[int, int], ...] = ()  # of volume_at_price: buyers lifted the offer
    recent: tuple[Recent, ...] = ()  # the trades of the last recent_s seconds, ascending price


@dataclass(frozen=True, slots=True)
class Recent:
    """The trades at one price in the last few seconds: all of them, and those at the bid
    (sellers) and at the ask (buyers); the rest had no known aggressor."""

    price: int
    volume: int
    at_bid: int
    at_ask: int


def infer_aggressor(price: int, bid: int | None, ask: int | None) -> Side | None:
    """The side that took liquidity, from a trade's price against the bid and ask in force:
    at or above the ask BUY, at or below the bid SELL, between them (or nothing to compare
    with) None."""
    if ask is not None and price >= ask:
        return Side.BUY
    if bid is not None and price <= bid:
        return Side.SELL
    return None


_NO_CHANGE = Changes()


class MarketState:
    """The market of one instrument (see the module notes).

    ``large_print``: a print of at least this many contracts is flagged large.
    ``tape_size``: how many prints the time & sales tape keeps.
    ``recent_s``: how far back the recent trades at each price go, by ``clock`` (UTC ns;
    default: the market's own time, the latest event's).
    """

    __slots__ = (
        "_calendar",
        "_clock",
        "_pv",
        "_recent",
        "_session_end",
        "_session_open",
        "asks",
        "at_ask",
        "at_bid",
        "bids",
        "high",
        "instrument",
        "large_print",
        "last",
        "low",
        "quote",
        "recent_ns",
        "tape",
        "ts_ns",
        "volume",
        "volume_at_price",
    )

    def __init__(
        self,
        instrument: Instrument,
        *,
        large_print: int = 50,
        tape_size: int = 500,
        calendar: SessionCalendar = CME,
        recent_s: float = 5.0,
        clock: Callable[[], int] | None = None,
    ) -> None:
        if large_print < 1 or tape_size < 1 or recent_s <= 0:
            raise ValueError("large_print, tape_size and recent_s must be positive")
        self.instrument = instrument
        self.large_print = large_print
        self._calendar = calendar
        self._clock = clock if clock is not None else self._market_time
        self.recent_ns = int(recent_s * NS)
        self._recent: deque[tuple[int, Print]] = deque()  # (arrival by the clock, print)
        self.ts_ns = 0
        self.quote: Quote | None = None
        self.bids: tuple[DepthLevel, ...] = ()
        self.asks: tuple[DepthLevel, ...] = ()
        self.last: Print | None = None
        self.tape: deque[Print] = deque(maxlen=tape_size)
        self._session_open: int | None = None
        self._session_end = -1  # the next session open: stats reset at or after it
        self._reset_session()

    def _reset_session(self) -> None:
        self.volume = 0
        self._pv = 0  # sum of price x size, ticks x contracts
        self.high: int | None = None
        self.low: int | None = None
        self.volume_at_price: dict[int, int] = {}
        self.at_bid: dict[int, int] = {}  # sellers hit the bid (of volume_at_price)
        self.at_ask: dict[int, int] = {}  # buyers lifted the offer

    # ---- events ------------------------------------------------------------------------------

    def apply(self, event: BrokerEvent) -> Changes:
        """Apply one broker event; returns what changed (empty for other events)."""
        if isinstance(event, TradeEvent):
            return self.on_trade(event.trade)
        if isinstance(event, QuoteEvent):
            return self.on_quote(event.quote)
        if isinstance(event, DepthEvent):
            return self.on_depth(event.ts_ns, event.bids, event.asks)
        return _NO_CHANGE

    def on_quote(self, quote: Quote) -> Changes:
        old = self.quote
        self.quote = quote
        self.ts_ns = max(self.ts_ns, quote.ts_ns)
        rows: set[int] = set()
        if old is None:
            _add(rows, quote.bid)
            _add(rows, quote.ask)
        else:
            if old.bid != quote.bid or old.bid_size != quote.bid_size:
                _add(rows, old.bid)
                _add(rows, quote.bid)
            if old.ask != quote.ask or old.ask_size != quote.ask_size:
                _add(rows, old.ask)
                _add(rows, quote.ask)
            if not rows:
                return Changes()
        return Changes(Changed.QUOTE, rows)

    def on_depth(
        self, ts_ns: int, bids: tuple[DepthLevel, ...], asks: tuple[DepthLevel, ...]
    ) -> Changes:
        rows = _diff(self.bids, bids) | _diff(self.asks, asks)
        self.bids, self.asks = bids, asks
        self.ts_ns = max(self.ts_ns, ts_ns)
        return Changes(Changed.DEPTH, rows) if rows else Changes()

    def on_trade(self, trade: Trade) -> Changes:
        ts, price, size = trade.ts_ns, trade.price, trade.size
        changes = Changes(Changed.TRADE)
        if ts >= self._session_end:
            self._roll_session(ts, changes)
        self.ts_ns = max(self.ts_ns, ts)
        rows = changes.rows
        if self.last is not None:
            rows.add(self.last.price)
        rows.add(price)
        large = size >= self.large_print
        aggressor = trade.aggressor or infer_aggressor(price, *self.touch())
        prt = Print(ts, price, size, aggressor, large)
        self.last = prt
        self.tape.append(prt)
        if size > 0:
            self.volume += size
            self._pv += price * size
            vap = self.volume_at_price
            vap[price] = vap.get(price, 0) + size
            if aggressor is not None:
                side = self.at_ask if aggressor is Side.BUY else self.at_bid
                side[price] = side.get(price, 0) + size
            self._recent.append((self._clock(), prt))
            self._forget_recent()
            if self.high is None or price > self.high:
                self.high = price
                changes.kinds |= Changed.HIGH_LOW
            if self.low is None or price < self.low:
                self.low = price
                changes.kinds |= Changed.HIGH_LOW
        if large:
            changes.kinds |= Changed.LARGE_PRINT
        return changes

    def _roll_session(self, ts: int, changes: Changes) -> None:
        opened = self._calendar.session_open_ns(ts)
        if self._session_open is not None and opened == self._session_open:
            self._session_end = self._calendar.next_open_ns(ts)
            return
        if self._session_open is not None:
            changes.rows.update(self.volume_at_price)
            changes.kinds |= Changed.SESSION
            changes.all_rows = True
        self._reset_session()
        self._session_open = opened
        self._session_end = self._calendar.next_open_ns(ts)

    # ---- views -------------------------------------------------------------------------------

    @property
    def session_open_ns(self) -> int | None:
        return self._session_open

    @property
    def vwap_exact(self) -> Fraction | None:
        """The session VWAP in ticks, exactly: sum(price x size) / volume."""
        return Fraction(self._pv, self.volume) if self.volume else None

    @property
    def vwap(self) -> float | None:
        return self._pv / self.volume if self.volume else None

    def _market_time(self) -> int:
        return self.ts_ns

    def volume_at(self, price: int) -> int:
        return self.volume_at_price.get(price, 0)

    def touch(self) -> tuple[int | None, int | None]:
        """The bid and ask in force: the top of book's, else the best depth rows."""
        quote = self.quote
        bid = quote.bid if quote is not None else None
        ask = quote.ask if quote is not None else None
        if bid is None and self.bids:
            bid = self.bids[0].price
        if ask is None and self.asks:
            ask = self.asks[0].price
        return bid, ask

    def _forget_recent(self) -> deque[tuple[int, Print]]:
        """The recent trades, those older than ``recent_s`` by the clock dropped."""
        since, kept = self._clock() - self.recent_ns, self._recent
        while kept and kept[0][0] <= since:
            kept.popleft()
        return kept

    def recent(self) -> tuple[Recent, ...]:
        """The trades at each price that arrived within ``recent_s`` of the clock's now (older
        ones are forgotten), ascending price."""
        rows: dict[int, list[int]] = {}
        for _, p in self._forget_recent():
            row = rows.setdefault(p.price, [0, 0, 0])
            row[0] += p.size
            if p.aggressor is not None:
                row[1 if p.aggressor is Side.SELL else 2] += p.size
        return tuple(Recent(price, *row) for price, row in sorted(rows.items()))

    def snapshot(self, tape: int | None = None) -> MarketSnapshot:
        """An immutable copy; ``tape`` limits the time & sales lines copied (newest kept)."""
        prints = tuple(self.tape)
        if tape is not None:
            prints = prints[-tape:] if tape > 0 else ()
        return MarketSnapshot(
            instrument=self.instrument,
            ts_ns=self.ts_ns,
            quote=self.quote,
            bids=self.bids,
            asks=self.asks,
            last=self.last,
            session_open_ns=self._session_open,
            volume=self.volume,
            vwap=self.vwap,
            high=self.high,
            low=self.low,
            volume_at_price=tuple(sorted(self.volume_at_price.items())),
            tape=prints,
            at_bid=tuple(sorted(self.at_bid.items())),
            at_ask=tuple(sorted(self.at_ask.items())),
            recent=self.recent(),
        )


def _add(rows: set[int], price: int | None) -> None:
    if price is not None:
        rows.add(price)


def _diff(old: tuple[DepthLevel, ...], new: tuple[DepthLevel, ...]) -> set[int]:
    if old == new:
        return set()
    before = {lvl.price: lvl.size for lvl in old}
    rows: set[int] = set()
    for lvl in new:
        if before.pop(lvl.price, None) != lvl.size:
            rows.add(lvl.price)
    rows.update(before)  # levels that disappeared
    return rows
