"""``python benchmarks/bench_engine.py [--help]``: the benchmark lives in tradeterm.bench.engine_latency (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.engine_latency import main

if __name__ == "__main__":
    main()
