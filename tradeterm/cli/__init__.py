"""The command line: ``main`` (the ``tradeterm`` command and its dispatch), ``errors`` (the one
error a user sees, with its exit status), ``options`` (what the commands share), and one module
per front end: ``screen``, ``console``, ``gateway``, ``journal`` (export) and ``report``.
Nothing below this package imports it."""
