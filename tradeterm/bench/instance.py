"""Benchmark: what one instance costs the box (prints figures; asserts nothing).

The real ``tradeterm`` screen (SIM, ES) runs in a child process on a pseudo-terminal, connected
to a fake gateway in this process (see :mod:`tradeterm.bench.ui`); the child's CPU time and
resident set are read from ``/proc/PID`` (Linux):

* **CPU**: the gateway is calibrated to write about ``--msgs`` (1,000) market-data messages a
  second to the instance; after ``--warmup`` seconds its user + system CPU time over
  ``--seconds`` seconds, as a share of one core (target under 10 %);
* **RSS over a replayed session**: the gateway replays a recorded file (``--replay``, the ESH4
  MBO file of the shared data: an 8,725-order snapshot, the pre-open, an hour of trading) at
  ``--speed``. The replay is held (the gateway's market-data stall) until the instance is
  live, so that the whole session reaches it (what the held seconds would have played comes
  at once); its RSS is sampled every 0.25 s until the replay has ended and ``SETTLE_S`` more.
  Reported: RSS at the replay's start, its peak, at the end, and how much it grew over the
  second half of the replay (flat: memory that grew with the data would grow there too).
  Targets: under 150 MB, flat (under ``FLAT_MB`` growth in the second half).

Run: ``python -m tradeterm.bench.instance [--msgs 1000] [--seconds 30] [--replay FILE]
[--speed 60]``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import time
from pathlib import Path
from typing import Any

from tradeterm.bench.timing import BenchError, Stuck, calibrate, script
from tradeterm.bench.ui import screen
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe

SIZE = (80, 24)  # the screen's size for both measures (a tmux window on a laptop)
SAMPLE_S = 0.25
SETTLE_S = 2.0  # after the replay's end, still sampled
FLAT_MB = 5.0  # at most this much growth over the second half of the replay: flat
REPLAY_GUARD_S = 900.0  # a replay that has not ended by then: the run is stuck
SESSION = "ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def shared_data() -> Path:
    """The shared recorded data beside the source tree (``../shared/data``), if any."""
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (``/proc/PID/stat``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, from field 3
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15: utime, stime


def rss_mb(pid: int) -> float:
    """Resident set of process ``pid`` in MB (``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmRSS for process {pid}")


async def cpu_at(msgs_per_s: float, seconds: float, warmup_s: float) -> dict[str, float]:
    """``cpu_pct`` of the instance at about ``msgs_per_s`` market-data messages a second with
    its screen live, the ``msgs_per_s`` measured, and its ``rss_mb`` at the end."""
    gateway = FakeGateway(GatewayConfig(port=0, rate=msgs_per_s / 2.5, seed=7))
    probe = WireProbe()
    probe.install(gateway.server)
    await gateway.start()
    try:
        async with screen(*SIZE, gateway) as term:
            await term.wait_for(b"IB OK")
            rate = await calibrate(gateway, probe, msgs_per_s, rounds=5, within=0.05)
            await asyncio.sleep(warmup_s)
            pid = term.proc.pid
            c0, f0, t0 = cpu_seconds(pid), probe.frames, time.monotonic()
            await asyncio.sleep(seconds)
            c1, f1, t1 = cpu_seconds(pid), probe.frames, time.monotonic()
            found = {"cpu_pct": 100 * (c1 - c0) / (t1 - t0), "msgs_per_s": (f1 - f0) / (t1 - t0),
                     "rss_mb": rss_mb(pid)}  # fmt: skip
    finally:
        await gateway.stop()
    print(f"one instance ({SIZE[0]}x{SIZE[1]} screen live), {found['msgs_per_s']:,.0f} market-data "
          f"msgs/s (--rate {rate:,.0f}): {found['cpu_pct']:.1f} % of a core over {seconds:g} s, "
          f"RSS {found['rss_mb']:.0f} MB (target under 10 %)")  # fmt: skip
    return found


def default_replay() -> Path | None:
    """The ESH4 session of the shared data beside a source tree, if it is there (an
    installed wheel has none)."""
    path = shared_data() / SESSION
    return path if path.is_file() else None


def replay_skip(path: Path | None) -> str:
    """Why a replay of ``path`` (None: none given, none beside the source) cannot run here
    ("" when it can)."""
    if path is None:
        return "no recorded session: pass --replay FILE (a Databento MBO .dbn.zst)"
    if not path.is_file():
        return f"no recorded session at {path}"
    if (
        path.name.endswith((".dbn", ".dbn.zst"))
        and importlib.util.find_spec("databento_dbn") is None
    ):
        return "replaying DBN needs databento-dbn (pip install 'tradeterm[dbn]')"
    return ""


async def rss_replay(path: Path, speed: float) -> dict[str, float]:
    """The instance's RSS over a replay of ``path`` (see the module notes): ``start_mb``,
    ``peak_mb``, ``end_mb``, ``growth_mb`` (over the second half) and the replay's
    ``seconds``."""
    gateway = FakeGateway(GatewayConfig(port=0, seed=7, replay=path, speed=speed))
    held = gateway.market.hold()  # the replay waits for the instance
    await gateway.start()
    samples: list[tuple[float, float]] = []
    try:
        async with screen(*SIZE, gateway) as term:
            await term.wait_for(b"IB OK")
            pid, t0 = term.proc.pid, time.monotonic()
            gateway.market.release(held)
            ended = None
            while ended is None or samples[-1][0] < ended + SETTLE_S:
                now = time.monotonic() - t0
                if ended is None and gateway.market.replay_state() != "playing":
                    ended = now
                if now > REPLAY_GUARD_S:
                    raise Stuck(f"waited {REPLAY_GUARD_S:g} s for the replay of {path.name} to end")
                if term.proc.poll() is not None:
                    raise BenchError(f"the instance ended during the replay ({term.last_words()})")
                samples.append((now, rss_mb(pid)))
                await asyncio.sleep(SAMPLE_S)
    finally:
        await gateway.stop()
    during = [rss for _, rss in samples]
    half = next(rss for t, rss in samples if t >= ended / 2)
    found = {"start_mb": during[0], "peak_mb": max(during), "end_mb": during[-1],
             "growth_mb": during[-1] - half, "seconds": ended}  # fmt: skip
    print(f"one instance ({SIZE[0]}x{SIZE[1]} screen live) over a replay of {path.name} at "
          f"speed {speed:g} ({found['seconds']:.0f} s): RSS {found['start_mb']:.0f} MB at the start, peak "
          f"{found['peak_mb']:.0f}, {found['end_mb']:.0f} at the end, "
          f"{found['growth_mb']:+.1f} MB over the second half (target under 150 MB, flat)")  # fmt: skip
    return found


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--msgs", type=float, default=1000.0, help="market-data messages/s")
    parser.add_argument("--seconds", type=float, default=30.0, help="CPU measuring window")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--replay", type=Path, default=default_replay(),
                        help="the recorded session replayed for the RSS figures (default: "
                        f"{SESSION} of the shared data beside the source tree)")  # fmt: skip
    parser.add_argument("--speed", type=float, default=60.0, help="replay speed (0: max)")
    return parser


def bench(args: argparse.Namespace) -> dict[str, Any]:
    """``cpu`` (see :func:`cpu_at`) and ``rss`` (see :func:`rss_replay`, or the reason it was
    skipped, a string)."""
    found: dict[str, Any] = {"cpu": asyncio.run(cpu_at(args.msgs, args.seconds, args.warmup))}
    skip = replay_skip(args.replay)
    if skip:
        print(f"RSS over a replayed session: skipped: {skip}")
        found["rss"] = skip
    else:
        found["rss"] = asyncio.run(rss_replay(args.replay, args.speed))
    return found


def main() -> None:
    script("bench instance", parser, bench)


if __name__ == "__main__":
    main()
