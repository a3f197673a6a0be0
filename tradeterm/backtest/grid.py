"""A parameter grid (``--grid fast=5:20:5 slow=20:60:10``) and the backtests it asks for.

Each ``KEY=VALUES`` item is one axis: ``start:stop:step`` (numbers; the stop is included when
it falls on a step: ``5:20:5`` is 5, 10, 15, 20 and ``5:21:5`` the same), or a comma list
``a,b,c`` (taken as written, one value being a one-point axis). Values stay text, as
``--param`` gives them: the strategy's own parameter model reads them. Every combination of
the axes is one :class:`~tradeterm.backtest.spec.BacktestSpec`; a combination the model
refuses (``fast`` not below ``slow`` for ``sma_cross``) is kept aside as :class:`Refused`
with the model's reason, never run. Bad input is a :class:`GridError`, one line.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tradeterm.backtest.spec import BacktestSpec
from tradeterm.domain import DomainError, decimal_from
from tradeterm.strategies.loader import StrategyError, find, parse_params

MAX_COMBINATIONS = 10_000
"""A grid larger than this is refused as a typo (``fast=1:100000:1``) before anything runs."""

EXAMPLE = "e.g. fast=5:20:5 or fast=5,10,20"

Params = tuple[tuple[str, str], ...]


class GridError(Exception):
    """A grid that cannot be read or run as given, worded as one line for the user."""


@dataclass(frozen=True, slots=True)
class Axis:
    """One parameter of the grid and its values, in the order given."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """A combination the strategy's parameter model refuses: its grid values (``index``: its
    place in the grid) and the model's reason."""

    index: int
    values: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What a grid asks of a base spec: the axes, the runs (``jobs``: place in the grid and
    spec, grid order) and the combinations refused."""

    axes: tuple[Axis, ...]
    jobs: tuple[tuple[int, BacktestSpec], ...]
    refused: tuple[Refused, ...]

    @property
    def size(self) -> int:
        return len(self.jobs) + len(self.refused)


def parse_grid(items: Sequence[str]) -> tuple[Axis, ...]:
    """The axes of ``--grid`` items (``KEY=start:stop:step`` or ``KEY=a,b,c``)."""
    axes: list[Axis] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or not text.strip():
            raise GridError(f"--grid {item!r} is not KEY=VALUES ({EXAMPLE})")
        if any(axis.name == key for axis in axes):
            raise GridError(f"--grid: {key} is given twice")
        values = _range(item, text) if ":" in text else _list(item, text)
        axes.append(Axis(key, values))
    size = 1
    for axis in axes:
        size *= len(axis.values)
    if size > MAX_COMBINATIONS:
        raise GridError(f"--grid makes {size} combinations; at most {MAX_COMBINATIONS}")
    return tuple(axes)


def _range(item: str, text: str) -> tuple[str, ...]:
    parts = text.split(":")
    if len(parts) != 3:
        raise GridError(f"--grid {item!r}: a range is start:stop:step ({EXAMPLE})")
    start, stop, step = (_number(item, part) for part in parts)
    if step <= 0:
        raise GridError(f"--grid {item!r}: the step must be above 0")
    if stop < start:
        raise GridError(f"--grid {item!r}: the stop ({stop}) is below the start ({start})")
    steps = (stop - start) // step  # exact: the numbers are finite decimals
    if steps >= MAX_COMBINATIONS:
        raise GridError(f"--grid {item!r} has more than {MAX_COMBINATIONS} values")
    return tuple(str(start + i * step) for i in range(int(steps) + 1))


def _number(item: str, text: str) -> Decimal:
    try:
        return decimal_from(text)
    except DomainError:
        raise GridError(f"--grid {item!r}: {text.strip()!r} is not a number") from None


def _list(item: str, text: str) -> tuple[str, ...]:
    values = tuple(value.strip() for value in text.split(","))
    if "" in values:
        raise GridError(f"--grid {item!r}: an empty value")
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise GridError(f"--grid {item!r}: {', '.join(twice)} given twice")
    return values


def plan(base: BacktestSpec, axes: Sequence[Axis]) -> Plan:
    """Every combination of ``axes`` over ``base`` (its ``params`` with the grid's values
    added), in grid order (the last axis varies fastest); the ones the strategy's parameter
    model refuses set aside with its reason. A grid key the strategy does not have, or one
    ``base`` already sets, is a :class:`GridError`; an unknown strategy a ``StrategyError``."""
    name = base.strategy.strip()
    _, cls = find(base.strategy)
    fields = cls.parameters.model_fields
    given = dict(base.params)
    for axis in axes:
        if axis.name not in fields:
            known = ", ".join(fields) or "none"
            raise GridError(f"--grid: {name} has no parameter {axis.name!r}; parameters: {known}")
        if axis.name in given:
            raise GridError(f"--grid: {axis.name} is given by --param too; give it once")
    jobs: list[tuple[int, BacktestSpec]] = []
    refused: list[Refused] = []
    names = [axis.name for axis in axes]
    for index, values in enumerate(itertools.product(*(axis.values for axis in axes))):
        params = (*base.params, *zip(names, values, strict=True))
        try:
            parse_params(name, cls.parameters, [f"{k}={v}" for k, v in params])
        except StrategyError as exc:
            refused.append(Refused(index, values, str(exc).replace("\n", "; ")))
            continue
        jobs.append((index, dataclasses.replace(base, params=params)))
    return Plan(tuple(axes), tuple(jobs), tuple(refused))


def grid_values(axes: Sequence[Axis], spec: BacktestSpec) -> tuple[str, ...]:
    """The values ``spec`` gives the grid's parameters, in axis order."""
    params = dict(spec.params)
    return tuple(params[axis.name] for axis in axes)
