"""``python benchmarks/bench_kill.py [--help]``: the benchmark lives in tradeterm.bench.kill_latency (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.kill_latency import main

if __name__ == "__main__":
    main()
