"""L2Book: levels, best prices, top-N, ranks, trades and clears."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeterm.sim.book import L2Book
from tradeterm.sim.market_events import BarPrint, BookClear, BookDelta, BookSide, TradePrint

BID, ASK = BookSide.BID, BookSide.ASK


def test_empty_book() -> None:
    b = L2Book()
    assert b.best_bid is None and b.best_ask is None and b.spread is None
    assert b.levels(BID) == [] and b.levels(ASK) == []
    assert b.size(BID, 100) == 0 and b.rank(ASK, 100) is None


def test_deltas_build_levels_best_first() -> None:
    b = L2Book()
    for p, s in ((100, 5), (98, 7), (99, 6)):
        b.apply(BookDelta(1, BID, p, s))
    for p, s in ((103, 9), (101, 3), (102, 4)):
        b.apply(BookDelta(2, ASK, p, s))
    assert b.best_bid == 100 and b.best_ask == 101 and b.spread == 1
    assert b.levels(BID) == [(100, 5), (99, 6), (98, 7)]
    assert b.levels(ASK, 2) == [(101, 3), (102, 4)]
    assert b.rank(BID, 98) == 2 and b.rank(ASK, 101) == 0 and b.rank(ASK, 104) is None
    assert b.prices(BID) == [100, 99, 98]
    assert b.depth(ASK) == 3 and b.total_size(BID) == 18
    assert b.ts_ns == 2


def test_update_and_remove_levels() -> None:
    b = L2Book()
    b.apply(BookDelta(1, BID, 100, 5))
    b.apply(BookDelta(1, BID, 99, 5))
    assert b.set_level(BID, 100, 8) == 5
    assert b.size(BID, 100) == 8
    b.apply(BookDelta(2, BID, 100, 0))
    assert b.best_bid == 99
    assert b.set_level(BID, 100, 0) == 0  # removing an absent level is harmless
    assert b.levels(BID) == [(99, 5)]


def test_trades_set_last_and_volume_but_not_depth() -> None:
    b = L2Book()
    b.apply(BookDelta(1, ASK, 101, 5))
    b.apply(TradePrint(2, 101, 3, BID))
    assert b.last_price == 101 and b.last_size == 3 and b.volume == 3 and b.last_ts_ns == 2
    assert b.size(ASK, 101) == 5  # depth changes come as BookDeltas
    b.apply(BarPrint(60, 100, 102, 99, 101, 50))
    assert b.last_price == 101 and b.volume == 53


def test_clear_empties_but_keeps_last() -> None:
    b = L2Book()
    b.apply(BookDelta(1, BID, 100, 5))
    b.apply(TradePrint(2, 100, 1, BookSide.ASK))
    b.apply(BookClear(3))
    assert b.best_bid is None and b.last_price == 100


def test_snapshot_roundtrip_and_crossed_flag() -> None:
    b = L2Book()
    for p in range(95, 101):
        b.apply(BookDelta(1, BID, p, p - 90))
    for p in range(101, 105):
        b.apply(BookDelta(1, ASK, p, p - 100))
    c = L2Book()
    for d in b.snapshot():
        c.apply(d)
    assert c.levels(BID, 20) == b.levels(BID, 20) and c.levels(ASK, 20) == b.levels(ASK, 20)
    assert not b.is_crossed()
    b.apply(BookDelta(2, BID, 101, 1))  # a feed may cross for a moment; the book reports it
    assert b.is_crossed()
    assert "L2Book" in repr(b)


def test_rejects_non_events() -> None:
    with pytest.raises(TypeError):
        L2Book().apply("nope")  # type: ignore[arg-type]


@given(
    st.lists(
        st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 30), st.integers(0, 20)),
        max_size=200,
    )
)
def test_matches_a_dict_model(deltas) -> None:
    b = L2Book()
    model: dict[tuple[BookSide, int], int] = {}
    for side, p, s in deltas:
        b.apply(BookDelta(0, side, p, s))
        if s:
            model[(side, p)] = s
        else:
            model.pop((side, p), None)
    for side in (BID, ASK):
        expect = sorted(((p, s) for (sd, p), s in model.items() if sd is side), reverse=side is BID)
        assert b.levels(side, 100) == expect
        assert b.levels(side, 3) == expect[:3]
        assert b.best(side) == (expect[0][0] if expect else None)
        for i, (p, _) in enumerate(expect):
            assert b.rank(side, p) == i
