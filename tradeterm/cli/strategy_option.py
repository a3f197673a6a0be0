"""``--strategy NAME [--param KEY=VALUE ...] [--canary FRACTION]``, as the screen and
``tradeterm console`` both take them: the arguments, and what they choose (the strategy loaded
and the CANARY fraction); bad input is one line, exit 2, before anything runs."""

from __future__ import annotations

import argparse
from decimal import Decimal

from tradeterm.cli.errors import EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import number_arg
from tradeterm.config import Settings
from tradeterm.strategies import Loaded, StrategyError
from tradeterm.strategies import load as load_strategy

CANARY_WITH_SHADOW = (
    "--canary sends a fraction of the strategy's intents to IB and --shadow sends none: choose one"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_strategy_arguments(parser)
    parser.add_argument("--canary", type=number_arg, metavar="FRACTION",
                        help="CANARY: this fraction (0 < F <= 1) of the strategy's intents go "
                        "to IB, every one is filled on its paper track (report --compare)")  # fmt: skip


def add_strategy_arguments(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--strategy NAME [--param KEY=VALUE ...]`` (``tradeterm backtest`` takes these alone)."""
    parser.add_argument("--strategy", metavar="NAME", required=required,
                        help="run this strategy (a built-in or registered name, or module:Class)")  # fmt: skip
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a parameter of --strategy (repeatable)")  # fmt: skip


def chosen(args: argparse.Namespace, settings: Settings) -> tuple[Loaded | None, float | None]:
    """The strategy asked for (None without ``--strategy``) and the CANARY fraction (None: not
    CANARY); a :class:`UserError` (exit status 2) for bad input."""
    canary: Decimal | None = getattr(args, "canary", None)
    if args.param and not args.strategy:
        raise UserError("--param needs --strategy NAME")
    if canary is not None:
        if not args.strategy:
            raise UserError("--canary needs --strategy NAME")
        if not 0 < canary <= 1:
            raise UserError(f"--canary must be a fraction above 0 and at most 1, got {canary}")
        if settings.mode == "shadow":
            raise UserError(CANARY_WITH_SHADOW)
    if not args.strategy:
        return None, None
    with reported_as(EXIT_USAGE, StrategyError):
        loaded = load_strategy(args.strategy, args.param)
    return loaded, float(canary) if canary is not None else None
