"""The kill switch while IB is slow to acknowledge, repeated (issue 12).

Two scenarios, each run ``--runs`` times per acknowledgement delay, against the fake gateway
(in this process, so its books are the independent truth):

* ``slow``: the engine (real ib_async client) holds 5 contracts with a bracket and two resting
  limits; the gateway's acknowledgements are delayed by D (``--delays``, both the TWS-like
  ``delay`` and the worst-case ``hide``), then the kill switch is pressed.
* ``crash``: a ``tradeterm console`` process builds the same book, the kill switch is typed
  with acknowledgements delayed, the process is killed with SIGKILL at a random moment of the
  kill, and a second console is started on the same journal: it must finish the kill.

After each run, with every held request processed: the gateway is flat, nothing of ours is
working, and exactly one close (SELL 5 MKT) was sent in all. Prints a line per run and the
figures (runs, time to HALTED p50 / max); exit 1 at the first broken invariant.

Run from the repository root: ``python scripts/kill_slow_acks.py [--runs 20]
[--delays 2,4,6] [--scenarios slow,crash] [--seed N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.kill_helpers import Failed, crash_run, slow_run


async def main_async(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    delays = [float(d) for d in args.delays.split(",")]
    figures: list[tuple[str, list[float]]] = []
    for scenario in args.scenarios.split(","):
        for mode in args.modes.split(","):
            for delay in delays:
                label = f"{scenario} {mode} {delay:g}s"
                times: list[float] = []
                for i in range(args.runs):
                    seed = rng.randrange(1 << 20)
                    try:
                        if scenario == "slow":
                            took = await slow_run(delay, mode == "hide", seed)
                        else:
                            took = await crash_run(delay, mode == "hide", seed, rng)
                    except Failed as exc:
                        print(f"FAILED {label} run {i + 1} (seed {seed}): {exc}", flush=True)
                        return 1
                    times.append(took)
                    print(f"{label} run {i + 1}: flat, one close, HALTED in {took:.2f}s",
                          flush=True)  # fmt: skip
                figures.append((label, times))
    print("\nscenario, ack mode, delay     runs   to HALTED p50   max")
    for label, times in figures:
        print(f"{label:<28} {len(times):4d}   {statistics.median(times):10.2f}s "
              f"{max(times):6.2f}s")  # fmt: skip
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delays", default="2,4,6")
    parser.add_argument("--scenarios", default="slow,crash")
    parser.add_argument("--modes", default="delay,hide")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # the figures only; ib_async logs a lot
    print(f"seed {args.seed}", flush=True)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
