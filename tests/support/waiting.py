"""Waiting on a condition with a guard, never on a duration (the machine may be slow)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

GUARD = 30.0  # seconds; only ever reached if something hangs


async def until(
    predicate: Callable[[], object], what: str, timeout: float = GUARD, *, poll: float = 0.01
) -> None:
    """Return once ``predicate()`` is true (checked every ``poll`` seconds); fail the test
    naming ``what`` if it never is."""
    try:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(poll)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")
