"""Throughput of the simulated exchange on this machine (prints figures; asserts nothing).

python benchmarks/bench_sim.py [events]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tradeterm.bench.timing import best_of
from tradeterm.sim.book import L2Book
from tradeterm.sim.market_events import BookSide
from tradeterm.sim.matching import MatchingEngine
from tradeterm.sim.synthetic import SyntheticMarket

START_NS = 1_700_000_040 * 1_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("events", type=int, nargs="?", default=500_000, help="events per run")
    n = parser.parse_args().events

    def generate() -> int:
        m = SyntheticMarket(start_price_ticks=20_000, seed=1, start_ns=START_NS)
        nxt = m.next_event
        for _ in range(n):
            nxt()
        return n

    events = [
        ev
        for m in [SyntheticMarket(start_price_ticks=20_000, seed=1, start_ns=START_NS)]
        for _ in range(n)
        for ev in [m.next_event()]
    ]

    def book_apply() -> int:
        apply = L2Book().apply
        for ev in events:
            apply(ev)
        return n

    def engine(orders: bool) -> Callable[[], int]:
        def run() -> int:
            e = MatchingEngine()
            on = e.on_market
            for ev in events[:20]:
                on(ev)
            if orders:  # resting limits near and far from the touch, and far stops
                bid, ask = e.best_bid or 0, e.best_ask or 0
                for i in range(10):
                    e.submit(("b", i), BookSide.BID, 5, "LMT", bid - i)
                    e.submit(("a", i), BookSide.ASK, 5, "LMT", ask + i)
                    e.submit(("fb", i), BookSide.BID, 5, "LMT", bid - 300 - i)
                    e.submit(("fa", i), BookSide.ASK, 5, "LMT", ask + 300 + i)
                    e.submit(("s", i), BookSide.BID, 1, "STP", None, ask + 500 + i)
            for ev in events[20:]:
                on(ev)
            return n - 20

        return run

    def history() -> int:
        m = SyntheticMarket(start_price_ticks=20_000, seed=1, start_ns=START_NS)
        return len(m.history(24 * 60))

    print(f"python {sys.version.split()[0]}, {n:,} events")
    print(f"SyntheticMarket.next_event()           {best_of(generate):>12,.0f} events/s")
    print(f"L2Book.apply()                         {best_of(book_apply):>12,.0f} events/s")
    print(f"MatchingEngine.on_market(), no orders  {best_of(engine(False)):>12,.0f} events/s")
    print(f"MatchingEngine.on_market(), 50 orders  {best_of(engine(True)):>12,.0f} events/s")
    print(f"SyntheticMarket.history(1 day)         {best_of(history, 1):>12,.0f} trades/s")


if __name__ == "__main__":
    main()
