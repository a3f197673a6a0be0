"""The keymap: every key the trading screen answers, with the id ``ui.keymap`` overrides.

``[ui.keymap]`` in the config maps an id to a key (or several, comma-separated):
``buy_market = "ctrl+n"``. The help screen, the footer and the README are written from this
table. :func:`check_keymap` turns the overrides into the keymap in force, or refuses them
with one line per problem (:class:`KeymapError`): a key no terminal delivers, a key something
else takes first (Textual, tmux, GNU screen), two actions on one key (a default included),
or the kill switch on a key that types a character.

Keys are what Textual delivers from a plain xterm-compatible terminal (tmux, SSH): a
printable character (``b``, ``B``, ``[``) or its name (``left_square_bracket``), a named key
(``up``, ``pageup``, ``f5``, ``escape``...), ``ctrl+`` a letter or a named key, ``shift+`` a
named key, ``alt+`` a letter or digit. ``shift+b`` is ``B``; a comma is ``comma``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual._ansi_sequences import ANSI_SEQUENCES_KEYS
from textual.binding import Binding
from textual.keys import _character_to_key, key_to_character


@dataclass(frozen=True, slots=True)
class KeyAction:
    id: str
    key: str  # default key(s), comma-separated
    action: str
    description: str
    group: str


PRESETS = 9  # quantity presets on the digit keys 1..9
ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("arm", "a", "arm", "arm / disarm the trading keys (re-arm after HALTED)", "Trading"),
    KeyAction("buy_market", "b", "market('BUY')", "buy market at the quantity", "Trading"),
    KeyAction("sell_market", "s", "market('SELL')", "sell market at the quantity", "Trading"),
    KeyAction("join_bid", "B", "join('BUY')", "buy limit at the bid (join the bid)", "Trading"),
    KeyAction("join_ask", "S", "join('SELL')", "sell limit at the ask (join the ask)", "Trading"),
    KeyAction("buy_limit", "left_square_bracket", "at_cursor('BUY', False)", "buy limit at the cursor; must rest below the ask", "Trading"),
    KeyAction("sell_limit", "right_square_bracket", "at_cursor('SELL', False)", "sell limit at the cursor; must rest above the bid", "Trading"),
    KeyAction("buy_stop", "left_curly_bracket", "at_cursor('BUY', True)", "buy stop at the cursor; must rest above the market", "Trading"),
    KeyAction("sell_stop", "right_curly_bracket", "at_cursor('SELL', True)", "sell stop at the cursor; must rest below the market", "Trading"),
    KeyAction("cancel_at_cursor", "x", "cancel_at_cursor", "cancel this instance's orders at the cursor", "Trading"),
    KeyAction("cancel_all", "c", "cancel_all", "cancel all of this instance's orders", "Trading"),
    KeyAction("flatten", "f", "flatten", "flatten: cancel orders, close the position", "Trading"),
    KeyAction("reverse", "r", "reverse", "reverse the position", "Trading"),
    KeyAction("qty_up", "plus,equals_sign", "qty(1)", "next quantity", "Quantity"),
    KeyAction("qty_down", "minus", "qty(-1)", "previous quantity", "Quantity"),
    *(
        KeyAction(f"qty_{n}", str(n), f"qty_preset({n})", f"quantity preset {n}", "Quantity")
        for n in range(1, PRESETS + 1)
    ),
    KeyAction("cursor_up", "up,k", "cursor(1)", "cursor up one tick", "Ladder"),
    KeyAction("cursor_down", "down,j", "cursor(-1)", "cursor down one tick", "Ladder"),
    KeyAction("page_up", "pageup", "page(1)", "scroll the ladder up a page", "Ladder"),
    KeyAction("page_down", "pagedown", "page(-1)", "scroll the ladder down a page", "Ladder"),
    KeyAction("recentre", "home,z", "recentre", "re-centre on the last trade (auto-centre on)", "Ladder"),
    KeyAction("pnl_units", "m", "pnl_units", "P&L at price in ticks / money", "Ladder"),
    KeyAction("strategy_start", "g", "strategy('start')", "start the strategy (--strategy) or resume it; armed only", "Strategy"),
    KeyAction("strategy_pause", "p", "strategy('pause')", "pause the strategy: told everything, sends nothing", "Strategy"),
    KeyAction("strategy_stop", "e", "strategy('stop')", "stop the strategy: cancels its orders but bracket exits", "Strategy"),
    KeyAction("orders", "o", "focus_orders", "working orders: select, delete cancels", "Panels"),
    KeyAction("ladder", "escape", "focus_ladder", "back to the ladder", "Panels"),
    KeyAction("help", "question_mark,f1", "help", "this help", "App"),
    KeyAction("palette", "ctrl+p", "command_palette", "command palette (themes, re-arm, ...)", "App"),
    KeyAction("quit", "q", "quit_app", "quit (asks first with a position or orders)", "App"),
    # trainer: the replay's clock (tradeterm SYMBOL --replay FILE); elsewhere they say so
    KeyAction("replay_pause", "space", "replay('pause')", "replay: pause / resume the market", "Replay"),
    KeyAction("replay_slower", "comma", "replay('slower')", "replay: one speed slower (1/4 1/2 1 2 5 10 20 50 100 max)", "Replay"),
    KeyAction("replay_faster", "full_stop", "replay('faster')", "replay: one speed faster", "Replay"),
    KeyAction("replay_jump", "slash", "replay('jump')", "replay: jump one minute ahead", "Replay"),
    # atm: exit strategies ([markets.X.exits.NAME]) for the next entry, and breakeven now
    KeyAction("exit_strategy", "X", "cycle_exits", "next exit strategy (ATM) for the next entry; the status bar shows it", "Trading"),
    KeyAction("stops_breakeven", "u", "breakeven", "move the exit strategies' stops to breakeven now", "Trading"),
    # move: move and resize working orders from the ladder (ui/order_moves.py)
    KeyAction("order_up", "K", "move_order(1)", "move our order at the cursor one tick up", "Move orders"),
    KeyAction("order_down", "J", "move_order(-1)", "move our order at the cursor one tick down", "Move orders"),
    KeyAction("carry_order", "v", "carry", "pick up our order at the cursor; v again drops it there, Esc leaves it", "Move orders"),
    KeyAction("target_to_cursor", "t", "exit_to('target')", "move every working target of ours (brackets', exits') to the cursor", "Move orders"),
    KeyAction("stop_to_cursor", "y", "exit_to('stop')", "move every working stop of ours (brackets', exits') to the cursor", "Move orders"),
    KeyAction("order_qty_down", "less_than_sign", "resize(-1)", "our order at the cursor one contract smaller (not below 1)", "Move orders"),
    KeyAction("order_qty_up", "greater_than_sign", "resize(1)", "our order at the cursor one contract larger (within the risk limits)", "Move orders"),
    # tape: traded volume by side, price alerts (they send no orders: armed or not)
    KeyAction("volume_view", "d", "volume_view", "volume columns: recent+by side / recent / session", "Ladder"),
    KeyAction("price_alert", "n", "price_alert", "price alert at the cursor: set / remove (bell + notification)", "Ladder"),
    KeyAction("clear_alerts", "N", "clear_alerts", "clear every price alert", "Ladder"),
    # panels (issue 18): the account panel and the chart's candle period
    KeyAction("toggle_account", "i", "account", "show / hide the account panel (net liq, margin, day P&L)", "Panels"),
    KeyAction("chart_period", "C", "chart_period", "chart candles: 1 / 5 / 15 minutes", "Panels"),
    # queue (issue 18): the queue ahead of our resting orders
    KeyAction("queue_figures", "Q", "queue_figures", "show / hide the queue ahead of our orders (ladder, orders)", "Ladder"),
)  # fmt: skip
KILL = KeyAction("kill", "ctrl+k", "kill", "KILL SWITCH: cancel all, flatten, halt (armed or not)", "Trading")  # fmt: skip

# a watch-only screen runs none of these (the kill switch, every Trading, Move orders and
# Strategy key): the screen and the app refuse them in check_action, the one gate every key
# passes
WATCH_REFUSED = frozenset(
    a.action.split("(")[0]
    for a in (KILL, *ACTIONS)
    if a.group in ("Trading", "Move orders", "Strategy")
)
WATCH_ONLY_HINT = "WATCH-ONLY: no trading keys (kill switch: tradeterm kill, or the trading screen)"

# ctrl+p is Textual's own binding (the command palette): listed in the help, not remappable
BOUND = tuple(a for a in (KILL, *ACTIONS) if a.id != "palette")
ACTION_IDS = frozenset(a.id for a in BOUND)
RENAMED = {"limit_at_cursor": "buy_limit / sell_limit", "stop_at_cursor": "buy_stop / sell_stop"}

# keys something else takes before the screen sees them
RESERVED = {
    "ctrl+c": "quits tradeterm (asking first with a position or orders)",
    "ctrl+q": "quits tradeterm (asking first with a position or orders)",
    "ctrl+p": "opens the command palette",
    "tab": "moves the focus (Textual)",
    "shift+tab": "moves the focus (Textual)",
    "ctrl+b": "is tmux's prefix key (tmux never passes it on)",
    "ctrl+a": "is GNU screen's prefix key (screen never passes it on)",
}
# the same key under another name (a terminal sends one byte for both)
ALIASES = {
    "ctrl+i": "tab",
    "ctrl+m": "enter",
    "ctrl+h": "backspace",
    "ctrl+left_square_bracket": "escape",
}
# what Textual's parser makes of a plain terminal's input: printable characters (by name),
# the named and ctrl/shift keys of its escape-sequence table, and alt+ a letter or digit
_CHARACTER = {_character_to_key(chr(c)): chr(c) for c in range(0x20, 0x7F)}  # name -> char
_NAMED = {
    k.value
    for v in ANSI_SEQUENCES_KEYS.values()
    if isinstance(v, tuple)
    for k in v
    if not k.value.startswith("<")
}
_ALT = {f"alt+{c}" for c in "abcdefghijklmnopqrstuvwxyz0123456789"} | {
    f"alt+shift+{c}" for c in "abcdefghijklmnopqrstuvwxyz"
}
DELIVERED = frozenset(_CHARACTER.keys() | _NAMED | _ALT)


class KeymapError(Exception):
    """A keymap the screen cannot honour, worded for the user (one line per problem)."""


def canonical_key(key: str) -> str:
    """``key`` as Textual names what it delivers (``[`` -> ``left_square_bracket``, ``shift+b``
    -> ``B``, ``Ctrl+K`` -> ``ctrl+k``, ``ctrl+i`` -> ``tab``); :class:`KeymapError` for a
    key no terminal delivers."""
    text = key.strip()
    if not text:
        raise KeymapError("an empty key (a comma is written 'comma', a space 'space')")
    if len(text) == 1:
        if not text.isprintable():
            raise KeymapError(f"{key!r} is not a key")
        return _character_to_key(text)
    *given, base = text.split("+")
    mods = sorted(m.lower() for m in given)
    if len(base) > 1:
        base = base.lower()  # a named key: F5 is f5
    elif base:
        base = _character_to_key(base.lower() if "ctrl" in mods else base)
    if mods == ["shift"] and len(base) == 1 and base.isalpha():
        mods, base = [], base.upper()
    if mods == ["alt"] and len(base) == 1 and base.isupper():
        mods, base = ["alt", "shift"], base.lower()
    name = "+".join([*mods, base])
    name = ALIASES.get(name, name)
    if name not in DELIVERED:
        raise KeymapError(
            f"{key!r} is not a key a terminal delivers (a character, a named key such as "
            "f5 or pageup, ctrl+ a letter, alt+ a letter or digit, shift+ a named key)"
        )
    return name


def check_keymap(overrides: dict[str, str]) -> dict[str, str]:
    """The keymap in force: every bound action's id -> its keys (canonical, comma-separated),
    the defaults with ``overrides`` on top. Raises :class:`KeymapError`, one line per
    problem, for an unknown action, a key that is not one, a reserved key, two actions on one
    key (a default that was not moved included), or a kill switch on a character key."""
    problems: list[str] = []
    unknown = sorted(set(overrides) - ACTION_IDS)
    for old in (u for u in unknown if u in RENAMED):
        problems.append(f"ui.keymap: {old} is now two actions with the side in the name: "
                        f"{RENAMED[old]}")  # fmt: skip
    unknown = [u for u in unknown if u not in RENAMED]
    if unknown:
        problems.append(
            f"unknown action(s) in ui.keymap: {', '.join(unknown)}; "
            f"actions: {', '.join(sorted(ACTION_IDS))}"
        )
    keymap: dict[str, str] = {}
    owner: dict[str, str] = {}
    for a in BOUND:
        given = overrides.get(a.id)
        keys: list[str] = []
        for raw in (given if given is not None else a.key).split(","):
            try:
                key = canonical_key(raw)
            except KeymapError as exc:
                problems.append(f"ui.keymap: {a.id} = {given!r}: {exc}")
                continue
            if key in keys:
                continue
            keys.append(key)
            if key in RESERVED:  # never a default
                problems.append(
                    f"ui.keymap: {a.id} = {given!r}: {display_key(key)} {RESERVED[key]}"
                )
            elif key in owner:
                problems.append(_collision(owner[key], a.id, key, overrides))
            else:
                owner[key] = a.id
            if a is KILL and not _command_key(key):
                problems.append(
                    f"ui.keymap: kill = {given!r}: the kill switch works in every dialog, "
                    "even while a reason is typed, so it needs ctrl+ or alt+ a key, or a "
                    "function key"
                )
        keymap[a.id] = ",".join(keys)
    if problems:
        raise KeymapError("\n".join(problems))
    return keymap


def _command_key(key: str) -> bool:
    """A key no dialog uses for typing or editing: with ctrl or alt, or a function key."""
    *mods, base = key.split("+")
    return bool({"ctrl", "alt"} & set(mods)) or re.fullmatch(r"f\d+", base) is not None


def _collision(first: str, second: str, key: str, overrides: dict[str, str]) -> str:
    shown = display_key(key)
    if first in overrides and second in overrides:
        return (f"ui.keymap: {first} = {overrides[first]!r} and {second} = "
                f"{overrides[second]!r}: {shown} is one key for two actions")  # fmt: skip
    mover, kept = (second, first) if second in overrides else (first, second)
    if kept == KILL.id:
        return f"ui.keymap: {mover} = {overrides[mover]!r}: {shown} is the kill switch's key"
    return f"ui.keymap: {mover} = {overrides[mover]!r}: {shown} is {kept}'s key; move {kept} too"


def screen_bindings() -> list[Binding]:
    return [Binding(a.key, a.action, a.description, show=False, id=a.id)
            for a in ACTIONS if a.id != "palette"]  # fmt: skip


def kill_binding() -> Binding:
    return Binding(KILL.key, KILL.action, KILL.description, show=False, id=KILL.id, priority=True)


_NAMES = {"pageup": "PgUp", "pagedown": "PgDn", "escape": "Esc", "space": "space"}


def display_key(key: str, *, short: bool = False) -> str:
    """How a key (or comma-separated keys) is shown: ``left_square_bracket`` as ``[``,
    ``ctrl+k`` as ``ctrl+k`` (``^k`` when ``short``)."""
    shown = []
    for k in key.split(","):
        *mods, base = k.strip().split("+")
        char = _CHARACTER.get(base) or key_to_character(base)  # "£" is named pound_sign
        name = _NAMES.get(base) or (char if char and char.isprintable() else base)
        prefix = "".join("^" if short and m == "ctrl" else f"{m}+" for m in mods)
        shown.append(prefix + name)
    return " / ".join(shown)


# the footer: (action ids, label); pairs show as "b/s"
FOOTER: tuple[tuple[tuple[str, ...], str], ...] = (
    (("arm",), "arm"),
    (("buy_market", "sell_market"), "mkt"),
    (("join_bid", "join_ask"), "join"),
    (("buy_limit", "sell_limit"), "lmt"),
    (("buy_stop", "sell_stop"), "stp"),
    (("cancel_at_cursor",), "cxl@"),
    (("cancel_all",), "cxl all"),
    (("flatten",), "flat"),
    (("reverse",), "rev"),
    (("qty_up", "qty_down"), "qty"),
    (("kill",), "KILL"),
    (("help",), "help"),
    (("quit",), "quit"),
)


def first_key(keymap: dict[str, str], action_id: str, *, short: bool = False) -> str:
    """An action's first key in ``keymap`` (the keymap in force), as shown to the user."""
    return display_key(keymap[action_id].split(",")[0], short=short)


def strategy_hint(keymap: dict[str, str]) -> str:
    """The strategy panel's key hint from the keymap in force (the footer has no room)."""
    keys = (first_key(keymap, f"strategy_{a}", short=True) for a in ("start", "pause", "stop"))
    return "  ".join(
        f"{k} {what}" for k, what in zip(keys, ("start", "pause", "stop"), strict=True)
    )


def footer_text(keymap: dict[str, str], *, watch_only: bool = False) -> str:
    """The footer's key hints from the keymap in force (each action's first key); watch-only:
    what it cannot do, and the keys it has."""
    parts = [WATCH_ONLY_HINT] if watch_only else []
    sends = {a.id for a in (KILL, *ACTIONS) if a.group in ("Trading", "Quantity")}
    for ids, label in FOOTER:
        if watch_only and sends.issuperset(ids):
            continue
        keys = "/".join(first_key(keymap, i, short=True) for i in ids)
        parts.append(f"{keys} {label}")
    return " " + "  ".join(parts)
