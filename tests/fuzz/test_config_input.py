"""Fuzzed configuration: TOML files (known keys with values of every type and range, unknown
keys, broken TOML, bytes that are not UTF-8) and ``TRADETERM_*`` environment variables.

Loading either gives settings tradeterm can use (every row ``config show`` prints, paths it
can open) or raises ``ConfigError``: one line, or one line per problem naming the key, its
value and where it came from (the file, the variable; never "default": the defaults are
valid). Never another exception.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.fuzz.budget import fuzz
from tests.fuzz.strategies import CHARS, JUNK, LINE_BREAKS, mangled_case, numbers
from tradeterm.config import (
    ConfigError,
    LoadedSettings,
    MarketConfig,
    Settings,
    load_settings,
)

MARKET_KEYS = ("ES", "es", "Nq", "XYZ", "")


def _leaves(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every key path of ``model``'s fields (tables as their own keys too)."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        yield path
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaves(annotation, path)


KEYS = [
    *(p for p in _leaves(Settings) if p[0] != "markets"),
    *(("markets", m, *p) for m in MARKET_KEYS for p in _leaves(MarketConfig)),
    *(("ui", "keymap", a) for a in ("buy_market", "kill", "arm", "quit", "nosuch")),
]


def keys() -> st.SearchStrategy[tuple[str, ...]]:
    """A known key as spelt, or in any case, or with a word too many, or junk."""
    known = st.sampled_from(KEYS)
    cased = known.flatmap(lambda p: st.tuples(*map(mangled_case, p)))
    longer = st.tuples(known, JUNK).map(lambda t: (*t[0], t[1]))
    junk = st.lists(JUNK, min_size=1, max_size=3).map(tuple)
    return st.one_of(known, cased, longer, junk)


def plausible(path: tuple[str, ...]) -> st.SearchStrategy[Any]:
    """Values of the key's own type, in and out of its range (any value for other keys)."""
    model: type[BaseModel] = Settings
    parts = list(path)
    if parts[:1] == ["markets"] and len(parts) > 2:
        model, parts = MarketConfig, parts[2:]
    field = None
    for part in parts:
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    if field is None:
        return VALUES
    kind = str(field.annotation)
    if kind.startswith("typing.Literal"):
        return st.sampled_from(typing.get_args(field.annotation)).flatmap(mangled_case)
    for name, values in PLAUSIBLE.items():
        if name in kind:
            return values
    return VALUES


PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "list[int]": st.lists(st.integers(-1, 12), max_size=4),
    "dict[str, str]": st.dictionaries(
        st.sampled_from(["kill", "arm", "quit", "buy_market"]),
        st.sampled_from(["k", "f5", "ctrl+q", "q", "", "\x1b"]),
    ),
    "bool": st.booleans(),
    "int": st.integers(-2, 70_000),
    "float": st.floats(-1, 4000),
    "Decimal": st.one_of(st.integers(-5, 5000), st.floats(-1, 5000)),
    "Path": st.sampled_from(["/tmp/tt", "~/j", "relative/dir", "a\0b", ""]),
    "str": st.one_of(
        st.sampled_from(["ES", "es", "NQ", "XYZ", "dark", "light", "ESZ6", "127.0.0.1", "DU1", ""]),
        JUNK,
    ),
}


SCALARS = st.one_of(
    st.booleans(),
    st.integers(-2, 70_000),
    st.integers(),
    st.sampled_from([2**31, 2**63 - 1, -(2**63), 10**400]),
    st.floats(),
    st.text(CHARS, max_size=20),
    numbers(),
    st.sampled_from(
        [
            "sim",
            "PAPER",
            "live",
            "ES",
            "nq",
            "DEBUG",
            "dark",
            "flatten",
            "f1",
            "ctrl+k",
            "q",
            "/tmp/x",
            "~/j",
            "a\0b",
            "",
            " ",
        ]
    ),
    st.dates(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JUNK, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A configuration as a nested mapping: values at known keys, some at unknown ones."""
    doc: dict[str, Any] = {}
    known = st.sampled_from(KEYS).flatmap(lambda p: st.tuples(st.just(p), plausible(p)))
    pairs = draw(st.lists(st.one_of(known, known, st.tuples(st.sampled_from(KEYS), VALUES)),
                          max_size=5))  # fmt: skip
    if draw(st.integers(0, 4)) == 3:  # (hypothesis draws 0 and 4 often) a key we do not know
        pairs.append(draw(st.tuples(keys(), VALUES)))
    for path, value in pairs:
        node = doc
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = value
    return doc


def toml(doc: dict[str, Any]) -> str:
    """``doc`` as TOML: one ``key = value`` line per top-level key, tables inline."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in doc.items())


def _key(key: str) -> str:
    return _string(key)


def _string(text: str) -> str:
    # TOML's basic strings escape like JSON, and DEL too
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    match value:
        case bool():
            return "true" if value else "false"
        case int():
            return str(value)
        case float() if math.isnan(value):
            return "nan"
        case float():
            return repr(value) if math.isfinite(value) else "inf" if value > 0 else "-inf"
        case str():
            return _string(value)
        case dt.date():
            return value.isoformat()
        case list():
            return "[" + ", ".join(map(_value, value)) + "]"
        case dict():
            return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "tradeterm.toml"


def load(path: Path | None = None) -> LoadedSettings | ConfigError:
    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        text = str(exc)
        kind = "an unknown key" if "unknown key" in text else "a bad value"
        event("refused: " + (kind if text.startswith("invalid") else " ".join(text.split()[:2])))
        return exc
    event("loaded")
    list(loaded.rows())  # what `config show` prints
    s = loaded.settings
    for where in (s.journal_path(), s.log_directory()):
        with contextlib.suppress(OSError):  # a path the OS takes (ValueError: a NUL in it)
            os.stat(where)
    return loaded


def assert_one_line_per_problem(message: str, origin: str) -> None:
    """One line, or a heading and one line per problem, each naming the key's origin."""
    lines = message.split("\n")
    assert all(line.isprintable() for line in lines), lines
    assert not any(c in line for line in lines for c in LINE_BREAKS)
    if len(lines) > 1:
        assert lines[0] == "invalid configuration:", lines
        for line in lines[1:]:
            assert line.startswith("  ") and f"({origin}" in line, (origin, line)


@fuzz(0.5)
@given(doc=documents())
@example(doc={"connection": {"port": {"x": 1}}})  # the key's origin is the file, not default
@example(doc={"connection": {"\x1b[2J": 1}})  # a key that is a terminal escape
@example(doc={"markets": {"a\nb": {"default_qty": "x"}}})  # a key with a line break
@example(doc={"journal": {"dir": "a\0b"}})  # a path no file system takes
def test_a_config_file_gives_usable_settings_or_one_line_per_problem(
    config_file: Path, doc: dict[str, Any]
) -> None:
    config_file.write_text(toml(doc), encoding="utf-8")
    result = load(config_file)
    if isinstance(result, ConfigError):
        assert_one_line_per_problem(str(result), f"file {config_file}")


@fuzz(0.5)
@given(data=st.one_of(st.binary(), st.text(CHARS).map(str.encode),
                      documents().map(lambda d: toml(d).encode()[:-3])))  # fmt: skip
@example(data=b"x = " + b"9" * 5000)  # more digits than int() reads: tomllib's own ValueError
def test_a_config_file_of_any_bytes_gives_settings_or_one_clear_line(
    config_file: Path, data: bytes
) -> None:
    config_file.write_bytes(data)
    result = load(config_file)
    if isinstance(result, ConfigError):
        assert_one_line_per_problem(str(result), f"file {config_file}")


# ---- the environment -------------------------------------------------------------------------


def env_text(value: Any) -> str:
    """A value as a variable holds it: text as it is, tables and lists as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


@st.composite
def environments(draw: st.DrawFn) -> dict[str, str]:
    """``TRADETERM_*`` variables: known keys with values of their type or any other (JSON for
    tables), keys in any case or unknown, text with every character but NUL (which no
    variable holds) and bytes that are not UTF-8 (as Python reads them: surrogate escapes)."""
    known = st.sampled_from(KEYS).flatmap(lambda p: st.tuples(st.just(p), plausible(p)))
    odd = st.one_of(
        st.text(CHARS), numbers(), VALUES, st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
    )  # fmt: skip
    pairs = draw(st.lists(st.one_of(known, known, st.tuples(keys(), odd)), min_size=1, max_size=4))
    env = {}
    for path, value in pairs:
        name = "TRADETERM_" + "__".join(path)
        if "=" not in name and "\0" not in name:
            env[name] = env_text(value).replace("\0", "")
    return env


@fuzz(0.5)
@given(env=environments())
@example(env={"TRADETERM_CONNECTION": "notjson"})  # pydantic-settings' own SettingsError
@example(env={"TRADETERM_UI__KEYMAP": "x"})
@example(env={"TRADETERM_CONNECTION__PORT__X": "1"})  # names the variable, not "default"
@example(env={"TRADETERM_\x1b[2J": "1"})
def test_environment_variables_give_usable_settings_or_one_line_per_problem(
    env: dict[str, str],
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRADETERM_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        result = load()
    if isinstance(result, ConfigError):
        assert_one_line_per_problem(str(result), "env TRADETERM_")
