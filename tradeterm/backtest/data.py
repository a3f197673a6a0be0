"""What a backtest's data file holds, and its 1-minute bars as domain ``Bar``s.

:func:`detect` reads just enough of a file to say what it is (its extension, then its CSV
header or its DBN metadata): **bars** (a plain ``ts_utc,open,high,low,close,volume`` CSV, or
Databento OHLCV-1m as DBN or CSV) or **events** (quotes, trades, books: MBP-1, TBBO, MBO,
trades, tradeterm's replay CSV), and which of the file's instruments ``--symbol`` means (a
root such as ``ES`` picks the file's ``ESU4``). :func:`load_bars` reads the bars in integer
ticks of the instrument, kept to ``[start, end)`` by bar start (UTC).

The plain bar CSV, the format a long backtest is run on, is read here line by line, each
distinct day, time of day and price text worked out once (float prices checked against the
tick grid; the replay reader's exact ``Decimal`` parse words the error when a price is off
the grid), with the cycle collector paused while the bars are built. Databento's files go through
the replay readers of ``tradeterm.sim`` (DBN needs the ``dbn`` extra). Every problem is a
:class:`DataError` worded as one line.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import datetime as dt
import gc
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tradeterm.backtest.spec import BacktestError
from tradeterm.domain import Bar, DomainError, Instrument
from tradeterm.sim.market_events import BarPrint
from tradeterm.sim.replay_common import ReplayError, TickConverter, root_of
from tradeterm.sim.replay_csv import parse_ts, read_csv
from tradeterm.sim.replay_dbn import read_dbn, read_metadata

__all__ = [
    "BARS",
    "EVENTS",
    "DataError",
    "DataSource",
    "bar_from_print",
    "detect",
    "instrument_for",
    "load_bars",
]

BARS, EVENTS = "bars", "events"
PLAIN_HEADER = ["ts_utc", "open", "high", "low", "close", "volume"]
_BOOK_SCHEMAS = frozenset({"mbo", "mbp-1", "tbbo", "trades"})
_REPLAY_ROWS = frozenset({"trade", "quote", "bar", "level", "clear"})
_NS = 1_000_000_000
_MINUTE = 60 * _NS
_HEAD = 4096  # bytes read to tell a text file from a binary one
TEXT = "utf-8-sig"  # UTF-8, with or without the byte order mark Excel writes


class DataError(BacktestError):
    """A data file that cannot be backtested as asked, worded as one line."""


@dataclass(frozen=True, slots=True)
class DataSource:
    """A data file as :func:`detect` found it: ``kind`` :data:`BARS` or :data:`EVENTS`;
    ``schema`` what it holds (``ohlcv-1m``, ``mbp-1``, ``tbbo``, ``mbo``, ``trades``,
    ``replay``); ``dbn`` whether it is a DBN file (else CSV); ``symbol`` the file's name for the
    instrument asked (``ESU4``), None when the file names no instrument."""

    path: Path
    kind: str
    schema: str
    dbn: bool
    symbol: str | None


def detect(path: Path, symbol: str) -> DataSource:
    """What ``path`` holds and which of its instruments ``symbol`` (a root or a contract)
    means; :class:`DataError` when it is no data a backtest can run on."""
    if path.is_dir():
        raise DataError(f"{path}: a directory, not a data file")
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD)
        if path.name.endswith((".dbn", ".dbn.zst")) or _is_dbn(head):
            schema, symbols = read_metadata(path)
            return DataSource(path, _kind(path, schema), schema, True, _pick(path, symbols, symbol))
        if not _is_text(head):
            what = "a zip archive" if head.startswith(b"PK\x03\x04") else "binary"
            raise DataError(f"{path.name}: {what}, not a text bar file nor a DBN file")
        return _detect_csv(path, symbol)
    except ReplayError as exc:
        raise DataError(str(exc)) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot be read: {exc}") from None


def _is_dbn(head: bytes) -> bool:
    return head[:3] == b"DBN" or head[:4] == b"\x28\xb5\x2f\xfd"


def _is_text(head: bytes) -> bool:
    """Whether a file's first bytes are UTF-8 text (a multi-byte character cut at the end of
    ``head`` is text)."""
    if b"\0" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _kind(path: Path, schema: str) -> str:
    if schema == "ohlcv-1m":
        return BARS
    if schema in _BOOK_SCHEMAS:
        return EVENTS
    raise DataError(f"{path.name}: schema {schema!r} cannot be backtested (ohlcv-1m, mbp-1, "
                    "tbbo, mbo or trades)")  # fmt: skip


def _pick(path: Path, symbols: list[str], symbol: str) -> str | None:
    """The file's name for ``symbol``: the same contract, else the one of the same root."""
    if not symbols:
        return None
    wanted = symbol.strip().upper()
    exact = [s for s in symbols if s.upper() == wanted]
    same_root = [s for s in symbols if root_of(s) == root_of(wanted)]
    found = exact or same_root
    if not found:
        raise DataError(f"{path.name}: no {wanted} in the file (it holds {', '.join(symbols)})")
    if len(found) > 1:
        raise DataError(f"{path.name} holds several {wanted} contracts ({', '.join(found)}); "
                        "give one with --symbol")  # fmt: skip
    return found[0]


def _detect_csv(path: Path, symbol: str) -> DataSource:
    with path.open(newline="", encoding=TEXT) as fh:
        rows = csv.reader(fh)
        header = next((r for r in rows if r and r[0].strip() and not r[0].startswith("#")), None)
        if header is None:
            raise DataError(f"{path.name}: empty file")
        header = [c.strip() for c in header]
        names = set(header)
        if header[:6] == PLAIN_HEADER:
            return DataSource(path, BARS, "ohlcv-1m", False, None)
        if "rtype" in names and ("open" in names or "bid_px_00" in names):
            schema = "ohlcv-1m" if "open" in names else "mbp-1"
            symbols: list[str] = []
            if "symbol" in names:
                at = header.index("symbol")
                symbols = list(dict.fromkeys(r[at].strip() for r in rows if len(r) > at))
            return DataSource(path, _kind(path, schema), schema, False,
                              _pick(path, symbols, symbol))  # fmt: skip
        first = next(rows, []) if header[0].lower() == "ts" else header
        row_type = first[1].strip().lower() if len(first) > 1 else ""
        if row_type in _REPLAY_ROWS:  # tradeterm's replay CSV (sim/replay_csv.py)
            return DataSource(path, BARS if row_type == "bar" else EVENTS, "replay", False, None)
    raise DataError(f"{path.name}: not a bar or market data file (a bar CSV starts with the "
                    f"header {','.join(PLAIN_HEADER)})")  # fmt: skip


def instrument_for(symbol: str, source: DataSource | None = None) -> Instrument:
    """The instrument ``symbol`` (a root or a contract) trades, from the built-in specs (no
    broker: ES is tick 0.25, multiplier 50), named as the file names it (``ESU4``)."""
    try:
        instrument = Instrument.from_spec(root_of(symbol))
    except DomainError as exc:
        raise DataError(str(exc)) from None
    name = source.symbol if source is not None and source.symbol else symbol.strip().upper()
    if name != instrument.root:
        instrument = dataclasses.replace(instrument, local_symbol=name)
    return instrument


def load_bars(source: DataSource, instrument: Instrument, start: dt.datetime | None = None,
              end: dt.datetime | None = None) -> list[Bar]:  # fmt: skip
    """The file's 1-minute bars in ticks of ``instrument``, those starting in ``[start,
    end)``, in time order; :class:`DataError` for a bad file: one with no bars at all (a
    header and nothing under it, as an empty file), a bar whose prices contradict each other
    (the rule broken, in prices), a stamp off the minute (its line), bars on a coarser grid
    (5-minute bars: the bar loop stamps each bar's end a minute after its start and walks its
    path over that minute, and the strategies count bars as minutes). An empty range is no
    error: the run has no bars, as asked."""
    if source.kind != BARS:
        raise DataError(f"{source.path.name} holds {source.schema} events, not bars")
    name = source.path.name
    lo = _ns(start) if start is not None else None
    hi = _ns(end) if end is not None else None
    try:
        if source.schema == "ohlcv-1m" and not source.dbn and source.symbol is None:
            bars, outside = _plain(source.path, instrument, lo, hi)
        else:
            bars, outside = _replayed(source, instrument, lo, hi)
    except ReplayError as exc:
        raise DataError(f"{name}: {exc}") from None
    except DomainError as exc:
        raise DataError(f"{name}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{name}: not text past byte {exc.start:,} (not a bar file)") from None
    except (OSError, csv.Error) as exc:
        raise DataError(f"{name}: cannot be read: {exc}") from None
    if not bars and not outside:
        raise DataError(f"{name}: no bars in the file")
    for before, after in itertools.pairwise(bars):
        if after.start_ns <= before.start_ns:
            raise DataError(f"{name}: bars out of time order at {_text(after.start_ns)}")
    _one_minute(name, bars)
    return bars


def _one_minute(name: str, bars: list[Bar]) -> None:
    """:class:`DataError` when ``bars`` (in time order, each on a minute) are, from three bars
    on, all a whole number of N > 1 minutes apart (a minute without trades has no bar: gaps
    are no fault, a 5-minute grid is)."""
    if len(bars) < 3:
        return
    grid = 0
    for before, after in itertools.pairwise(bars):
        grid = math.gcd(grid, after.start_ns - before.start_ns)
        if grid == _MINUTE:
            return
    raise DataError(f"{name}: {grid // _MINUTE}-minute bars (the first two at "
                    f"{_text(bars[0].start_ns)} and {_text(bars[1].start_ns)}): a backtest "
                    "runs on 1-minute bars")  # fmt: skip


def _off_minute(where: str) -> DataError:
    return DataError(f"{where} is not on a minute: a backtest runs on 1-minute bars")


def bar_from_print(bar: BarPrint) -> Bar:
    return Bar(bar.ts_ns, bar.open, bar.high, bar.low, bar.close, bar.volume)


def _broken(values: tuple[int, int, int, int, int], instrument: Instrument) -> str:
    """The rule a bar's ``open, high, low, close, volume`` break, prices as prices."""
    open_, high, low, close, volume = values
    price = instrument.format_price
    if high < low:
        return f"high {price(high)} is below the low {price(low)}"
    for name, value in (("open", open_), ("close", close)):
        if value > high:
            return f"high {price(high)} is below the {name} {price(value)}"
        if value < low:
            return f"low {price(low)} is above the {name} {price(value)}"
    return f"negative volume {volume}" if volume < 0 else "inconsistent bar"


def _replayed(source: DataSource, instrument: Instrument, lo: int | None,
              hi: int | None) -> tuple[list[Bar], int]:  # fmt: skip
    """The bars in ``[lo, hi)`` and how many more the file holds outside."""
    read = read_dbn if source.dbn else read_csv
    events = read(source.path, symbol=source.symbol, tick_size=instrument.tick)
    bars: list[Bar] = []
    outside = 0
    for e in events:
        if not isinstance(e, BarPrint):
            continue
        if (lo is not None and e.ts_ns < lo) or (hi is not None and e.ts_ns >= hi):
            outside += 1
            continue
        if e.ts_ns % _MINUTE:
            raise _off_minute(f"{source.path.name}: the bar at {_text(e.ts_ns, seconds=True)}")
        try:
            bars.append(bar_from_print(e))
        except DomainError:
            values = (e.open, e.high, e.low, e.close, e.volume)
            raise DataError(f"{source.path.name}: the bar at {_text(e.ts_ns)}: "
                            f"{_broken(values, instrument)}") from None  # fmt: skip
    return bars, outside


def _plain(path: Path, instrument: Instrument, lo: int | None,
           hi: int | None) -> tuple[list[Bar], int]:  # fmt: skip
    """A ``ts_utc,open,high,low,close,volume`` file (see the module notes): the bars in ``[lo,
    hi)`` and how many more the file holds outside."""
    bars: list[Bar] = []
    append = bars.append
    outside = 0
    stamps, prices = _Stamps(), _Prices(TickConverter(instrument.tick))
    days, times, parse = stamps.days, stamps.times, stamps.parse
    with path.open(encoding=TEXT) as fh, _collector_paused():
        lines = enumerate(fh, 1)
        for _, line in lines:
            if line.strip() and not line.startswith("#"):
                break  # the header
        for number, line in lines:
            fields = line.split(",")
            if len(fields) < 6:
                if not line.strip():
                    continue
                raise DataError(f"{path.name}: line {number}: expected 6 fields, got {line!r}")
            try:
                text = fields[0]  # a day and a time of day seen before (on a minute), else parsed
                day = days.get(text[:11])
                if day is None or (into := times.get(text[11:])) is None:
                    ts = parse(text)
                    if ts % _MINUTE:
                        raise _off_minute(f"{path.name}: line {number}: {text.strip()}")
                else:
                    ts = day + into
                if (lo is not None and ts < lo) or (hi is not None and ts >= hi):
                    outside += 1
                    continue
                append(Bar(ts, prices[fields[1]], prices[fields[2]], prices[fields[3]],
                           prices[fields[4]], int(fields[5])))  # fmt: skip
            except DomainError:
                o, h, lo_, c = (prices[f] for f in fields[1:5])
                broken = _broken((o, h, lo_, c, int(fields[5])), instrument)
                raise DataError(f"{path.name}: line {number}: {broken}") from None
            except (ReplayError, ValueError) as exc:
                raise DataError(f"{path.name}: line {number}: {exc}") from None
    return bars, outside


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while bars are built: a bar holds only ints, so building them
    makes no cycle to find, yet the collector would walk every bar built so far again and
    again (about half the time of building them)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Prices(dict[str, int]):
    """Price texts to ticks, each text converted once: a file's bars repeat a few thousand
    prices. A float parse checked against the tick grid; off the grid (or not a number) the
    exact parse words the error."""

    def __init__(self, conv: TickConverter) -> None:
        super().__init__()
        self._conv = conv
        self._tick = float(conv.tick)

    def __missing__(self, text: str) -> int:
        try:
            ticks = float(text) / self._tick
            whole = round(ticks)
        except (ValueError, OverflowError):
            return self._conv.from_decimal_str(text)
        if abs(ticks - whole) > 1e-6:
            return self._conv.from_decimal_str(text)
        self[text] = whole
        return whole


class _Stamps:
    """ISO 8601 UTC times to nanoseconds: :meth:`parse` reads ``YYYY-MM-DDTHH:MM:SSZ`` from
    its day and its time of day, and keeps each (``days``, ``times``: a stamp whose two parts
    are both there is their sum); anything else goes through the replay reader's parser."""

    def __init__(self) -> None:
        self.days: dict[str, int] = {}  # "YYYY-MM-DDT": its midnight
        self.times: dict[str, int] = {}  # "HH:MM:SSZ": its nanoseconds into the day

    def parse(self, text: str) -> int:
        if len(text) != 20 or text[10] != "T" or text[19] != "Z":
            return parse_ts(text)
        day = self.days.get(text[:11])
        if day is None:
            day = self.days[text[:11]] = parse_ts(text[:10])
        into = (int(text[11:13]) * 3600 + int(text[14:16]) * 60 + int(text[17:19])) * _NS
        self.times[text[11:]] = into
        return day + into


def _ns(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp()) * _NS + when.microsecond * 1000


def _text(ts_ns: int, *, seconds: bool = False) -> str:
    when = dt.datetime.fromtimestamp(ts_ns // _NS, dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
