"""The status bar: mode, market, connection, data age, armed, quantity, the clock and the word
on the session, from the engine snapshot and the screen's own state. In REPLAY (the trainer)
the clock is the replayed market's, never the wall clock, with the speed, and PAUSED in place
of the data's age while the replay is paused."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.text import Text

from tradeterm.broker.port import ConnectionState
from tradeterm.engine.calendar import CHICAGO, SessionCalendar
from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.types import TradingState
from tradeterm.shared.shipper import Lag
from tradeterm.ui.trainer import ReplayState, at_max
from tradeterm.ui.widgets.panel import NS, Panel

WIDE = 100  # columns from which the status bar shows the account and the session
SHADOW_BADGE = " SHADOW: SIM FILLS "  # live market data from IB, every fill simulated here


def ct_clock(now_ns: int) -> str:
    return dt.datetime.fromtimestamp(now_ns / NS, CHICAGO).strftime("%H:%M:%S CT")


def duration(seconds: float) -> str:
    """``4m07s``, ``2h05m``, ``3d04h``; ``?`` for a time that is no number of seconds (an
    infinite or nan one: never an error in a paint)."""
    if not math.isfinite(seconds):
        return "?"
    seconds = max(int(seconds), 0)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h >= 24:
        return f"{h // 24}d{h % 24:02d}h"
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


_ZONE_LABELS = {
    "America/Chicago": "CT", "US/Central": "CT", "America/New_York": "ET", "US/Eastern": "ET",
}  # fmt: skip


def zone_label(moment: dt.datetime) -> str:
    """The zone as traders name it: CT for Chicago in winter and summer alike, else IB's."""
    return _ZONE_LABELS.get(getattr(moment.tzinfo, "key", ""), moment.strftime("%Z"))


def session_text(calendar: SessionCalendar, now_ns: int) -> str:
    """The status bar's word on the session: the countdown to the break while the market is
    open, else when it opens, in the market's own zone (with the day when it is not today)."""
    if calendar.is_open(now_ns):
        return f"break in {duration(calendar.seconds_to_break(now_ns))}"
    tz = calendar.tz
    opens = dt.datetime.fromtimestamp(calendar.next_open_ns(now_ns) // NS, tz)
    days = (opens.date() - dt.datetime.fromtimestamp(now_ns // NS, tz).date()).days
    day = "" if days == 0 else opens.strftime("%a ") if days < 7 else opens.strftime("%a %d %b ")
    return f"CLOSED, opens {day}{opens:%H:%M} {zone_label(opens)}"


# When the line is too long (``_fit``), these steps are taken in turn until it fits: the
# session and the account go, the shipping lag, the data age, the cause of DEGRADED and what
# is being moved are said shorter, then the lag, the age, ATM, the cause and qty go.
(SESSION, ACCOUNT, SHORT_DB, SHORT_AGE, SHORT_CAUSE, SHORT_MOVING,
 DROP_DB, DROP_AGE, DROP_ATM, DROP_CAUSE, DROP_QTY) = range(1, 12)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Part:
    """One item of the status bar: its text (its separator in front), style, and when
    ``_fit`` says it shorter (``shorten``, as ``short``) and drops it (``drop``); 0: never."""

    text: str
    style: str = ""
    drop: int = 0
    short: str = ""
    shorten: int = 0


def status_text(
    *,
    mode: str,
    symbol: str,
    snap: EngineSnapshot | None,
    armed: bool,
    confirmed: bool,
    qty: int,
    now_ns: int,
    session: str | None,
    wide: bool,
    retry_in_s: float | None = None,
    watch_only: bool = False,
    replay: ReplayState | None = None,
    exits: str = "",
    carrying: str = "",
    shipping: Lag | None = None,
    width: int = 0,
    shown_lag_s: float = 0.0,
) -> Text:
    """The one-line status bar: mode, market, connection, data age, armed, what is picked up
    to be moved (``carrying``), qty, clock, and (wide) ``session``, the word on the session
    (:func:`session_text`); ``replay``: the replayed market's clock and speed instead of the
    wall clock and the session, PAUSED (REPLAY ENDED once the file is played) instead of the age. In ``width`` columns (0: any) the
    essential parts stay (mode, market, connection, armed, MOVING, clock or replay speed) and
    the others are said shorter, then dropped (:func:`_fit`); ``shown_lag_s``: how long (wall
    seconds) the ladder has shown older data than the engine holds (the age is what is shown:
    never fresher than that; in a replay, that long times its speed in the market's time; at
    max speed, where a wall second is no length of market time, the held rows' wall age, said
    ``age 0.4s wall``)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for part in _fit(_parts(mode=mode, symbol=symbol, snap=snap, armed=armed,
                            confirmed=confirmed, qty=qty, now_ns=now_ns, session=session,
                            wide=wide, retry_in_s=retry_in_s, watch_only=watch_only,
                            replay=replay, exits=exits, carrying=carrying, shipping=shipping,
                            shown_lag_s=shown_lag_s),
                     width):  # fmt: skip
        t.append(part.text, style=part.style)
    return t


def _fit(parts: list[Part], width: int) -> list[Part]:
    """``parts`` in ``width`` columns (0: any): the steps (``Part.shorten``, ``Part.drop``)
    taken in their order until the line fits; a part with neither always stays."""
    shown: list[Part | None] = list(parts)
    steps = sorted([(p.shorten, i) for i, p in enumerate(parts) if p.shorten and p.short]
                   + [(p.drop, i) for i, p in enumerate(parts) if p.drop])  # fmt: skip
    for step, i in steps:
        if not width or sum(cell_len(p.text) for p in shown if p) <= width:
            break
        part = shown[i]
        if part is not None:
            shown[i] = None if step == part.drop else replace(part, text=part.short)
    return [p for p in shown if p is not None]


def _parts(
    *, mode: str, symbol: str, snap: EngineSnapshot | None, armed: bool, confirmed: bool,
    qty: int, now_ns: int, session: str | None, wide: bool, retry_in_s: float | None,
    watch_only: bool, replay: ReplayState | None, exits: str, carrying: str,
    shipping: Lag | None, shown_lag_s: float = 0.0,
) -> list[Part]:  # fmt: skip
    """The status bar's parts, in order (see :func:`status_text`)."""
    parts: list[Part] = []
    add = parts.append
    badge = {"live": "mode-live", "paper": "mode-paper"}.get(mode, "mode-sim")
    if mode == "live":
        add(Part(" ██ LIVE ██ ", f"bold reverse ${badge}"))
    elif mode == "shadow":  # IB's market, our fills: say so, it looks like trading at IB
        add(Part(SHADOW_BADGE, f"bold reverse ${badge}"))
    else:
        add(Part(f" {mode.upper()} ", f"bold reverse ${badge}"))
    if watch_only:  # sends nothing: no armed word, no quantity
        add(Part(" WATCH-ONLY ", "bold reverse $warning"))
    inst = snap.instrument if snap else None
    add(Part(" "))
    add(Part(inst.local_symbol if inst else symbol, "bold"))
    if snap is not None:
        _connection(parts, snap, retry_in_s, replay, now_ns, shown_lag_s)
        if wide and snap.account:
            add(Part(f"  acct {snap.account}", drop=ACCOUNT))
    if shipping is not None:
        add(_shipping(shipping))
    add(Part("  "))
    if snap is not None and snap.trading_state is not TradingState.ACTIVE:
        add(Part(f" {snap.trading_state} ", "bold reverse $error"))
    elif watch_only:
        pass  # it arms nothing: WATCH-ONLY beside the mode says so
    elif mode == "live" and not confirmed:
        add(Part(" UNCONFIRMED ", "bold reverse $warning"))
    elif armed:
        add(Part(" ARMED ", "bold reverse $armed"))
    else:
        add(Part(" DISARMED ", "dim reverse"))
    if carrying:  # kept: the next v drops it; the order itself is on the ladder
        add(Part(f"  MOVING {carrying} ", "bold reverse $warning", short="  MOVING ",
                 shorten=SHORT_MOVING))  # fmt: skip
    if not watch_only:
        add(Part(f"  qty {qty}", "bold", drop=DROP_QTY))
        if exits:  # the exit strategy the next entry gets (``off``: none)
            add(Part(f"  ATM {exits}", "bold" if exits != "off" else "dim", drop=DROP_ATM))
    if mode == "replay":  # the recorded market's time: the wall clock would pass for live
        if replay is not None:
            add(Part(f"  {ct_clock(replay.market_ns)} {replay.speed_text}", "bold"))
            if replay.paused and snap is None:
                add(Part(" PAUSED ", "bold reverse $warning"))
        return parts
    add(Part(f"  {ct_clock(now_ns)}"))
    if session is not None and wide:
        add(Part(f"  {session}", drop=SESSION))
    return parts


def _connection(
    parts: list[Part], snap: EngineSnapshot, retry_in_s: float | None,
    replay: ReplayState | None, now_ns: int, shown_lag_s: float = 0.0,
) -> None:  # fmt: skip
    """The connection's parts: its state, why (``stale 4 feeds`` when short of room), the
    retry's countdown, the data's age (PAUSED while a replay is, REPLAY ENDED once it has
    played its file)."""
    health = snap.health
    state = health.state
    warn = "bold $warning"
    style = {
        ConnectionState.OK: "$success",
        ConnectionState.DEGRADED: warn,
        ConnectionState.SYNCING: warn,
    }.get(state, "bold $error")
    parts.append(Part(" "))
    parts.append(Part(f"IB {state}", style))  # the connection: never "LIVE", a trading mode
    if health.cause and state is ConnectionState.DEGRADED:  # why, in a word or two
        many = len(health.stale) > 1
        short = f" stale {len(health.stale)} feeds" if many else ""
        parts.append(Part(f" {health.cause}", "$warning", DROP_CAUSE, short, SHORT_CAUSE))
    if retry_in_s is not None and state is ConnectionState.RECONNECTING:  # counts down
        parts.append(Part(f" retry in {retry_in_s:.0f}s", "$warning"))
    market = snap.market
    if replay is not None and replay.failed:  # the file could not be read on (the log: why)
        parts.append(Part(" REPLAY FAILED ", "bold reverse $error"))
    elif replay is not None and replay.ended:  # nothing more comes: not an age, not stale
        parts.append(Part(" REPLAY ENDED ", "bold reverse $warning"))
    elif replay is not None and replay.paused:  # silent on purpose: not an age, not stale
        parts.append(Part(" PAUSED ", "bold reverse $warning"))
    elif market is not None and market.ts_ns:
        age = max((now_ns - market.ts_ns) / NS, 0.0)  # on the replay's clock in a replay
        wall = ""  # never fresher than what the ladder shows (rows held back shown_lag_s):
        if replay is None:
            age = max(age, shown_lag_s)
        elif not at_max(replay.speed):
            age = max(age, shown_lag_s * replay.speed)  # the held wall seconds in market time
        elif shown_lag_s > 0:  # at max speed they are no market time: say their wall age
            age, wall = shown_lag_s, " wall"
        text = f" age {age:.1f}s{wall}" if age < 60 else f" age {duration(age)}{wall}"
        short = f" age {age:.0f}s{wall}" if age < 60 else text
        parts.append(Part(text, "$warning" if age > 5 else "", DROP_AGE, short, SHORT_AGE))


def _shipping(lag: Lag) -> Part:
    """The journal's shipping to the shared database: ``DB ok``, ``DB lag 12/1.3s`` (rows and
    seconds behind), ``DB down 40/31s`` (short of room: ``DB lag``, ``DB down``); ``?`` for
    a lag not known yet (the database's high-water mark not read yet)."""
    if lag.rows is None or lag.seconds is None:
        behind = "?"
    else:
        seconds = f"{lag.seconds:.1f}s" if lag.seconds < 10 else f"{lag.seconds:.0f}s"
        behind = f"{lag.rows}/{seconds if lag.seconds < 60 else duration(lag.seconds)}"
    if not lag.connected:
        return Part(f" DB down {behind}", "bold $error", DROP_DB, " DB down", SHORT_DB)
    if lag.rows is None or lag.seconds is None:
        return Part(f" DB lag {behind}", "", DROP_DB, " DB lag", SHORT_DB)
    if lag.rows:
        return Part(f" DB lag {behind}", "$warning" if lag.seconds > 5 else "", DROP_DB,
                    " DB lag", SHORT_DB)  # fmt: skip
    return Part(" DB ok", "$success", DROP_DB)


@dataclass(frozen=True, slots=True)
class ScreenState:
    """What the status bar shows of the screen's own state (not the engine's): the mode, the
    configured symbol (before the contract is known), armed, the LIVE account confirmed, the
    order quantity, watch-only."""

    mode: str
    symbol: str
    armed: bool
    confirmed: bool
    qty: int
    watch_only: bool = False
    replay: ReplayState | None = None  # REPLAY: the replay's clock, speed, paused
    exits: str = ""  # the exit strategy for the next entry; empty: none configured
    carrying: str = ""  # the order picked up to be moved (``v``), as the screen says it
    shipping: Lag | None = None  # [shared] url: the journal's shipping lag


class StatusPanel(Panel):
    """The status bar (``#status``)."""

    def show_snapshot(
        self, snap: EngineSnapshot | None, state: ScreenState, now_ns: int,
        retry_in_s: float | None, shown_lag_s: float = 0.0,
    ) -> None:  # fmt: skip
        session = None
        if state.replay is not None:  # REPLAY: the replayed market's time, the data's clock
            now_ns = state.replay.market_ns
        if snap is not None:
            with contextlib.suppress(Exception):
                session = session_text(snap.calendar, now_ns)
        self.set(
            status_text(
                mode=state.mode, symbol=state.symbol, snap=snap, armed=state.armed,
                confirmed=state.confirmed, qty=state.qty, now_ns=now_ns, session=session,
                retry_in_s=retry_in_s, wide=self.screen.size.width >= WIDE,
                watch_only=state.watch_only, replay=state.replay, exits=state.exits,
                carrying=state.carrying, shipping=state.shipping, width=self.size.width,
                shown_lag_s=shown_lag_s,
            )
        )  # fmt: skip
