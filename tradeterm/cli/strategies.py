"""``tradeterm strategies [NAME] [--param KEY=VALUE ...]``: the strategies that can be named
(built-in, registered by an installed package in the entry-point group
``tradeterm.strategies``), each parameter with its type, default, bounds and description.

With NAME (a name or ``module:Class``) only that strategy; with ``--param`` its parameters are
checked as a run would check them, and the values it would run with are shown. A name that
cannot be found or a bad parameter is one line and exit status 2. A registered package whose
strategy cannot be imported is listed with why, and the others still are.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from pydantic.fields import FieldInfo

from tradeterm.cli.errors import EXIT_OK, EXIT_USAGE, reported_as
from tradeterm.strategies import Params, Strategy, StrategyError, installed
from tradeterm.strategies.loader import find, import_class, load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="one strategy: a built-in or registered name, or module:Class")  # fmt: skip
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="check a parameter value (repeatable); needs NAME")  # fmt: skip


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    with reported_as(EXIT_USAGE, StrategyError):
        if args.name is None:
            if args.param:
                raise StrategyError("--param needs a strategy NAME")
            _list_all(out)
        elif args.param:
            loaded = load(args.name, args.param)
            cls = type(loaded.strategy)
            out.write(_describe(loaded.name, loaded.target, cls, loaded.strategy.params))
        else:
            target, cls = find(args.name)
            out.write(_describe(args.name.strip(), target, cls))
    return EXIT_OK


def _list_all(out: TextIO) -> None:
    for entry in installed():
        try:
            cls = import_class(entry.target)
        except StrategyError as exc:
            out.write(f"{entry.name}  ({entry.origin}) cannot be loaded: {exc}\n\n")
            continue
        out.write(_describe(entry.name, f"{entry.origin}: {entry.target}", cls) + "\n")


def _describe(name: str, where: str, cls: type[Strategy[Any]], values: Params | None = None) -> str:
    """The strategy's heading, description and one row per parameter (the default, or with
    ``values`` the value it would run with)."""
    lines = [f"{name}  ({where})"]
    if cls.description():
        lines.append(f"  {cls.description()}")
    fields = cls.parameters.model_fields
    if not fields:
        lines.append("  no parameters")
    rows = [
        (key, _type_name(field), _value(field, key, values), _described(field))
        for key, field in fields.items()
    ]
    if rows:
        heading = ("parameter", "type", "value" if values is not None else "default", "")
        widths = [max(len(row[i]) for row in [heading, *rows]) for i in range(3)]
        for row in [heading, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            lines.append(("  " + "  ".join([*cells, row[3]])).rstrip())
    return "\n".join(lines) + "\n"


def _type_name(field: FieldInfo) -> str:
    annotation = field.annotation
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _value(field: FieldInfo, key: str, values: Params | None) -> str:
    if values is not None:
        return _shown(getattr(values, key))
    if field.is_required():
        return "(required)"
    return _shown(field.get_default(call_default_factory=True))


def _shown(value: object) -> str:
    """A value as typed on the command line (``1.5``, not ``Decimal('1.5')``); text quoted, so
    an empty one shows."""
    return repr(value) if isinstance(value, str) else str(value)


_BOUNDS = (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))


def _described(field: FieldInfo) -> str:
    bounds = [
        f"{symbol} {getattr(rule, attr)}"
        for rule in field.metadata
        for attr, symbol in _BOUNDS
        if hasattr(rule, attr)
    ]
    text = field.description or ""
    return f"{text} ({', '.join(bounds)})" if bounds else text
