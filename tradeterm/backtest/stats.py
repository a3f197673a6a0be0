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
  peak so far (the start counts as a peak), in money and, separately, in percent of the peak.
  Exposure is the fraction of bars that close with a position open.
* Sharpe and Sortino are daily, over CME session days (17:00 Chicago to 16:00 the next day,
  :mod:`tradeterm.engine.calendar`; a bar belongs to the day its start belongs to): a day's
  return is the change of the marked value over the day / its value at the day's start (the
  previous day's last mark; ``spec.equity`` on the first day). Sharpe = mean / sample standard
  deviation x sqrt(252); Sortino = mean / downside deviation (root mean square of the returns
  below zero, over all days) x sqrt(252). None (printed "n/a") with fewer than two days, or
  when the deviation is zero.
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
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """The account's value at each bar's close (``times_ns``: the closes, UTC ns), and how
    many of those bars closed with a position open."""

    times_ns: tuple[int, ...]
    values: tuple[Decimal, ...]
    exposed: int
    days: tuple[int, ...]  # the session open (ns) of each bar's day, for the daily returns


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
    max_drawdown_pct: float
    exposure: float | None
    days: int
    sharpe: float | None
    sortino: float | None

    def as_dict(self) -> dict[str, int | float | str | None]:
        """The figures as JSON prints them: money as numbers rounded to the cent, ratios to
        four decimals, a missing figure as null."""
        out: dict[str, int | float | str | None] = {}
        for f in fields(self):
            name, value = f.name, getattr(self, f.name)
            if isinstance(value, Decimal):
                out[name] = float(value.quantize(CENT))
            elif isinstance(value, float):
                out[name] = round(value, 4)
            else:
                out[name] = value
        return out


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
    result: BacktestResult, calendar: SessionCalendar = CME, *, curve: EquityCurve | None = None
) -> Stats:
    """The statistics of ``result`` (see the module notes). ``curve``: its
    :func:`marked_equity`, when the caller has it already (to draw it)."""
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
    drawdown, drawdown_pct = _max_drawdown(result.spec.equity, curve.values)
    returns = daily_returns(result.spec.equity, curve)
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
        max_drawdown_pct=drawdown_pct,
        exposure=curve.exposed / len(curve.values) if curve.values else None,
        days=len(returns),
        sharpe=_sharpe(returns),
        sortino=_sortino(returns),
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
    return EquityCurve(tuple(times), tuple(values), exposed, tuple(days))


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
    """The largest fall from the peak so far, in money and in percent of that peak."""
    peak = start
    worst = Decimal(0)
    worst_pct = 0.0
    for value in values:
        if value > peak:
            peak = value
            continue
        fall = peak - value
        worst = max(worst, fall)
        if peak > 0:
            worst_pct = max(worst_pct, float(fall / peak) * 100)
    return worst, worst_pct


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
