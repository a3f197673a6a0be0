"""Driving a strategy through its hooks as a runner would, without an engine: bars into a
:class:`BarHistory`, a :class:`StrategyContext` per call, and fills made up on the spot.

A ``TargetPosition`` fills at once, at the bar's close; an ``EntrySignal`` (one contract)
fills at the next bar's open, before that bar's ``on_bar``. A test moves the position by hand
(a bracket's stop or target filling) with :meth:`Driver.fill`."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.real_data import rows, ts_ns
from tradeterm.domain import Bar, ContractMonth, Fill, Instrument, Side
from tradeterm.strategies import (
    BarHistory,
    EntrySignal,
    Intent,
    Strategy,
    StrategyContext,
    TargetPosition,
)

NS = 1_000_000_000
MINUTE = 60 * NS
ESH0 = Instrument.from_spec("ES", ContractMonth(2020, 3))
ESH0_DAY = "ESH0_1min_trades_2020-01-06_UTC.csv"


def esh0_bars() -> list[Bar]:
    """The recorded ESH0 1-minute bars of 2020-01-06 UTC (skips the test without them)."""
    out = []
    for r in rows(ESH0_DAY):
        o, h, lo, c = (ESH0.to_ticks(Decimal(r[k])) for k in ("open", "high", "low", "close"))
        out.append(Bar(ts_ns(r["ts_utc"]), o, h, lo, c, int(r["volume"])))
    return out


def utc_hhmm(ts_ns: int) -> str:
    """``ts_ns``'s UTC time of day as ``HH:MM``."""
    minutes = ts_ns // MINUTE
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def flat_bars(closes: Iterable[int], start_ns: int = 0) -> list[Bar]:
    """One bar per close, open = high = low = close, a minute apart."""
    return [Bar(start_ns + i * MINUTE, c, c, c, c, 1) for i, c in enumerate(closes)]


@dataclass
class Driver:
    strategy: Strategy[Any]
    instrument: Instrument
    position: int = 0
    history: BarHistory = field(default_factory=BarHistory)
    index: int = -1  # the bar being told (or last told), from 0
    emitted: list[tuple[int, Intent]] = field(default_factory=list)  # (bar index, intent)
    fills: list[tuple[int, int]] = field(default_factory=list)  # (bar index, signed quantity)
    pending_entry: EntrySignal | None = None  # fills at the next bar's open
    _ids: Iterator[int] = field(default_factory=itertools.count)

    def ctx(self, now_ns: int) -> StrategyContext:
        return StrategyContext(now_ns, self.instrument, self.position, self.history.view())

    def feed(self, bars: Sequence[Bar]) -> Driver:
        for bar in bars:
            self.bar(bar)
        return self

    def bar(self, bar: Bar) -> list[Intent]:
        self.index = len(self.history)
        if self.pending_entry is not None:
            entry, self.pending_entry = self.pending_entry, None
            self.fill(entry.side, 1, bar.open, bar.start_ns)
        self.history.append(bar)
        now = bar.start_ns + MINUTE
        return self._apply(self.strategy.on_bar(self.ctx(now), bar), bar.close, now)

    def fill(self, side: Side, quantity: int, price: int, ts_ns: int) -> list[Intent]:
        """A fill of ``quantity`` on ``side``: the position moves, ``on_fill`` is told."""
        self.position += side.sign * quantity
        self.fills.append((self.index, side.sign * quantity))
        made = Fill(f"x{next(self._ids)}", "o", self.instrument, side, quantity, price, ts_ns)
        return self._apply(self.strategy.on_fill(self.ctx(ts_ns), made), price, ts_ns)

    def _apply(self, intents: Iterable[Intent], price: int, now: int) -> list[Intent]:
        out = list(intents)
        for intent in out:
            self.emitted.append((self.index, intent))
            if isinstance(intent, EntrySignal):
                self.pending_entry = intent
            elif isinstance(intent, TargetPosition) and intent.quantity != self.position:
                diff = intent.quantity - self.position
                self.fill(Side.BUY if diff > 0 else Side.SELL, abs(diff), price, now)
        return out

    def at(self, index: int) -> list[Intent]:
        """What was emitted while bar ``index`` was told (on_bar, and on_fill for the fills
        at its open, at its close and made by hand after it)."""
        return [intent for i, intent in self.emitted if i == index]

    def entries(self) -> list[tuple[int, EntrySignal]]:
        return [(i, e) for i, e in self.emitted if isinstance(e, EntrySignal)]
