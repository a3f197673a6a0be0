"""What the backtest tests share: the recorded ES day, skipped where ../shared is absent; and
the repository on ``sys.path``, so that a sweep's worker processes (forked from a server that
takes this process's ``sys.path`` when it starts) can import the job functions and
strategies of ``tests.support`` by name. ``pytest`` run as a console script (the README's
command) has no such entry; ``python -m pytest`` has the current directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.real_data import DERIVED
from tests.support.strategy_driver import ESH0_DAY

ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def es_day() -> Path:
    """1-minute ES bars of 2020-01-06 (1365 bars)."""
    path = DERIVED / ESH0_DAY
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path
