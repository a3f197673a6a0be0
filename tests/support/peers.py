"""``sma_cross`` run in the peer backtesters, to compare their fills and net P&L with tradeterm's.

Each peer is configured to the fills tradeterm's bar backtest makes: a futures contract
(multiplier 50 for ES), a commission per contract per side, cash and margin that never block
an order, and market orders sent on a bar's close filled at the next bar's open (an order sent
on the last bar never fills). The strategy is ``tradeterm.strategies.sma_cross`` written in
each peer's own terms: the target is +N while SMA(fast) of closes is above SMA(slow), -N while
below, unchanged when they are equal, flat until the first bar where they differ; a change of
target is one market order for the difference (a reversal is one order of 2N).

Prices reach the peers as floats; ES prices (quarters) and their sums are exact in binary
floating point, and a mean is the correctly rounded quotient of an exact sum, so equal means
compare equal and unequal ones (at least a quarter over ``slow`` apart) never do.

:func:`prepare` loads bars into a peer (a DataFrame, a feed: outside the timing) and returns
the run; :class:`PeerRun` gives its executions in integer ticks and its own net P&L (the
peer's account at the end minus the cash it started with: realised P&L, minus commissions,
plus the open position marked at the last close). Used by the test against backtrader and by
``benchmarks/bench_backtest.py``; nothing here imports pytest.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tradeterm.domain import Bar, Side

CASH = 1_000_000_000.0  # far beyond any margin: cash never refuses an order
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Setup:
    """What every engine is asked: sma_cross's parameters and the contract's money terms."""

    fast: int = 10
    slow: int = 30
    quantity: int = 1
    tick: Decimal = Decimal("0.25")
    multiplier: Decimal = Decimal(50)
    commission: Decimal = Decimal("2.25")  # per contract per side


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill: when (the filling bar's start, UTC ns), which way, how many, at what tick."""

    ts_ns: int
    side: Side
    quantity: int
    price: int


@dataclass(slots=True)
class PeerRun:
    engine: str
    fills: list[Execution] = field(default_factory=list)
    net_pnl: Decimal = Decimal(0)
    seconds: float = 0.0  # the run alone, over data already loaded


def money(value: float) -> Decimal:
    """A peer's float money figure, to the cent."""
    return Decimal(repr(float(value))).quantize(CENT)


def net_pnl(fills: Sequence[Execution], last_close: int, setup: Setup) -> Decimal:
    """Net P&L computed from executions (not by any engine): realised, minus commissions, plus
    the open position marked at ``last_close``."""
    cash_ticks = sum(-f.side.sign * f.quantity * f.price for f in fills)
    position = sum(f.side.sign * f.quantity for f in fills)
    contracts = sum(f.quantity for f in fills)
    gross = (cash_ticks + position * last_close) * setup.tick * setup.multiplier
    return (gross - contracts * setup.commission).quantize(CENT)


def _execution(
    bars: Sequence[Bar], index: int, signed: float, price: float, tick: Decimal
) -> Execution:
    ticks = Decimal(repr(price)) / tick
    if ticks != ticks.to_integral_value():
        raise ValueError(f"fill price {price} is not on the tick {tick}")
    side = Side.BUY if signed > 0 else Side.SELL
    return Execution(bars[index].start_ns, side, round(abs(signed)), int(ticks))


def new_target(order: float, target: int, quantity: int) -> int | None:
    """sma_cross's rule, given ``order`` (SMA(fast) minus SMA(slow), or its sign) and the
    target held: +N above, -N below; None when the averages are equal or the target stays."""
    if order == 0:
        return None
    new = quantity if order > 0 else -quantity
    return None if new == target else new


def send_change(strategy: Any, change: int) -> None:
    """One market order for ``change`` contracts (backtrader's and backtesting.py's
    ``buy``/``sell`` with a size)."""
    if change > 0:
        strategy.buy(size=change)
    elif change < 0:
        strategy.sell(size=-change)


def _frame(bars: Sequence[Bar], setup: Setup, scale: Decimal = Decimal(1)) -> Any:
    """The bars as a pandas DataFrame of float prices (times ``scale``), indexed by UTC time."""
    import numpy as np
    import pandas as pd

    unit = float(setup.tick * scale)
    columns = {
        name: np.array([getattr(b, name) for b in bars], dtype=np.float64) * unit
        for name in ("open", "high", "low", "close")
    }
    columns["volume"] = np.array([b.volume for b in bars], dtype=np.float64)
    index = pd.to_datetime(np.array([b.start_ns for b in bars], dtype="datetime64[ns]"))
    return pd.DataFrame(columns, index=index)


# -- backtrader ---------------------------------------------------------------------------------


def _backtrader(bars: Sequence[Bar], setup: Setup) -> Callable[[], PeerRun]:
    """backtrader, as its users run it: ``Cerebro(stdstats=False)``, its SMA indicator, a
    futures commission scheme (``margin`` makes it futures-like: the position is marked to
    market each bar). Its market orders fill at the next bar's open by default (no
    cheat-on-open, no close filling). The bars reach it through a feed of ready rows (a
    ``DataBase`` whose ``_load`` sets one row's lines): its PandasData feed would add pandas'
    per-cell lookups to backtrader's time."""
    import datetime as dt

    import backtrader as bt

    unit = float(setup.tick)
    rows = [
        (bt.date2num(dt.datetime.fromtimestamp(b.start_ns / 1e9, dt.UTC).replace(tzinfo=None)),
         b.open * unit, b.high * unit, b.low * unit, b.close * unit, float(b.volume))
        for b in bars
    ]  # fmt: skip

    class Feed(bt.feed.DataBase):
        params = (("timeframe", bt.TimeFrame.Minutes),)

        def start(self) -> None:
            super().start()
            self.rows = iter(rows)

        def _load(self) -> bool:
            row = next(self.rows, None)
            if row is None:
                return False
            lines = self.lines
            (lines.datetime[0], lines.open[0], lines.high[0], lines.low[0], lines.close[0],
             lines.volume[0]) = row  # fmt: skip
            return True

    class SmaCross(bt.Strategy):
        params = (("fast", setup.fast), ("slow", setup.slow), ("quantity", setup.quantity))

        def __init__(self) -> None:
            self.fast_sma = bt.ind.SMA(self.data.close, period=self.p.fast)
            self.slow_sma = bt.ind.SMA(self.data.close, period=self.p.slow)
            self.target = 0
            self.fills: list[Execution] = []

        def next(self) -> None:  # called from the bar where both averages exist
            target = new_target(self.fast_sma[0] - self.slow_sma[0], self.target, self.p.quantity)
            if target is not None:
                self.target = target
                send_change(self, target - self.position.size)

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:  # told on the bar it filled in
                index = len(self.data) - 1
                self.fills.append(
                    _execution(bars, index, order.executed.size, order.executed.price, setup.tick)
                )

    def run() -> PeerRun:
        t0 = time.perf_counter()
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(Feed())
        cerebro.addstrategy(SmaCross)
        cerebro.broker.setcash(CASH)
        cerebro.broker.setcommission(
            commission=float(setup.commission),
            commtype=bt.CommInfoBase.COMM_FIXED,  # money per contract, not a percentage
            margin=1.0,  # futures-like; a dollar of margin a contract never runs out
            mult=float(setup.multiplier),
        )
        (strategy,) = cerebro.run()
        seconds = time.perf_counter() - t0
        pnl = money(cerebro.broker.getvalue() - CASH)
        return PeerRun("backtrader", strategy.fills, pnl, seconds)

    return run


# -- backtesting.py -------------------------------------------------------------------------------


def _signal(closes: Any, fast: int, slow: int) -> Any:
    """+1 where SMA(fast) > SMA(slow), -1 below, 0 equal or before ``slow`` closes (exact: sums
    of quarters are exact in floats and compared as sum_fast * slow vs sum_slow * fast)."""
    import numpy as np

    sums = np.concatenate(([0.0], np.cumsum(closes)))
    out = np.zeros(len(closes))
    if len(closes) >= slow:
        end = np.arange(slow, len(closes) + 1)
        sum_fast, sum_slow = sums[end] - sums[end - fast], sums[end] - sums[end - slow]
        out[slow - 1 :] = np.sign(sum_fast * slow - sum_slow * fast)
    return out


def _backtesting(bars: Sequence[Bar], setup: Setup) -> Callable[[], PeerRun]:
    """backtesting.py. It has no contract multiplier: prices are given times the multiplier, so
    a price move of one contract is its money. Commission: its callable form (order size,
    price) -> money, charged on each trade's entry and exit, i.e. per contract per side.
    ``trade_on_close=False``: market orders fill at the next bar's open. ``hedging=False``:
    an order against the position closes trades first in, so a reversal order of 2N closes
    the N held and opens N the other way at the one price; ``exclusive_orders=False`` (True
    would also close the held trade on each new order: the same fills for orders of the
    difference, but it is not what the order says).

    Its indicators are arrays computed up front (its users' way): the averages' order as one
    signal array, 0 until ``slow`` closes. backtesting.py calls ``next`` only from the bar
    after an indicator's leading NaNs end (``start = 1 + warm-up``), one bar later than the
    others; a signal without NaNs keeps the first decision on the ``slow``-th bar."""
    # its progress bar is tqdm's (when installed), which reads its settings when first imported
    os.environ.setdefault("TQDM_DISABLE", "1")
    import backtesting

    frame = _frame(bars, setup, setup.multiplier)
    frame.columns = ["Open", "High", "Low", "Close", "Volume"]
    per_side = float(setup.commission)

    class SmaCross(backtesting.Strategy):
        fast, slow, quantity = setup.fast, setup.slow, setup.quantity

        def init(self) -> None:
            self.order = self.I(_signal, self.data.Close, self.fast, self.slow)
            self.target = 0

        def next(self) -> None:
            target = new_target(self.order[-1], self.target, self.quantity)
            if target is not None:
                self.target = target
                send_change(self, target - self.position.size)

    def commission(size: float, price: float) -> float:
        return per_side * abs(size)

    def run() -> PeerRun:
        t0 = time.perf_counter()
        test = backtesting.Backtest(
            frame, SmaCross, cash=CASH, commission=commission, margin=1.0,
            trade_on_close=False, hedging=False, exclusive_orders=False, finalize_trades=False,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "trades remain open": they are marked, as wanted
            stats = test.run()
        seconds = time.perf_counter() - t0
        return PeerRun("backtesting.py", _trade_fills(bars, stats, setup),
                       money(stats["Equity Final [$]"] - CASH), seconds)  # fmt: skip

    return run


def _trade_fills(bars: Sequence[Bar], stats: Any, setup: Setup) -> list[Execution]:
    """backtesting.py reports trades, not orders: each trade's entry and exit (the open ones
    only entered), summed per bar into the one order that filled there."""
    legs: dict[tuple[int, float], float] = {}
    for t in stats._trades.itertuples():
        legs[t.EntryBar, t.EntryPrice] = legs.get((t.EntryBar, t.EntryPrice), 0) + t.Size
        legs[t.ExitBar, t.ExitPrice] = legs.get((t.ExitBar, t.ExitPrice), 0) - t.Size
    for t in stats._strategy.trades:
        legs[t.entry_bar, t.entry_price] = legs.get((t.entry_bar, t.entry_price), 0) + t.size
    scale = setup.multiplier
    return [
        _execution(bars, index, size, float(Decimal(repr(price)) / scale), setup.tick)
        for (index, price), size in sorted(legs.items())
        if size
    ]


# -- NautilusTrader -------------------------------------------------------------------------------


def _nautilus(bars: Sequence[Bar], setup: Setup) -> Callable[[], PeerRun]:
    """NautilusTrader's low-level ``BacktestEngine``: a NETTING margin account, an ES futures
    contract (multiplier, quarter tick), ``PerContractFeeModel`` (money per contract per fill),
    its SimpleMovingAverage indicators registered for the bars.

    Nautilus has no next-open mode: a market order sent from ``on_bar`` fills at that bar's
    close, the last price its matching engine saw (its bars' ``ts_init`` is their close, so
    bar N is whole before the strategy sees it). So each bar's open also reaches it as a trade
    tick, one nanosecond after the previous bar closed, and the strategy sends the order its
    last bar decided on that tick: the fill is at the next bar's open, as in the others. It
    runs two data points per bar (each bar and its open)."""
    from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
    from nautilus_trader.backtest.models import PerContractFeeModel
    from nautilus_trader.config import LoggingConfig, StrategyConfig
    from nautilus_trader.indicators import SimpleMovingAverage
    from nautilus_trader.model.currencies import USD
    from nautilus_trader.model.data import Bar as NtBar
    from nautilus_trader.model.data import BarType, TradeTick
    from nautilus_trader.model.enums import (
        AccountType,
        AggressorSide,
        AssetClass,
        OmsType,
        OrderSide,
    )
    from nautilus_trader.model.events import OrderFilled
    from nautilus_trader.model.identifiers import InstrumentId, Symbol, TradeId, Venue
    from nautilus_trader.model.instruments import FuturesContract
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.trading.strategy import Strategy

    venue = Venue("SIM")
    instrument_id = InstrumentId(Symbol("ES"), venue)
    minute = bars[1].start_ns - bars[0].start_ns if len(bars) > 1 else 60_000_000_000
    first, last = bars[0].start_ns, bars[-1].start_ns + minute
    contract = FuturesContract(
        instrument_id=instrument_id, raw_symbol=Symbol("ES"), asset_class=AssetClass.INDEX,
        currency=USD, price_precision=2, price_increment=Price.from_str(str(setup.tick)),
        multiplier=Quantity.from_str(str(setup.multiplier)), lot_size=Quantity.from_int(1),
        underlying="ES", activation_ns=first - minute, expiration_ns=last + 365 * 86_400 * 10**9,
        ts_event=first - minute, ts_init=first - minute,
    )  # fmt: skip
    bar_type = BarType.from_str(f"{instrument_id}-1-MINUTE-LAST-EXTERNAL")
    price = contract.make_price
    deep = Quantity.from_int(1_000_000)  # the open tick's size: liquidity never splits a fill
    data: list[Any] = []
    opens: dict[int, int] = {}  # an open tick's time -> its bar's index
    unit = float(setup.tick)
    for i, b in enumerate(bars):
        opened = b.start_ns + 1  # after the previous bar (whose ts_init is this start)
        opens[opened] = i
        data.append(TradeTick(instrument_id, price(b.open * unit), deep, AggressorSide.NO_AGGRESSOR,
                              TradeId(str(i)), opened, opened))  # fmt: skip
        data.append(NtBar(bar_type, price(b.open * unit), price(b.high * unit),
                          price(b.low * unit), price(b.close * unit),
                          Quantity.from_int(b.volume), b.start_ns + minute,
                          b.start_ns + minute))  # fmt: skip

    class Config(StrategyConfig, frozen=True):  # type: ignore[call-arg,unused-ignore]
        fast: int = setup.fast
        slow: int = setup.slow
        quantity: int = setup.quantity

    class SmaCross(Strategy):
        def __init__(self, config: Config) -> None:
            super().__init__(config)
            self.fast_sma = SimpleMovingAverage(config.fast)
            self.slow_sma = SimpleMovingAverage(config.slow)
            self.target = 0
            self.pending = 0  # the order the last bar decided, sent when the next one opens
            self.fills: list[Execution] = []

        def on_start(self) -> None:
            self.register_indicator_for_bars(bar_type, self.fast_sma)
            self.register_indicator_for_bars(bar_type, self.slow_sma)
            self.subscribe_bars(bar_type)
            self.subscribe_trade_ticks(instrument_id)

        def on_bar(self, bar: Any) -> None:
            if not self.slow_sma.initialized:
                return
            order = self.fast_sma.value - self.slow_sma.value
            target = new_target(order, self.target, self.config.quantity)
            if target is not None:
                self.target = target
                self.pending = target - int(self.portfolio.net_position(instrument_id))

        def on_trade_tick(self, tick: Any) -> None:
            change, self.pending = self.pending, 0
            if change:
                side = OrderSide.BUY if change > 0 else OrderSide.SELL
                qty = Quantity.from_int(abs(change))
                self.submit_order(self.order_factory.market(instrument_id, side, qty))

        def on_order_filled(self, event: OrderFilled) -> None:
            signed = event.last_qty.as_double() * (1 if event.order_side == OrderSide.BUY else -1)
            self.fills.append(
                _execution(
                    bars, opens[event.ts_event], signed, event.last_px.as_double(), setup.tick
                )
            )

    start = Money(CASH, USD)
    last_close = price(bars[-1].close * unit)

    def run() -> PeerRun:
        t0 = time.perf_counter()
        engine = BacktestEngine(BacktestEngineConfig(logging=LoggingConfig(bypass_logging=True)))
        engine.add_venue(
            venue=venue, oms_type=OmsType.NETTING, account_type=AccountType.MARGIN,
            starting_balances=[start], base_currency=USD,
            fee_model=PerContractFeeModel(Money(float(setup.commission), USD)),
        )  # fmt: skip
        engine.add_instrument(contract)
        engine.add_data(data)
        strategy = SmaCross(Config())
        engine.add_strategy(strategy)
        engine.run()
        seconds = time.perf_counter() - t0
        pnl = engine.portfolio.account(venue).balance_total(USD).as_double() - CASH
        # the open position marked at the last close (the portfolio's own figure marks it at
        # the last trade tick, which is the last bar's open here)
        for position in engine.cache.positions_open():
            pnl += position.unrealized_pnl(last_close).as_double()
        engine.dispose()
        return PeerRun("NautilusTrader", strategy.fills, money(pnl), seconds)

    return run


PEERS: dict[str, Callable[[Sequence[Bar], Setup], Callable[[], PeerRun]]] = {
    "backtrader": _backtrader,
    "backtesting.py": _backtesting,
    "NautilusTrader": _nautilus,
}


def prepare(engine: str, bars: Sequence[Bar], setup: Setup | None = None) -> Callable[[], PeerRun]:
    """``bars`` loaded into ``engine`` (a name in :data:`PEERS`); call the result to run it."""
    return PEERS[engine](bars, setup or Setup())
