"""Finding and building strategies.

A strategy is named one of three ways:

- a built-in's name (``sma_cross``), from :data:`BUILTINS`;
- ``module:Class``, a class importable from the Python path (``mypkg.trend:Pullback``);
- the name an installed package registers in the entry-point group ``tradeterm.strategies``
  (``[project.entry-points."tradeterm.strategies"] pullback = "mypkg.trend:Pullback"``), so a
  trader's own package plugs in without touching this one. The built-ins are registered there
  too; a package cannot take a built-in's name.

Parameters come as ``key=value`` strings (``--param fast=5``) and are validated by the
strategy's :class:`~tradeterm.strategies.api.Params` model. Every failure a user can cause is a
:class:`StrategyError` worded as one line (one line per bad parameter), never a traceback.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from tradeterm.strategies.api import Params, Strategy

GROUP = "tradeterm.strategies"
"""The entry-point group a package registers its strategies in."""

BUILTINS: Mapping[str, str] = MappingProxyType(
    {
        "sma_cross": "tradeterm.strategies.sma_cross:SmaCross",
        "ema_scalp": "tradeterm.strategies.ema_scalp:EmaScalp",
        "trend_pullback": "tradeterm.strategies.trend_pullback:TrendPullback",
        "opening_range": "tradeterm.strategies.opening_range:OpeningRange",
    }
)
"""The built-in strategies: name -> ``module:Class``."""

BUILT_IN = "built-in"

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_TARGET = re.compile(rf"^({_DOTTED}):({_DOTTED})$")


class StrategyError(Exception):
    """A strategy that cannot be found, imported or built as asked, worded for the user."""


@dataclass(frozen=True, slots=True)
class Installed:
    """One strategy that can be named: its name, its ``module:Class``, and where it comes
    from (``built-in`` or the package that registers it)."""

    name: str
    target: str
    origin: str


def installed() -> list[Installed]:
    """The built-ins, then the strategies packages register, by name. A package's entry that
    repeats a built-in's name is left out (the name means the built-in)."""
    found = [Installed(name, target, BUILT_IN) for name, target in BUILTINS.items()]
    registered = [
        Installed(ep.name, ep.value, _origin(ep))
        for ep in metadata.entry_points(group=GROUP)
        if ep.name not in BUILTINS
    ]
    return found + sorted(registered, key=lambda s: (s.name, s.target))


def _origin(ep: metadata.EntryPoint) -> str:
    dist = ep.dist
    return f"{dist.name} {dist.version}" if dist is not None else "entry point"


def find(spec: str) -> tuple[str, type[Strategy[Any]]]:
    """The strategy named by ``spec`` (a name or ``module:Class``): its target and its class."""
    spec = spec.strip()
    if ":" in spec:
        return spec, import_class(spec)
    candidates = {s.target for s in installed() if s.name == spec}
    if not candidates:
        names = ", ".join(sorted({s.name for s in installed()}))
        raise StrategyError(f"unknown strategy {spec!r}; installed: {names} (or give module:Class)")
    if len(candidates) > 1:
        raise StrategyError(
            f"strategy {spec!r} is registered by more than one package: "
            f"{', '.join(sorted(candidates))}; name one as module:Class"
        )
    (target,) = candidates
    return target, import_class(target)


def import_class(target: str) -> type[Strategy[Any]]:
    """The :class:`Strategy` subclass at ``module:Class``."""
    match = _TARGET.match(target.strip())
    if match is None:
        raise StrategyError(f"not a strategy name or module:Class: {target!r}")
    module_name, attr = match.groups()
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise StrategyError(f"{target}: no module named {module_name!r}") from None
        raise StrategyError(f"{target}: importing {module_name} failed: {exc}") from None
    except Exception as exc:  # the module's own code: a user's file, at this boundary
        raise StrategyError(
            f"{target}: importing {module_name} failed: {type(exc).__name__}: {exc}"
        ) from None
    found: Any = module
    for part in attr.split("."):
        if not hasattr(found, part):
            raise StrategyError(f"{target}: module {module_name!r} has no {attr!r}")
        found = getattr(found, part)
    if not (isinstance(found, type) and issubclass(found, Strategy)) or found is Strategy:
        raise StrategyError(f"{target}: not a Strategy subclass but {_kind(found)}")
    model = found.parameters
    if not (isinstance(model, type) and issubclass(model, Params)):
        raise StrategyError(f"{target}: its parameters ({model!r}) is not a Params subclass")
    return found


def _kind(obj: object) -> str:
    if obj is Strategy:
        return "the base class itself"
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    return f"a {type(obj).__name__}"


def parse_params(name: str, model: type[Params], pairs: Sequence[str]) -> Params:
    """``key=value`` strings validated by ``model``; a :class:`StrategyError` with one line
    per bad parameter, each naming its key."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"{name}: parameter {pair!r} is not key=value")
        elif key not in model.model_fields:
            known = ", ".join(model.model_fields) or "none"
            problems.append(f"{name}: unknown parameter {key!r}; parameters: {known}")
        elif key in values:
            problems.append(f"{name}: parameter {key!r} given twice")
        else:
            values[key] = value.strip()
    try:
        params = model.model_validate(values)
    except ValidationError as exc:
        problems += [_problem(name, error, values) for error in exc.errors()]
    if problems:
        raise StrategyError("\n".join(problems))
    return params


def _problem(name: str, error: Any, values: Mapping[str, str]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:  # a rule over several parameters
        return f"{name}: {message}"
    key = str(error["loc"][0])
    if key not in values:
        return f"{name}: parameter {key!r}: {message.lower()}"
    return f"{name}: {key}={values[key]!r}: {message}"


@dataclass(frozen=True, slots=True)
class Loaded:
    """A strategy built and ready to run: how it was named, its class's ``module:Class``,
    and the instance (its validated parameters are ``strategy.params``)."""

    name: str
    target: str
    strategy: Strategy[Any]


def load(spec: str, pairs: Sequence[str] = ()) -> Loaded:
    """Find the strategy ``spec`` names, validate ``pairs`` (``key=value``) and build it."""
    target, cls = find(spec)
    name = spec.strip()
    params = parse_params(name, cls.parameters, pairs)
    try:
        strategy = cls(params)
    except Exception as exc:  # the strategy's own constructor, a user's code
        raise StrategyError(f"{name}: could not be built: {type(exc).__name__}: {exc}") from None
    return Loaded(name, target, strategy)
