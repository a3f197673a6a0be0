"""tradeterm's own gateway in an instance (SIM without a port, REPLAY: :func:`embedded_gateway`)
and REPLAY's side of the runtime (``tradeterm ES --replay FILE``, the trainer): what it plays
(:class:`ReplaySource`), the one clock it plays on (:class:`TrainerClock`, which the trainer's
keys drive: :class:`ReplayControl`), and what the instance takes from the file
(:func:`prepare`).

One clock: the embedded gateway's replay runs on the :class:`TrainerClock` made here, held at
the file's first event until the instance has started and subscribed (``Runtime.start``
releases it: nothing of the file plays to nobody, at any speed), and the rest of the instance reads the same clock, so everything is
on the replayed market's time: the gateway stamps ticks and bars with it, the IB adapter stamps
quotes and depth and takes its date from it, the engine's clock (bars, risk, the status bar's
time) is it (``Engine(source=...)``, ``engine/source_clock.py``), and the session calendar is
open from the file's start (the recorded market is open whenever it plays, at any hour). The
gateway's catalog lists the contracts of the file's day and the instance trades the file's own
contract (``ESH4`` for a file of ESH4, whatever today's front month is)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tradeterm.engine.calendar import CHICAGO, SessionCalendar
from tradeterm.sim import products
from tradeterm.sim.replay import instrument_of, load_replay
from tradeterm.sim.replay_clock import ReplayClock
from tradeterm.sim.replay_common import ReplayError

if TYPE_CHECKING:
    from tradeterm.config import MarketConfig, Settings

NS = 1_000_000_000
OPEN_BEFORE_S = 3600  # the replay's calendar opens this long before the file's first event
OPEN_FOR_S = 10 * 365 * 24 * 3600  # and stays open for years


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """What REPLAY plays: a recorded file (checked by the command line before anything runs)
    at ``speed`` (1 = real time, 0 = as fast as possible)."""

    path: Path
    speed: float = 1.0


class ReplayControl(Protocol):
    """The replay's clock, as the trainer drives it (``tradeterm.sim.replay_clock``):
    ``now()`` is the replayed market's time (epoch seconds), ``speed`` market seconds per
    wall second (``math.inf``: as fast as possible)."""

    @property
    def paused(self) -> bool: ...
    @property
    def speed(self) -> float: ...
    @property
    def ended(self) -> bool: ...
    @property
    def failure(self) -> str | None: ...  # why it ended before the file's end (None: it did not)
    def now(self) -> float: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def set_speed(self, speed: float) -> None: ...
    def jump(self, seconds: float) -> None: ...
    def release(self) -> None: ...  # the instance has started: the file plays (a held clock)


class TrainerClock(ReplayClock):
    """The replay's :class:`ReplayClock` as an instance runs on it: the gateway plays on it,
    the trainer's keys drive it, and its :meth:`~ReplayClock.played_ns` (time during which the
    recording owed an event, at the market's pace up to real time: jumps, shortened gaps and
    the recording's own quiet left out) is the engine's clock of silence
    (``engine/source_clock.py``)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """What an instance takes from its replay: the clock it all runs on, the session
    calendar, the gateway catalog's day and the market's config, its contract the file's
    (when the file names it; else the front month of that day)."""

    clock: TrainerClock
    calendar: SessionCalendar
    today: dt.date
    market: MarketConfig
    instrument: str | None = None  # the file's instrument it plays (None: the file's only one)


def prepare(source: ReplaySource, settings: Settings) -> Prepared:
    """The clock, calendar, day and market of a replay of ``source`` for ``settings``' market
    (its first event read: :class:`ReplayError` when it cannot be, or holds none). A file of
    several instruments plays the market's own (``sim.replay.instrument_of``)."""
    root = settings.symbol
    spec = products.spec_for(root)
    market = settings.market()
    own = instrument_of(source.path, root, market.contract)
    tick = spec.tick if spec else None
    first = next(iter(load_replay(source.path, symbol=own, tick_size=tick)), None)
    if first is None:
        raise ReplayError(f"{source.path.name}: no event to replay")
    start = first.ts_ns
    calendar = SessionCalendar([(start - OPEN_BEFORE_S * NS, start + OPEN_FOR_S * NS)])
    today = dt.datetime.fromtimestamp(start / NS, CHICAGO).date()
    if own:
        market = market.model_copy(update={"contract": own})
    clock = TrainerClock(start / NS, source.speed, held=True)  # released once started
    return Prepared(clock, calendar, today, market, own)


TMUX_SESSION_ENV = "TT_TMUX_SESSION"
"""Set by ``tradeterm tmux`` in a market window it starts (the session's name), so the
instance can say how its gateway comes back (a variable outside ``TRADETERM_*``: it is how
the process was started, not a setting)."""


def sim_gateway_help(port: int, *, inside: bool = False, tmux_session: str | None = None) -> str:
    """What to check when SIM's gateway at ``port`` cannot be reached: it is tradeterm's own,
    not IB Gateway or TWS, and only what is true of how this instance was started is said:
    ``inside`` (embedded in this instance), the gateway window of ``tradeterm tmux`` session
    ``tmux_session``, else a ``tradeterm gateway`` of the trader's."""
    if inside:
        return ("In SIM this gateway is embedded in this instance and ends with it: quit and "
                "start tradeterm again (a new market).")  # fmt: skip
    back = "this instance reconnects when it is back (a gateway restarting)"
    if tmux_session:
        return (
            f"In SIM this is tradeterm's own gateway, the gateway window of tmux session "
            f"{tmux_session}: {back}; if it stopped, run the same tradeterm tmux --sim "
            f"command again, which restarts that window on port {port}."
        )
    return (
        f"In SIM this is tradeterm's own gateway (tradeterm gateway): {back}; if it stopped, "
        f"start it again (tradeterm gateway --port {port})."
    )


EMBEDDED = ("sim", "replay")  # the modes whose gateway is tradeterm's own

NEW_MARKET = (
    "an embedded gateway is a new market: an earlier run's ended with that run, and its "
    "position and orders with it"
)
"""Why a run on an embedded gateway starts the journal's market afresh (``Journal.start_session``)."""


def is_embedded(settings: Settings, replay: ReplaySource | None) -> bool:
    """Whether the instance runs its gateway inside itself (SIM without a port, REPLAY):
    that gateway, its account and its orders end with the instance."""
    return replay is not None or (settings.mode == "sim" and settings.port() is None)


@contextlib.asynccontextmanager
async def embedded_gateway(
    settings: Settings, seed: int, gateway_rate: float | None, replay: ReplaySource | None,
    prepared: Prepared | None,
) -> AsyncIterator[tuple[Any | None, str, int]]:  # fmt: skip
    """The embedded fake gateway (SIM without a port; REPLAY, playing ``replay`` on
    ``prepared``'s clock, its catalog on the file's day) and where to connect."""
    port = settings.port()
    host = settings.connection.host
    if not is_embedded(settings, replay):
        assert port is not None
        yield None, host, port
        return
    from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

    config = GatewayConfig(port=0, symbols=(settings.symbol,), seed=seed)
    if replay is not None and prepared is not None:
        config.replay, config.speed = replay.path, replay.speed
        config.replay_clock, config.today = prepared.clock, prepared.today
        config.clock = prepared.clock.now  # orders and executions on the market's time too
        config.replay_symbol = prepared.instrument
    if gateway_rate is not None:
        config.rate = gateway_rate
    gateway = FakeGateway(config)
    await gateway.start()
    try:
        yield gateway, gateway.config.host, gateway.config.port
    finally:
        await gateway.stop()
