"""The domain types against real CME data (files in ../shared/data; skipped when absent)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from tests.real_data import rows, ts_ns
from tradeterm.domain import Bar, ContractMonth, Instrument, Quote, Timeframe

NS = 1_000_000_000
CENT = Decimal("0.01")


ESU4 = Instrument.from_spec("ES", ContractMonth(2024, 9))
NQU4 = Instrument.from_spec("NQ", ContractMonth(2024, 9))
ESH0 = Instrument.from_spec("ES", ContractMonth(2020, 3))


def test_esu4_top_of_book_converts_to_exact_ticks() -> None:
    trades = contracts = 0
    prices: set[int] = set()
    for row in rows("ESU4_mbp-1_2024-07-01T2358Z_2024-07-02T0002Z.csv"):
        assert row["symbol"] == ESU4.key
        bid, ask = ESU4.to_ticks(row["bid_px_00"]), ESU4.to_ticks(row["ask_px_00"])
        assert ESU4.to_ticks(float(row["bid_px_00"])) == bid  # the float IB would send
        assert ESU4.format_price(bid) == str(Decimal(row["bid_px_00"]).quantize(CENT))
        quote = Quote(
            ts_ns(row["ts_event"]), bid, int(row["bid_sz_00"]), ask, int(row["ask_sz_00"])
        )
        assert not quote.is_crossed  # continuous trading after the 17:00 CT open
        assert quote.spread is not None and quote.spread >= 1
        if row["action"] == "T":
            trades += 1
            contracts += int(row["size"])
            prices.add(ESU4.to_ticks(row["price"]))
    # Figures from data/README.txt.
    assert (trades, contracts) == (120, 253)
    assert (min(prices), max(prices)) == (ESU4.parse_price("5528.50"), ESU4.parse_price("5529.50"))


def test_databento_ohlcv_bars_are_valid_bars_on_the_tick() -> None:
    bars: dict[str, list[Bar]] = {"ESU4": [], "NQU4": []}
    inst = {"ESU4": ESU4, "NQU4": NQU4}
    minute = Timeframe.parse("1m")
    for row in rows("ESU4_NQU4_ohlcv-1m_2024-07-01T2340Z_2024-07-02T0010Z.csv"):
        i = inst[row["symbol"]]
        ts = ts_ns(row["ts_event"])
        assert minute.floor(ts) == ts
        o, h, lo, c = (i.to_ticks(row[k]) for k in ("open", "high", "low", "close"))
        bars[row["symbol"]].append(Bar(ts, o, h, lo, c, int(row["volume"])))
    assert [len(b) for b in bars.values()] == [30, 30]
    for series in bars.values():
        assert all(b.start_ns - a.start_ns == minute.ns for a, b in pairwise(series))


def test_lean_minute_bars_cover_the_day_with_the_documented_volume() -> None:
    volume = 0
    count = 0
    minute = Timeframe(60)
    for row in rows("ESH0_1min_trades_2020-01-06_UTC.csv"):
        ts = ts_ns(row["ts_utc"])
        assert minute.floor(ts) == ts
        o, h, lo, c = (ESH0.to_ticks(row[k]) for k in ("open", "high", "low", "close"))
        bar = Bar(ts, o, h, lo, c, int(row["volume"]))
        volume += bar.volume
        count += 1
    assert (count, volume) == (1365, 1_370_228)
