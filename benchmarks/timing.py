"""Shared timing helper of the benchmark scripts."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(fn: Callable[[], int], repeat: int = 3) -> float:
    """Best items/s over ``repeat`` runs of ``fn`` (which returns the number of items)."""
    best = 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        n = fn()
        best = max(best, n / (time.perf_counter() - t0))
    return best
