"""``python benchmarks/bench_gateway.py [--help]``: the benchmark lives in tradeterm.bench.gateway (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.gateway import main

if __name__ == "__main__":
    main()
