"""A parameter sweep: every run of a grid (``grid.py``) in parallel, one progress bar over all.

The runs go to worker processes (:class:`~concurrent.futures.ProcessPoolExecutor`, ``workers``
of them, by default one per core) or, with ``cluster``, to a Dask distributed scheduler
(``distributed.Client(address)``; the optional extra ``tradeterm[cluster]``). Both are driven
as one ``concurrent.futures.Executor`` (Dask's ``Client.get_executor``), so the same job
function, the same collection and the same Ctrl-C handling serve both. A job is
``job(spec, stop) -> Outcome``: it runs one backtest and returns its figures, a small picklable
mapping (``stop``, when given, says a Ctrl-C asked the run to end early).

Ctrl-C stops the sweep: the runs not started are cancelled, the running ones are asked to stop
(worker processes share an event; a Dask worker's run cannot be interrupted and is cancelled),
and what finished is kept. The workers ignore SIGINT themselves, so a Ctrl-C typed in the
terminal (sent to the whole process group) is the sweep's to handle and never kills a worker
with a traceback.

On a cluster the workers read ``spec.data`` themselves: the file must be at the same path
there (a shared file system), and tradeterm installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.synchronize import Event
from typing import Protocol, cast

from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress

from tradeterm.backtest.grid import Plan, grid_values
from tradeterm.backtest.run import core, run_backtest
from tradeterm.backtest.spec import BacktestError, BacktestResult, BacktestSpec
from tradeterm.backtest.stats import statistics

Figure = int | float | Decimal | None
"""One figure of a run (a count, money, a ratio); None where it is undefined."""


class StopFlag(Protocol):
    """Set once a Ctrl-C asks the runs to end early (a threading or multiprocessing event)."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a job sends back: its figures (by name) and whether the run went to the end."""

    figures: Mapping[str, Figure]
    complete: bool = True


class Job(Protocol):
    def __call__(self, spec: BacktestSpec, stop: StopFlag | None, /) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Row:
    """One finished run: its place in the grid, its grid values (axis order), its figures."""

    index: int
    values: tuple[str, ...]
    figures: Mapping[str, Figure]


@dataclass(frozen=True, slots=True)
class Failed:
    """A run that raised: its place, its grid values and the error as one line (the message
    of a :class:`BacktestError`, else the exception's type and message)."""

    index: int
    values: tuple[str, ...]
    error: str


@dataclass(slots=True)
class Sweep:
    """What a sweep did: the plan, the finished runs (in the order they finished), the runs
    that failed, how many were cancelled or stopped part way (Ctrl-C: ``complete`` False)."""

    plan: Plan
    rows: list[Row] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    stopped: int = 0
    complete: bool = True
    seconds: float = 0.0
    where: str = ""


class SweepError(Exception):
    """A sweep that cannot start as asked (no Dask, a scheduler out of reach), as one line."""


def backtest_job(spec: BacktestSpec, stop: StopFlag | None) -> Outcome:
    """The sweep's job: one :func:`~tradeterm.backtest.run.run_backtest`, its row's figures."""
    # run_backtest looks only at stop.is_set(): the workers' shared multiprocessing event
    result = run_backtest(spec, stop=cast("threading.Event | None", stop))
    return Outcome(row_figures(result), result.complete)


def row_figures(result: BacktestResult) -> dict[str, Figure]:
    """A run's figures in the sweep's table: the single place a row gets its numbers.

    The run's core figures (:func:`~tradeterm.backtest.run.core`: bars or events, fills,
    contracts, gross_pnl, commissions, net_pnl, position), less what differs from one run of
    the same spec to the next (``seconds``) or is said otherwise (``complete``). The report's
    statistics (``tradeterm.backtest.stats``, numbers, money as ``Decimal``) follow."""
    figures: dict[str, Figure] = {
        k: v for k, v in core(result).items() if k not in ("seconds", "complete")
    }
    stats = statistics(result)
    for name in STATISTICS:
        figures[name] = getattr(stats, name)
    return figures


STATISTICS = ("trades", "win_rate", "profit_factor", "max_drawdown", "sharpe", "sortino",
              "exposure")  # fmt: skip
"""The report's statistics a sweep's row carries after the core figures."""


SORTABLE = ("bars", "events", "fills", "contracts", "gross_pnl", "commissions", "net_pnl",
            "position", *STATISTICS)  # fmt: skip
"""The figures :func:`row_figures` gives (``--sort`` takes any of them)."""


def counted(count: int, noun: str) -> str:
    """``1 combination``, ``2 combinations``; ``1 worker process``, ``2 worker processes``."""
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun}{'es' if noun.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def default_workers() -> int:
    """One worker per core this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def run_sweep(
    plan: Plan,
    job: Job = backtest_job,
    *,
    workers: int | None = None,
    cluster: str | None = None,
    console: Console | None = None,
) -> Sweep:
    """Run every job of ``plan`` with ``job``: on ``workers`` processes (default: one per
    core) or on the Dask scheduler at ``cluster``; a progress bar on ``console`` when given.
    Ctrl-C ends it early with what finished (``complete`` False)."""
    sweep = Sweep(plan)
    if not plan.jobs:
        return sweep
    started = time.monotonic()
    stop = multiprocessing.get_context(_start_method()).Event()
    count = min(workers or default_workers(), len(plan.jobs))
    sweep.where = f"Dask scheduler {cluster}" if cluster else counted(count, "worker process")
    with _executor(count, cluster, stop) as executor:
        futures = {executor.submit(_run, job, spec): index for index, spec in plan.jobs}
        specs = dict(plan.jobs)
        with _bar(console, len(futures)) as advance:
            pending = set(futures)
            try:
                for future in cf.as_completed(futures):
                    pending.discard(future)
                    advance(_collect(sweep, futures[future], specs, future))
            except KeyboardInterrupt:
                sweep.complete = False
                stop.set()  # the runs under way end early
                for future in pending:
                    future.cancel()
                for future in cf.as_completed(pending):
                    advance(_collect(sweep, futures[future], specs, future))
    sweep.seconds = time.monotonic() - started
    return sweep


def _collect(
    sweep: Sweep, index: int, specs: dict[int, BacktestSpec], future: cf.Future[Outcome]
) -> bool:
    """Book a finished future in ``sweep``; whether the run was done (ran to its end, or
    failed), as against cancelled or stopped part way."""
    values = grid_values(sweep.plan.axes, specs[index])
    if future.cancelled():
        sweep.stopped += 1
        return False
    error = future.exception()
    if error is not None:
        line = " ".join(str(error).split()) or "no message"
        if not isinstance(error, BacktestError):  # worded for the user already, or not
            line = f"{type(error).__name__}: {line}"
        sweep.failed.append(Failed(index, values, line))
        return True
    outcome = future.result()
    if outcome.complete:
        sweep.rows.append(Row(index, values, dict(outcome.figures)))
    else:
        sweep.stopped += 1
    return outcome.complete


def _start_method() -> str:
    """Workers start from a clean server process (no threads or locks of ours copied), not a
    fork of this one; spawn where there is no fork server."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


@contextlib.contextmanager
def _executor(workers: int, cluster: str | None, stop: Event) -> Iterator[cf.Executor]:
    if cluster is not None:
        with _dask(cluster) as executor:
            yield executor
        return
    method = _start_method()
    if method == "forkserver":
        with _born_ignoring_ctrl_c():
            multiprocessing.forkserver.ensure_running()  # the server workers are forked from
    context = multiprocessing.get_context(method)
    with cf.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_worker_start, initargs=(stop,)
    ) as pool:
        yield pool


@contextlib.contextmanager
def _dask(address: str) -> Iterator[cf.Executor]:
    try:
        from distributed import Client
    except ImportError:
        raise SweepError(
            "--cluster needs Dask distributed: pip install 'tradeterm[cluster]'"
        ) from None
    try:
        client = Client(address)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(f"--cluster {address}: no Dask scheduler reached: {exc}") from None
    try:
        yield client.get_executor(pure=False)  # two runs of one spec are two runs
    finally:
        client.close()


@contextlib.contextmanager
def _born_ignoring_ctrl_c() -> Iterator[None]:
    """SIGINT ignored in this process while it starts the forkserver the pool's workers are
    forked from, so that they are born ignoring it: an ignored signal stays ignored across
    exec, Python then installs no handler of its own, and the forkserver gives its children
    the disposition it started with. Ignoring it in the worker's initializer came too late: a
    Ctrl-C while a worker was still importing killed it and broke the pool, and Python 3.11's
    pool then hung on the futures the sweep had cancelled. (With the spawn start method, where
    there is no forkserver, the initializer's is all there is.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_stop: Event | None = None


def _worker_start(stop: Event) -> None:
    """In each worker process: the sweep's stop event; SIGINT left to the sweep."""
    global _stop
    _stop = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(job: Job, spec: BacktestSpec) -> Outcome:
    """One job, in a worker (a process of ours, or a Dask worker: no stop event there)."""
    return job(spec, _stop)


@contextlib.contextmanager
def _bar(console: Console | None, total: int) -> Iterator[Callable[[bool], None]]:
    """One progress bar over the whole sweep (none without a console): ``advance(done)``
    for each run that ends, ``done`` False for one cancelled or stopped part way, which the
    bar does not count (a stopped sweep's bar never shows 100%) and names in its label."""
    if console is None:
        yield lambda done: None
        return
    stopped = 0

    def advance(done: bool) -> None:
        nonlocal stopped
        if done:
            bar.advance(task)
        else:
            stopped += 1
            bar.update(task, description=f"sweep, {stopped} stopped")

    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=console) as bar:
        task = bar.add_task("sweep", total=total)
        yield advance
