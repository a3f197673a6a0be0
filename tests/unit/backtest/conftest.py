"""What the backtest tests share: the recorded ES day, skipped where ../shared is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.real_data import DERIVED
from tests.support.strategy_driver import ESH0_DAY


@pytest.fixture
def es_day() -> Path:
    """1-minute ES bars of 2020-01-06 (1365 bars)."""
    path = DERIVED / ESH0_DAY
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path
