"""``--strategy NAME [--param KEY=VALUE ...]``, as the screen and ``tradeterm console`` both
take it: the arguments, and the strategy they name loaded (bad input: one line, exit 2)."""

from __future__ import annotations

import argparse

from tradeterm.cli.errors import EXIT_USAGE, UserError, reported_as
from tradeterm.strategies import Loaded, StrategyError
from tradeterm.strategies import load as load_strategy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", metavar="NAME",
                        help="run this strategy (a built-in or registered name, or module:Class)")  # fmt: skip
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter of --strategy (repeatable)")  # fmt: skip


def loaded(args: argparse.Namespace) -> Loaded | None:
    """The strategy ``--strategy`` names with its ``--param`` values, None without one."""
    if args.param and not args.strategy:
        raise UserError("--param needs --strategy NAME")
    if not args.strategy:
        return None
    with reported_as(EXIT_USAGE, StrategyError):
        return load_strategy(args.strategy, args.param)
