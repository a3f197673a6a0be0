"""``tradeterm bench [--quick] [--json]``: how many markets fit on this box.

Runs every benchmark in turn (the gateway, the engine's ingest and tick-to-order latency, the
kill switch quiet and right after a burst of orders, the screen's terminal output, first frame
and key to order, the journal, the backtester, and one instance's CPU at 1,000 market-data
messages a second and its memory over a replayed session) and prints one table: figure,
value, target, met or not. The full run takes about a quarter of an hour; ``--quick`` about a
minute, with rough figures. A benchmark that fails leaves its rows saying why and the command
exits 1; one that cannot run here (no recorded session) says so in its rows.
"""

from __future__ import annotations

import argparse
import sys

from tradeterm.bench import suite  # the benchmarks themselves are imported when they run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    suite.add_arguments(parser)


def command(args: argparse.Namespace) -> int:
    if sys.platform != "linux":  # the instance's CPU and memory are read from /proc
        from tradeterm.cli.errors import UserError

        raise UserError("tradeterm bench runs on Linux only (it reads /proc)")
    return suite.run(args)
