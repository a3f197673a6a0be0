"""The long soak of issue 20: random orders, random gateway faults and random ``kill -9`` of
``tradeterm console`` against one fake gateway and one journal, with the invariants checked
after every crash and, every ``--check-every`` cycles, all of them by a tradeterm instance
that ends with its kill switch (see tests/reliability/soak.py).

Run from the repository root::

    python scripts/soak.py --kills 1000 --orders 10000 [--seed N] [--hours H]

It prints its figures every 10 cycles and at the end (kills, orders, fills, kill switches,
faults, violations). Exit status 0 when every invariant held, 1 on the first violation (it
prints the seed, the cycle and that cycle's timeline: rerun with ``--seed`` to reproduce the
same sequence of choices; timing makes a rerun close, not identical).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.soak import Soak, Violation


async def soak(args: argparse.Namespace, workdir: Path) -> int:
    workdir.mkdir(parents=True, exist_ok=True)
    # ib_async's and the engine's logs (the master client's and the checking instance's) go
    # to a file: the terminal shows the figures
    logging.basicConfig(filename=workdir / "soak.log", level=logging.INFO, force=True)
    started = time.monotonic()
    async with Soak(workdir, args.seed, check_every=args.check_every,
                    max_cycle_s=args.max_cycle_s) as run:  # fmt: skip
        try:
            await run.run(kills=args.kills, orders=args.orders, max_s=args.hours * 3600)
        except Violation as exc:
            print(f"VIOLATION: {exc}", flush=True)
            print(run.figures.line(run.orders, run.fills, started) + ", violations: 1")
            return 1
        f = run.figures
        print(f"ok (seed {args.seed}): " + f.line(run.orders, run.fills, started)
              + ", violations: 0")  # fmt: skip
        print("faults: " + ", ".join(f"{k} {v}" for k, v in sorted(f.faults.items())))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=1000, help="SIGKILLs to reach")
    parser.add_argument("--orders", type=int, default=10000, help="orders at IB to reach")
    parser.add_argument("--hours", type=float, default=4.0, help="stop after this long")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--check-every", type=int, default=25)
    parser.add_argument("--max-cycle-s", type=float, default=8.0)
    parser.add_argument("--workdir", type=Path, default=None, help="kept after the run")
    args = parser.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    print(f"soak: seed {args.seed}", flush=True)
    if args.workdir is not None:
        return asyncio.run(soak(args, args.workdir))
    with tempfile.TemporaryDirectory(prefix="tt-soak-") as tmp:
        return asyncio.run(soak(args, Path(tmp)))


if __name__ == "__main__":
    sys.exit(main())
