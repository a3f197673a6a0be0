"""Soak the journal's crash safety: many kill -9s of ``tradeterm console`` during scripted
trading against one gateway process, with the same checks as
tests/integration/test_journal_crash.py (after every kill: nothing sent twice, every order at
the gateway journaled first; every ``--check-every`` kills and at the end, after a clean
restart: every fill exactly once, positions equal, no orphan working orders).

Run from the repository root: ``python scripts/soak_journal.py --iterations 300 [--seed N]``.
Exit status 0 when every check held, 1 otherwise (the first problem is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.journal_helpers import (
    CrashRun,
    check_after_kill,
    check_after_restart,
)


async def soak(iterations: int, seed: int, check_every: int, max_s: float, workdir: Path) -> int:
    run = CrashRun(workdir, random.Random(seed))
    await run.start()
    started = time.monotonic()
    try:
        for i in range(1, iterations + 1):
            await run.crash_once(max_s)
            gw, journal = await run.gateway_state(), run.journal_state()
            problems = check_after_kill(gw, journal)
            if not problems and (i % check_every == 0 or i == iterations):
                await run.clean_run()
                gw, journal = await run.gateway_state(), run.journal_state()
                problems = check_after_restart(gw, journal)
                print(
                    f"{i:5d} kills, {time.monotonic() - started:6.0f}s: {len(gw.refs)} orders, "
                    f"{len(journal.exec_ids)} fills, position {journal.position}, "
                    f"{len(gw.working)} working: all checks hold",
                    flush=True,
                )
            if problems:
                print(f"FAILED after kill {i} (seed {seed}, workdir {workdir}): {problems}")
                return 1
    finally:
        await run.stop()
    print(f"ok: {iterations} kills, seed {seed}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--check-every", type=int, default=10, help="clean restart + full check")
    parser.add_argument("--max-s", type=float, default=2.4, help="latest kill after start (s)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this directory")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        return asyncio.run(soak(args.iterations, seed, args.check_every, args.max_s, args.keep))
    with tempfile.TemporaryDirectory(prefix="soak-journal-") as tmp:
        return asyncio.run(soak(args.iterations, seed, args.check_every, args.max_s, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
