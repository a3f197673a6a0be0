"""Replay of Databento DBN files (``.dbn`` or zstd-compressed ``.dbn.zst``).

Needs the optional ``databento-dbn`` package (``pip install 'tradeterm[dbn]'``); it is imported
only when a DBN file is opened.

Schemas:

* **MBO** (order by order). The reader keeps every resting order and the per-level totals and
  publishes a :class:`BookDelta` (absolute size at the level, 0 = gone) for every level whose
  total changed, once per exchange event: deltas are held back until the record flagged
  ``F_LAST`` ends the event (a single aggressive order arrives as trade, fills, add and cancels,
  and the intermediate states may be crossed), removals first. Actions: ``A`` add, ``C`` cancel
  (``size`` = the quantity removed, a partial cancel keeps the rest), ``M`` modify (new price
  and/or size; an unknown order is added), ``T`` trade -> :class:`TradePrint` (record side =
  aggressor, ``N`` = unknown), ``F`` fill (no book change: the book change comes with the
  following ``C``/``M``), ``R`` clear -> :class:`BookClear`. The file's snapshot (records
  flagged ``F_SNAPSHOT``) is published as one event. Every book stream starts with a
  BookClear, and so does every snapshot. The CME pre-open
  book may be crossed; it is replayed as recorded. With ``orders=True`` each event's changes
  of single orders come too, as :class:`OrderDelta` (just before the level's BookDelta):
  the matching engine keeps the true FIFO place of our orders from them. An order keeps its
  priority when its size falls (a partial cancel or fill) and loses it on a new price or a
  larger size, as at CME.
* **MBP-1** and **TBBO** (top of book + trades): a TradePrint per ``T`` record and BookDeltas
  whenever the best bid/ask after a record differs from the previous one.
* **Trades**: TradePrints only.
* **OHLCV-1m**: one :class:`BarPrint` per bar (``ts_ns`` = bar start).

Event times are ``ts_recv`` (Databento's capture time, monotonic in a file; the snapshot carries
the file's start time) except for bars, which use the bar start ``ts_event``.

Instrument: when a file holds several instruments, pass ``symbol`` (a raw symbol such as
``"ESU4"`` found in the metadata mappings, or a numeric instrument id). Tick size: the
``tick_size`` argument, else the instrument definition in a ``*definition*.dbn*`` file next to
the data file, else the gateway catalog's tick for the symbol's root (``ESU4`` -> ES).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradeterm.sim.market_events import (
    BarPrint,
    BookClear,
    BookDelta,
    BookSide,
    MarketEvent,
    OrderDelta,
    TradePrint,
)
from tradeterm.sim.replay_common import (
    FIXED_PRICE_SCALE,
    UNDEF_PRICE,
    ReplayError,
    TickConverter,
    TopOfBook,
    one_event,
    tick_for_symbol,
)

_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_F_LAST = 1 << 7
_F_SNAPSHOT = 1 << 5


def _import_dbn() -> Any:
    try:
        import databento_dbn
    except ImportError as exc:
        raise ReplayError(
            "replaying Databento DBN files needs the optional 'databento-dbn' package: "
            "pip install 'tradeterm[dbn]'"
        ) from exc
    return databento_dbn


class _ZstdFrames:
    """Walks the zstd frames of a file as its chunks are read (frame and block headers only, no
    decompression), to tell at the file's end whether its last frame was complete: the DBN
    decoder keeps a cut frame's bytes to itself and says nothing (RFC 8878 for the layout)."""

    def __init__(self) -> None:
        self._buf = bytearray()  # bytes of a header not read yet
        self._skip = 0  # content bytes still to pass over
        self._state = "frame"  # what the next bytes are: frame, block or checksum
        self._checksum = False
        self.broken: str | None = None

    @property
    def complete(self) -> bool:
        return self._state == "frame" and not self._buf and not self._skip and not self.broken

    def feed(self, chunk: bytes) -> None:
        if self.broken is not None:
            return
        if self._skip >= len(chunk):
            self._skip -= len(chunk)
            return
        self._buf += chunk[self._skip :]
        self._skip = 0
        while self._step():
            pass

    def _pass(self, size: int, content: int) -> None:
        """Drop a header of ``size`` bytes and the ``content`` bytes after it."""
        del self._buf[:size]
        taken = min(content, len(self._buf))
        del self._buf[:taken]
        self._skip = content - taken

    def _step(self) -> bool:
        """Read one header from the buffer; False when it needs more bytes."""
        buf = self._buf
        if self._state == "checksum":
            if len(buf) < 4:
                return False
            self._pass(4, 0)
            self._state = "frame"
        elif self._state == "block":
            if len(buf) < 3:
                return False
            header = int.from_bytes(buf[:3], "little")
            kind, size = (header >> 1) & 3, header >> 3
            if kind == 3:
                self.broken = "holds a zstd block of a reserved type"
                return False
            self._pass(3, 1 if kind == 1 else size)  # an RLE block holds one byte
            if header & 1:  # the frame's last block
                self._state = "checksum" if self._checksum else "frame"
        elif len(buf) < 4:
            return False
        elif buf[:4] == _ZSTD_MAGIC:
            if len(buf) < 5:
                return False
            desc = buf[4]
            single = bool(desc & 0x20)
            fcs = (1 if single else 0, 2, 4, 8)[desc >> 6]
            size = 5 + (0 if single else 1) + (0, 1, 2, 4)[desc & 3] + fcs
            if len(buf) < size:
                return False
            self._checksum = bool(desc & 4)
            self._pass(size, 0)
            self._state = "block"
        elif buf[1:4] == b"\x2a\x4d\x18" and buf[0] & 0xF0 == 0x50:  # a skippable frame
            if len(buf) < 8:
                return False
            self._pass(8, int.from_bytes(buf[4:8], "little"))
        else:
            self.broken = "holds bytes that are not a zstd frame"
            return False
        return bool(buf)


def _records(path: Path) -> Iterator[Any]:
    """Metadata first, then every record, decoded incrementally; a :class:`ReplayError` where
    the file stops inside a record or a zstd frame (truncated or corrupt)."""
    dbn = _import_dbn()
    with path.open("rb") as fh:
        head = fh.read(4)
        zstd = head == _ZSTD_MAGIC
        frames = _ZstdFrames() if zstd else None
        decoder = dbn.DBNDecoder(compression=dbn.Compression.ZSTD if zstd else dbn.Compression.NONE)
        chunk = head + fh.read(_CHUNK - 4)
        read = 0
        while chunk:
            try:
                decoder.write(chunk)
                yield from decoder.decode()
            except Exception as exc:
                raise ReplayError(f"{path.name}: not a readable DBN file ({exc})") from exc
            if frames is not None:
                frames.feed(chunk)
            read += len(chunk)
            chunk = fh.read(_CHUNK)
    if decoder.buffer():
        raise ReplayError(f"{path.name} is truncated or corrupt: it ends inside a record")
    if frames is not None and not frames.complete:
        where = frames.broken or "ends inside a zstd frame"
        raise ReplayError(f"{path.name} is truncated or corrupt: it {where} ({read} bytes)")


def _side(value: Any) -> BookSide | None:
    text = str(value)
    if text == "B":
        return BookSide.BID
    if text == "A":
        return BookSide.ASK
    return None


def _schema(metadata: Any) -> str:
    schema = metadata.schema
    return str(schema.value if hasattr(schema, "value") else schema).lower()


def _instrument_ids(metadata: Any, symbol: str | None, path: Path) -> tuple[set[int] | None, str]:
    """Instrument ids to keep (None = all) and the symbol name used for messages."""
    mappings: dict[str, list[dict[str, Any]]] = dict(metadata.mappings or {})
    if symbol is None:
        names = list(mappings) or list(metadata.symbols or [])
        if len(names) > 1:
            raise ReplayError(
                f"{path.name} holds several instruments ({', '.join(sorted(names))}); "
                "pass symbol= to pick one"
            )
        if not names:
            return None, ""
        symbol = names[0]
    if symbol.isdigit():
        named = (n for n, ivs in mappings.items() if any(str(iv["symbol"]) == symbol for iv in ivs))
        return {int(symbol)}, next(named, symbol)
    for name, intervals in mappings.items():
        if name.upper() == symbol.upper():
            ids = {int(iv["symbol"]) for iv in intervals if str(iv["symbol"]).isdigit()}
            if ids:
                return ids, name
    known = ", ".join(sorted(mappings)) or "none"
    raise ReplayError(f"{path.name}: no instrument {symbol!r} in the file (symbols: {known})")


def _tick_from_definitions(path: Path, symbol: str, ids: set[int] | None) -> Decimal | None:
    """min_price_increment of the instrument from a sibling definition file, if there is one."""
    for sibling in sorted(path.parent.glob("*definition*.dbn*")):
        if sibling == path:
            continue
        try:
            records = _records(sibling)
            next(records, None)
            for rec in records:
                increment = getattr(rec, "min_price_increment", None)
                if increment is None or increment in (0, UNDEF_PRICE):
                    continue
                raw = str(getattr(rec, "raw_symbol", ""))
                if (ids is not None and rec.instrument_id in ids) or (
                    symbol and raw.upper() == symbol.upper()
                ):
                    return Decimal(increment) / FIXED_PRICE_SCALE
        except ReplayError:
            continue
    return None


def read_metadata(path: str | Path) -> tuple[str, list[str]]:
    """A DBN file's schema (``ohlcv-1m``, ``mbp-1``...) and the raw symbols it names, read from
    its metadata only."""
    path = Path(path)
    metadata = next(_records(path), None)
    if metadata is None or not hasattr(metadata, "schema"):
        raise ReplayError(f"{path.name}: empty or not a DBN file")
    names = list(dict(metadata.mappings or {})) or [str(s) for s in metadata.symbols or []]
    return _schema(metadata), names


def read_dbn(
    path: str | Path,
    symbol: str | None = None,
    tick_size: float | str | Decimal | None = None,
    *,
    orders: bool = False,
) -> Iterator[MarketEvent]:
    """Events of one instrument from a DBN file, in file order (see the module docstring);
    ``orders``: an MBO file's single orders too (:class:`OrderDelta`)."""
    path = Path(path)
    records = _records(path)
    metadata = next(records, None)
    if metadata is None or not hasattr(metadata, "schema"):
        raise ReplayError(f"{path.name}: empty or not a DBN file")
    schema = _schema(metadata)
    ids, name = _instrument_ids(metadata, symbol, path)
    if tick_size is None:
        tick_size = _tick_from_definitions(path, name, ids) or tick_for_symbol(name)
        if tick_size is None:
            raise ReplayError(
                f"{path.name}: tick size unknown for {name or 'the instrument'}; pass tick_size="
            )
    conv = TickConverter(tick_size)

    def mine(rec: Any) -> bool:
        return ids is None or rec.instrument_id in ids

    if schema == "mbo":
        yield from _mbo(filter(mine, records), conv, orders)
    elif schema in ("mbp-1", "tbbo"):
        yield from _mbp1(filter(mine, records), conv)
    elif schema == "trades":
        yield from _trades(filter(mine, records), conv)
    elif schema == "ohlcv-1m":
        yield from _ohlcv(filter(mine, records), conv)
    else:
        raise ReplayError(
            f"{path.name}: schema {schema!r} is not replayable "
            "(supported: mbo, mbp-1, tbbo, trades, ohlcv-1m)"
        )


def _trade(rec: Any, conv: TickConverter) -> TradePrint | None:
    if rec.price == UNDEF_PRICE or rec.size <= 0:
        return None
    return TradePrint(rec.ts_recv, conv.from_fixed(rec.price), int(rec.size), _side(rec.side))


class _MboBook:
    """Per-order book with per-level totals and the levels changed since the last publish."""

    def __init__(self, keep_orders: bool = False) -> None:
        self.orders: dict[int, tuple[BookSide, int, int]] = {}
        self.keep_orders = keep_orders  # publish OrderDeltas
        self.priority: dict[int, int] = {}  # order id -> its place in its queue
        self.placed: list[OrderDelta] = []  # single orders changed since the last publish
        self._next = 0
        self.levels: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}
        self.dirty: dict[tuple[BookSide, int], int] = {}  # level -> size last published

    def _change(self, side: BookSide, price: int, qty: int) -> None:
        level = self.levels[side]
        old = level.get(price, 0)
        self.dirty.setdefault((side, price), old)
        new = old + qty
        if new > 0:
            level[price] = new
        else:
            level.pop(price, None)

    def _place(self, oid: int, side: BookSide, price: int, size: int, *, new: bool) -> None:
        """Order ``oid`` now rests ``size`` (0: gone); ``new``: at the back of its queue."""
        if not self.keep_orders:
            return
        if new:
            self._next += 1
            self.priority[oid] = self._next
        prio = self.priority[oid] if size else self.priority.pop(oid)
        self.placed.append(OrderDelta(0, side, price, prio, size))

    def add(self, oid: int, side: BookSide, price: int, size: int) -> None:
        if oid in self.orders:
            self.cancel(oid, None)
        self.orders[oid] = (side, price, size)
        self._change(side, price, size)
        self._place(oid, side, price, size, new=True)

    def cancel(self, oid: int, size: int | None) -> None:
        order = self.orders.get(oid)
        if order is None:
            return
        side, price, rest = order
        gone = rest if size is None or size >= rest else size
        self._change(side, price, -gone)
        self._place(oid, side, price, rest - gone, new=False)
        if gone >= rest:
            del self.orders[oid]
        else:
            self.orders[oid] = (side, price, rest - gone)

    def modify(self, oid: int, side: BookSide, price: int, size: int) -> None:
        order = self.orders.pop(oid, None)
        keeps = order is not None and order[1] == price and size <= order[2]  # its priority
        if order is not None:
            self._change(order[0], order[1], -order[2])
            side = order[0]
            if not keeps or not size:
                self._place(oid, side, order[1], 0, new=False)
        if size > 0:
            self.orders[oid] = (side, price, size)
            self._change(side, price, size)
            self._place(oid, side, price, size, new=not keeps)

    def clear(self) -> None:
        self.orders.clear()
        self.levels = {BookSide.BID: {}, BookSide.ASK: {}}
        self.dirty.clear()
        self.priority.clear()
        self.placed.clear()

    def publish(self, ts_ns: int) -> list[BookDelta | OrderDelta]:
        """This exchange event's changes: its single orders' first (the matching engine's FIFO
        takes them with their levels), then the levels emptied, then the levels changed."""
        placed = [
            OrderDelta(ts_ns, d.side, d.price, d.priority, d.size, last=False) for d in self.placed
        ]
        self.placed.clear()
        gone: list[BookDelta] = []
        changed: list[BookDelta] = []
        for (side, price), old in self.dirty.items():
            new = self.levels[side].get(price, 0)
            if new != old:
                (changed if new else gone).append(BookDelta(ts_ns, side, price, new, last=False))
        self.dirty.clear()
        event: list[BookDelta | OrderDelta] = [*placed, *gone, *changed]
        return one_event(event)


def _mbo(records: Iterator[Any], conv: TickConverter, orders: bool) -> Iterator[MarketEvent]:
    book = _MboBook(orders)
    in_snapshot = False
    first = True
    last_ts = 0
    for rec in records:
        ts = rec.ts_recv
        flags = int(rec.flags)
        snapshot = bool(flags & _F_SNAPSHOT)
        if in_snapshot and not snapshot:
            yield from book.publish(last_ts)
        if (snapshot and not in_snapshot) or first:
            book.clear()
            yield BookClear(ts)
        first = False
        in_snapshot = snapshot
        last_ts = ts
        action = str(rec.action)
        if action == "T":
            trade = _trade(rec, conv)
            if trade is not None:
                yield trade
        elif action == "R":
            book.clear()
            yield BookClear(ts)
        elif action in ("A", "M", "C"):
            side = _side(rec.side)
            if action == "C":
                book.cancel(rec.order_id, int(rec.size))
            elif side is not None and rec.price != UNDEF_PRICE:
                price = conv.from_fixed(rec.price)
                if action == "A":
                    book.add(rec.order_id, side, price, int(rec.size))
                else:
                    book.modify(rec.order_id, side, price, int(rec.size))
        if flags & _F_LAST and not in_snapshot:
            yield from book.publish(ts)
    if book.dirty or book.placed:
        yield from book.publish(last_ts)


def _mbp1(records: Iterator[Any], conv: TickConverter) -> Iterator[MarketEvent]:
    top = TopOfBook()
    first = True
    for rec in records:
        ts = rec.ts_recv
        if first:
            first = False
            yield BookClear(ts)
        action = str(rec.action)
        if action == "R":
            top.reset()
            yield BookClear(ts)
            continue
        if action == "T":
            trade = _trade(rec, conv)
            if trade is not None:
                yield trade
        level = rec.levels[0] if hasattr(rec, "levels") else rec
        bid = (
            (conv.from_fixed(level.bid_px), int(level.bid_sz))
            if level.bid_px != UNDEF_PRICE
            else None
        )
        ask = (
            (conv.from_fixed(level.ask_px), int(level.ask_sz))
            if level.ask_px != UNDEF_PRICE
            else None
        )
        yield from top.update(ts, bid, ask)


def _trades(records: Iterator[Any], conv: TickConverter) -> Iterator[MarketEvent]:
    for rec in records:
        if str(rec.action) == "T":
            trade = _trade(rec, conv)
            if trade is not None:
                yield trade


def _ohlcv(records: Iterator[Any], conv: TickConverter) -> Iterator[MarketEvent]:
    for rec in records:
        if not hasattr(rec, "open"):
            continue
        yield BarPrint(
            rec.ts_event,
            conv.from_fixed(rec.open),
            conv.from_fixed(rec.high),
            conv.from_fixed(rec.low),
            conv.from_fixed(rec.close),
            int(rec.volume),
        )
