"""The statistics of a backtest (:func:`statistics`), from its fills and bars.

Rules (a trader's, and the journal report's where they overlap, so that ``tradeterm report``
on the backtest's journal counts the same trades, wins and profit factor):

* A trade is a round trip matched first-in first-out over the fills (``journal/report.py``'s
  :func:`~tradeterm.journal.report.match_trades`): a partial exit closes part of a lot and
  makes a trade of that part; a fill that reverses the position closes the old lots (trades)
  and opens a new one with the rest. A win is a trade with a positive gross P&L, a loss one
  with a negative; profit factor = money won / money lost (None without a loss).
* Average win / loss in ticks: the mean, over the winning (losing) trades, of the ticks won
  (lost, negative) per contract; each trade counts once, whatever its size.
* Money is exact (``Decimal``), from the domain :class:`~tradeterm.domain.Position`'s
  integer tick-contracts: gross = realised + the open position marked at ``last_price``;
  commissions = ``commission`` x contracts of every fill; net = gross - commissions.
* The account's value is marked at each bar's close (:func:`marked_equity`): the start
  equity (``spec.equity``) + realised + open P&L at the close - commissions so far, after the
  fills made before the bar closed. Max drawdown is the largest fall of that value from its
  peak so far (the start counts as a peak), in money and, separately, as a fraction of the
  peak (``max_drawdown_fraction``: 0.25 is 25%, as ``win_rate`` and ``exposure`` are
  fractions). Exposure is the fraction of bars that close with a position open.
* Sharpe and Sortino are daily, over CME session days (17:00 Chicago to 16:00 the next day,
  :mod:`tradeterm.engine.calendar`; a bar belongs to the day its start belongs to): a day's
  return is the change of the marked value over the day / its value at the day's start (the
  previous day's last mark; ``spec.equity`` on the first day). Sharpe = mean / sample standard
  deviation x sqrt(252); Sortino = mean / downside deviation (root mean square of the returns
  below zero, over all days) x sqrt(252). ``days`` counts the session days with bars, a day
  with one hour of bars as one. None (printed "n/a"):

  - with fewer than :data:`MIN_RATIO_DAYS` days: over two or three days the ratio is noise
    (returns (x, 0) give +-sqrt(126) whatever x is), and a trader would read it as a finding;
  - when the account is ruined (``ruined``: marked at zero or below at any bar close): a
    return on a non-positive value is meaningless (a loss divided by a negative equity reads
    as a gain), and the days before the ruin say nothing of a run that lost the account, so
    no ratio is given for the whole run (a sweep sorted by Sharpe puts it last);
  - when the deviation is zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from statistics import fmean, stdev

from tradeterm.backtest.spec import BacktestResult
from tradeterm.domain import Position
from tradeterm.domain.bars import NS_PER_SECOND
from tradeterm.engine.calendar import CME, SessionCalendar
from tradeterm.journal import report as rp

BAR_NS = 60 * NS_PER_SECOND  # the result's bars are 1-minute bars
TRADING_DAYS = rp.TRADING_DAYS
MIN_RATIO_DAYS = 5
"""Session days a run needs for a Sharpe or Sortino (a trading week)."""
CENT = Decimal("0.01")


def json_figure(value: int | float | str | Decimal | None) -> int | float | str | None:
    """A figure as the backtest's JSON and CSV print it (one run's and a sweep's alike): money
    as a number rounded to the cent (``-850.0``), ratios to four decimals, other values as
    they are."""
    if isinstance(value, Decimal):
        return float(value.quantize(CENT))
    if isinstance(value, float):
        return round(value, 4)
    return value


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """The account's value at each bar's close (``times_ns``: the closes, UTC ns), and how
    many of those bars closed with a position open."""

    times_ns: tuple[int, ...]
    values: tuple[Decimal, ...]
    exposed: int
    days: tuple[int, ...]  # the session open (ns) of each bar's day, for the daily returns
    title: str = "equity"  # what ran: strategy, parameters, market and data

    @property
    def ruined(self) -> bool:
        """Whether the account was marked at zero or below at some bar's close."""
        return bool(self.values) and min(self.values) <= 0


@dataclass(frozen=True, slots=True)
class Stats:
    """A backtest's figures (see the module notes). Money in the instrument's currency;
    ``None`` where a figure does not exist (no trade, fewer than two days...)."""

    fills: int
    contracts: int
    position: int  # open at the end, signed
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    avg_win_ticks: float | None
    avg_loss_ticks: float | None  # negative
    gross_pnl: Decimal
    commissions: Decimal
    net_pnl: Decimal
    final_equity: Decimal
    max_drawdown: Decimal
    max_drawdown_fraction: float  # of the peak: 0.25 is 25%
    exposure: float | None
    days: int  # session days with bars
    ruined: bool  # marked at zero or below: no Sharpe or Sortino
    sharpe: float | None
    sortino: float | None

    def as_dict(self) -> dict[str, int | float | str | None]:
        """The figures as JSON prints them (:func:`json_figure`), a missing one as null."""
        return {f.name: json_figure(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class Totals:
    """A run's money: contracts traded, the position left, gross P&L (realised plus the open
    position marked at the last price), commissions, net P&L (gross minus commissions)."""

    fills: int
    contracts: int
    position: int
    gross_pnl: Decimal
    commissions: Decimal
    net_pnl: Decimal


def totals(result: BacktestResult) -> Totals:
    """:class:`Totals` of ``result``, by the domain's :class:`Position` (the live P&L code)."""
    inst = result.instrument
    position = Position(inst)
    for fill in result.fills:
        position.apply_fill(fill)
    contracts = sum(f.quantity for f in result.fills)
    mark = result.last_price
    open_ticks = position.unrealized(mark) if mark is not None and position.quantity else 0
    gross = inst.money(position.realized + open_ticks)
    commissions = result.commission * contracts
    return Totals(len(result.fills), contracts, position.quantity, gross, commissions,
                  gross - commissions)  # fmt: skip


def statistics(
    result: BacktestResult,
    calendar: SessionCalendar = CME,
    *,
    curve: EquityCurve | None = None,
    min_days: int = MIN_RATIO_DAYS,
) -> Stats:
    """The statistics of ``result`` (see the module notes). ``curve``: its
    :func:`marked_equity`, when the caller has it already (to draw it); ``min_days``: the
    session days Sharpe and Sortino need."""
    money = totals(result)
    contracts, gross, commissions, net = (
        money.contracts,
        money.gross_pnl,
        money.commissions,
        money.net_pnl,
    )

    trades, _open = rp.match_trades(_fill_rows(result))
    book = rp.Stats()
    for trade in trades:
        book.add(trade)
    won = [abs(t.exit_ticks - t.entry_ticks) for t in trades if t.gross > 0]
    lost = [-abs(t.exit_ticks - t.entry_ticks) for t in trades if t.gross < 0]

    curve = curve if curve is not None else marked_equity(result, calendar)
    drawdown, drawdown_fraction = _max_drawdown(result.spec.equity, curve.values)
    returns = daily_returns(result.spec.equity, curve)
    ruined = curve.ruined or result.spec.equity <= 0
    rated = [] if ruined or len(returns) < min_days else returns
    return Stats(
        fills=len(result.fills),
        contracts=contracts,
        position=money.position,
        trades=book.trades,
        wins=book.wins,
        losses=len(lost),
        win_rate=book.win_rate,
        profit_factor=book.profit_factor,
        avg_win_ticks=fmean(won) if won else None,
        avg_loss_ticks=fmean(lost) if lost else None,
        gross_pnl=gross,
        commissions=commissions,
        net_pnl=net,
        final_equity=result.spec.equity + net,
        max_drawdown=drawdown,
        max_drawdown_fraction=drawdown_fraction,
        exposure=curve.exposed / len(curve.values) if curve.values else None,
        days=len(returns),
        ruined=ruined,
        sharpe=_sharpe(rated),
        sortino=_sortino(rated),
    )


def _fill_rows(result: BacktestResult) -> list[rp.FillRow]:
    """The fills as the journal report reads them (for its round-trip matching)."""
    tick_value = result.instrument.tick_value
    source = result.spec.strategy
    return [
        rp.FillRow(f.exec_id, f.ts_ns, str(f.side), f.quantity, f.price, tick_value,
                   result.commission * f.quantity, source)
        for f in result.fills
    ]  # fmt: skip


def marked_equity(result: BacktestResult, calendar: SessionCalendar = CME) -> EquityCurve:
    """The account's value at each bar's close (see the module notes): the fills made before
    a bar closes count in its mark."""
    inst = result.instrument
    position = Position(inst)
    fills = result.fills
    start = result.spec.equity
    per_contract = result.commission
    times: list[int] = []
    values: list[Decimal] = []
    days: list[int] = []
    i = contracts = exposed = 0
    day_open = day_end = -1
    for bar in result.bars:
        close_ns = bar.start_ns + BAR_NS
        while i < len(fills) and fills[i].ts_ns < close_ns:
            position.apply_fill(fills[i])
            contracts += fills[i].quantity
            i += 1
        if bar.start_ns >= day_end:  # one calendar look-up per session, not per bar
            day_open = calendar.session_open_ns(bar.start_ns)
            day_end = calendar.next_open_ns(bar.start_ns)
        ticks = position.realized + position.unrealized(bar.close)
        times.append(close_ns)
        values.append(start + inst.money(ticks) - per_contract * contracts)
        days.append(day_open)
        exposed += position.quantity != 0
    return EquityCurve(tuple(times), tuple(values), exposed, tuple(days), run_title(result))


def run_title(result: BacktestResult) -> str:
    """What ran, in a line: strategy, parameters, market and data file."""
    spec = result.spec
    params = " ".join(f"{k}={v}" for k, v in spec.params)
    what = f"{spec.strategy} {params}".rstrip()
    return f"{what} on {result.instrument.local_symbol}, {spec.data.name}"


def daily_returns(start: Decimal, curve: EquityCurve) -> list[float]:
    """Each session day's return: its change of value / its value at the start (the previous
    day's last mark, ``start`` on the first day)."""
    closes: dict[int, Decimal] = {}
    for day, value in zip(curve.days, curve.values, strict=True):
        closes[day] = value  # the day's last mark
    returns = []
    before = start
    for value in closes.values():
        returns.append(float((value - before) / before) if before else 0.0)
        before = value
    return returns


def _max_drawdown(start: Decimal, values: Sequence[Decimal]) -> tuple[Decimal, float]:
    """The largest fall from the peak so far, in money and as a fraction of that peak."""
    peak = start
    worst = Decimal(0)
    worst_fraction = 0.0
    for value in values:
        if value > peak:
            peak = value
            continue
        fall = peak - value
        worst = max(worst, fall)
        if peak > 0:
            worst_fraction = max(worst_fraction, float(fall / peak))
    return worst, worst_fraction


def _sharpe(returns: Sequence[float]) -> float | None:
    if len(returns) < 2:
        return None
    sd = stdev(returns)
    return fmean(returns) / sd * math.sqrt(TRADING_DAYS) if sd > 0 else None


def _sortino(returns: Sequence[float]) -> float | None:
    if len(returns) < 2:
        return None
    downside = math.sqrt(fmean([min(r, 0.0) ** 2 for r in returns]))
    return fmean(returns) / downside * math.sqrt(TRADING_DAYS) if downside > 0 else None
