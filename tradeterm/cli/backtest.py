"""``tradeterm backtest``: a strategy over recorded data, on the live engine's own strategy,
sizing and paper-fill code (``tradeterm.backtest``).

    tradeterm backtest --data FILE [--symbol ES] --strategy NAME [--param K=V ...]
        [--from T] [--to T] [--fill next-open|close] [--commission X] [--slippage-ticks N]
        [--latency-ms N] [--format table|json|csv] [--equity FILE] [--journal FILE | --no-journal]

The data: 1-minute bars (a ``ts_utc,open,high,low,close,volume`` CSV, Databento OHLCV-1m as
DBN or CSV) or quotes, trades and books (MBP-1, TBBO, MBO), told apart by the file itself.
``--from``/``--to``: ISO 8601 times (UTC unless an offset is given), the bars starting from
``--from`` up to, not including, ``--to``. Market orders fill at the next bar's open (``--fill
close``: at the signal bar's close), ``--slippage-ticks`` against us; an order reaches the
market ``--latency-ms`` after it is sent. ``--commission``: per contract per side (default
2.25). The market's risk settings (``--config``) size entry signals.

A run longer than a second shows a progress bar on stderr; Ctrl-C stops it and prints the
report of the bars run so far, marked partial (exit status 130). The report is printed
before any file is written; then the equity file and the journal (``--journal FILE``, which
must not exist: refused before the run, as a bad ``--equity`` is; ``--no-journal``: none),
the journal's own progress bar once it has taken a second; Ctrl-C while it is written
abandons it whole ("journal not written: interrupted", exit status 130). A range with no bars (or
events) prints the report of an empty run and says so on stderr, exit status 0: a script
running day after day meets days without trading (a holiday), and they are no error; a file
with no bars at all is refused (exit status 2), as an empty file is. ``--format json`` prints one
object: ``bars`` (or ``events``), ``fills``, ``contracts``, ``gross_pnl``, ``commissions``,
``net_pnl`` (realised minus commissions plus the open position marked at the last price),
``seconds``, ``complete``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from tradeterm.backtest.equity import (
    EquityFileError,
    check_equity_path,
    equity_text,
    write_equity,
)
from tradeterm.backtest.record import (
    RecordError,
    RecordStopped,
    check_folder,
    check_path,
    default_path,
    record,
)
from tradeterm.backtest.run import run_backtest
from tradeterm.backtest.spec import BacktestError, BacktestResult, BacktestSpec, FillAt
from tradeterm.backtest.stats import EquityCurve, Stats, marked_equity, statistics
from tradeterm.backtest.summary import format_csv, format_table, summary_fields
from tradeterm.cli import backtest_sweep
from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import number_arg, whole_arg
from tradeterm.cli.strategy_option import add_strategy_arguments
from tradeterm.config import ConfigError, load_settings
from tradeterm.paths import backtests_dir

EXIT_STOPPED = 130  # Ctrl-C: the partial report was printed
PROGRESS_AFTER_S = 1.0
CURVE_HEIGHT = 12  # lines of the equity curve under the table


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="FILE", type=Path, required=True,
                        help="bars (CSV ts_utc,open,high,low,close,volume; OHLCV-1m DBN/CSV) "
                        "or book data (MBP-1, TBBO, MBO)")  # fmt: skip
    parser.add_argument("--symbol", default="ES", help="the market traded (default ES)")
    add_strategy_arguments(parser, required=True)
    parser.add_argument("--from", dest="start", type=_when, metavar="T",
                        help="first bar (ISO 8601, UTC unless an offset is given)")  # fmt: skip
    parser.add_argument("--to", dest="end", type=_when, metavar="T",
                        help="end, not included (ISO 8601)")  # fmt: skip
    parser.add_argument("--fill", choices=[f.value for f in FillAt], default=FillAt.NEXT_OPEN.value,
                        help="market orders fill at the next bar's open (default) or at the "
                        "signal bar's close")  # fmt: skip
    parser.add_argument("--commission", type=number_arg, metavar="X",
                        help="per contract per side (default 2.25)")  # fmt: skip
    parser.add_argument("--slippage-ticks", type=whole_arg, default=0, metavar="N",
                        help="market and stop fills this many ticks worse")  # fmt: skip
    parser.add_argument("--latency-ms", type=whole_arg, default=0, metavar="N",
                        help="an order reaches the market N ms after it is sent")  # fmt: skip
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")
    parser.add_argument("--equity", metavar="FILE", type=Path,
                        help="draw the equity curve to FILE (.svg, .png or .html)")  # fmt: skip
    journal = parser.add_mutually_exclusive_group()
    journal.add_argument("--journal", metavar="FILE", type=Path,
                         help="record the run in FILE, a new one (default: a new file under "
                         "the data dir's backtests folder); tradeterm report --journal FILE "
                         "reads it")  # fmt: skip
    journal.add_argument("--no-journal", action="store_true",
                         help="do not record the run in a journal")  # fmt: skip
    parser.add_argument("--config", metavar="FILE", type=Path,
                        help="TOML config (the market's risk rules size entries)")  # fmt: skip
    backtest_sweep.add_sweep_arguments(parser)


def _when(text: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def spec_of(args: argparse.Namespace) -> BacktestSpec:
    """The run the command line asks for; a :class:`UserError` for bad input."""
    for flag, value in (("commission", args.commission), ("slippage-ticks", args.slippage_ticks),
                        ("latency-ms", args.latency_ms)):  # fmt: skip
        if value is not None and value < 0:
            raise UserError(f"--{flag} cannot be negative")
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise UserError("--to must be after --from")
    with reported_as(EXIT_USAGE, ConfigError):
        market = load_settings(args.config).settings.market(args.symbol)
    bad = [p for p in args.param if "=" not in p]
    if bad:
        raise UserError(f"--param {bad[0]!r} is not KEY=VALUE")
    params = tuple((key, value) for key, _, value in (p.partition("=") for p in args.param))
    return BacktestSpec(
        data=args.data.absolute(), strategy=args.strategy, params=params,
        symbol=args.symbol.strip().upper(), start=args.start, end=args.end,
        fill=FillAt(args.fill), commission=args.commission, slippage_ticks=args.slippage_ticks,
        latency_ms=args.latency_ms, market=market,
    )  # fmt: skip


def command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    spec = spec_of(args)
    if backtest_sweep.sweep_requested(args):
        return EXIT_OK if backtest_sweep.run_sweep_command(args, spec, out) else EXIT_STOPPED
    if args.equity is not None:
        with reported_as(EXIT_USAGE, EquityFileError):
            check_equity_path(args.equity)
    if not args.no_journal:  # refused now, not after the run
        with reported_as(EXIT_USAGE, RecordError):
            if args.journal is not None:
                check_path(args.journal)
            else:
                check_folder(backtests_dir())
    stop = threading.Event()
    with _ctrl_c(stop), _ProgressBar("backtest") as bar, reported_as(EXIT_USAGE, BacktestError):
        result = run_backtest(spec, progress=bar.update, stop=stop)
    with _ctrl_c(stop):  # a Ctrl-C while the figures are worked out: the report still comes
        curve = marked_equity(result)
        stats = statistics(result, curve=curve)
    journal: Path | None = None
    if not args.no_journal and not stop.is_set():  # Ctrl-C: the report, no journal
        journal = args.journal or default_path(result, time.time_ns())
    write(result, stats, curve, journal, args.format, out)  # first: never lost to a file
    out.flush()
    problems: list[str] = []
    if args.equity is not None:
        try:
            write_equity(curve, args.equity)
        except EquityFileError as exc:
            problems.append(str(exc))
    if result.complete and not result.count:
        print(f"tradeterm: no {result.kind} in {spec.data.name}{_between(spec)}: the report "
              "is of an empty run", file=sys.stderr)  # fmt: skip
    if journal is not None:
        try:
            _record(result, journal)
        except RecordStopped:
            raise UserError("journal not written: interrupted", EXIT_STOPPED) from None
        except RecordError as exc:
            problems.append(f"the backtest journal was not written: {exc}")
        else:
            if args.format == "table":
                out.write(f"\njournal: {journal} (tradeterm report --journal {journal})\n")
    if problems:
        raise UserError("; ".join(problems), EXIT_ERROR)
    if stop.is_set() and not args.no_journal:
        print("tradeterm: journal not written: interrupted", file=sys.stderr)
    return EXIT_STOPPED if stop.is_set() else EXIT_OK


def _between(spec: BacktestSpec) -> str:
    """`` from T`` / `` to T`` as asked, or nothing."""
    return "".join(f" {word} {when:%Y-%m-%d %H:%M %Z}" for word, when in
                   (("from", spec.start), ("to", spec.end)) if when is not None)  # fmt: skip


def _record(result: BacktestResult, path: Path) -> None:
    """The journal, with its own progress bar; Ctrl-C abandons it (:class:`RecordStopped`)."""
    stop = threading.Event()
    with _ctrl_c(stop, again=True), _ProgressBar("journal") as bar:
        record(result, path, stop=stop, progress=bar.update)


@contextlib.contextmanager
def _ctrl_c(stop: threading.Event, *, again: bool = False) -> Iterator[None]:
    """Ctrl-C sets ``stop`` (the run ends at its next look, with a partial result); a second
    one interrupts as usual, unless ``again`` (it sets ``stop`` again: a journal being written
    is abandoned whole, never cut in the middle of a transaction)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stopping(signum: int, frame: Any) -> None:
        stop.set()
        if not again:
            signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, stopping)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _ProgressBar:
    """A rich progress bar on stderr, labelled ``what``, shown once it has lasted a second."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.began = time.monotonic()
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, done: int, total: int) -> None:
        """``total`` 0: not known (an event file's count is known only at its end)."""
        if self.progress is None:
            if time.monotonic() - self.began < PROGRESS_AFTER_S:
                return
            from rich.console import Console
            from rich.progress import Progress

            self.progress = Progress(console=Console(stderr=True), transient=True)
            self.task = self.progress.add_task(self.what, total=total or None)
            self.progress.start()
        self.progress.update(self.task, completed=done, total=total or None)


# ---- the report ------------------------------------------------------------------------------


def write(result: BacktestResult, stats: Stats, curve: EquityCurve, journal: Path | None,
          fmt: str, out: TextIO) -> None:  # fmt: skip
    """The report in ``fmt``: json (one object: :func:`summary_fields` and the path the
    journal is written to, None without one), csv (one header row, one value row) or a table
    with the equity curve drawn."""
    if fmt == "json":
        values = summary_fields(result, stats) | {"journal": str(journal) if journal else None}
        json.dump(values, out)
        out.write("\n")
    elif fmt == "csv":
        out.write(format_csv(result, stats))
    else:
        out.write(format_table(result, stats))
        width = min(shutil.get_terminal_size((100, 24)).columns, 120)
        out.write("\n" + equity_text(curve, width, CURVE_HEIGHT) + "\n")
