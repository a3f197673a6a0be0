"""``tradeterm console [SYMBOL]``: its arguments, and every way it ends as an exit status and
at most one line (a :class:`UserError`). The console itself is :mod:`tradeterm.console`."""

from __future__ import annotations

import argparse
import asyncio
from decimal import Decimal

from tradeterm import console
from tradeterm.cli import strategy_option
from tradeterm.cli.errors import EXIT_ERROR, EXIT_UNWRITTEN, EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import add_wait_argument, load, number_arg, whole_arg
from tradeterm.runtime import UnwrittenError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    parser.add_argument("--for", type=number_arg, dest="seconds", metavar="SECONDS",
                        help="run this long, then stop (default: until quit or end of input)")  # fmt: skip
    parser.add_argument("--seed", type=whole_arg, default=1,
                        help="seed of the embedded gateway (--sim)")  # fmt: skip
    add_wait_argument(parser)
    strategy_option.add_arguments(parser)


def command(args: argparse.Namespace) -> int:
    from tradeterm.logs import setup_logging
    from tradeterm.paths import log_name

    seconds: Decimal | None = args.seconds
    if seconds is not None and seconds <= 0:
        raise UserError(f"--for must be a positive number of seconds, got {seconds}")
    settings = load(args).settings
    strategy, canary = strategy_option.chosen(args, settings)
    setup_logging(settings.logging, log_name("console", settings.symbol, settings.mode))
    if settings.mode == "live":  # bad input (exit 2); the console refuses it on its own too
        raise UserError(console.LIVE_REFUSED)
    run_for = float(seconds) if seconds is not None else None
    with (
        reported_as(EXIT_ERROR, console.ConsoleError),
        reported_as(EXIT_USAGE, console.UnknownMarketError),
        reported_as(EXIT_UNWRITTEN, UnwrittenError),
    ):
        return asyncio.run(
            console.run(settings, seconds=run_for, seed=args.seed, strategy=strategy, canary=canary)
        )
