"""Crash safety: ``tradeterm console`` processes trading against a gateway process are killed
with SIGKILL at random moments (while starting, connecting, reconciling, sending orders,
between an intent and its order...), and restarted. After every kill: no order was sent twice
and every order the gateway holds had its intent journaled first. After a clean restart at the
end: every fill is in the journal exactly once, the journal's position is the broker's, and
the journal's open intents are exactly the orders working at the broker (no orphans).
``scripts/soak.py`` runs the same, with faults, for hours."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.integration.journal_helpers import (
    CrashRun,
    check_after_kill,
    check_after_restart,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ITERATIONS = 20


async def test_kill_9_at_random_points_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    seed = int(os.environ.get("JOURNAL_CRASH_SEED", random.randrange(1 << 30)))
    run = CrashRun(tmp_path, random.Random(seed))
    await run.start()
    try:
        for i in range(ITERATIONS):
            output = await run.crash_once()
            problems = check_after_kill(await run.gateway_state(), run.journal_state())
            assert not problems, f"seed {seed}, kill {i}: {problems}\n{output[-2000:]}"
        clean = await run.clean_run()
        gw, journal = await run.gateway_state(), run.journal_state()
        problems = check_after_restart(gw, journal)
        stale = sorted(journal.open_intents - {r for r in gw.working if r.startswith("tt.")})
        shown = clean.rsplit("stopping after", 1)[-1]  # the clean run's last status
        if (
            stale
            and problems == [f"stale open intents: {stale}"]
            and all(r in shown for r in stale)
        ):
            # An order a killed run journaled but never sent, while a later order id of that
            # run reached IB, cannot be proved unreceived by IB's next order id (about 1 run
            # in 4): it stays unconfirmed and shown as working (the status lists it), true.
            # Cancelling it settles it: IB answers 'not found' (10147) and lists it nowhere
            # (or, for a bracket leg held at IB untransmitted, cancels it: 202).
            clean = await run.clean_run(cancel=stale)
            gw, journal = await run.gateway_state(), run.journal_state()
            problems = check_after_restart(gw, journal)
        assert not problems, f"seed {seed}: {problems}\n{clean[-3000:]}"
        # the run really traded: orders and fills reached the gateway and the journal
        assert len(gw.refs) >= 5 and len(journal.exec_ids) >= 3, (seed, gw, journal)
    finally:
        await run.stop()
