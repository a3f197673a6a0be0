"""Two revisions side by side: tick-to-order (bench_engine), terminal bytes (bench_ui) and the
journal (bench_journal), in one run, one table.

    python benchmarks/compare.py BASE HEAD [--size quick|full] [--rounds N]
                                 [--scripts-base REV] [--scripts-head REV] [--logs DIR]

Each revision's ``tradeterm`` is unpacked (``git archive``) into a temporary folder and run
with this Python (its venv supplies the dependencies) and ``PYTHONPATH`` on that folder. The
benchmarks run in turn, base then head, ``--rounds`` times; the table shows each figure's
median over the rounds and head/base. It prints figures and judges nothing: the machine is
shared, so read a ratio together with the spread of the rounds (in the logs).

Which benchmark scripts measure each side: the head's on both, when they run against the
base's package (the same measuring code on both sides). When they do not (a module moved), the
base is measured by the newest scripts between the two revisions that do: those of the base
itself may predate fixes (at c361a6c, bench_engine's strategy was refused after two orders and
a full run took hours). ``--scripts-base`` / ``--scripts-head`` choose them by hand.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]  # git runs here
BENCHES = ("bench_engine.py", "bench_ui.py", "bench_journal.py")
SIZES: dict[str, dict[str, list[str]]] = {
    "quick": {
        "bench_engine.py": ["--samples", "100", "--msg-rates", "1000", "--ingest-rates",
                            "2000,5000,10000", "--window", "3", "--events", "50000"],
        "bench_ui.py": ["--sizes", "200x50,80x24", "--seconds", "3", "--samples", "20"],
        "bench_journal.py": ["--rows", "50000", "--fills", "5000", "--intents", "200"],
    },
    "full": {bench: [] for bench in BENCHES},  # the benchmarks' own defaults
}  # fmt: skip
RUN_S = 3600  # one benchmark run, at most
NUM = r"([\d,]+(?:\.\d+)?)"

# (benchmark, pattern, [(figure, which group, better)]); a figure's name may hold {0}: group 1
# of its line (for bench_engine's latency lines: the --msg-rates value the line is for)
FIGURES: list[tuple[str, str, list[tuple[str, int, str]]]] = [
    ("bench_engine.py",
     rf"^\s*{NUM} msgs/s to the engine .*: p50 {NUM} ms, p99 {NUM} ms, max {NUM} ms over",
     [("tick-to-order p50 ms ({0} msgs/s)", 2, "lower"),
      ("tick-to-order p99 ms ({0} msgs/s)", 3, "lower")]),
    ("bench_engine.py", rf"Engine\.apply in-process: {NUM} broker events/s",
     [("Engine.apply events/s", 1, "higher")]),
    ("bench_ui.py", rf"(\d+x\d+): first frame {NUM} s",
     [("first frame s ({0})", 2, "lower")]),
    ("bench_ui.py", rf"(\d+x\d+): market data .* terminal output {NUM} KB/s",
     [("terminal output KB/s ({0})", 2, "lower")]),
    ("bench_ui.py", rf"(\d+x\d+): key \[ -> placeOrder: p50 {NUM} ms, p99 {NUM} ms",
     [("key [ -> placeOrder p50 ms ({0})", 2, "lower"),
      ("key [ -> placeOrder p99 ms ({0})", 3, "lower")]),
    ("bench_journal.py", rf"bulk rows through the writer: {NUM} rows/s",
     [("journal bulk rows/s", 1, "higher")]),
    ("bench_journal.py", rf"record\(\) on the event loop: {NUM} ns",
     [("journal record() ns/event", 1, "lower")]),
    ("bench_journal.py", rf"critical rows \(fills\): {NUM} rows/s",
     [("journal fills rows/s", 1, "higher")]),
    ("bench_journal.py", rf"intent commit \((.+)\): p50 {NUM} ms, p99 {NUM} ms",
     [("journal intent p50 ms ({0})", 2, "lower"),
      ("journal intent p99 ms ({0})", 3, "lower")]),
]  # fmt: skip


def msg_rates(args: list[str]) -> list[str]:
    """bench_engine's latency rates, in the order of its lines (its default: 1000,5000)."""
    given = args[args.index("--msg-rates") + 1] if "--msg-rates" in args else "1000,5000"
    return [r.strip() for r in given.split(",") if r.strip()]


def figures(bench: str, args: list[str], output: str) -> dict[str, tuple[float, str]]:
    """The figures ``bench`` run with ``args`` printed: name -> (value, which way is better)."""
    found: dict[str, tuple[float, str]] = {}
    rates = msg_rates(args)
    for name, pattern, wanted in FIGURES:
        if name != bench:
            continue
        for i, m in enumerate(re.finditer(pattern, output, re.MULTILINE)):
            label = rates[i] if bench == "bench_engine.py" and i < len(rates) else m.group(1)
            for figure, group, better in wanted:
                found[figure.format(label)] = (float(m.group(group).replace(",", "")), better)
    if bench == "bench_engine.py" and "ingest:" in output:
        kept = re.findall(rf"--rate\s+{NUM} .*: keeps up", output)
        top = max((float(r.replace(",", "")) for r in kept), default=0.0)
        found["keep-up: highest --rate kept up"] = (top, "higher")
    return found


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def unpack(rev: str, into: Path, *paths: str) -> Path:
    """The tree of ``rev`` (only ``paths`` when given) written into ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, *paths], check=True,
                             capture_output=True).stdout  # fmt: skip
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def env_for(code: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETERM_")}
    return env | {"PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}


def imports(scripts: Path, code: Path) -> bool:
    """Whether the benchmarks in ``scripts`` import against the package in ``code`` (and that
    package, not the installed one, is the one imported)."""
    check = ("import tradeterm, sys; assert tradeterm.__file__.startswith(sys.argv[1]); "
             + "; ".join(f"import {b.removesuffix('.py')}" for b in BENCHES))  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", check, str(code)], cwd=scripts / "benchmarks",
                          env=env_for(code), capture_output=True, check=False)  # fmt: skip
    return proc.returncode == 0


@dataclass
class Side:
    label: str
    rev: str
    code: Path
    scripts: Path
    scripts_rev: str
    runs: dict[str, list[dict[str, tuple[float, str]]]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def prepare(label: str, rev: str, scripts_rev: str | None, other: str, tmp: Path) -> Side:
    """``rev``'s package, and the scripts that measure it (see the module notes)."""
    code = unpack(rev, tmp / label)
    candidates = [scripts_rev] if scripts_rev else [other, *git("log", "--format=%H",
                  f"{rev}..{other}", "--", "benchmarks").split(), rev]  # fmt: skip
    for n, candidate in enumerate(dict.fromkeys(c for c in candidates if c)):
        scripts = unpack(candidate, tmp / f"{label}-scripts-{n}", "benchmarks")
        if scripts_rev or imports(scripts, code):
            return Side(label, rev, code, scripts, git("rev-parse", "--short", candidate))
    raise SystemExit(f"compare: no benchmark scripts import against {rev}'s package")


def run(side: Side, bench: str, args: list[str], logs: Path, round_: int) -> None:
    log = logs / f"{side.label}-{bench.removesuffix('.py')}-{round_}.txt"
    print(f"  {side.label} {bench} round {round_ + 1} ...", flush=True)
    try:
        proc = subprocess.run([sys.executable, bench, *args], cwd=side.scripts / "benchmarks",
                              env=env_for(side.code), capture_output=True, text=True,
                              timeout=RUN_S, check=False)  # fmt: skip
        output, code = proc.stdout, proc.returncode
        log.write_text(proc.stdout + proc.stderr)
    except subprocess.TimeoutExpired:
        output, code = "", -1
        log.write_text(f"did not finish within {RUN_S} s\n")
    if code != 0:
        last = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
        side.failures.append(f"{bench} round {round_ + 1}: exit {code}: {last[0]}")
    side.runs.setdefault(bench, []).append(figures(bench, args, output))


def table(base: Side, head: Side) -> str:
    names: dict[str, str] = {}
    for side in (base, head):
        for rounds in side.runs.values():
            for found in rounds:
                names.update({name: better for name, (_, better) in found.items()})

    def median(side: Side, name: str) -> float | None:
        values = [f[name][0] for rounds in side.runs.values() for f in rounds if name in f]
        return statistics.median(values) if values else None

    width = max(map(len, names), default=10)
    lines = [f"{'figure':<{width}}  {'base':>12}  {'head':>12}  {'head/base':>9}  better"]
    for name, better in names.items():
        b, h = median(base, name), median(head, name)
        ratio = f"{h / b:9.2f}" if b and h is not None else f"{'-':>9}"
        cell = [f"{v:12,.2f}" if v is not None else f"{'-':>12}" for v in (b, h)]
        lines.append(f"{name:<{width}}  {cell[0]}  {cell[1]}  {ratio}  {better}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("head")
    parser.add_argument("--size", choices=list(SIZES), default="quick")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each benchmark, per side")
    parser.add_argument("--scripts-base", help="the revision whose benchmarks measure BASE")
    parser.add_argument("--scripts-head", help="the revision whose benchmarks measure HEAD")
    parser.add_argument("--logs", type=Path, help="where each run's output is kept (a temp dir)")
    args = parser.parse_args()
    base_rev, head_rev = (git("rev-parse", "--verify", f"{r}^{{commit}}") for r in (args.base,
                                                                                 args.head))  # fmt: skip
    logs = args.logs or Path(tempfile.mkdtemp(prefix="compare-logs-"))
    logs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        head = prepare("head", head_rev, args.scripts_head, head_rev, Path(tmp))
        base = prepare("base", base_rev, args.scripts_base, head_rev, Path(tmp))
        for side in (base, head):
            subject = git("log", "-1", "--format=%h %s", side.rev)[:90]
            print(f"{side.label}: {subject} (measured by the benchmarks of {side.scripts_rev})")
        print(f"size {args.size}, {args.rounds} round(s); logs in {logs}", flush=True)
        for bench in BENCHES:
            for round_ in range(args.rounds):
                for side in (base, head):
                    run(side, bench, SIZES[args.size][bench], logs, round_)
    print()
    print(table(base, head))
    for side in (base, head):
        for failure in side.failures:
            print(f"{side.label} FAILED: {failure}")
    if base.failures or head.failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
