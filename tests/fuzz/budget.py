"""How many examples a fuzz test runs: its weight times the loaded profile's ``max_examples``.

The profiles are registered in ``tests/conftest.py``: 100 per unit of weight by default and
in CI (``ci``: the same examples every run), N with ``TRADETERM_FUZZ_EXAMPLES=N`` (``fuzz``:
the big run). A weight says what an example costs: 1 for a pure function, less for one that
starts an engine, a server or a process.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz(weight: float = 1.0, most: int | None = None) -> settings:
    """Settings for a fuzz test of this ``weight`` (at least one example, at ``most`` this
    many: for a test whose examples start processes)."""
    examples = max(1, round(settings().max_examples * weight))
    return settings(
        max_examples=examples if most is None else min(examples, most),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
