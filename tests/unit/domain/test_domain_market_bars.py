"""Market data types, bars and bar periods: tradeterm.domain.market/bars."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradeterm.domain import (
    Bar,
    BookSide,
    DepthDelta,
    DepthLevel,
    DomainError,
    Quote,
    Side,
    Timeframe,
    Trade,
)

NS = 1_000_000_000


def test_quote_spread_and_mid() -> None:
    q = Quote(0, bid=22113, bid_size=29, ask=22114, ask_size=6)
    assert q.spread == 1 and q.mid_x2 == 44227 and not q.is_crossed
    assert Quote(0, 22114, 1, 22114, 1).is_crossed  # locked
    assert Quote(0, 22115, 1, 22114, 1).is_crossed
    one_sided = Quote(0, None, 0, 22114, 3)
    assert one_sided.spread is None and one_sided.mid_x2 is None and not one_sided.is_crossed
    assert (q.last, q.last_size) == (None, None)
    assert Quote(0, 22113, 1, 22114, 1, last=22114, last_size=2).last == 22114


def test_hot_path_types_are_slotted_and_frozen() -> None:
    t = Trade(1, 22114, 2, Side.BUY)
    assert not hasattr(t, "__dict__")
    with pytest.raises(AttributeError):
        t.price = 1  # type: ignore[misc]
    assert Trade(1, 22114, 2).aggressor is None
    level = DepthLevel(price=22113, size=40)
    assert (level.price, level.size) == (22113, 40) and not hasattr(level, "__dict__")
    d = DepthDelta(1, BookSide.BID, 22113, 0)
    assert d.side.opposite is BookSide.ASK and BookSide.ASK.opposite is BookSide.BID


def test_bar_checks_its_prices() -> None:
    bar = Bar(0, open=10, high=12, low=9, close=11, volume=5)
    assert bar.range == 3 and bar.start_ns == 0
    for o, h, lo, c in ((10, 9, 8, 9), (10, 12, 11, 11), (13, 12, 9, 11), (10, 12, 9, 8)):
        with pytest.raises(DomainError):
            Bar(0, o, h, lo, c, 1)
    with pytest.raises(DomainError):
        Bar(0, 10, 10, 10, 10, -1)
    assert Bar(0, 10, 10, 10, 10, 0).range == 0


def test_bar_built_by_hand_is_still_a_frozen_value() -> None:
    bar = Bar(start_ns=60, open=10, high=12, low=9, close=11, volume=5)
    assert bar == Bar(60, 10, 12, 9, 11, 5) and hash(bar) == hash(Bar(60, 10, 12, 9, 11, 5))
    assert repr(bar) == "Bar(start_ns=60, open=10, high=12, low=9, close=11, volume=5)"
    assert pickle.loads(pickle.dumps(bar)) == bar
    assert dataclasses.replace(bar, close=12) == Bar(60, 10, 12, 9, 12, 5)
    with pytest.raises(DomainError, match="inconsistent bar: Bar\\(start_ns=60"):
        dataclasses.replace(bar, close=13)
    with pytest.raises(dataclasses.FrozenInstanceError):
        bar.close = 12  # type: ignore[misc]
    assert not hasattr(bar, "__dict__")


@pytest.mark.parametrize(
    ("text", "seconds", "label"),
    [
        ("1m", 60, "1m"),
        ("5 m", 300, "5m"),
        ("30s", 30, "30s"),
        ("90s", 90, "90s"),
        ("60s", 60, "1m"),
        ("1h", 3600, "1h"),
        ("240m", 14400, "4h"),
        ("1D", 86400, "1d"),
    ],
)
def test_timeframe_parse_and_label(text: str, seconds: int, label: str) -> None:
    tf = Timeframe.parse(text)
    assert tf.seconds == seconds and tf.label == label and str(tf) == label
    assert tf.ns == seconds * NS


@pytest.mark.parametrize("text", ["", "m", "1y", "-1m", "0m", "7m", "1.5m"])
def test_timeframe_refuses_bad_periods(text: str) -> None:
    with pytest.raises(DomainError):
        Timeframe.parse(text)


def test_floor_aligns_to_period_starts() -> None:
    m1 = Timeframe(60)
    ts = 1_719_878_281 * NS + 218_218_853  # 2024-07-01 23:58:01.218 UTC
    assert m1.floor(ts) == 1_719_878_280 * NS
    assert Timeframe(300).floor(ts) == 1_719_878_100 * NS  # 23:55
    assert m1.floor(1_719_878_280 * NS) == 1_719_878_280 * NS


@given(ts=st.integers(0, 2**63 - 1), seconds=st.sampled_from([1, 5, 15, 30, 60, 300, 3600, 86400]))
def test_floor_is_the_period_containing_the_time(ts: int, seconds: int) -> None:
    tf = Timeframe(seconds)
    start = tf.floor(ts)
    assert start <= ts < start + tf.ns
    assert start % tf.ns == 0
