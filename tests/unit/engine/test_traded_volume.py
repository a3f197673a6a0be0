"""Traded volume by side: the aggressor inferred from the bid and ask in force, volume at
price split into what traded at the bid and at the ask, and the trades of the last few
seconds at each price, counted on the clock the market is given (the engine's)."""

from __future__ import annotations

import pytest

from tests.support.clock import Clock, ct
from tests.support.instruments import ES
from tradeterm.broker.port import DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import DepthLevel, Quote, Side, Trade
from tradeterm.engine.calendar import NS
from tradeterm.engine.marketdata import MarketState, Recent, infer_aggressor

T0 = ct(2026, 11, 18, 9, 30)  # a Wednesday, market open


@pytest.mark.parametrize(
    ("price", "bid", "ask", "side"),
    [
        (101, 100, 101, Side.BUY),  # at the ask: a buyer lifted the offer
        (102, 100, 101, Side.BUY),  # through the ask
        (100, 100, 101, Side.SELL),  # at the bid: a seller hit it
        (99, 100, 101, Side.SELL),  # through the bid
        (101, 100, 102, None),  # inside the spread: not known
        (101, None, None, None),  # no book to compare with
        (100, None, 101, None),  # below the ask, no bid: not known
        (100, 100, None, Side.SELL),
    ],
)
def test_the_aggressor_is_inferred_from_the_bid_and_ask(
    price: int, bid: int | None, ask: int | None, side: Side | None
) -> None:
    assert infer_aggressor(price, bid, ask) is side


def market(clock: Clock) -> MarketState:
    m = MarketState(ES, recent_s=5.0, clock=clock)
    m.apply(QuoteEvent(Quote(T0, 100, 5, 101, 7)))
    return m


def test_volume_at_price_splits_into_bid_traded_and_ask_traded() -> None:
    m = market(Clock(T0))
    m.apply(TradeEvent(Trade(T0, 101, 3)))  # lifts the ask
    m.apply(TradeEvent(Trade(T0, 101, 2)))
    m.apply(TradeEvent(Trade(T0, 100, 4)))  # hits the bid
    m.apply(QuoteEvent(Quote(T0, 100, 5, 102, 7)))  # the spread opens a tick
    m.apply(TradeEvent(Trade(T0, 101, 1)))  # between bid and ask: not known
    snap = m.snapshot()
    assert dict(snap.volume_at_price) == {100: 4, 101: 6}
    assert dict(snap.at_ask) == {101: 5}
    assert dict(snap.at_bid) == {100: 4}
    assert [p.aggressor for p in snap.tape] == [Side.BUY, Side.BUY, Side.SELL, None]


def test_a_broker_given_aggressor_wins_and_depth_stands_in_for_a_missing_quote() -> None:
    m = MarketState(ES)
    levels = (DepthLevel(100, 5),), (DepthLevel(101, 3),)
    m.apply(DepthEvent(T0, *levels))
    m.apply(TradeEvent(Trade(T0, 101, 2)))  # no quote yet: the depth's best ask
    m.apply(TradeEvent(Trade(T0, 101, 1, Side.SELL)))  # the exchange says a seller
    assert [p.aggressor for p in m.snapshot().tape] == [Side.BUY, Side.SELL]
    assert dict(m.snapshot().at_bid) == {101: 1}


def test_recent_trades_are_those_of_the_last_seconds_by_the_given_clock() -> None:
    now = Clock(T0)
    m = market(now)
    m.apply(TradeEvent(Trade(T0, 101, 3)))
    now.advance(2)
    m.apply(TradeEvent(Trade(T0 + 2 * NS, 100, 4)))
    m.apply(TradeEvent(Trade(T0 + 2 * NS, 101, 1)))
    assert m.snapshot().recent == (Recent(100, 4, 4, 0), Recent(101, 4, 0, 4))
    now.advance(3)  # the first trade is 5 s old: out of the window
    assert m.snapshot().recent == (Recent(100, 4, 4, 0), Recent(101, 1, 0, 1))
    now.advance(3)  # nothing traded since: the column empties with no event
    assert m.snapshot().recent == ()
    assert dict(m.snapshot().volume_at_price) == {100: 4, 101: 4}  # the session keeps them


def test_the_split_resets_with_the_session() -> None:
    m = market(Clock(T0))
    m.apply(TradeEvent(Trade(T0, 101, 3)))
    tomorrow = ct(2026, 11, 19, 9, 30)
    m.apply(TradeEvent(Trade(tomorrow, 100, 2)))
    snap = m.snapshot()
    assert dict(snap.at_ask) == {} and dict(snap.at_bid) == {100: 2}
