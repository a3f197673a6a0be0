"""One backtest: :func:`run_backtest` reads the data file, loads the strategy and runs it in
bar mode (``bar_loop.py``) or event mode (``book_run.py``) by what the file holds; :func:`core`
gives the figures every report starts from (fills, contracts, P&L, commissions).

The commission is ``spec.commission`` per contract per side, else the simulated broker's
(:data:`~tradeterm.sim.gateway.accounts.DEFAULT_COMMISSION`, 2.25, IB's tiered CME rate): the
market settings have none.
"""

from __future__ import annotations

import time
from decimal import Decimal
from threading import Event
from typing import Any

from tradeterm.backtest.bar_loop import Progress, run_bars
from tradeterm.backtest.data import EVENTS, DataSource, detect, instrument_for, load_bars
from tradeterm.backtest.spec import (
    DEFAULT_COMMISSION,
    BacktestResult,
    BacktestSpec,
    load_strategy,
)
from tradeterm.backtest.stats import totals

__all__ = ["DEFAULT_COMMISSION", "core", "run_backtest"]


def run_backtest(spec: BacktestSpec, *, progress: Progress | None = None,
                 stop: Event | None = None) -> BacktestResult:  # fmt: skip
    """Run ``spec``; ``progress(done, total)`` is called every few thousand bars (or events)
    and ``stop`` looked at as often: once set, the run ends with a partial result
    (``complete`` False). Raises :class:`BacktestError` (one line) for a bad file, strategy,
    parameter, or a strategy that fails."""
    began = time.perf_counter()
    source = detect(spec.data, spec.symbol)
    instrument = instrument_for(spec.symbol, source)
    loaded = load_strategy(spec)
    commission = spec.commission_used
    if source.kind == EVENTS:
        result = _events(spec, source, progress, stop)
    else:
        bars = load_bars(source, instrument, spec.start, spec.end)
        result = run_bars(spec, instrument, loaded, bars, market=spec.market,
                          commission=commission, progress=progress, stop=stop)  # fmt: skip
    result.seconds = time.perf_counter() - began
    return result


def _events(spec: BacktestSpec, source: DataSource, progress: Progress | None,
            stop: Event | None) -> BacktestResult:  # fmt: skip
    from tradeterm.backtest.book_run import run_book

    return run_book(spec, progress=progress, stop=stop)


def core(result: BacktestResult) -> dict[str, Any]:
    """The figures every report starts from: ``bars`` (or ``events``), ``fills``
    (executions), ``contracts`` (traded), ``gross_pnl`` (realised plus the open position
    marked at the last price), ``commissions``, ``net_pnl`` (gross minus commissions),
    ``seconds``, and ``complete``. Money is ``Decimal`` in the instrument's currency."""
    t = totals(result)
    return {
        result.kind: result.count,
        "fills": t.fills,
        "contracts": t.contracts,
        "gross_pnl": t.gross_pnl,
        "commissions": t.commissions,
        "net_pnl": t.net_pnl,
        "position": t.position,
        "seconds": round(result.seconds, 3),
        "complete": result.complete,
    }


def money(value: Decimal) -> Decimal:
    """``value`` to the cent."""
    return value.quantize(Decimal("0.01"))
