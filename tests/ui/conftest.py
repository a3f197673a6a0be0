"""UI tests: the developer's config is hidden by tests/conftest.py (XDG dirs); here the
cursor stops blinking so screenshots are stable."""

from __future__ import annotations

import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input.cursor_blink, "_default", False)
