"""Pieces shared by the replay readers (DBN and CSV): price conversion to ticks, tick-size
resolution from a symbol, and a top-of-book tracker that turns quote snapshots into
:class:`~tradeterm.sim.market_events.BookDelta` events."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from tradeterm.sim.market_events import BookDelta, BookSide, OrderDelta

D = TypeVar("D", bound=BookDelta | OrderDelta)

#: Databento fixed-point prices: 1 unit = 1e-9.
FIXED_PRICE_SCALE = 1_000_000_000
#: Databento's "no price" sentinel (i64 max).
UNDEF_PRICE = 2**63 - 1

_LOCAL_SYMBOL = re.compile(r"^([A-Z0-9]+?)([FGHJKMNQUVXZ])(\d{1,2})$")


class ReplayError(ValueError):
    """A replay source could not be read (bad file, unknown symbol, wrong tick size...)."""


def parse_tick_size(tick_size: float | str | Decimal) -> Decimal:
    """Tick size as an exact positive Decimal (floats go through ``repr`` to avoid drift)."""
    try:
        tick = Decimal(repr(tick_size)) if isinstance(tick_size, float) else Decimal(tick_size)
    except InvalidOperation as exc:
        raise ReplayError(f"invalid tick size {tick_size!r}") from exc
    if not tick.is_finite() or tick <= 0:
        raise ReplayError(f"tick size must be positive, got {tick_size!r}")
    return tick


def root_of(symbol: str) -> str:
    """The product root of a futures symbol: ``"ESU4"`` -> ``"ES"``, ``"MNQZ25"`` -> ``"MNQ"``;
    a bare root is returned unchanged."""
    sym = symbol.strip().upper()
    m = _LOCAL_SYMBOL.match(sym)
    return m.group(1) if m else sym


def tick_for_symbol(symbol: str | None) -> Decimal | None:
    """Tick size of a futures symbol's root from the gateway catalog, or None if unknown."""
    if not symbol:
        return None
    from tradeterm.sim.products import spec_for  # local import: the table is optional here

    spec = spec_for(root_of(symbol))
    return spec.tick if spec is not None else None


class TickConverter:
    """Exact conversion of prices to integer ticks; off-grid prices raise :class:`ReplayError`
    (they mean the tick size is wrong), except that fixed-point prices within 1e-9 of a tick
    are snapped."""

    def __init__(self, tick_size: float | str | Decimal) -> None:
        self.tick = parse_tick_size(tick_size)
        fixed = self.tick * FIXED_PRICE_SCALE
        if fixed != fixed.to_integral_value():
            raise ReplayError(f"tick size {self.tick} is finer than 1e-9")
        self._tick_fixed = int(fixed)

    def from_fixed(self, price: int) -> int:
        """Databento 1e-9 fixed-point price -> ticks."""
        q, r = divmod(price, self._tick_fixed)
        if r == 0:
            return q
        if r * 2 >= self._tick_fixed:
            q, r = q + 1, self._tick_fixed - r
        if r > 1:
            raise ReplayError(f"price {price / FIXED_PRICE_SCALE} is not on the tick {self.tick}")
        return q

    def from_decimal_str(self, text: str) -> int:
        """Decimal price text (``"5528.75"``) -> ticks."""
        try:
            price = Decimal(text.strip())
        except InvalidOperation as exc:
            raise ReplayError(f"invalid price {text!r}") from exc
        if not price.is_finite():
            raise ReplayError(f"invalid price {text!r}")
        ticks = price / self.tick
        if ticks != ticks.to_integral_value():
            raise ReplayError(f"price {text} is not on the tick {self.tick}")
        return int(ticks)


class TopOfBook:
    """Turns successive top-of-book snapshots into level deltas.

    Each :meth:`update` compares the new best bid/ask (price in ticks and size, or None for an
    empty side) with the previous one and returns the BookDeltas that take a consumer's book
    from the old state to the new one. Removals come first, so a consumer applying the deltas
    one by one never sees a crossed intermediate book unless the final one is crossed. They are
    one exchange event: all but the last are marked ``last=False``.
    """

    def __init__(self) -> None:
        self._levels: dict[BookSide, tuple[int, int] | None] = {
            BookSide.BID: None,
            BookSide.ASK: None,
        }

    def reset(self) -> None:
        self._levels = {BookSide.BID: None, BookSide.ASK: None}

    def update(
        self,
        ts_ns: int,
        bid: tuple[int, int] | None,
        ask: tuple[int, int] | None,
    ) -> list[BookDelta]:
        removals: list[BookDelta] = []
        sets: list[BookDelta] = []
        for side, new in ((BookSide.BID, bid), (BookSide.ASK, ask)):
            if new is not None and new[1] <= 0:
                new = None
            old = self._levels[side]
            if old == new:
                continue
            if old is not None and (new is None or new[0] != old[0]):
                removals.append(BookDelta(ts_ns, side, old[0], 0, last=False))
            if new is not None:
                sets.append(BookDelta(ts_ns, side, new[0], new[1], last=False))
            self._levels[side] = new
        return one_event(removals + sets)


def one_event(deltas: list[D]) -> list[D]:
    """``deltas`` (made with ``last=False``) marked as one exchange event: the last one
    ``last``, the others not."""
    if deltas and not deltas[-1].last:
        deltas[-1] = dataclasses.replace(deltas[-1], last=True)
    return deltas
