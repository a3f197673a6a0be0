"""The benchmarks: how many markets fit on a box.

One module per benchmark (``gateway``, ``marketdata``, ``sim``, ``engine``, ``kill``, ``ui``,
``journal``, ``backtest``, ``instance``), each with its own ``parser()`` and ``bench(args)``
that prints its figures and returns them; ``suite`` runs them all for ``tradeterm bench`` and
makes one table. The scripts in ``benchmarks/`` run a single one with all its options.
"""
