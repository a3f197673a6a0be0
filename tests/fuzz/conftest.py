"""Counts the generated inputs each fuzz test ran and prints them after the run
(``fuzz inputs``: per test and in total), so a run's figures can be quoted."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
RUNS: Counter[str] = Counter()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if handle is None or HERE not in Path(str(item.path)).parents:
            continue
        # hypothesis calls inner_test once per input it runs (documented as replaceable)
        handle.inner_test = _counted(handle.inner_test, item.nodeid)
        if os.environ.get("TRADETERM_FUZZ_EXAMPLES"):  # the big run: minutes per test; each
            item.add_marker(pytest.mark.timeout(0))  # example's waits keep their own guards


def _counted(inner: Any, name: str) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        RUNS[name] += 1
        return inner(*args, **kwargs)

    return run


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RUNS:
        return
    terminalreporter.section("fuzz inputs")
    for name, count in sorted(RUNS.items()):
        terminalreporter.write_line(f"{count:>9,}  {name}")
    terminalreporter.write_line(f"{sum(RUNS.values()):>9,}  total")
