"""What the commands share on the command line: the parser class, argument types, and the
configuration flags with the settings they load."""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

from tradeterm.config import LoadedSettings, load_settings
from tradeterm.domain import DomainError, decimal_from, whole_from
from tradeterm.text import printable


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose error line shows what was typed escaped (``unrecognized
    arguments: \x1b[2J``): one line that does nothing to the terminal."""

    def error(self, message: str) -> NoReturn:
        super().error(printable(message))


def whole_arg(text: str) -> int:
    """An argparse ``type``: a whole number in ASCII digits (``int()`` would also take
    ``"٣"`` or ``"1_0"``)."""
    try:
        return whole_from(text)
    except DomainError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def number_arg(text: str) -> Decimal:
    """An argparse ``type``: a finite number in plain ASCII notation (``float()`` would also
    take "nan", "inf", "1e3" or other scripts' digits)."""
    try:
        return decimal_from(text)
    except DomainError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def settings_options() -> Parser:
    """Flags that feed the configuration (highest precedence), shared by every command."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group("configuration (overrides file and environment)")
    group.add_argument("--config", metavar="FILE", type=Path, help="TOML config file to use")
    modes = group.add_mutually_exclusive_group()
    for mode, text in (
        ("sim", "embedded fake gateway (the default)"),
        ("shadow", "real market data, simulated fills"),
        ("paper", "IB paper account (default port 4002)"),
        ("live", "IB live account (default port 4001; asks for confirmation)"),
    ):
        modes.add_argument(f"--{mode}", dest="mode", action="store_const", const=mode, help=text)
    group.add_argument("--host", help="IB Gateway / TWS host")
    group.add_argument("--port", type=whole_arg, help="IB Gateway / TWS API port")
    group.add_argument("--client-id", type=whole_arg, dest="client_id",
                       help="API client id (default: the market's own, e.g. ES 110)")  # fmt: skip
    group.add_argument("--theme", help="colour theme name")
    return parent


def add_wait_argument(parser: argparse.ArgumentParser) -> None:
    """``--wait-for-gateway``, for the commands that trade (the screen, the console)."""
    parser.add_argument("--wait-for-gateway", dest="wait_for_gateway", action="store_const",
                        const=True, help="a gateway not reachable at start is waited for "
                        "(tried again with the reconnect backoff) instead of exiting; "
                        "connection.wait_at_start")  # fmt: skip


_CLI_KEYS = {
    "mode": "mode",
    "host": "connection.host",
    "port": "connection.port",
    "client_id": "connection.client_id",
    "wait_for_gateway": "connection.wait_at_start",
    "theme": "ui.theme",
    "symbol": "symbol",
}


def load(args: argparse.Namespace) -> LoadedSettings:
    """The settings, with the flags of :func:`settings_options` (and ``SYMBOL``) on top."""
    cli = {
        key: getattr(args, name)
        for name, key in _CLI_KEYS.items()
        if getattr(args, name, None) is not None
    }
    return load_settings(getattr(args, "config", None), cli)
