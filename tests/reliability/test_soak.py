"""The soak in CI: a few cycles of random orders, faults and kill -9 of a console, then the
full check (``scripts/soak.py`` runs the same for hours)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.reliability.soak import Soak

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


async def test_a_short_soak_keeps_every_invariant(tmp_path: Path) -> None:
    seed = int(os.environ.get("SOAK_SEED", random.randrange(1 << 30)))
    lines: list[str] = []
    async with Soak(tmp_path, seed, check_every=6, max_cycle_s=5.0, say=lines.append) as soak:
        await soak.run(kills=10, orders=0)
    f = soak.figures
    assert f.kills + f.quits + f.start_refused == f.cycles >= 10 and f.checks >= 2, (seed, lines)
    assert soak.orders > 0 and soak.fills > 0, (seed, lines)  # it really traded
    assert lines[-1].startswith("full check"), (seed, lines)
