"""``python benchmarks/bench_engine_marketdata.py [--help]``: the benchmark lives in tradeterm.bench.ingest (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.ingest import main

if __name__ == "__main__":
    main()
