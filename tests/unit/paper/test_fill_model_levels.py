"""``FillModel.on_level`` (one level's change, the backtester's hot path) looks at the book
again only when that level grew within an order's reach. It must answer exactly what the
whole book (``on_depth``, SHADOW's path) answers: random streams of level changes, trades and
orders through both, step by step, the queue estimates included. (It found the whole book
keeping a queue credit past its level's growth once no order of ours watched the level: a
later order there was then moved forward by trades that credit had already counted.)"""

from __future__ import annotations

import random

import pytest

from tradeterm.domain import BookSide, DepthLevel, OrderType, Side, Trade
from tradeterm.paper.fill_model import FillModel, Outcome


def book(levels: dict[int, int]) -> tuple[DepthLevel, ...]:
    return tuple(DepthLevel(p, s) for p, s in sorted(levels.items()) if s > 0)


@pytest.mark.parametrize("crossed", [False, True], ids=["plain", "crossed"])
@pytest.mark.parametrize("seed", range(40))
def test_one_level_at_a_time_answers_as_the_whole_book(seed: int, crossed: bool) -> None:
    rng = random.Random(seed)
    by_level, by_book = FillModel(), FillModel()
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    key = 0
    for step in range(400):
        ts = step + 1
        roll = rng.random()
        a: list[Outcome]
        b: list[Outcome]
        if roll < 0.7:  # a level changes: bids 95-100, asks 101-106 (crossed: 95-104, 97-106)
            side = rng.choice((BookSide.BID, BookSide.ASK))
            levels = bids if side is BookSide.BID else asks
            price = rng.randint(95, 104 if crossed else 100)
            price += 0 if side is BookSide.BID else 2 if crossed else 6
            size = rng.choice((0, 0, 1, 2, 3, 5, 8))
            levels[price] = size
            a = by_level.on_level(side, price, size, ts)
            b = by_book.on_depth(ts, book(bids), book(asks))
        elif roll < 0.85:  # a trade
            trade = Trade(ts, rng.randint(96, 105), rng.randint(1, 6),
                          rng.choice((Side.BUY, Side.SELL, None)))  # fmt: skip
            a, b = by_level.on_trade(trade), by_book.on_trade(trade)
        else:  # an order of ours
            key += 1
            side_ = rng.choice((Side.BUY, Side.SELL))
            qty = rng.randint(1, 4)
            if rng.random() < 0.2:
                a = by_level.submit(key, side_, qty, OrderType.MARKET, ts_ns=ts)
                b = by_book.submit(key, side_, qty, OrderType.MARKET, ts_ns=ts)
            else:
                limit = rng.randint(96, 105)
                a = by_level.submit(key, side_, qty, OrderType.LIMIT, limit=limit, ts_ns=ts)
                b = by_book.submit(key, side_, qty, OrderType.LIMIT, limit=limit, ts_ns=ts)
        assert a == b, (seed, step)
        assert [by_level.working(k) for k in range(1, key + 1)] == [
            by_book.working(k) for k in range(1, key + 1)
        ]
