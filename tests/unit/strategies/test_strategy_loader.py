"""Finding and building strategies: by built-in name, by module:Class, by entry point; every
failure a user can cause is one line naming what is wrong."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tradeterm.strategies import BUILTINS, GROUP, StrategyError, installed, load
from tradeterm.strategies.sma_cross import SmaCross

REPO = Path(__file__).resolve().parents[3]

PLUGIN = '''
from pydantic import Field
from tradeterm.strategies import Params, Strategy


class BreakoutParams(Params):
    width: int = Field(4, ge=1, le=100, description="range width in ticks")
    session: str = Field("rth", description="which session")


class Breakout(Strategy[BreakoutParams]):
    """Buys the break of a range."""

    parameters = BreakoutParams


class NotOne:
    pass


class Broken(Strategy[BreakoutParams]):
    parameters = BreakoutParams

    def __init__(self, params: BreakoutParams) -> None:
        raise RuntimeError("no licence")


def helper() -> None:
    pass
'''


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A trader's own module on the path: its name."""
    name = f"my_plugin_{tmp_path.name}"
    (tmp_path / f"{name}.py").write_text(PLUGIN)
    (tmp_path / f"{name}_bad.py").write_text("1 / 0\n")
    (tmp_path / f"{name}_dep.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for mod in (name, f"{name}_bad", f"{name}_dep"):
        sys.modules.pop(mod, None)


def registered(monkeypatch: pytest.MonkeyPatch, *entries: tuple[str, str]) -> None:
    """Packages registering ``entries`` (name, module:Class) in the group."""
    points = [metadata.EntryPoint(name, value, GROUP) for name, value in entries]
    real = metadata.entry_points

    def entry_points(**select: str) -> object:
        return points if select == {"group": GROUP} else real(**select)

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def failure(spec: str, *pairs: str) -> str:
    with pytest.raises(StrategyError) as caught:
        load(spec, pairs)
    return str(caught.value)


def test_a_built_in_by_name_with_its_parameters_validated() -> None:
    loaded = load("sma_cross", ["fast=3", " slow = 7 ", "quantity=2"])
    assert isinstance(loaded.strategy, SmaCross)
    assert loaded.target == "tradeterm.strategies.sma_cross:SmaCross"
    assert loaded.strategy.params.model_dump() == {"fast": 3, "slow": 7, "quantity": 2}
    assert load(" sma_cross ").strategy.params.model_dump() == {
        "fast": 10,
        "slow": 30,
        "quantity": 1,
    }


def test_the_built_ins_are_registered_as_entry_points_too() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["entry-points"][GROUP] == dict(BUILTINS)


def test_every_built_in_parameter_has_a_description() -> None:
    for entry in installed():
        model = load(entry.target).strategy.parameters
        assert all(f.description for f in model.model_fields.values()), entry.name


def test_module_colon_class(plugin: str) -> None:
    loaded = load(f"{plugin}:Breakout", ["width=9"])
    assert type(loaded.strategy).__name__ == "Breakout"
    assert loaded.strategy.params.model_dump() == {"width": 9, "session": "rth"}


def test_a_registered_name(plugin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    registered(monkeypatch, ("breakout", f"{plugin}:Breakout"), ("sma_cross", "elsewhere:X"))
    assert [(s.name, s.target, s.origin) for s in installed()] == [
        *((name, target, "built-in") for name, target in BUILTINS.items()),
        ("breakout", f"{plugin}:Breakout", "entry point"),
    ]  # sma_cross once: a package cannot take a built-in's name
    assert type(load("breakout").strategy).__name__ == "Breakout"
    assert isinstance(load("sma_cross").strategy, SmaCross)


def test_a_name_two_packages_register_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    registered(monkeypatch, ("orb", "a.one:Orb"), ("orb", "b.two:Orb"))
    assert failure("orb") == (
        "strategy 'orb' is registered by more than one package: a.one:Orb, b.two:Orb; "
        "name one as module:Class"
    )


@pytest.mark.parametrize(
    ("spec", "line"),
    [
        ("smacross", "unknown strategy 'smacross'; installed: ema_scalp, opening_range, sma_cross, trend_pullback (or give module:Class)"),
        ("no_such_pkg.strats:X", "no_such_pkg.strats:X: no module named 'no_such_pkg.strats'"),
        ("tradeterm.strategies.nope:X", "tradeterm.strategies.nope:X: no module named 'tradeterm.strategies.nope'"),
        ("a:b:c", "not a strategy name or module:Class: 'a:b:c'"),
        (":Cls", "not a strategy name or module:Class: ':Cls'"),
        ("tradeterm.strategies.api:Strategy",
         "tradeterm.strategies.api:Strategy: not a Strategy subclass but the base class itself"),
        ("tradeterm.strategies.api:Params",
         "tradeterm.strategies.api:Params: not a Strategy subclass but the class Params"),
    ],
)  # fmt: skip
def test_a_strategy_that_cannot_be_found_is_one_line(spec: str, line: str) -> None:
    assert failure(spec) == line


def test_a_plugin_that_cannot_be_imported_or_is_not_a_strategy_is_one_line(plugin: str) -> None:
    assert failure(f"{plugin}:Nope") == f"{plugin}:Nope: module {plugin!r} has no 'Nope'"
    assert failure(f"{plugin}:NotOne") == (
        f"{plugin}:NotOne: not a Strategy subclass but the class NotOne"
    )
    assert failure(f"{plugin}:helper") == f"{plugin}:helper: not a Strategy subclass but a function"
    assert failure(f"{plugin}_bad:X") == (
        f"{plugin}_bad:X: importing {plugin}_bad failed: ZeroDivisionError: division by zero"
    )
    assert failure(f"{plugin}_dep:X") == (
        f"{plugin}_dep:X: importing {plugin}_dep failed: No module named 'no_such_dependency_xyz'"
    )
    assert failure(f"{plugin}:Broken") == (
        f"{plugin}:Broken: could not be built: RuntimeError: no licence"
    )


@pytest.mark.parametrize(
    ("pairs", "lines"),
    [
        (["widht=3"], ["unknown parameter 'widht'; parameters: width, session"]),
        (["width=wide"],
         ["width='wide': Input should be a valid integer, unable to parse string as an integer"]),
        (["width=0"], ["width='0': Input should be greater than or equal to 1"]),
        (["width=101"], ["width='101': Input should be less than or equal to 100"]),
        (["width=\u0663"], ["width='\u0663': Input should be a valid integer, unable to parse string as an integer"]),
        (["width"], ["parameter 'width' is not key=value"]),
        (["=3"], ["parameter '=3' is not key=value"]),
        (["width=3", "width=4"], ["parameter 'width' given twice"]),
        (["width=0", "session=eth", "x=1"],
         ["unknown parameter 'x'; parameters: width, session",
          "width='0': Input should be greater than or equal to 1"]),
    ],
)  # fmt: skip
def test_bad_parameters_are_one_line_each_naming_the_key(
    plugin: str, pairs: list[str], lines: list[str]
) -> None:
    spec = f"{plugin}:Breakout"
    assert failure(spec, *pairs).split("\n") == [f"{spec}: {line}" for line in lines]


def test_each_bad_value_has_its_own_line() -> None:
    assert failure("sma_cross", "fast=x", "slow=1").split("\n") == [
        "sma_cross: fast='x': Input should be a valid integer, unable to parse string as an integer",
        "sma_cross: slow='1': Input should be greater than or equal to 2",
    ]
