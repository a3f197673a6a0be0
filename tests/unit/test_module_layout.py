"""The package layout keeps the promises of the README's architecture section.

- A module name says what it holds: no two modules in ``tradeterm`` share a file name (the
  same name meaning two things, as ``session.py`` once did for a CME calendar and a TCP client).
  The command line's modules are named after the command they front (``cli/journal.py`` is
  ``tradeterm journal``), so ``tradeterm/cli`` is outside this rule.
- A module past ``LONG`` lines is usually two ideas; one that stays long says why in its
  docstring, with a sentence beginning "Kept as one module because".
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tradeterm

PACKAGE = Path(tradeterm.__file__).parent
LONG = 500
WHY = "kept as one module because"


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_two_modules_share_a_name() -> None:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        if path.name != "__init__.py" and path.parent.name != "cli":
            by_name[path.name].append(str(path.relative_to(PACKAGE)))
    shared = {name: paths for name, paths in by_name.items() if len(paths) > 1}
    assert shared == {}


def test_a_long_module_says_why() -> None:
    silent = []
    for path in modules():
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        if lines <= LONG:
            continue
        doc = " ".join((ast.get_docstring(ast.parse(text)) or "").split()).lower()
        if WHY not in doc:
            silent.append(f"{path.relative_to(PACKAGE)} ({lines} lines)")
    assert silent == []
