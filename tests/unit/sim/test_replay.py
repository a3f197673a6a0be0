"""Replay of recorded CME data: real Databento files from the shared data folder, hand-made
DBN records for the MBO action semantics, the CSV format, and pacing against a fake clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import itertools
import re
import sys
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from types import SimpleNamespace

import pytest

from tradeterm.sim.market_events import (
    BarPrint,
    BookClear,
    BookDelta,
    BookSide,
    MarketEvent,
    TradePrint,
)
from tradeterm.sim.replay import (
    ReplayError,
    format_ts,
    load_replay,
    paced,
    parse_speed,
    parse_ts,
)

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
MBO = DATA / "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"
MBP1 = DATA / "ESU4_glbx-mdp3_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.dbn.zst"
OHLCV = DATA / "ESU4_NQU4_glbx-mdp3_ohlcv-1m_2024-07-01T2340Z_2024-07-02T0010Z.dbn.zst"
MBP1_CSV = DATA / "derived" / "ESU4_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.csv"
OHLCV_CSV = DATA / "derived" / "ESU4_NQU4_ohlcv-1m_2024-07-01T2340Z_2024-07-02T0010Z.csv"
needs_data = pytest.mark.skipif(not MBO.is_file(), reason=f"recorded data not found in {DATA}")

NS = 1_000_000_000
REOPEN_NS = 1703545200 * NS  # 2023-12-25 23:00:00 UTC (17:00 CT)


def ticks(price: str) -> int:
    return int(float(price) * 4)


class Book:
    """What a consumer of the stream sees: per-side levels (price ticks -> size)."""

    def __init__(self) -> None:
        self.levels: dict[BookSide, dict[int, int]] = {BookSide.BID: {}, BookSide.ASK: {}}

    def apply(self, ev: MarketEvent) -> None:
        if isinstance(ev, BookClear):
            self.levels = {BookSide.BID: {}, BookSide.ASK: {}}
        elif isinstance(ev, BookDelta):
            assert ev.size >= 0
            if ev.size:
                self.levels[ev.side][ev.price] = ev.size
            else:
                self.levels[ev.side].pop(ev.price, None)

    def crossed(self) -> bool:
        bids, asks = self.levels[BookSide.BID], self.levels[BookSide.ASK]
        return bool(bids and asks and max(bids) >= min(asks))

    def top(self) -> tuple[int | None, int | None]:
        bids, asks = self.levels[BookSide.BID], self.levels[BookSide.ASK]
        return (max(bids) if bids else None, min(asks) if asks else None)


def trades_of(events: Iterable[MarketEvent]) -> list[TradePrint]:
    return [e for e in events if isinstance(e, TradePrint)]


# --- real files ----------------------------------------------------------------------------


@needs_data
def test_mbo_totals_order_and_book() -> None:
    events = list(load_replay(MBO))
    assert isinstance(events[0], BookClear)
    assert all(a.ts_ns <= b.ts_ns for a, b in itertools.pairwise(events))
    trades = trades_of(events)
    assert len(trades) == 2973
    assert sum(t.size for t in trades) == 9892
    assert min(t.price for t in trades) == ticks("4800.25")
    assert max(t.price for t in trades) == ticks("4811.75")
    assert {t.aggressor for t in trades} == {BookSide.BID, BookSide.ASK, None}

    # The pre-open book is crossed; once the opening trade has printed and its book update
    # is through, the book is never crossed again (checked after every exchange event).
    book = Book()
    opening = next(t for t in trades if t.ts_ns >= REOPEN_NS)
    crossed_before_open = False
    for i, ev in enumerate(events):
        book.apply(ev)
        if ev.ts_ns < REOPEN_NS and book.crossed():
            crossed_before_open = True
        last_of_group = i + 1 == len(events) or events[i + 1].ts_ns != ev.ts_ns
        if ev.ts_ns > opening.ts_ns and last_of_group:
            assert not book.crossed(), ev
    assert crossed_before_open
    bid, ask = book.top()
    assert bid is not None and ask is not None and bid < ask


@needs_data
def test_mbo_explicit_tick_size_matches_catalog_default() -> None:
    a = trades_of(load_replay(MBO, tick_size="0.25"))
    b = trades_of(load_replay(MBO, symbol="ESH4"))
    assert a == b
    with pytest.raises(ReplayError, match="not on the tick"):
        list(load_replay(MBO, tick_size=0.5))


@needs_data
def test_mbp1_trades_and_top_of_book() -> None:
    events = list(load_replay(MBP1))
    trades = trades_of(events)
    assert len(trades) == 120
    assert sum(t.size for t in trades) == 253
    assert min(t.price for t in trades) == ticks("5528.50")
    assert max(t.price for t in trades) == ticks("5529.50")
    book = Book()
    for ev in events:
        book.apply(ev)
        assert len(book.levels[BookSide.BID]) <= 1 and len(book.levels[BookSide.ASK]) <= 1
        assert not book.crossed()
    # Databento's own CSV transcoding of the same file gives the same stream.
    assert list(load_replay(MBP1_CSV)) == events


@needs_data
@pytest.mark.parametrize("path", [OHLCV, OHLCV_CSV], ids=["dbn", "csv"])
def test_ohlcv_bars_per_symbol(path: Path) -> None:
    es = list(load_replay(path, symbol="ESU4"))
    nq = list(load_replay(path, symbol="nqu4"))
    assert len(es) == 30 and len(nq) == 30
    assert all(isinstance(b, BarPrint) for b in es + nq)
    assert es[0] == BarPrint(
        1719877200 * NS, ticks("5527.25"), ticks("5527.5"), ticks("5527"), ticks("5527.5"), 180
    )
    assert [b.ts_ns for b in es] == [1719877200 * NS + 60 * NS * i for i in range(30)]
    assert isinstance(nq[0], BarPrint) and nq[0].open == ticks("20014.25")
    with pytest.raises(ReplayError, match="several instruments"):
        list(load_replay(path))


@needs_data
def test_unknown_symbol_fails_early() -> None:
    with pytest.raises(ReplayError, match="no instrument 'CLZ4'"):
        load_replay(OHLCV, symbol="CLZ4")


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no such replay file"):
        load_replay(tmp_path / "nope.dbn.zst")
    other = tmp_path / "x.bin"
    other.write_bytes(b"hello")
    with pytest.raises(ReplayError, match="unknown replay format"):
        load_replay(other)


# --- MBO semantics on hand-made records ------------------------------------------------------


def write_mbo(path: Path, rows: list[tuple[str, str, str, int, int, int, int]]) -> None:
    """rows: (action, side, price, size, order_id, ts, flags) -> a DBN MBO file."""
    dbn = pytest.importorskip("databento_dbn")
    mapping = SimpleNamespace(
        raw_symbol="ESZ5",
        intervals=[
            SimpleNamespace(
                start_date=dt.date(2025, 1, 1), end_date=dt.date(2025, 1, 2), symbol="42"
            )
        ],
    )
    meta = dbn.Metadata(
        dataset="GLBX.MDP3",
        start=0,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.MBO,
        symbols=["ESZ5"],
        mappings=[mapping],
    )
    out = bytearray(bytes(meta))
    for action, side, price, size, oid, ts, flags in rows:
        px = round(float(price) * 1e9) if price else dbn.UNDEF_PRICE
        rec = dbn.MBOMsg(
            1, 42, ts, oid, px, size, dbn.Action(action), dbn.Side(side), ts, flags=flags
        )
        out += bytes(rec)
    path.write_bytes(bytes(out))


LAST, SNAP = 128, 32


def test_mbo_actions(tmp_path: Path) -> None:
    f = tmp_path / "book.dbn"
    # fmt: off
    write_mbo(f, [
        ("A", "B", "100.00", 5, 1, 1, SNAP),  # snapshot
        ("A", "B", "100.00", 2, 2, 1, SNAP),
        ("A", "A", "100.50", 4, 3, 1, SNAP),
        ("C", "B", "100.00", 1, 1, 2, LAST),  # partial cancel: order 1 keeps 4
        ("M", "A", "100.25", 4, 3, 3, LAST),  # modify moves the ask
        ("T", "B", "100.25", 4, 9, 4, 0),     # aggressor buys 4
        ("F", "A", "100.25", 4, 3, 4, 0),     # fill: no book change by itself
        ("A", "B", "100.25", 1, 9, 4, 0),     # aggressor's rest would cross the ask...
        ("C", "A", "100.25", 4, 3, 4, LAST),  # ...until the cancel ends the event
        ("C", "B", "100.25", 1, 9, 5, LAST),
        ("R", "N", "", 0, 0, 6, LAST),        # clear
        ("A", "A", "101.00", 7, 10, 7, LAST),
        ("M", "B", "99.75", 2, 11, 8, LAST),  # modify of an unknown order = add
    ])
    # fmt: on
    events = list(load_replay(f, tick_size="0.25"))
    P = lambda x: ticks(x)  # noqa: E731
    assert events == [
        BookClear(1),
        BookDelta(1, BookSide.BID, P("100.00"), 7),
        BookDelta(1, BookSide.ASK, P("100.50"), 4),
        BookDelta(2, BookSide.BID, P("100.00"), 6),
        BookDelta(3, BookSide.ASK, P("100.50"), 0),
        BookDelta(3, BookSide.ASK, P("100.25"), 4),
        TradePrint(4, P("100.25"), 4, BookSide.BID),
        BookDelta(4, BookSide.ASK, P("100.25"), 0),  # removals first: never crossed in between
        BookDelta(4, BookSide.BID, P("100.25"), 1),
        BookDelta(5, BookSide.BID, P("100.25"), 0),
        BookClear(6),
        BookDelta(7, BookSide.ASK, P("101.00"), 7),
        BookDelta(8, BookSide.BID, P("99.75"), 2),
    ]


def test_mbo_symbol_from_metadata_and_root_tick(tmp_path: Path) -> None:
    f = tmp_path / "one.dbn"
    write_mbo(f, [("T", "A", "5000.25", 2, 1, 5, LAST)])
    want = [BookClear(5), TradePrint(5, 20001, 2, BookSide.ASK)]  # ES tick from the catalog
    assert list(load_replay(f)) == want
    assert list(load_replay(f, symbol="42")) == want


def zstd_of(raw: bytes) -> bytes:
    """An uncompressed DBN file's bytes compressed as a ``.dbn.zst`` file (one zstd frame)."""
    dbn = pytest.importorskip("databento_dbn")
    out = io.BytesIO()
    transcoder = dbn.Transcoder(out, dbn.Encoding.DBN, dbn.Compression.ZSTD)
    transcoder.write(raw)
    transcoder.flush()
    del transcoder  # the frame's last block is written only when the transcoder goes
    return out.getvalue()


@pytest.mark.parametrize("compressed", [False, True])
def test_a_truncated_dbn_file_fails_where_it_stops(tmp_path: Path, compressed: bool) -> None:
    whole = tmp_path / "whole.dbn"
    adds = [
        ("A", "B", f"{5000 + i % 8 * 0.25:.2f}", 1 + i % 5, i, i + 1, LAST) for i in range(3000)
    ]
    write_mbo(whole, adds)
    data = zstd_of(whole.read_bytes()) if compressed else whole.read_bytes()
    full = tmp_path / ("full.dbn.zst" if compressed else "full.dbn")
    full.write_bytes(data)
    assert len(list(load_replay(full))) > 3000  # the whole file reads to its end
    cut = tmp_path / ("cut.dbn.zst" if compressed else "cut.dbn")
    for size in (len(data) // 2, len(data) - 1):  # the middle of a record / of the zstd frame
        cut.write_bytes(data[:size])
        with pytest.raises(ReplayError, match=r"cut\.dbn(\.zst)? is truncated or corrupt"):
            list(load_replay(cut))


def test_missing_dbn_package_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "one.dbn"
    write_mbo(f, [("T", "A", "5000.25", 2, 1, 5, LAST)])
    monkeypatch.setitem(sys.modules, "databento_dbn", None)  # import now fails
    with pytest.raises(ReplayError, match=r"pip install 'tradeterm\[dbn\]'"):
        load_replay(f)


# --- tradeterm CSV format ------------------------------------------------------------------


def test_csv_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "es.csv"
    f.write_text(
        "# ESU4 replay, tick 0.25\n"
        "ts,type\n"
        "2024-07-01T23:58:00Z,clear\n"
        "2024-07-01T23:58:01.218218853Z,quote,5528.50,29,5528.75,6\n"
        "2024-07-01T23:58:01.218218853Z,trade,5528.75,2,B\n"
        "\n"
        "2024-07-01T18:58:01.5-05:00,quote,5528.50,30,5528.75,4\n"
        "1719878282000000000,quote,5528.25,3,,\n"
        "1719878283000000000,trade,5528.25,1,S\n"
        "1719878284000000000,trade,5528.50,1\n"
        "1719878340000000000,bar,5528.50,5529.00,5528.25,5528.75,1234\n"
        "1719878341000000000,level,A,5529.00,12\n"
    )
    t = parse_ts("2024-07-01T23:58:01.218218853Z")
    assert t == 1719878281218218853
    assert format_ts(t) == "2024-07-01T23:58:01.218218853Z"
    events = list(load_replay(f, tick_size="0.25"))
    assert events == [
        BookClear(1719878280 * NS),
        BookDelta(t, BookSide.BID, ticks("5528.50"), 29),
        BookDelta(t, BookSide.ASK, ticks("5528.75"), 6),
        TradePrint(t, ticks("5528.75"), 2, BookSide.BID),
        BookDelta(1719878281_500000000, BookSide.BID, ticks("5528.50"), 30),
        BookDelta(1719878281_500000000, BookSide.ASK, ticks("5528.75"), 4),
        BookDelta(1719878282 * NS, BookSide.BID, ticks("5528.50"), 0),
        BookDelta(1719878282 * NS, BookSide.ASK, ticks("5528.75"), 0),
        BookDelta(1719878282 * NS, BookSide.BID, ticks("5528.25"), 3),
        TradePrint(1719878283 * NS, ticks("5528.25"), 1, BookSide.ASK),
        TradePrint(1719878284 * NS, ticks("5528.50"), 1, None),
        BarPrint(
            1719878340 * NS,
            ticks("5528.5"),
            ticks("5529"),
            ticks("5528.25"),
            ticks("5528.75"),
            1234,
        ),
        BookDelta(1719878341 * NS, BookSide.ASK, ticks("5529.00"), 12),
    ]
    # Same events written back in the format read the same (epoch-ns timestamps, no header).
    back = tmp_path / "back.csv"
    lines = []
    for ev in events:
        if isinstance(ev, TradePrint):
            aggr = {BookSide.BID: "B", BookSide.ASK: "S", None: ""}[ev.aggressor]
            lines.append(f"{ev.ts_ns},trade,{ev.price * 0.25},{ev.size},{aggr}")
        elif isinstance(ev, BookDelta):
            side = "B" if ev.side is BookSide.BID else "A"
            lines.append(f"{ev.ts_ns},level,{side},{ev.price * 0.25},{ev.size}")
        elif isinstance(ev, BarPrint):
            px = ",".join(str(p * 0.25) for p in (ev.open, ev.high, ev.low, ev.close))
            lines.append(f"{ev.ts_ns},bar,{px},{ev.volume}")
        else:
            lines.append(f"{format_ts(ev.ts_ns)},clear")
    back.write_text("\n".join(lines) + "\n")
    assert list(load_replay(back, symbol="ESU4")) == events


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1,trade,5528.10,1", "line 2: price 5528.10 is not on the tick"),
        ("1,trade,5528.25,0", "line 2: trade size must be > 0"),
        ("1,trade,5528.25", "line 2: too few fields"),
        ("yesterday,trade,5528.25,1", "line 2: invalid timestamp"),
        ("1,quote,5528.25,x,5528.5,1", "line 2: invalid integer"),
        ("1,foo", "line 2: unknown row type"),
    ],
)
def test_csv_errors_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(f"ts,type\n{row}\n")
    with pytest.raises(ReplayError, match=message):
        list(load_replay(f, tick_size=0.25))


MBP1_HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence,bid_px_00,ask_px_00,bid_sz_00,ask_sz_00,bid_ct_00,ask_ct_00,symbol"
)
MBP1_ROW = "{ts},{ts},1,1,118,T,B,0,5528.75,2,0,0,9,{bid},5528.75,29,6,22,3,ESU4"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("garbage", "line 4: too few fields (1, the header has 20)"),
        (MBP1_ROW.format(ts=3, bid="5528.80"), "line 4: price 5528.80 is not on the tick"),
        (MBP1_ROW.format(ts=3, bid="x"), "line 4: invalid price 'x'"),
        (MBP1_ROW.format(ts="soon", bid="5528.5"), "line 4: invalid timestamp 'soon'"),
    ],
)
def test_databento_csv_errors_name_the_line(tmp_path: Path, row: str, message: str) -> None:
    f = tmp_path / "bad_mbp1.csv"
    good = [MBP1_ROW.format(ts=ts, bid="5528.50") for ts in (1, 2)]
    f.write_text("\n".join([MBP1_HEADER, *good, row, *good]) + "\n")
    events = load_replay(f)
    assert next(events) == BookClear(1)  # the rows before the bad one are read
    with pytest.raises(ReplayError, match=f"^{re.escape(message)}"):
        list(events)


def test_csv_time_must_not_go_back_and_tick_is_required(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("2,trade,1.00,1\n1,trade,1.00,1\n")
    with pytest.raises(ReplayError, match="line 2: time goes backwards"):
        list(load_replay(f, tick_size="0.25"))
    with pytest.raises(ReplayError, match="tick_size"):
        load_replay(f)


# --- pacing --------------------------------------------------------------------------------


class FakeClock:
    """Time moves only when paced() sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


def stream(offsets_s: list[float]) -> list[TradePrint]:
    return [TradePrint(int(5 * NS + o * NS), 100, 1, None) for o in offsets_s]


async def collect(
    events: list[TradePrint], speed: float | str, clock: FakeClock, max_gap: float | None = None
) -> list[tuple[float, TradePrint]]:
    return [(clock.now(), ev) async for ev in paced(events, speed, clock=clock, max_gap=max_gap)]


async def test_paced_real_time() -> None:
    clock = FakeClock()
    events = stream([0, 0.5, 0.5, 2.0, 10.0])
    got = await collect(events, 1, clock)
    assert [ev for _, ev in got] == events
    assert [round(t - 1000, 6) for t, _ in got] == [0, 0.5, 0.5, 2.0, 10.0]
    assert [round(s, 6) for s in clock.sleeps] == [0.5, 1.5, 8.0]


async def test_paced_ten_times_faster_and_gap_cap() -> None:
    clock = FakeClock()
    got = await collect(stream([0, 1, 3, 3603]), "10x", clock)
    assert [round(t - 1000, 6) for t, _ in got] == [0, 0.1, 0.3, 360.3]
    clock = FakeClock()
    got = await collect(stream([0, 1, 3, 3603]), 10, clock, max_gap=5)
    assert [round(t - 1000, 6) for t, _ in got] == [0, 0.1, 0.3, 0.8]


async def test_paced_on_the_recordings_clock_plays_each_event_at_its_own_time() -> None:
    clock = FakeClock()  # reads 1000 s: the first event (5 s) is due at once, the rest later
    got = [(clock.now(), ev) async for ev in paced(stream([0, 997, 998, 4000]), clock=clock,
                                                       recorded=True)]  # fmt: skip
    assert [round(t, 6) for t, _ in got] == [1000, 1002, 1003, 4005]
    with pytest.raises(ValueError, match="speed 1"):
        [ev async for ev in paced(stream([0]), 10, clock=clock, recorded=True)]


async def test_paced_max_speed_never_sleeps_but_yields_to_the_loop() -> None:
    clock = FakeClock()
    events = stream([i * 0.1 for i in range(1000)])
    ticks_seen = 0

    async def ticker() -> None:
        nonlocal ticks_seen
        while True:
            ticks_seen += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    got = await collect(events, "max", clock)
    task.cancel()
    assert [ev for _, ev in got] == events
    assert clock.sleeps == []
    assert ticks_seen >= 1000 // 256  # the loop ran while replaying at full speed


async def test_paced_does_not_accumulate_lag() -> None:
    clock = FakeClock()
    out = []
    async for ev in paced(stream([0, 1, 2, 3]), 1, clock=clock):
        out.append(clock.now())
        if ev.ts_ns == 6 * NS:
            clock.t += 1.5  # the consumer was slow: the next event is due already
    assert [round(t - 1000, 6) for t in out] == [0, 1, 2.5, 3]


async def test_paced_accepts_async_sources() -> None:
    async def source() -> AsyncIterator[TradePrint]:
        for ev in stream([0, 1]):
            yield ev

    clock = FakeClock()
    got = [ev async for ev in paced(source(), 2, clock=clock)]
    assert len(got) == 2 and clock.sleeps == [0.5]


def test_parse_speed() -> None:
    assert parse_speed(1) == 1.0
    assert parse_speed("10x") == 10.0
    assert parse_speed("max") == 0.0
    assert parse_speed(0) == 0.0
    with pytest.raises(ValueError):
        parse_speed(-1)
    with pytest.raises(ValueError):
        parse_speed("fast-ish")
