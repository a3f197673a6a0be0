"""Replay of CSV files: tradeterm's own replay format, plus Databento's CSV transcoding
(MBP-1 / OHLCV-1m) and plain one-minute bar files as found in ``shared/data/derived``.

tradeterm replay CSV, version 1
===============================

One instrument per file; UTF-8, comma-separated, one event per row, rows in time order
(non-decreasing ``ts``; a row that goes back in time is an error). Blank lines and lines
starting with ``#`` are ignored; an optional header row whose first field is ``ts`` is skipped.
Every row starts with ``ts,type``; the other fields depend on the type::

    ts,trade,price,size[,aggressor]
    ts,quote,bid,bid_size,ask,ask_size
    ts,bar,open,high,low,close,volume
    ts,level,side,price,size
    ts,clear

``ts``
    Either an integer = nanoseconds since the Unix epoch (``1719878281218218853``), or
    ISO-8601 (``2024-07-01T23:58:01.218218853Z``): date, ``T`` or space, ``HH:MM[:SS[.f]]``
    with up to 9 fraction digits, then ``Z`` or ``+HH:MM``/``-HH:MM``; no offset means UTC.
prices
    Decimal numbers in the instrument's price units (``5528.75``). The reader converts them to
    integer ticks with the tick size; a price off the tick grid is an error (it means the tick
    size is wrong).
sizes
    Whole contracts. ``size`` of a trade is > 0; ``volume`` and a level's ``size`` may be 0.
``trade``
    A trade. ``aggressor``: ``B`` = a buyer lifted the offer, ``S`` (or ``A``) = a seller hit
    the bid, empty or absent = unknown.
``quote``
    The best bid and ask after the event. An empty price or a size of 0 means no order on that
    side. The reader emits the level changes (the old best level is removed when a price moves).
``bar``
    A completed one-minute bar; ``ts`` is the bar's start. The gateway replays a file of bars
    only as a book and trades that add up to each bar (:mod:`tradeterm.sim.bar_market`: the
    bar trades open, nearer extreme, other extreme, close at +0/15/30/45 s, the book one level
    a side, bid at each print and ask a tick above); bars beside trades or book rows are
    history only.
``level``
    The absolute resting size at one price level (depth replay): ``side`` is ``B`` (bid) or
    ``A``/``S`` (ask); size 0 removes the level. Do not mix ``level`` and ``quote`` rows.
``clear``
    The book is reset (a session starts, a snapshot follows).

Example (ES, tick 0.25)::

    # ESU4, 2024-07-01
    ts,type
    2024-07-01T23:58:01.218Z,quote,5528.50,29,5528.75,6
    2024-07-01T23:58:01.219Z,trade,5528.75,2,B
    1719878400000000000,bar,5528.50,5529.00,5528.25,5528.75,1234

The tick size comes from the ``tick_size`` argument, else from the gateway catalog for the
``symbol`` argument's root (``ESU4`` -> 0.25).

Other CSVs recognised by their header: Databento's CSV encoding of MBP-1 (``ts_recv,ts_event,
rtype,...,bid_px_00,...``) and OHLCV-1m (``ts_event,rtype,...,open,high,low,close,volume``), with
pretty or fixed-point prices, filtered on the ``symbol`` column; and plain bar files with the
header ``ts_utc,open,high,low,close,volume``.
"""

from __future__ import annotations

import calendar
import contextlib
import csv
import re
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from tradeterm.sim.market_events import (
    BarPrint,
    BookClear,
    BookDelta,
    BookSide,
    MarketEvent,
    TradePrint,
)
from tradeterm.sim.replay_common import (
    ReplayError,
    TickConverter,
    TopOfBook,
    tick_for_symbol,
)

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$"
)


def parse_ts(text: str) -> int:
    """Epoch-ns integer or ISO-8601 text -> nanoseconds since the epoch (UTC)."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    m = _ISO.match(text)
    if m is None:
        raise ReplayError(f"invalid timestamp {text!r}")
    year, month, day, hour, minute, sec, frac, tz = m.groups()
    try:
        secs = calendar.timegm(
            (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(sec or 0))
        )
    except (ValueError, OverflowError) as exc:
        raise ReplayError(f"invalid timestamp {text!r}") from exc
    if tz and tz != "Z":
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        secs -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    ns = int((frac or "").ljust(9, "0")) if frac else 0
    return secs * 1_000_000_000 + ns


def format_ts(ts_ns: int) -> str:
    """Nanoseconds since the epoch -> ISO-8601 UTC with 9 fraction digits (``...Z``)."""
    secs, ns = divmod(ts_ns, 1_000_000_000)
    y, mo, d, h, mi, s = time.gmtime(secs)[:6]
    return f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ns:09d}Z"


def _side(text: str, *, line: int) -> BookSide | None:
    t = text.strip().upper()
    if t == "B":
        return BookSide.BID
    if t in ("S", "A"):
        return BookSide.ASK
    if t in ("", "N"):
        return None
    raise ReplayError(f"line {line}: invalid side {text!r}")


def _int(text: str, *, line: int) -> int:
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise ReplayError(f"line {line}: invalid integer {text!r}") from exc
    if value < 0:
        raise ReplayError(f"line {line}: negative size {text!r}")
    return value


def read_csv(
    path: str | Path,
    symbol: str | None = None,
    tick_size: float | str | Decimal | None = None,
) -> Iterator[MarketEvent]:
    """Events from a CSV file (the tradeterm format or a recognised derived format)."""
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        rows: Iterator[tuple[int, list[str]]] = ((reader.line_num, row) for row in reader)
        header: list[str] | None = None
        header_line = 0
        for line, row in rows:
            if row and row[0].strip() and not row[0].lstrip().startswith("#"):
                header, header_line = [c.strip() for c in row], line
                break
        if header is None:
            return
        names = set(header)
        if "rtype" in names and "bid_px_00" in names:
            yield from _databento(header, rows, symbol, tick_size, path, mbp=True)
        elif "rtype" in names and "open" in names:
            yield from _databento(header, rows, symbol, tick_size, path, mbp=False)
        elif header[:6] == ["ts_utc", "open", "high", "low", "close", "volume"]:
            yield from _plain_bars(rows, _converter(tick_size, symbol, path))
        else:
            conv = _converter(tick_size, symbol, path)
            if header[0].lower() != "ts":
                rows = _chain([(header_line, header)], rows)
            yield from _native(rows, conv)


def _converter(
    tick_size: float | str | Decimal | None, symbol: str | None, path: Path
) -> TickConverter:
    tick = tick_size if tick_size is not None else tick_for_symbol(symbol)
    if tick is None:
        raise ReplayError(f"{path.name}: pass tick_size= (or a symbol such as 'ESU4')")
    return TickConverter(tick)


def _native(rows: Iterable[tuple[int, list[str]]], conv: TickConverter) -> Iterator[MarketEvent]:
    top = TopOfBook()
    last_ts = -1
    for here, row in rows:
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise ReplayError(f"line {here}: expected ts,type,...")
        ts = _ts(row[0], line=here)
        if ts < last_ts:
            raise ReplayError(f"line {here}: time goes backwards")
        last_ts = ts
        kind = row[1].strip().lower()
        f = [c.strip() for c in row[2:]]
        with _on_line(here, f"for {kind!r}"):
            if kind == "trade":
                size = _int(f[1], line=here)
                if size == 0:
                    raise ReplayError(f"line {here}: trade size must be > 0")
                aggr = _side(f[2], line=here) if len(f) > 2 else None
                yield TradePrint(ts, conv.from_decimal_str(f[0]), size, aggr)
            elif kind == "quote":
                bid = (conv.from_decimal_str(f[0]), _int(f[1], line=here)) if f[0] else None
                ask = (conv.from_decimal_str(f[2]), _int(f[3], line=here)) if f[2] else None
                yield from top.update(ts, bid, ask)
            elif kind == "bar":
                o, h, lo, c = (conv.from_decimal_str(f[i]) for i in range(4))
                yield BarPrint(ts, o, h, lo, c, _int(f[4], line=here))
            elif kind == "level":
                side = _side(f[0], line=here)
                if side is None:
                    raise ReplayError(f"line {here}: level side must be B or A")
                yield BookDelta(ts, side, conv.from_decimal_str(f[1]), _int(f[2], line=here))
            elif kind == "clear":
                top.reset()
                yield BookClear(ts)
            else:
                raise ReplayError(f"line {here}: unknown row type {row[1]!r}")


@contextlib.contextmanager
def _on_line(line: int, what: str = "") -> Iterator[None]:
    """A row's errors as one line naming it: a ReplayError without its line gets it, and a row
    too short for the fields read from it says so (``what``: for which row type)."""
    try:
        yield
    except IndexError as exc:
        raise ReplayError(f"line {line}: too few fields {what}".rstrip()) from exc
    except ReplayError as exc:
        if str(exc).startswith("line "):
            raise
        raise ReplayError(f"line {line}: {exc}") from exc


def _chain(
    a: Iterable[tuple[int, list[str]]], b: Iterable[tuple[int, list[str]]]
) -> Iterator[tuple[int, list[str]]]:
    yield from a
    yield from b


def _ts(text: str, *, line: int) -> int:
    try:
        return parse_ts(text)
    except ReplayError as exc:
        raise ReplayError(f"line {line}: {exc}") from exc


def _plain_bars(
    rows: Iterable[tuple[int, list[str]]], conv: TickConverter
) -> Iterator[MarketEvent]:
    for line, row in rows:
        if not row:
            continue
        with _on_line(line):
            o, h, lo, c = (conv.from_decimal_str(row[i]) for i in range(1, 5))
            bar = BarPrint(_ts(row[0], line=line), o, h, lo, c, _int(row[5], line=line))
        yield bar


def _databento(
    header: list[str],
    rows: Iterable[tuple[int, list[str]]],
    symbol: str | None,
    tick_size: float | str | Decimal | None,
    path: Path,
    *,
    mbp: bool,
) -> Iterator[MarketEvent]:
    col = {name: i for i, name in enumerate(header)}
    sym_col = col.get("symbol")
    conv: TickConverter | None = TickConverter(tick_size) if tick_size is not None else None
    chosen = symbol.upper() if symbol else None
    top = TopOfBook()
    first = True
    for line, row in rows:
        if not row:
            continue
        with _on_line(line, f"({len(row)}, the header has {len(header)})"):
            if symbol and symbol.isdigit() and "instrument_id" in col:
                if row[col["instrument_id"]].strip() != symbol:
                    continue
                if chosen == symbol.upper() and sym_col is not None:
                    chosen = row[sym_col].strip().upper()  # the name, for the tick lookup
            elif sym_col is not None:
                row_sym = row[sym_col].strip().upper()
                if chosen is None:
                    chosen = row_sym
                elif row_sym != chosen:
                    if symbol is None:
                        raise ReplayError(f"{path.name} holds several instruments; pass symbol=")
                    continue
            if conv is None:
                conv = _converter(None, chosen, path)

            def px(name: str, conv: TickConverter = conv, row: list[str] = row) -> int | None:
                text = row[col[name]].strip()
                if not text:
                    return None
                if "." in text or not text.lstrip("-").isdigit():
                    return conv.from_decimal_str(text)
                value = int(text)
                return None if value == 2**63 - 1 else conv.from_fixed(value)

            if not mbp:
                if row[col["rtype"]].strip() not in ("33", "OHLCV_1M"):
                    raise ReplayError(f"{path.name}: only one-minute OHLCV bars can be replayed")
                o, h, lo, c = (px(n) for n in ("open", "high", "low", "close"))
                if o is None or h is None or lo is None or c is None:
                    continue
                ts = _ts(row[col["ts_event"]], line=line)
                yield BarPrint(ts, o, h, lo, c, _int(row[col["volume"]], line=line))
                continue
            ts = _ts(row[col["ts_recv"]], line=line)
            if first:
                first = False
                yield BookClear(ts)
            action = row[col["action"]].strip()
            if action == "R":
                top.reset()
                yield BookClear(ts)
                continue
            if action == "T":
                price = px("price")
                size = _int(row[col["size"]], line=line)
                if price is not None and size > 0:
                    yield TradePrint(ts, price, size, _side(row[col["side"]], line=line))
            bid_px, ask_px = px("bid_px_00"), px("ask_px_00")
            bid = (bid_px, _int(row[col["bid_sz_00"]], line=line)) if bid_px is not None else None
            ask = (ask_px, _int(row[col["ask_sz_00"]], line=line)) if ask_px is not None else None
            yield from top.update(ts, bid, ask)
