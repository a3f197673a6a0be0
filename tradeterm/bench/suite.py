"""Every benchmark in turn, one table: ``tradeterm bench [--quick] [--json]``.

Each step runs one benchmark module's ``bench`` with the options of its size (``SIZES``:
``quick`` is small, the whole table in about a minute; ``full`` is the benchmarks' own
defaults, a few of them narrowed to the figures of the table) and turns what it returns into
rows: figure, value, unit, target and whether it is met. What the benchmark prints goes to
the detail (``--detail`` shows it on stderr). A step that cannot measure (the recorded data
absent) gives its rows with the reason instead of a value; one that fails gives them with
its error, and the command exits 1 after the table. The table judges only the figures that
have a target; on a shared machine read the rest with its load.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradeterm.bench.timing import machine, ms, pct, plain


@dataclass(frozen=True, slots=True)
class Target:
    """A figure's aim: below (``<``) or above (``>``) ``limit``."""

    op: str
    limit: float

    def met(self, value: float) -> bool:
        return value < self.limit if self.op == "<" else value > self.limit

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}"


@dataclass(slots=True)
class Row:
    """One line of the table: a value, or ``note`` saying why there is none."""

    figure: str
    unit: str
    target: Target | None = None
    value: float | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None or math.isnan(self.value):
            return None
        return self.target.met(self.value)

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["target"] = str(self.target) if self.target is not None else None
        return found | {"met": self.met}


Value = float | str | tuple[float, str]  # a figure, why it has none, or a figure and a note


@dataclass(slots=True)
class Step:
    """One benchmark: its rows (figure -> unit, target) and how it fills their values."""

    name: str
    rows: list[Row]
    measure: Callable[[bool, argparse.Namespace], dict[str, Value]]
    skipped: str = field(default="")  # set: the reason every row of the step has no value


def size(quick: bool, quick_args: list[str], full_args: list[str]) -> list[str]:
    return quick_args if quick else full_args


def run_gateway(quick: bool, _: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import gateway

    rate = 5000 if quick else 20_000
    args = gateway.parser().parse_args(size(
        quick, ["--events", "20000", "--rates", str(rate), "--seconds", "1", "--connects", "3"],
        ["--rates", str(rate)],
    ))  # fmt: skip
    found = gateway.bench(args)
    return {"gateway feed in-process": found["feed"],
            f"gateway process -> socket at --rate {rate:,}": found["delivered"][rate],
            f"ib_async decoded at --rate {rate:,}": found["decoded"][rate]}  # fmt: skip


def run_engine(quick: bool, _: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import engine_latency as engine

    args = engine.parser().parse_args(size(
        quick, ["--samples", "30", "--msg-rates", "1000", "--ingest-rates", "2000,5000",
                "--window", "2", "--warmup", "1", "--events", "20000"],
        ["--msg-rates", "1000"],
    ))  # fmt: skip
    found = engine.bench(args)
    latency = found["latency"][1000.0]
    return {"engine ingest, Engine.apply in-process": found["apply"],
            "engine ingest over the socket: highest --rate kept up": found["kept_up"],
            "tick-to-order p50 at 1,000 msgs/s": latency.get("p50_ms", math.nan),
            "tick-to-order p99 at 1,000 msgs/s": latency.get("p99_ms", math.nan)}  # fmt: skip


def run_kill(quick: bool, _: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import kill_latency as kill

    args = kill.parser().parse_args(
        size(quick, ["--samples", "3", "--burst", "20", "--warmup", "1", "--pause", "0.3"], [])
    )
    found = kill.bench(args)[1000.0]
    values: dict[str, Value] = {}
    for mode in kill.MODES:
        confirmed = found[mode]
        failed = found[f"{mode} failed"]
        for q in (0.5, 0.99):
            name = f"kill switch, {mode}: flat confirmed p{int(q * 100)}"
            values[name] = ms(pct(confirmed, q)) if confirmed else f"no kill measured: {failed[:1]}"
    return values


def run_ui(quick: bool, _: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import ui

    args = ui.parser().parse_args(size(
        quick, ["--sizes", "80x24,200x50", "--seconds", "2", "--warmup", "1", "--samples", "5"],
        ["--sizes", "80x24,200x50"],
    ))  # fmt: skip
    found = ui.bench(args)
    small, large = found["80x24"], found["200x50"]
    return {"terminal output at 80x24, 5,000 msgs/s": small["bytes_per_s"] / 1000,
            "terminal output at 200x50, 5,000 msgs/s": large["bytes_per_s"] / 1000,
            "first frame (80x24)": small["first_s"],
            "first frame (200x50)": large["first_s"],
            "key -> order on the wire p50 (80x24)": small["order_p50_ms"],
            "key -> order on the wire p99 (80x24)": small["order_p99_ms"]}  # fmt: skip


def run_journal(quick: bool, _: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import journal_rates as journal

    args = journal.parser().parse_args(
        size(quick, ["--rows", "20000", "--fills", "2000", "--intents", "50"], [])
    )
    found = journal.bench(args)
    return {"journal bulk rows": found["bulk"], "journal critical rows (fills)": found["fills"],
            "journal intent commit p99, writer idle": found["intent_p99_ms"],
            "journal intent commit p99, bulk rows streaming": found["intent_load_p99_ms"]}  # fmt: skip


def run_backtest(quick: bool, _: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import backtest

    args = backtest.parser().parse_args(size(quick, ["--bars", "20000", "--repeat", "1"], []))
    return {"backtest, sma_cross over 1-minute bars": backtest.bench(args)["bars_per_s"]}


def run_instance(quick: bool, given: argparse.Namespace) -> dict[str, Value]:
    from tradeterm.bench import instance

    options = size(quick, ["--seconds", "3", "--warmup", "1", "--speed", "600"], [])
    if given.replay is not None:
        options += ["--replay", str(given.replay)]
    found = instance.bench(instance.parser().parse_args(options))
    cpu, rss = found["cpu"], found["rss"]
    values: dict[str, Value] = {
        CPU: (cpu["cpu_pct"], f"at {cpu['msgs_per_s']:,.0f} msgs/s measured")
    }
    for name, key in RSS_ROWS:
        values[name] = rss if isinstance(rss, str) else (rss[key], f"replay {rss['seconds']:.0f} s")
    return values


NAMES = ("gateway", "engine", "kill", "ui", "journal", "backtest", "instance")  # steps()'s
CPU = "one instance, screen live, 1,000 md msgs/s: CPU of one core"
RSS_ROWS = (("RSS over a replayed session: start", "start_mb"),
            ("RSS over a replayed session: peak", "peak_mb"),
            ("RSS over a replayed session: end", "end_mb"),
            ("RSS growth over the replay's second half (flat)", "growth_mb"))  # fmt: skip


def steps() -> list[Step]:
    """The table, benchmark by benchmark (the gateway's rate is named in its rows)."""
    from tradeterm.bench import instance
    from tradeterm.bench import kill_latency as kill

    under = lambda limit: Target("<", limit)  # noqa: E731
    return [
        Step("gateway", [Row("gateway feed in-process", "TWS msgs/s"),
                         Row("gateway process -> socket at --rate {rate}", "msgs/s"),
                         Row("ib_async decoded at --rate {rate}", "msgs/s")], run_gateway),
        Step("engine", [Row("engine ingest, Engine.apply in-process", "events/s"),
                        Row("engine ingest over the socket: highest --rate kept up", "events/s"),
                        Row("tick-to-order p50 at 1,000 msgs/s", "ms"),
                        Row("tick-to-order p99 at 1,000 msgs/s", "ms", under(5))], run_engine),
        Step("kill", [Row(f"kill switch, {mode}: flat confirmed p{p}", "ms")
                      for mode in kill.MODES for p in (50, 99)], run_kill),
        Step("ui", [Row("terminal output at 80x24, 5,000 msgs/s", "KB/s", under(15)),
                    Row("terminal output at 200x50, 5,000 msgs/s", "KB/s", under(30)),
                    Row("first frame (80x24)", "s", under(1.5)),
                    Row("first frame (200x50)", "s", under(1.5)),
                    Row("key -> order on the wire p50 (80x24)", "ms"),
                    Row("key -> order on the wire p99 (80x24)", "ms", under(20))], run_ui),
        Step("journal", [Row("journal bulk rows", "rows/s"),
                         Row("journal critical rows (fills)", "rows/s"),
                         Row("journal intent commit p99, writer idle", "ms"),
                         Row("journal intent commit p99, bulk rows streaming", "ms")],
             run_journal),
        Step("backtest", [Row("backtest, sma_cross over 1-minute bars", "bars/s")], run_backtest),
        Step("instance", [Row(CPU, "%", under(10)),
                          Row(RSS_ROWS[0][0], "MB", under(150)),
                          Row(RSS_ROWS[1][0], "MB", under(150)),
                          Row(RSS_ROWS[2][0], "MB", under(150)),
                          Row(RSS_ROWS[3][0], "MB", under(instance.FLAT_MB))], run_instance),
    ]  # fmt: skip


def run_step(step: Step, quick: bool, args: argparse.Namespace, detail: io.StringIO) -> bool:
    """Fill ``step``'s rows; False when it failed (its rows then carry the error)."""
    ok = True
    try:
        with contextlib.redirect_stdout(detail):
            found = step.measure(quick, args)
    except Exception as exc:  # a benchmark that fails still leaves its rows, saying why
        found, ok = {}, False
        said = plain(f"{type(exc).__name__}: {exc}").splitlines() or [""]
        error = f"failed: {said[0]}"  # one readable line in a table
        for row in step.rows:
            row.note = error
    by_template = {_template(name): (name, value) for name, value in found.items()}
    for row in step.rows:
        if row.note:
            continue
        name, value = by_template.get(_template(row.figure), (row.figure, "not measured"))
        row.figure = name
        if isinstance(value, str):
            row.note = f"skipped: {value}"
        elif isinstance(value, tuple):
            row.value, row.note = float(value[0]), value[1]
        else:
            row.value = float(value)
    return ok


def _template(name: str) -> str:
    """A figure's name with its --rate left out (the size decides the rate)."""
    head, sep, _ = name.partition("--rate ")
    return head + sep


def render(rows: list[Row]) -> str:
    """The table, in Markdown (a terminal reads it as it is)."""
    lines = ["| figure | value | unit | target | met | note |", "|---|---:|---|---|---|---|"]
    for row in rows:
        note = row.note
        if row.value is None:
            value, note = "-", row.note
        elif math.isnan(row.value):
            value = "n/a"
        else:
            value = f"{row.value:,.0f}" if abs(row.value) >= 100 else f"{row.value:,.2f}"
        target = str(row.target) if row.target is not None else ""
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        lines.append(f"| {row.figure} | {value} | {row.unit} | {target} | {met} | {note} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Every step (or those named by ``--only``); prints the table (or JSON); 1 when a step
    failed."""
    chosen = [s for s in steps() if not args.only or s.name in args.only]
    failed = []
    detail = io.StringIO()
    started = datetime.now(UTC)
    load = os.getloadavg()
    for step in chosen:
        print(f"bench: {step.name} ...", file=sys.stderr, flush=True)
        before = len(detail.getvalue())
        if not run_step(step, args.quick, args, detail):
            failed.append(step.name)
        if args.detail:
            print(detail.getvalue()[before:], end="", file=sys.stderr, flush=True)
    rows = [row for step in chosen for row in step.rows]
    header = {"date": f"{started:%Y-%m-%d %H:%M} UTC", "machine": machine(),
              "load_average": [round(x, 2) for x in load], "size": "quick" if args.quick else "full"}  # fmt: skip
    if args.json:
        print(json_text(header, rows))
    else:
        print(f"{header['date']}, {header['size']} run; {header['machine']}; load average "
              f"{', '.join(map(str, header['load_average']))} at the start")  # fmt: skip
        print(render(rows))
    if failed:
        print(f"bench: failed: {', '.join(failed)} (their rows say why)", file=sys.stderr)
        return 1
    return 0


def json_text(header: dict[str, Any], rows: list[Row]) -> str:
    import json

    def number(value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value

    doc = header | {"rows": [{k: number(v) for k, v in r.as_dict().items()} for r in rows]}
    return json.dumps(doc, indent=2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: the whole table in about a minute (figures rough)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="the table as JSON, for scripts")
    parser.add_argument("--detail", action="store_true",
                        help="also show each benchmark's own output on stderr")  # fmt: skip
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        choices=NAMES,
                        help="run only these benchmarks: %(choices)s")  # fmt: skip
    parser.add_argument("--replay", type=Path, metavar="FILE",
                        help="the recorded session for the RSS figures (default: the ESH4 "
                        "MBO file of ../shared/data beside the source tree)")  # fmt: skip
