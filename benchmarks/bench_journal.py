"""``python benchmarks/bench_journal.py [--help]``: the benchmark lives in tradeterm.bench.journal_rates (so that
``tradeterm bench`` runs it from an installed wheel too); this is its script."""

from tradeterm.bench.journal_rates import main

if __name__ == "__main__":
    main()
