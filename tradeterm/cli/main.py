"""The ``tradeterm`` command.

``tradeterm [SYMBOL] [options]`` starts an instance for one market; ``tradeterm COMMAND ...``
runs a tool (``locate``, ``config show`` and the others listed in ``--help``). Every failure a
user can cause ends in one clear line on stderr and a non-zero exit status, never a traceback:
2 for bad input (flags, config), 1 for anything else (with the log file named), 3 when the
screen or the console stopped (``q``, ``quit``, end of input, ``--for``, SIGTERM, SIGHUP) with
critical journal rows (orders, fills, risk, kill switch) that could never be written. Each
command says its own failures as a :class:`~tradeterm.cli.errors.UserError` carrying its exit
status; :func:`main` prints it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tradeterm import __version__, paths
from tradeterm.cli import replay_option, strategy_option
from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import Parser, add_wait_argument, load, settings_options
from tradeterm.config import ConfigError, load_settings
from tradeterm.text import printable

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# commands


def _cmd_locate(args: argparse.Namespace) -> int:
    loaded = load(args)
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
    from tradeterm.cli import screen

    loaded = load(args)
    screen.check_screen(loaded.settings)  # what the screen would refuse, refused here too
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


def _cmd_screen(args: argparse.Namespace) -> int:
    from tradeterm.cli import screen  # Textual is imported only for the screen

    return screen.command(args)


def _cmd_gateway(args: argparse.Namespace) -> int:
    from tradeterm.cli import gateway
    from tradeterm.logs import setup_logging

    # --host/--port here are where the gateway listens, not the connection settings
    loaded = load_settings(args.config)
    setup_logging(loaded.settings.logging, "gateway")
    return gateway.run(args)


COMMANDS: dict[str, str] = {
    "console": "run the engine without a screen: typed orders, one line per event",
    "gateway": "run the fake IB Gateway (market simulator, matching engine, replay, faults)",
    "locate": "print where config, data, logs or themes live",
    "config": "show the effective configuration and where each value came from",
    "report": "performance from the journal: per day and strategy (trades, P&L, drawdown...)",
    "journal": "export the journal (fills, orders, events, bars) as CSV or JSON",
    "strategies": "list the installed strategies, each parameter with its type and default",
    "backtest": "run a strategy over recorded bars or book data: fills, P&L, a report",
    "doctor": "check the gateway, market-data permissions, clock, disk and terminal",
    "serve": "the screen in a web browser (textual-serve): 127.0.0.1, a token in the URL",
    "status": "list every running instance: connection, trading state, position, P&L",
    "kill": "run the kill switch of one market's instances or of all (--all)",
    "bench": "run every benchmark and print one table: figure, value, target, met",
    "tmux": "several markets in one tmux session, a window each (--sim: one fake gateway)",
    "shared": "the shared PostgreSQL database: migrate its schema, print the writer role's SQL",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser for ``tradeterm [SYMBOL] [options]`` (no command)."""
    commands = "\n".join(f"  {name:<12}{text}" for name, text in COMMANDS.items())
    parser = Parser(
        prog="tradeterm",
        parents=[settings_options()],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Terminal trading for futures on Interactive Brokers: one market per "
        "instance, keyboard driven, with a built-in fake IB Gateway for demos and tests.",
        epilog=f"commands (tradeterm COMMAND --help):\n{commands}\n\n"
        f"config file: {paths.default_config_file()}\n"
        "environment: TRADETERM_<SECTION>__<KEY>, e.g. TRADETERM_CONNECTION__PORT=4002",
    )
    parser.add_argument("--version", action="version", version=f"tradeterm {__version__}")
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    add_wait_argument(parser)
    strategy_option.add_arguments(parser)
    parser.add_argument("--watch-only", action="store_true", dest="watch_only",
                        help="a screen that trades nothing, beside the trading one (its own "
                        "client id, no journal): see tradeterm serve")  # fmt: skip
    replay_option.add_arguments(parser)
    parser.set_defaults(handler=_cmd_screen)
    return parser


def build_command_parser() -> argparse.ArgumentParser:
    """The parser for ``tradeterm COMMAND ...``: each command's arguments are its front end's
    (``add_arguments``), with the configuration flags where they apply."""
    from tradeterm import console as console_app
    from tradeterm.cli import (
        backtest,
        bench,
        console,
        doctor,
        gateway,
        journal,
        kill,
        serve,
        shared,
        shared_plane,
        shared_report,
        status,
        strategies,
        tmux,
    )
    from tradeterm.journal import report as report_book

    options = [settings_options()]
    parser = Parser(prog="tradeterm")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def gateway_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", metavar="FILE", type=Path, help="TOML config (logging)")
        gateway.add_arguments(parser)

    def locate_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("what", choices=("config", "data", "logs", "themes"))

    def show_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--format", choices=("text", "json"), default="text")

    _add(sub, "gateway", COMMANDS["gateway"], gateway_arguments, _cmd_gateway, [], gateway.__doc__)
    _add(sub, "console", COMMANDS["console"], console.add_arguments, console.command, options,
         console_app.__doc__)  # fmt: skip
    _add(sub, "locate", COMMANDS["locate"], locate_arguments, _cmd_locate, options)
    config = sub.add_parser("config", help=COMMANDS["config"])
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(actions, "show", COMMANDS["config"], show_arguments, _cmd_config_show, options)
    _add(sub, "report", COMMANDS["report"], shared_report.report_arguments,
         shared_report.cmd_report, options, report_book.__doc__)  # fmt: skip
    journal_parser = sub.add_parser("journal", help=COMMANDS["journal"])
    actions = journal_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(actions, "export", "write one table of the journal to stdout", journal.add_arguments,
         journal.cmd_export, options)  # fmt: skip
    _add(sub, "strategies", COMMANDS["strategies"], strategies.add_arguments,
         strategies.command, [], strategies.__doc__)  # fmt: skip
    _add(sub, "backtest", COMMANDS["backtest"], backtest.add_arguments, backtest.command, [],
         backtest.__doc__)  # fmt: skip
    _add(sub, "doctor", COMMANDS["doctor"], doctor.add_arguments, doctor.command, options,
         doctor.__doc__)  # fmt: skip
    _add(sub, "serve", COMMANDS["serve"], serve.add_arguments, serve.command, [], serve.__doc__)
    _add(sub, "status", COMMANDS["status"], shared_plane.status_arguments,
         shared_plane.status_command, [], status.__doc__)  # fmt: skip
    _add(sub, "kill", COMMANDS["kill"], shared_plane.kill_arguments, shared_plane.kill_command,
         [], kill.__doc__)  # fmt: skip
    _add(sub, "bench", COMMANDS["bench"], bench.add_arguments, bench.command, [], bench.__doc__)
    _add(sub, "tmux", COMMANDS["tmux"], tmux.add_arguments, tmux.command, options, tmux.__doc__)
    shared_parser = sub.add_parser("shared", help=COMMANDS["shared"], description=shared.__doc__)
    actions = shared_parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    _add(actions, "migrate", "migrate the schema (as its owner)", shared.add_migrate_arguments,
         shared.cmd_migrate, options)  # fmt: skip
    _add(actions, "roles", "print the SQL of the writer and reader roles", shared.add_roles_arguments,
         shared.cmd_roles, [])  # fmt: skip
    return parser


def _add(
    subparsers: Any,
    name: str,
    help_text: str,
    add_arguments: Callable[[argparse.ArgumentParser], None],
    handler: Callable[..., int],
    parents: Sequence[argparse.ArgumentParser],
    description: str | None = None,
) -> None:
    """The command ``name``: its arguments and the function that runs it. A description is
    a docstring, shown as written."""
    parser = subparsers.add_parser(
        name, parents=parents, help=help_text, description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    add_arguments(parser)
    parser.set_defaults(handler=handler)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    if argv and argv[0] in COMMANDS:
        return build_command_parser().parse_args(argv)
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with reported_as(EXIT_USAGE, ConfigError):
            args = parse_args(argv)  # argparse prints its own message and exits 2 on bad flags
            handler: Callable[[argparse.Namespace], int] = args.handler
            return handler(args)
    except UserError as exc:
        return _say(exc)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `tradeterm config show | head`
        return EXIT_OK
    except Exception as exc:  # the last line of defence: no traceback on the user's screen
        if logging.getLogger().handlers:  # without one, logging would print the traceback
            log.exception("unexpected error")
        print(f"tradeterm: unexpected error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _say(error: UserError) -> int:
    """The error's line on stderr (a configuration's problems one line each, what they quote
    shown escaped, never acting on the terminal), even when the terminal is gone; its exit
    status."""
    lines = str(error).split("\n")
    with contextlib.suppress(OSError, ValueError):
        print("tradeterm: " + "\n".join(map(printable, lines)), file=sys.stderr, flush=True)
    return error.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
