"""The screen uses only the engine's public API: every attribute the UI package reads from an
engine (``engine.X``, ``self.engine.X``, ``rt.engine.X``) is one of the commands-in,
events-and-snapshots-out methods. What a panel shows comes from ``Engine.snapshot``, never from
the engine's parts (its risk manager, calendar, broker, order manager)."""

from __future__ import annotations

import ast
from pathlib import Path

import tradeterm.ui

PUBLIC = {"start", "listen", "submit", "snapshot", "rearm", "request_kill"}
UI = Path(tradeterm.ui.__file__).parent


def engine_reads(source: str) -> set[tuple[int, str]]:
    """(line, attribute) of every attribute read from something named ``engine``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        named = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if named == "engine":
            found.add((node.lineno, node.attr))
    return found


def test_the_check_finds_reads_of_engine_parts() -> None:
    source = "x = self.engine.risk.drawdown\ny = engine.snapshot(tape=0)\nz = rt.engine.broker\n"
    assert engine_reads(source) == {(1, "risk"), (2, "snapshot"), (3, "broker")}


def test_the_ui_reads_only_the_engines_public_api() -> None:
    beyond = [
        f"{path.relative_to(UI.parent.parent)}:{line}: engine.{attr}"
        for path in sorted(UI.rglob("*.py"))
        for line, attr in sorted(engine_reads(path.read_text()))
        if attr not in PUBLIC
    ]
    assert beyond == []
