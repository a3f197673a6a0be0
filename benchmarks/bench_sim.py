"""``python benchmarks/bench_sim.py [--help]``: the benchmark lives in tradeterm.bench.sim (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.sim import main

if __name__ == "__main__":
    main()
