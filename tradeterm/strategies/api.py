"""The strategy API: what a strategy is, what it is told, and what it may say.

A strategy is a :class:`Strategy` subclass with lifecycle hooks, called in this order:
``on_start`` once, then ``on_bar`` after each closed 1-minute bar, ``on_trade`` /
``on_quote`` / ``on_book`` for each market event only if the class asks for them
(``wants_trades``, ``wants_quotes``, ``wants_book``), ``on_fill`` and ``on_order`` for its own
fills and order updates, and ``on_stop`` once. Its parameters are a pydantic model, a
:class:`Params` subclass named by the class attribute ``parameters``: validated before the
strategy is built, each field with a description (``tradeterm strategies`` lists them).

A hook returns **intents**, never broker orders: :class:`TargetPosition` (hold this many
contracts) or :class:`EntrySignal` (enter this way, protected by a stop and a target in
ticks). Whoever runs the strategy (the engine live, a backtest on recorded bars) turns
intents into risk-checked, sized, bracketed orders; the strategy never sees a broker.

A hook is synchronous and is given a :class:`StrategyContext`: a frozen snapshot of the
clock, the instrument, the position the strategy owns and the closed bars so far. A runner
can therefore call it off the event loop (in a worker thread, under a time budget) without
the loop's state changing under it, and a backtest can build the same context from a file.
Prices are integer ticks of the instrument, times UTC nanoseconds, as everywhere in tradeterm.

This module imports only the domain, pydantic and the standard library.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Generic, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from tradeterm.domain import (
    Bar,
    DepthDelta,
    DepthReset,
    Fill,
    Instrument,
    Order,
    Quote,
    Side,
    Trade,
)

# ---------------------------------------------------------------------------------------------
# parameters


class Params(BaseModel):
    """A strategy's parameters. Subclass it with one field per parameter, each with a default
    and a ``description`` (and its bounds, ``ge=``/``le=``): unknown keys are refused and the
    values are frozen once the strategy is built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------
# intents


@dataclass(frozen=True, slots=True)
class TargetPosition:
    """Hold ``quantity`` contracts: positive long, negative short, 0 flat. The runner sends
    the difference from the position the strategy owns (a reversal is one order)."""

    quantity: int
    reason: str


class EntryType(StrEnum):
    """How an entry order is priced."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"


@dataclass(frozen=True, slots=True)
class Entry:
    """An entry order's type and price in ticks (None for a market entry). Build one with
    :meth:`market`, :meth:`limit` or :meth:`stop`."""

    type: EntryType
    price: int | None = None

    def __post_init__(self) -> None:
        if (self.type is EntryType.MARKET) != (self.price is None):
            raise ValueError(_entry_problem(self.type, self.price))

    @classmethod
    def market(cls) -> Entry:
        return cls(EntryType.MARKET)

    @classmethod
    def limit(cls, price: int) -> Entry:
        return cls(EntryType.LIMIT, price)

    @classmethod
    def stop(cls, price: int) -> Entry:
        return cls(EntryType.STOP, price)


def _entry_problem(kind: EntryType, price: int | None) -> str:
    if kind is EntryType.MARKET:
        return f"a market entry takes no price, got {price}"
    return f"a {kind.value.lower()} entry needs a price in ticks"


@dataclass(frozen=True, slots=True)
class EntrySignal:
    """Enter ``side`` as ``entry`` says, protected by a stop ``stop_ticks`` from the fill and
    a target ``target_ticks`` from it (both whole ticks, at least 1). The runner sizes it by
    the risk rules and sends it as one bracket."""

    side: Side
    entry: Entry
    stop_ticks: int
    target_ticks: int
    reason: str

    def __post_init__(self) -> None:
        for name in ("stop_ticks", "target_ticks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of ticks >= 1, got {value!r}")


Intent = TargetPosition | EntrySignal
Intents = Sequence[Intent]
NO_INTENTS: Intents = ()


# ---------------------------------------------------------------------------------------------
# what a hook is told


class BarHistory:
    """The closed bars of one run, oldest first, appended by whoever runs the strategy.
    :meth:`view` is a read-only snapshot of the bars so far that later appends never change,
    taken without copying."""

    __slots__ = ("_bars",)

    def __init__(self, bars: Sequence[Bar] = ()) -> None:
        self._bars: list[Bar] = list(bars)

    def append(self, bar: Bar) -> None:
        if self._bars and bar.start_ns <= self._bars[-1].start_ns:
            raise ValueError(f"bars must come in time order: {bar} after {self._bars[-1]}")
        self._bars.append(bar)

    def __len__(self) -> int:
        return len(self._bars)

    def view(self) -> BarsView:
        return BarsView(self._bars, len(self._bars))


class BarsView(Sequence[Bar]):
    """The first ``length`` bars of a list that is only ever appended to: read-only."""

    __slots__ = ("_bars", "_length")

    def __init__(self, bars: list[Bar], length: int) -> None:
        self._bars = bars
        self._length = length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Bar: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Bar]: ...
    def __getitem__(self, index: int | slice) -> Bar | Sequence[Bar]:
        if isinstance(index, slice):
            return tuple(self._bars[i] for i in range(self._length)[index])
        if not -self._length <= index < self._length:
            raise IndexError("bar index out of range")
        return self._bars[index % self._length]

    def __iter__(self) -> Iterator[Bar]:
        for i in range(self._length):
            yield self._bars[i]

    def __repr__(self) -> str:
        return f"BarsView({self._length} bars)"


@dataclass(frozen=True, slots=True, init=False)
class StrategyContext:
    """What a hook is told: the clock (UTC nanoseconds), the instrument traded, the signed
    position in contracts the strategy owns (not the trader's manual one), and the closed
    1-minute bars so far, oldest first (for ``on_bar`` the last one is the bar just closed).

    A backtest builds one a bar, so it is built by hand: its slots set through their
    descriptors, not the frozen dataclass's ``object.__setattr__`` route (half the cost)."""

    now_ns: int
    instrument: Instrument
    position: int
    bars: Sequence[Bar]

    def __init__(self, now_ns: int, instrument: Instrument, position: int,
                 bars: Sequence[Bar]) -> None:  # fmt: skip
        _set_now(self, now_ns)
        _set_instrument(self, instrument)
        _set_position(self, position)
        _set_bars(self, bars)


_set_now, _set_instrument, _set_position, _set_bars = (
    getattr(StrategyContext, name).__set__ for name in ("now_ns", "instrument", "position", "bars")
)


# ---------------------------------------------------------------------------------------------
# the strategy

P = TypeVar("P", bound=Params)


class Strategy(Generic[P]):
    """The base of every strategy. Subclass it, set ``parameters`` to your :class:`Params`
    subclass, and override the hooks you need; every hook returns the intents it emits (none
    by default). The class docstring's first line is the description ``tradeterm
    strategies`` shows."""

    parameters: ClassVar[type[Params]] = Params
    wants_trades: ClassVar[bool] = False
    """Call ``on_trade`` for every trade print."""
    wants_quotes: ClassVar[bool] = False
    """Call ``on_quote`` for every top-of-book change."""
    wants_book: ClassVar[bool] = False
    """Call ``on_book`` for every depth change."""

    def __init__(self, params: P) -> None:
        self.params = params

    def on_start(self, ctx: StrategyContext) -> Intents:
        """Once, before anything else."""
        return NO_INTENTS

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> Intents:
        """After each closed 1-minute bar (``bar`` is ``ctx.bars[-1]``)."""
        return NO_INTENTS

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        """A trade print (only when ``wants_trades``)."""
        return NO_INTENTS

    def on_quote(self, ctx: StrategyContext, quote: Quote) -> Intents:
        """A top-of-book change (only when ``wants_quotes``)."""
        return NO_INTENTS

    def on_book(self, ctx: StrategyContext, change: DepthDelta | DepthReset) -> Intents:
        """A depth change (only when ``wants_book``)."""
        return NO_INTENTS

    def on_fill(self, ctx: StrategyContext, fill: Fill) -> Intents:
        """A fill of one of the strategy's orders (``ctx.position`` already includes it)."""
        return NO_INTENTS

    def on_order(self, ctx: StrategyContext, order: Order) -> Intents:
        """A status change of one of the strategy's orders (a copy: changing it does
        nothing)."""
        return NO_INTENTS

    def on_stop(self, ctx: StrategyContext) -> Intents:
        """Once, last. What it returns is still applied (e.g. a flat target)."""
        return NO_INTENTS

    @classmethod
    def description(cls) -> str:
        """The first line of the class docstring."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""
