"""The status bar: mode, market, connection, data age, armed, quantity, the clock and the word
on the session, from the engine snapshot and the screen's own state. In REPLAY (the trainer)
the clock is the replayed market's, never the wall clock, with the speed, and PAUSED in place
of the data's age while the replay is paused."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from rich.text import Text

from tradeterm.broker.port import ConnectionState
from tradeterm.engine.calendar import CHICAGO, SessionCalendar
from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.types import TradingState
from tradeterm.shared.shipper import Lag
from tradeterm.ui.trainer import ReplayState
from tradeterm.ui.widgets.panel import NS, Panel

WIDE = 100  # columns from which the status bar shows the account and the session
SHADOW_BADGE = " SHADOW: SIM FILLS "  # live market data from IB, every fill simulated here


def ct_clock(now_ns: int) -> str:
    return dt.datetime.fromtimestamp(now_ns / NS, CHICAGO).strftime("%H:%M:%S CT")


def duration(seconds: float) -> str:
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
    shown_lag_s: float = 0.0,
) -> Text:
    """The one-line status bar: mode, market, connection, data age, armed, what is picked up
    to be moved (``carrying``), qty, clock, and (wide) ``session``, the word on the session
    (:func:`session_text`); ``replay``: the replayed market's clock and speed instead of the
    wall clock and the session, PAUSED instead of the age; ``shown_lag_s``: how far the
    ladder shows older data than the engine holds (the age is what is shown)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    badge = {"live": "mode-live", "paper": "mode-paper"}.get(mode, "mode-sim")
    if mode == "live":
        t.append(" ██ LIVE ██ ", style=f"bold reverse ${badge}")
    elif mode == "shadow":  # IB's market, our fills: say so, it looks like trading at IB
        t.append(SHADOW_BADGE, style=f"bold reverse ${badge}")
    else:
        t.append(f" {mode.upper()} ", style=f"bold reverse ${badge}")
    if watch_only:  # sends nothing: no armed word, no quantity
        t.append(" WATCH-ONLY ", style="bold reverse $warning")
    t.append(" ")
    inst = snap.instrument if snap else None
    t.append(inst.local_symbol if inst else symbol, style="bold")
    if snap is not None:
        health = snap.health
        state = health.state
        warn = "bold $warning"
        style = {
            ConnectionState.OK: "$success",
            ConnectionState.DEGRADED: warn,
            ConnectionState.SYNCING: warn,
        }.get(state, "bold $error")
        t.append(" ")
        t.append(f"IB {state}", style=style)  # the connection: never "LIVE", a trading mode
        if health.cause and state is ConnectionState.DEGRADED:  # why, in a word or two
            t.append(f" {health.cause}", style="$warning")
        if retry_in_s is not None and state is ConnectionState.RECONNECTING:  # counts down
            t.append(f" retry in {retry_in_s:.0f}s", style="$warning")
        market = snap.market
        if replay is not None and replay.paused:  # silent on purpose: not an age, not stale
            t.append(" PAUSED ", style="bold reverse $warning")
        elif market is not None and market.ts_ns:
            age = max((now_ns - market.ts_ns) / NS, shown_lag_s, 0.0)
            t.append(f" age {age:.1f}s" if age < 60 else f" age {duration(age)}",
                     style="$warning" if age > 5 else "")  # fmt: skip
        if wide and snap.account:
            t.append(f"  acct {snap.account}")
    if shipping is not None:
        _shipping(t, shipping)
    t.append("  ")
    if snap is not None and snap.trading_state is not TradingState.ACTIVE:
        t.append(f" {snap.trading_state} ", style="bold reverse $error")
    elif watch_only:
        pass  # it arms nothing: WATCH-ONLY beside the mode says so
    elif mode == "live" and not confirmed:
        t.append(" UNCONFIRMED ", style="bold reverse $warning")
    elif armed:
        t.append(" ARMED ", style="bold reverse $armed")
    else:
        t.append(" DISARMED ", style="dim reverse")
    if carrying:
        t.append(f"  MOVING {carrying} ", style="bold reverse $warning")
    if not watch_only:
        t.append(f"  qty {qty}", style="bold")
        if exits:  # the exit strategy the next entry gets (``off``: none)
            t.append(f"  ATM {exits}", style="bold" if exits != "off" else "dim")
    if mode == "replay":  # the recorded market's time: the wall clock would pass for live
        if replay is not None:
            t.append(f"  {ct_clock(replay.market_ns)} {replay.speed_text}", style="bold")
            if replay.paused and snap is None:
                t.append(" PAUSED ", style="bold reverse $warning")
        return t
    t.append(f"  {ct_clock(now_ns)}")
    if session is not None and wide:
        t.append(f"  {session}")
    return t


def _shipping(t: Text, lag: Lag) -> None:
    """The journal's shipping to the shared database: ``DB ok``, ``DB lag 12/1.3s`` (rows and
    seconds behind), ``DB down 40/31s``."""
    seconds = f"{lag.seconds:.1f}s" if lag.seconds < 10 else f"{lag.seconds:.0f}s"
    behind = f"{lag.rows}/{seconds if lag.seconds < 60 else duration(lag.seconds)}"
    if not lag.connected:
        t.append(f" DB down {behind}", style="bold $error")
    elif lag.rows:
        t.append(f" DB lag {behind}", style="$warning" if lag.seconds > 5 else "")
    else:
        t.append(" DB ok", style="$success")


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
                carrying=state.carrying, shipping=state.shipping, shown_lag_s=shown_lag_s,
            )
        )  # fmt: skip
