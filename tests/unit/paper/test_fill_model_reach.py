"""After a book change ``FillModel`` lets only the orders whose price reaches the best opposite
level take liquidity (no other can). It must answer exactly what letting every working order
try, in time priority, answers: random streams of quotes, snapshots, level changes, trades and
orders of every type (dormant ones, cancels and changes included), step by step, the working
orders' state included."""

from __future__ import annotations

import random

import pytest

from tradeterm.domain import BookSide, DepthLevel, OrderType, Quote, Side, Trade
from tradeterm.paper.fill_model import FillModel, Outcome, PaperRejected


class EveryOrderTries(FillModel):
    """The rule without the shortcut: after a book change every live order tries to take."""

    def _after_book(self, ts_ns: int) -> list[Outcome]:
        out: list[Outcome] = []
        for o in sorted(self._orders.values(), key=lambda o: o.seq):
            if o.price is not None and o.key in self._orders:
                self._take(o, ts_ns, out, at_own_price=True)
        return out


def book(levels: dict[int, int]) -> tuple[DepthLevel, ...]:
    return tuple(DepthLevel(p, s) for p, s in sorted(levels.items()) if s > 0)


@pytest.mark.parametrize("seed", range(60))
def test_only_orders_reaching_the_book_take_as_every_order_would(seed: int) -> None:
    rng = random.Random(seed)
    protection = rng.choice((0, 2, 40))
    models = (FillModel(protection_ticks=protection), EveryOrderTries(protection_ticks=protection))
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    key = 0
    for step in range(300):
        ts = step + 1
        roll = rng.random()
        if roll < 0.3:  # one level, or the whole book
            side = rng.choice((BookSide.BID, BookSide.ASK))
            levels = bids if side is BookSide.BID else asks
            price = rng.randint(95, 103) + (0 if side is BookSide.BID else 3)
            levels[price] = size = rng.choice((0, 0, 1, 2, 3, 5, 8))
            whole = rng.random() < 0.5
            answers = [m.on_depth(ts, book(bids), book(asks)) if whole
                       else m.on_level(side, price, size, ts) for m in models]  # fmt: skip
        elif roll < 0.4:  # a quote (levels better than it are gone)
            bid, ask = (
                rng.choice((None, rng.randint(95, 102))),
                rng.choice((None, rng.randint(98, 106))),
            )
            quote = Quote(
                ts, bid, rng.randint(1, 9) if bid else 0, ask, rng.randint(1, 9) if ask else 0
            )
            answers = [m.on_quote(quote) for m in models]
            bids, asks = dict(models[0].bids), dict(models[0].asks)
        elif roll < 0.6:
            trade = Trade(ts, rng.randint(94, 107), rng.randint(1, 6),
                          rng.choice((Side.BUY, Side.SELL, None)))  # fmt: skip
            answers = [m.on_trade(trade) for m in models]
        elif roll < 0.85 or not key:  # an order of ours, of any type
            key += 1
            side_ = rng.choice((Side.BUY, Side.SELL))
            kind = rng.choice((OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT, OrderType.STOP,
                               OrderType.STOP_LIMIT))  # fmt: skip
            limit = rng.randint(95, 106) if kind.needs_limit else None
            stop = rng.randint(95, 106) if kind.needs_stop else None
            dormant = rng.random() < 0.15
            qty = rng.randint(1, 4)
            answers = [m.submit(key, side_, qty, kind, limit=limit, stop=stop, ts_ns=ts,
                                dormant=dormant) for m in models]  # fmt: skip
        else:  # one of them started, cancelled or changed
            k = rng.randint(1, key)
            working = models[0].working(k)
            if working is None:
                continue
            if working.dormant:
                answers = [m.activate(k, ts_ns=ts) for m in models]
            elif rng.random() < 0.3:
                answers = [m.cancel(k, ts_ns=ts) for m in models]
            else:
                quantity = rng.choice((None, rng.randint(working.filled + 1, 6)))
                limit = rng.randint(95, 106) if working.limit is not None else None
                try:
                    answers = [
                        m.modify(k, quantity=quantity, limit=limit, ts_ns=ts) for m in models
                    ]
                except PaperRejected:
                    continue
        assert answers[0] == answers[1], (seed, step)
        keys = range(1, key + 1)
        assert [models[0].working(k) for k in keys] == [models[1].working(k) for k in keys]
