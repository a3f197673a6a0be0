"""The ``tradeterm`` command.

``tradeterm [SYMBOL] [options]`` starts an instance for one market; ``tradeterm COMMAND ...``
runs a tool (``locate``, ``config show`` and the others listed in ``--help``). Every failure a
user can cause ends in one clear line on stderr and a non-zero exit status, never a traceback:
2 for bad input (flags, config), 1 for anything else (with the log file named), 3 when the
screen or the console stopped (``q``, ``quit``, end of input, ``--for``, SIGTERM, SIGHUP) with
critical journal rows (orders, fills, risk, kill switch) that could never be written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

from tradeterm import __version__, paths
from tradeterm.config import ConfigError, LoadedSettings, load_settings
from tradeterm.domain import DomainError, decimal_from, whole_from
from tradeterm.text import printable

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNWRITTEN = 3  # stopped, but the journal lost critical rows (disk full, read-only...)


class UsageError(Exception):
    """Bad command-line input, worded for the user."""


class _Parser(argparse.ArgumentParser):
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


def _settings_options() -> _Parser:
    """Flags that feed the configuration (highest precedence), shared by every command."""
    parent = _Parser(add_help=False)
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


_CLI_KEYS = {
    "mode": "mode",
    "host": "connection.host",
    "port": "connection.port",
    "client_id": "connection.client_id",
    "theme": "ui.theme",
    "symbol": "symbol",
}


def _load(args: argparse.Namespace) -> LoadedSettings:
    cli = {
        key: getattr(args, name)
        for name, key in _CLI_KEYS.items()
        if getattr(args, name, None) is not None
    }
    return load_settings(getattr(args, "config", None), cli)


# ---------------------------------------------------------------------------------------------
# commands


def _cmd_locate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    settings = loaded.settings
    if args.what == "config":
        print(loaded.config_file)
    elif args.what == "data":
        print(paths.data_dir())
    elif args.what == "logs":
        print(settings.log_directory())
    elif args.what == "themes":
        print(paths.user_themes_dir())
        print(paths.builtin_themes_dir())
    return EXIT_OK


def _cmd_config_show(args: argparse.Namespace) -> int:
    from tradeterm.ui import run

    loaded = _load(args)
    try:
        run.check_screen(loaded.settings)  # what the screen would refuse, refused here too
    except run.ScreenUsageError as exc:
        raise UsageError(str(exc)) from None
    rows = list(loaded.rows())
    if args.format == "json":
        doc = {key: {"value": value, "origin": origin} for key, value, origin in rows}
        print(json.dumps(doc, indent=2, default=str))
        return EXIT_OK
    status = "" if loaded.file_found else "  (not found; defaults apply)"
    print(f"# config file: {loaded.config_file}{status}")
    width = max(len(key) + len(_toml_value(value)) for key, value, _ in rows) + 3
    for key, value, origin in rows:
        print(f"{key} = {_toml_value(value)}".ljust(width) + f"# {origin}")
    return EXIT_OK


def _toml_value(value: Any) -> str:
    if value is None:
        return '""  (unset)'
    return json.dumps(value, default=str)


def _cmd_run(args: argparse.Namespace) -> int:
    from tradeterm.logs import setup_logging
    from tradeterm.runtime import UnwrittenError
    from tradeterm.ui import run

    settings = _load(args).settings  # bad input is reported before anything runs
    setup_logging(settings.logging, f"tradeterm-{settings.symbol}")
    try:
        return run.run(settings)
    except run.ScreenUsageError as exc:
        raise UsageError(str(exc)) from None
    except run.ScreenStartError as exc:
        print(f"tradeterm: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except UnwrittenError as exc:
        return _unwritten(exc)


def _unwritten(exc: Exception) -> int:
    """The stop that lost journal rows: one line (even when the terminal is gone)."""
    with contextlib.suppress(OSError, ValueError):
        print(f"tradeterm: {exc}", file=sys.stderr, flush=True)
    return EXIT_UNWRITTEN


def _cmd_gateway(args: argparse.Namespace) -> int:
    from tradeterm.logs import setup_logging
    from tradeterm.sim.gateway import command

    # --host/--port here are where the gateway listens, not the connection settings
    loaded = load_settings(args.config)
    setup_logging(loaded.settings.logging, "gateway")
    try:
        return command.run(args)
    except command.GatewayUsageError as exc:
        raise UsageError(str(exc)) from None


def _cmd_console(args: argparse.Namespace) -> int:
    import asyncio

    from tradeterm import console
    from tradeterm.logs import setup_logging
    from tradeterm.runtime import UnwrittenError

    seconds: Decimal | None = args.seconds
    if seconds is not None and seconds <= 0:
        raise UsageError(f"--for must be a positive number of seconds, got {seconds}")
    settings = _load(args).settings
    setup_logging(settings.logging, f"console-{settings.symbol}")
    run_for = float(seconds) if seconds is not None else None
    try:
        return asyncio.run(console.run(settings, seconds=run_for, seed=args.seed))
    except console.ConsoleUsageError as exc:
        raise UsageError(str(exc)) from None
    except console.ConsoleError as exc:
        print(f"tradeterm: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except UnwrittenError as exc:
        return _unwritten(exc)


COMMANDS: dict[str, str] = {
    "console": "run the engine without a screen: typed orders, one line per event",
    "gateway": "run the fake IB Gateway (market simulator, matching engine, replay, faults)",
    "locate": "print where config, data, logs or themes live",
    "config": "show the effective configuration and where each value came from",
    "report": "performance from the journal: per day and strategy (trades, P&L, drawdown...)",
    "journal": "export the journal (fills, orders, events, bars) as CSV or JSON",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``tradeterm [SYMBOL] [options]`` (no command)."""
    commands = "\n".join(f"  {name:<10}{text}" for name, text in COMMANDS.items())
    parser = _Parser(
        prog="tradeterm",
        parents=[_settings_options()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Terminal trading for futures on Interactive Brokers: one market per "
        "instance, keyboard driven, with a built-in fake IB Gateway for demos and tests.",
        epilog=f"commands (tradeterm COMMAND --help):\n{commands}\n\n"
        f"config file: {paths.default_config_file()}\n"
        "environment: TRADETERM_<SECTION>__<KEY>, e.g. TRADETERM_CONNECTION__PORT=4002",
    )
    parser.add_argument("--version", action="version", version=f"tradeterm {__version__}")
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    parser.set_defaults(handler=_cmd_run)
    return parser


def build_command_parser() -> argparse.ArgumentParser:
    """The parser for ``tradeterm COMMAND ...``."""
    options = _settings_options()
    parser = _Parser(prog="tradeterm")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from tradeterm.sim.gateway import command as gateway_command

    gateway = sub.add_parser(
        "gateway",
        help=COMMANDS["gateway"],
        description=gateway_command.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gateway.add_argument("--config", metavar="FILE", type=Path, help="TOML config (logging)")
    gateway_command.add_arguments(gateway)
    gateway.set_defaults(handler=_cmd_gateway)

    from tradeterm import console

    con = sub.add_parser(
        "console",
        parents=[options],
        help=COMMANDS["console"],
        description=console.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    con.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    con.add_argument("--for", type=number_arg, dest="seconds", metavar="SECONDS",
                     help="run this long, then stop (default: until quit or end of input)")  # fmt: skip
    con.add_argument("--seed", type=whole_arg, default=1,
                     help="seed of the embedded gateway (--sim)")  # fmt: skip
    con.set_defaults(handler=_cmd_console)

    locate = sub.add_parser("locate", parents=[options], help=COMMANDS["locate"])
    locate.add_argument("what", choices=("config", "data", "logs", "themes"))
    locate.set_defaults(handler=_cmd_locate)

    config = sub.add_parser("config", help=COMMANDS["config"])
    config_sub = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = config_sub.add_parser("show", parents=[options], help=COMMANDS["config"])
    show.add_argument("--format", choices=("text", "json"), default="text")
    show.set_defaults(handler=_cmd_config_show)

    from tradeterm.journal import commands as journal_commands

    journal_commands.register(sub, options)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    if argv and argv[0] in COMMANDS:
        return build_command_parser().parse_args(argv)
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)  # argparse prints its own message and exits 2 on bad flags
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except (ConfigError, UsageError) as exc:
        # its lines quote what was given (a path, a name): shown escaped, never acting
        lines = str(exc).split("\n")
        print("tradeterm: " + "\n".join(map(printable, lines)), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `tradeterm config show | head`
        return EXIT_OK
    except Exception as exc:  # the last line of defence: no traceback on the user's screen
        if logging.getLogger().handlers:  # without one, logging would print the traceback
            log.exception("unexpected error")
        print(f"tradeterm: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
