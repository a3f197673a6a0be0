"""Replay of recorded market data as a time-ordered stream of
:data:`~tradeterm.sim.market_events.MarketEvent` for one instrument.

* :func:`load_replay` opens a file and picks the reader from its extension (or its first bytes):
  Databento DBN (``.dbn``, ``.dbn.zst``; MBO, MBP-1, TBBO, trades, OHLCV-1m; see
  :mod:`tradeterm.sim.replay_dbn`) or CSV (``.csv``; tradeterm's own replay format, specified in
  :mod:`tradeterm.sim.replay_csv`, plus Databento's CSV transcoding and plain 1-minute bar files).
  The file is opened and its header checked before the function returns, so a wrong symbol, a
  missing tick size or a missing ``databento-dbn`` package fail at once, not on first iteration.
* :func:`paced` replays an event stream against a clock: at ``speed`` 1 the gap between two
  events is the recorded one, at N it is N times shorter, at 0 / ``"max"`` there is no waiting.
  It runs on a :class:`~tradeterm.sim.replay_clock.ReplayClock` (the replay's one clock, which
  reads the recording's own time) started at the first event, so sleeping late never
  accumulates drift (a slow consumer catches up without waiting). Control goes back to the
  event loop every ``batch`` events even when no waiting is needed. The wall clock is
  injectable (:class:`Clock`) for tests. With ``recorded=True`` the clock reads the
  recording's own time (epoch seconds): each event is due when the clock reaches its
  timestamp, the first one included. A test that advances such a clock by hand replays in
  lockstep with it.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Protocol, TypeVar

from tradeterm.sim.market_events import MarketEvent
from tradeterm.sim.replay_clock import MarketClock, ReplayClock, parse_speed, play
from tradeterm.sim.replay_common import ReplayError, TickConverter, TopOfBook, root_of
from tradeterm.sim.replay_csv import format_ts, parse_ts, read_csv
from tradeterm.sim.replay_dbn import read_dbn, read_metadata

__all__ = [
    "Clock",
    "LoopClock",
    "ReplayClock",
    "ReplayError",
    "TickConverter",
    "TopOfBook",
    "file_symbols",
    "format_ts",
    "instrument_of",
    "load_replay",
    "paced",
    "parse_speed",
    "parse_ts",
    "play",
    "read_csv",
    "read_dbn",
    "root_of",
]

_DBN_MAGIC = (b"\x28\xb5\x2f\xfd", b"DBN")

E = TypeVar("E", bound=MarketEvent)


def load_replay(
    path: str | Path,
    symbol: str | None = None,
    tick_size: float | str | Decimal | None = None,
    *,
    orders: bool = False,
) -> Iterator[MarketEvent]:
    """Events of one instrument from a recorded file, in time order; ``orders``: an MBO
    file's single orders too (``OrderDelta``, for the matching engine's FIFO queues).

    ``symbol`` picks the instrument when the file holds several (``"ESU4"``); ``tick_size``
    converts prices to ticks (default: the file's instrument definition when available, else
    the gateway catalog's tick for the symbol's root). Raises :class:`ReplayError`.
    """
    path = Path(path)
    if not path.is_file():
        raise ReplayError(f"no such replay file: {path}")
    name = path.name.lower()
    if name.endswith((".dbn", ".dbn.zst", ".zst")):
        events = read_dbn(path, symbol, tick_size, orders=orders)
    elif name.endswith((".csv", ".txt")):
        events = read_csv(path, symbol, tick_size)
    else:
        with path.open("rb") as fh:
            head = fh.read(4)
        if head.startswith(_DBN_MAGIC):
            events = read_dbn(path, symbol, tick_size, orders=orders)
        else:
            raise ReplayError(f"{path.name}: unknown replay format (expected .dbn[.zst] or .csv)")
    return _primed(events)


def file_symbols(path: Path) -> list[str]:
    """The instruments a recorded file names (DBN metadata, a CSV's ``symbol`` column), or
    none when it does not say (tradeterm's own CSV)."""
    if not path.is_file():
        raise ReplayError(f"no such replay file: {path}")
    name = path.name.lower()
    if name.endswith((".csv", ".txt")):
        with path.open(newline="") as fh:
            rows = csv.DictReader(fh)
            first = next(rows, None)
        value = (first or {}).get("symbol")
        return [value.strip().upper()] if value and value.strip() else []
    if name.endswith((".dbn", ".dbn.zst", ".zst")):
        return read_metadata(path)[1]
    return []  # load_replay tells what it is


def instrument_of(path: Path, root: str, contract: str | None = None) -> str | None:
    """The instrument of market ``root`` that a replay of ``path`` plays (``NQU4`` of a file
    of ESU4 and NQU4 for NQ), ``contract`` when given and in the file; None when the file names
    none (it is of one instrument). A :class:`ReplayError` naming what the file holds when it
    has no contract of ``root``, or several and ``contract`` picks none of them."""
    held = file_symbols(path)
    if not held:
        return None
    root = root.upper()
    own = sorted(s for s in held if root_of(s) == root)
    if contract is not None and contract.upper() in own:
        return contract.upper()
    if len(own) == 1:
        return own[0]
    if not own:
        roots = sorted({root_of(s) for s in held})
        others = f" (or {', '.join(roots[1:])})" if len(roots) > 1 else ""
        raise ReplayError(f"{path.name} holds {', '.join(sorted(held))}, not {root}: replay it "
                          f"as tradeterm {roots[0]} --replay {path}{others}")  # fmt: skip
    raise ReplayError(f"{path.name} holds several {root} contracts ({', '.join(own)}): pick "
                      f'one in the config: [markets.{root}] contract = "{own[0]}"')  # fmt: skip


def _primed(events: Iterator[MarketEvent]) -> Iterator[MarketEvent]:
    """Run the reader up to its first event now, so that setup errors raise here."""
    first = next(events, None)

    def rest() -> Iterator[MarketEvent]:
        if first is not None:
            yield first
        yield from events

    return rest()


class Clock(Protocol):
    """Time source for :func:`paced`: ``now()`` in seconds, ``sleep`` awaits."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The running event loop's monotonic clock and ``asyncio.sleep``."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def paced(
    events: Iterable[E] | AsyncIterable[E],
    speed: float | int | str = 1.0,
    *,
    clock: Clock | None = None,
    max_gap: float | None = None,
    batch: int = 256,
    recorded: bool = False,
) -> AsyncIterator[E]:
    """Yield ``events`` at their recorded pace divided by ``speed`` (see the module docstring):
    :func:`~tradeterm.sim.replay_clock.play` on a
    :class:`~tradeterm.sim.replay_clock.ReplayClock` that runs on ``clock`` (a wall clock) from
    the first event's time. ``max_gap`` (event-time seconds) shortens longer quiet stretches to
    that length, e.g. the hours between a replay file's snapshot and the session open. Events
    are never reordered; an event older than the previous one is yielded at once.
    ``recorded``: ``clock`` itself reads the recording's time, each event is due at its own
    timestamp (``speed`` must be 1, no ``max_gap``).
    """
    rate = parse_speed(speed)
    if recorded:
        if rate != 1.0 or max_gap is not None:
            raise ValueError("a replay on the recording's clock runs at speed 1, without max_gap")
        market: MarketClock = clock if clock is not None else LoopClock()
    else:
        wall = clock if clock is not None else LoopClock()
        market = ReplayClock(speed=rate, wall=wall.now, wall_sleep=wall.sleep)
    async for ev in play(events, market, max_gap=max_gap, batch=batch):
        yield ev
