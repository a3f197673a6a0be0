"""OHLCV bars and bar periods."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tradeterm.domain.errors import DomainError

NS_PER_SECOND = 1_000_000_000

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIMEFRAME = re.compile(r"^(\d+)\s*([smhd])$")


@dataclass(frozen=True, slots=True, init=False)
class Bar:
    """One bar. ``start_ns`` is the bar's start (UTC nanoseconds); prices are ticks.

    Built by hand rather than by the dataclass: a long backtest builds hundreds of thousands,
    and setting the slots through their descriptors (not the frozen ``object.__setattr__``
    route) with one chained check costs a third as much; the values and the checks are the
    dataclass's own."""

    start_ns: int
    open: int
    high: int
    low: int
    close: int
    volume: int

    def __init__(self, start_ns: int, open: int, high: int, low: int, close: int,
                 volume: int) -> None:  # fmt: skip
        _set_start(self, start_ns)
        _set_open(self, open)
        _set_high(self, high)
        _set_low(self, low)
        _set_close(self, close)
        _set_volume(self, volume)
        if not (low <= open <= high and low <= close <= high):
            raise DomainError(f"inconsistent bar: {self}")
        if volume < 0:
            raise DomainError(f"negative volume: {self}")

    @property
    def range(self) -> int:
        """High minus low, in ticks."""
        return self.high - self.low


_set_start, _set_open, _set_high, _set_low, _set_close, _set_volume = (
    getattr(Bar, name).__set__ for name in ("start_ns", "open", "high", "low", "close", "volume")
)


@dataclass(frozen=True, slots=True, order=True)
class Timeframe:
    """A bar period, a whole number of seconds that divides a day or is a whole number of days
    (so that periods line up with UTC midnight)."""

    seconds: int

    def __post_init__(self) -> None:
        if self.seconds <= 0 or (86400 % self.seconds and self.seconds % 86400):
            raise DomainError(f"bar period must divide a day or be whole days: {self.seconds}s")

    @property
    def ns(self) -> int:
        return self.seconds * NS_PER_SECOND

    def floor(self, ts_ns: int) -> int:
        """The start of the period that contains ``ts_ns`` (periods aligned to the epoch)."""
        return ts_ns - ts_ns % self.ns

    @property
    def label(self) -> str:
        """Short text form: ``"1m"``, ``"5m"``, ``"1h"``, ``"30s"``."""
        for unit in ("d", "h", "m"):
            size = _UNITS[unit]
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"

    @classmethod
    def parse(cls, text: str) -> Timeframe:
        """Read ``"30s"``, ``"1m"``, ``"5 m"``, ``"1h"``, ``"1d"``."""
        m = _TIMEFRAME.match(text.strip().lower())
        if m is None:
            raise DomainError(f"not a bar period: {text!r}")
        return cls(int(m.group(1)) * _UNITS[m.group(2)])

    def __str__(self) -> str:
        return self.label
