"""``python benchmarks/bench_ui.py [--help]``: the benchmark lives in tradeterm.bench.ui (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.ui import main

if __name__ == "__main__":
    main()
