"""The strategy panel: the strategy the engine runs (``--strategy``), from the engine snapshot's
``StrategyView``: its state (and why, when it is not running), parameters, the position it
owns and its P&L, its last signals with what became of each, and the keys that control it.
Folded away when no strategy is configured."""

from __future__ import annotations

import datetime as dt

from rich.text import Text

from tradeterm.engine.calendar import CHICAGO
from tradeterm.engine.events import EngineSnapshot, StrategySignal, StrategyView
from tradeterm.engine.types import StrategyState
from tradeterm.ui.widgets.panel import NS, Panel, append_item, signed

STATE_STYLE = {
    StrategyState.RUNNING: "bold $success",
    StrategyState.PAUSED: "bold $warning",
    StrategyState.STOPPED: "bold",
    StrategyState.FAULTED: "bold reverse $error",
}
_KIND = {"TargetPosition": "target", "EntrySignal": "entry"}


def fit(text: str, width: int) -> str:
    """``text`` in ``width`` columns: cut with an ellipsis when longer (never wrapped)."""
    return text if not width or len(text) <= width else text[: max(width - 1, 0)] + "…"


def fit_name(name: str, width: int) -> str:
    """The strategy's name in ``width`` columns: whole when it fits, else its end after an
    ellipsis (the class of a ``module:Class`` name, what tells two strategies apart)."""
    return name if not width or len(name) <= width else "…" + name[len(name) - max(width, 2) + 1 :]


def outcome(signal: StrategySignal, *, full: bool = False) -> str:
    """What became of a signal in a few words: ``sent 2`` (its contracts; its orders are on
    the ladder and in the orders panel), or the runner's words (``not sent: paused``, ``not
    sent: standing aside...``, ``already at the target: nothing sent``). ``full`` (the log):
    a sent signal with the runner's words too, its order ids and how an entry was sized, too
    long for the panel's few columns."""
    if not signal.ok:
        return f"not sent: {signal.outcome}"
    if not signal.command_id:
        return signal.outcome
    sent = f"sent {signal.quantity}" if signal.quantity else "sent"
    return f"{sent}: {signal.outcome}" if full else sent


def signal_lines(signal: StrategySignal, width: int, *, roomy: bool) -> list[str]:
    """One signal: its time and intent, then what became of it and its reason (wrapping
    between words); when space is short, one line cut to ``width``, without the intent's
    details."""
    stamp = dt.datetime.fromtimestamp(signal.ts_ns / NS, CHICAGO).strftime("%H:%M:%S")
    kind = _KIND.get(signal.kind, signal.kind)
    fate = f"{outcome(signal)} ({signal.reason})"
    if roomy:
        return [f"{stamp} {kind} {signal.detail}", f"  {fate}"]
    # its first detail's value keeps the direction in sight: ``target -1``, ``entry BUY``
    first = signal.detail.split(" ", 1)[0].partition("=")[2]
    return [fit(f"{stamp} {kind} {first} {fate}" if first else f"{stamp} {kind} {fate}", width)]


def strategy_text(view: StrategyView, width: int, *, signals: int, keys: str = "") -> Text:
    """The panel in ``width`` columns with the last ``signals`` signals (in full when there is
    room for ``keys``, the key hint, too; one line each otherwise)."""
    t = Text()
    state = view.state.upper()
    t.append("STRATEGY ", style="bold")
    # a long module:Class name is cut rather than wrapped: the state stays on the first line
    t.append(fit_name(view.name, max(width - len("STRATEGY  ") - len(state), 8) if width else 0),
             style="bold")  # fmt: skip
    t.append(" ")
    t.append(state, style=STATE_STYLE.get(view.state, "bold"))
    if view.canary is not None:  # its intents part live, part paper: never looks like LIVE
        t.append("\n")
        t.append(f"CANARY {view.canary:g} live", style="bold reverse $warning")
    if view.state is not StrategyState.RUNNING and view.reason:
        t.append("\n")
        style = "$error" if view.state is StrategyState.FAULTED else ""
        t.append(view.reason, style=style)  # a fault's reason wraps whole, between words
    t.append("\n")
    for key, value in view.params:
        append_item(t, f"{key}={value}", width, " ")
    if not view.params:
        t.append("no parameters", style="dim")
    t.append("\n")
    if view.paper_position is not None:
        t.append(f"paper {view.paper_position:+d} live {view.position:+d}")
    else:
        t.append(f"pos {view.position:+d}")
    item = Text()
    signed(item, "real ", view.realized, "$profit", "$loss")
    append_item(t, item, width)
    item = Text()
    signed(item, "open ", view.unrealized, "$profit", "$loss")
    append_item(t, item, width)
    shown = view.signals[-signals:] if signals else ()
    for signal in reversed(shown):  # newest first
        for line in signal_lines(signal, width, roomy=bool(keys)):
            t.append("\n")
            t.append(line, style="" if signal.ok else "$warning")
    if not view.signals and signals:
        t.append("\n")
        t.append("no signals yet", style="dim")
    if keys:
        t.append("\n")
        t.append(fit(keys, width), style="dim")
    return t


class StrategyPanel(Panel):
    """The strategy panel (``#strategy``); ``keys``: the hint for its keys in force. Short
    screens get its last signal on one line and no hint; taller ones more signals, each with
    its reason on a line of its own."""

    def __init__(self, keys: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.keys = keys
        self.display = False  # until a snapshot carries a strategy

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        view = snap.strategy
        self.display = view is not None
        if view is None:
            return
        height = self.screen.size.height
        short = height < 34  # the screen's "short" class: every row counts
        signals = 1 if short else 3 if height < 45 else 5
        keys = "" if short else self.keys
        self.fit(lambda width: strategy_text(view, width, signals=signals, keys=keys))
