"""``python benchmarks/bench_ladder_lag.py [--help]``: the benchmark lives in
tradeterm.bench.ladder_lag (so that it runs from an installed wheel too); this is its script."""

from tradeterm.bench.ladder_lag import main

if __name__ == "__main__":
    main()
