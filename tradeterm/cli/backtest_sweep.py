"""``tradeterm backtest ... --grid KEY=VALUES [KEY=VALUES ...] [--workers N | --cluster
ADDRESS] [--sort STAT]``: a parameter sweep, every combination of the grid run as one
backtest (``tradeterm.backtest.sweep``).

``--grid``: ``KEY=start:stop:step`` (the stop included when on a step) or ``KEY=a,b,c``.
Combinations the strategy's parameters refuse (``fast`` not below ``slow``) are listed, not
run. ``--workers``: worker processes (default: one per core); ``--cluster``: a Dask
scheduler's address (``tcp://host:8786``, needs ``tradeterm[cluster]``; its workers read
``--data`` at the same path). ``--sort``: the figure the table is sorted by, largest first
(default ``net_pnl``; a figure the runs do not have, ``events`` of a bar file, is refused).
The table fits the terminal (the columns that do not fit are named; to a file or a pipe it has
them all) and prints a heat map of the first two parameters; ``--format json`` one object
with every run, ``csv`` one line per run. A grid whose every combination is refused runs
nothing and exits with one line. Ctrl-C stops the sweep and prints the runs that finished.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from rich.console import Console

from tradeterm.backtest.data import BARS, EVENTS, detect
from tradeterm.backtest.grid import GridError, Plan, parse_grid, plan
from tradeterm.backtest.spec import BacktestError, BacktestSpec
from tradeterm.backtest.sweep import SORTABLE, Sweep, SweepError, counted, run_sweep
from tradeterm.backtest.sweep_view import (
    DEFAULT_SORT,
    DIRECTION,
    as_csv,
    as_json,
    print_table,
    stat_names,
)
from tradeterm.cli.errors import EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import whole_arg
from tradeterm.strategies import StrategyError

PIPE_WIDTH = 160
"""The least width of what is written to a file or a pipe (no terminal to measure; a wider
table widens it: nothing is cut there)."""


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sweep (every combination of --grid, in parallel)")
    group.add_argument("--grid", nargs="+", action="extend", metavar="KEY=VALUES",
                       help="a parameter's values: start:stop:step or a,b,c (repeatable)")  # fmt: skip
    where = group.add_mutually_exclusive_group()
    where.add_argument("--workers", type=whole_arg, metavar="N",
                       help="worker processes (default: one per core)")  # fmt: skip
    where.add_argument("--cluster", metavar="ADDRESS",
                       help="run on this Dask scheduler (tcp://host:8786) instead")  # fmt: skip
    group.add_argument("--sort", choices=SORTABLE, metavar="STAT",
                       help=f"sort by this figure, {DIRECTION} (default {DEFAULT_SORT}; "
                       f"{', '.join(SORTABLE)})")  # fmt: skip


def sweep_requested(args: argparse.Namespace) -> bool:
    """Whether the command line asks for a sweep; the sweep's flags without ``--grid``, or
    with a flag that draws one run, are a :class:`UserError`."""
    if not args.grid:
        for flag in ("workers", "cluster", "sort"):
            if getattr(args, flag) is not None:
                raise UserError(f"--{flag} needs --grid KEY=VALUES")
        return False
    for flag, what in (("equity", "draws one run's curve"), ("journal", "records one run")):
        if getattr(args, flag, None) is not None:
            raise UserError(f"--{flag} {what}: not with --grid")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be 1 or more, got {args.workers}")
    return True


def run_sweep_command(
    args: argparse.Namespace, base: BacktestSpec, out: TextIO | None = None
) -> bool:
    """The sweep over ``base`` that ``args`` asks for, printed in ``args.format``; whether it
    ran to the end (False: stopped by Ctrl-C, what finished printed)."""
    out = out or sys.stdout
    stat = args.sort or DEFAULT_SORT
    with reported_as(EXIT_USAGE, GridError, StrategyError):
        found = plan(base, parse_grid(args.grid))
    _check_runnable(found, stat, base)
    progress = Console(stderr=True) if sys.stderr.isatty() else None
    with reported_as(EXIT_USAGE, SweepError):
        sweep = run_sweep(found, workers=args.workers, cluster=args.cluster, console=progress)
    if found.jobs and not sweep.rows and sweep.complete and _one_error(sweep):
        raise UserError(sweep.failed[0].error)  # a bad file fails every run the same way
    if sweep.rows and stat not in stat_names(sweep):  # a file read only where the runs ran
        raise UserError(f"--sort {stat}: the runs have no {stat} figure")
    fmt = getattr(args, "format", "table")
    if fmt == "json":
        json.dump(as_json(sweep, stat), out, indent=2)
        out.write("\n")
    elif fmt == "csv":
        out.write(as_csv(sweep, stat))
    else:
        _table(sweep, stat, out)
    return sweep.complete


def _check_runnable(found: Plan, stat: str, base: BacktestSpec) -> None:
    """One line before anything runs for a grid whose every combination is refused, or a
    ``--sort`` figure runs on this data cannot have (``events`` of a bar file)."""
    if found.refused and not found.jobs:
        reasons = sorted({refused.reason for refused in found.refused})
        raise UserError(f"--grid: every combination is refused, nothing to run: {reasons[0]}"
                        + (f" (and {counted(len(reasons) - 1, 'other reason')})" if len(reasons) > 1 else ""))  # fmt: skip
    try:
        kind = detect(base.data, base.symbol).kind
    except BacktestError:
        return  # the runs say what is wrong with the file (a cluster's may be elsewhere)
    other = EVENTS if kind == BARS else BARS
    if stat == other:
        raise UserError(f"--sort {stat}: {base.data.name} holds {kind}, not {other}")


def _one_error(sweep: Sweep) -> bool:
    return len({failed.error for failed in sweep.failed}) == 1


def _table(sweep: Sweep, stat: str, out: TextIO) -> None:
    terminal = out.isatty()
    console = Console(file=out, width=None if terminal else PIPE_WIDTH, soft_wrap=False)
    print_table(console, sweep, stat, console.width if terminal else None)
