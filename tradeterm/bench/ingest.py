"""Throughput of the engine's market-data consumers (prints figures; asserts nothing).

python benchmarks/bench_engine_marketdata.py [events]  (or python -m tradeterm.bench.ingest)

A synthetic stream like a busy CME book: per trade, a few quote and 10-level depth updates;
5-second bars every 5 s. Reports events/s through MarketState.apply, BarBuilder.apply and the
staleness watchdog.
"""

from __future__ import annotations

import argparse
import random

from tradeterm.bench.timing import best_of
from tradeterm.broker.port import BarEvent, BrokerEvent, DepthEvent, QuoteEvent, TradeEvent
from tradeterm.domain import Bar, ContractMonth, DepthLevel, Instrument, Quote, Side, Trade
from tradeterm.engine.bar_builder import BarBuilder
from tradeterm.engine.marketdata import MarketState
from tradeterm.engine.staleness import Feed, StalenessWatchdog

NS = 1_000_000_000
START_NS = 1_795_000_000 * NS  # a Tuesday, market open
ES = Instrument.from_spec("ES", ContractMonth(2026, 12))


def stream(n: int, seed: int = 7) -> list[BrokerEvent]:
    rnd = random.Random(seed)
    price, ts = 20_000, START_NS
    events: list[BrokerEvent] = []
    slot: list[Trade] = []
    slot_start = ts - ts % (5 * NS)
    while len(events) < n:
        ts += rnd.randrange(1, 20_000_000)  # ~100 events/s of market time
        if ts - slot_start >= 5 * NS and slot:
            ps = [t.price for t in slot]
            bar = Bar(slot_start, ps[0], max(ps), min(ps), ps[-1], sum(t.size for t in slot))
            events.append(BarEvent(bar, 5, True))
            slot, slot_start = [], ts - ts % (5 * NS)
        r = rnd.random()
        if r < 0.3:
            price += rnd.choice((-1, 0, 0, 1))
            trade = Trade(ts, price, rnd.choice((1, 1, 2, 3, 5, 10, 60)), Side.BUY)
            slot.append(trade)
            events.append(TradeEvent(trade))
        elif r < 0.6:
            events.append(QuoteEvent(Quote(ts, price - 1, rnd.randrange(1, 300), price,
                                           rnd.randrange(1, 300))))  # fmt: skip
        else:
            bids = tuple(DepthLevel(price - 1 - i, rnd.randrange(1, 300)) for i in range(10))
            asks = tuple(DepthLevel(price + i, rnd.randrange(1, 300)) for i in range(10))
            events.append(DepthEvent(ts, bids, asks))
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("events", type=int, nargs="?", default=200_000, help="events per run")
    n = parser.parse_args().events
    events = stream(n)
    trades = [e for e in events if isinstance(e, TradeEvent)]
    bar_feed = [e for e in events if isinstance(e, TradeEvent | BarEvent)]

    def market() -> int:
        m = MarketState(ES)
        for e in events:
            m.apply(e)
        return len(events)

    def market_trades() -> int:
        m = MarketState(ES)
        for e in trades:
            m.apply(e)
        return len(trades)

    def snapshots() -> int:
        m = MarketState(ES)
        for e in events[:20_000]:
            m.apply(e)
        for _ in range(2_000):
            m.snapshot(tape=100)
        return 2_000

    def bars() -> int:
        b = BarBuilder(ES)
        for e in bar_feed:
            b.apply(e)
        return len(bar_feed)

    def watchdog() -> int:
        w = StalenessWatchdog({f: 5.0 for f in Feed}, clock=lambda: START_NS)
        for i in range(100_000):
            w.touch(Feed.QUOTES, START_NS + i)
        return 100_000

    print(f"{len(events)} events ({len(trades)} trades, {len(bar_feed) - len(trades)} 5-s bars)")
    print(f"MarketState.apply, mixed stream : {best_of(market):12,.0f} events/s")
    print(f"MarketState.apply, trades only  : {best_of(market_trades):12,.0f} events/s")
    print(f"MarketState.snapshot(tape=100)  : {best_of(snapshots):12,.0f} snapshots/s")
    print(f"BarBuilder.apply, trades + 5-s  : {best_of(bars):12,.0f} events/s")
    print(f"StalenessWatchdog.touch         : {best_of(watchdog):12,.0f} touches/s")


if __name__ == "__main__":
    main()
