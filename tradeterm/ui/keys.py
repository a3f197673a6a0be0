"""The keymap: every key the trading screen answers, with the id ``ui.keymap`` overrides.

``[ui.keymap]`` in the config maps an id to a key (or several, comma-separated):
``buy_market = "ctrl+b"``. The help screen and the README are written from this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True, slots=True)
class KeyAction:
    id: str
    key: str  # default key(s), comma-separated
    action: str
    description: str
    group: str


ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("arm", "a", "arm", "arm / disarm the trading keys (re-arm after HALTED)", "Trading"),
    KeyAction("buy_market", "b", "market('BUY')", "buy market at the quantity", "Trading"),
    KeyAction("sell_market", "s", "market('SELL')", "sell market at the quantity", "Trading"),
    KeyAction("join_bid", "B,shift+b", "join('BUY')", "buy limit at the bid (join the bid)", "Trading"),
    KeyAction("join_ask", "S,shift+s", "join('SELL')", "sell limit at the ask (join the ask)", "Trading"),
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
        for n in range(1, 10)
    ),
    KeyAction("cursor_up", "up,k", "cursor(1)", "cursor up one tick", "Ladder"),
    KeyAction("cursor_down", "down,j", "cursor(-1)", "cursor down one tick", "Ladder"),
    KeyAction("page_up", "pageup", "page(1)", "scroll the ladder up a page", "Ladder"),
    KeyAction("page_down", "pagedown", "page(-1)", "scroll the ladder down a page", "Ladder"),
    KeyAction("recentre", "home,z", "recentre", "re-centre on the last trade (auto-centre on)", "Ladder"),
    KeyAction("pnl_units", "m", "pnl_units", "P&L at price in ticks / money", "Ladder"),
    KeyAction("orders", "o", "focus_orders", "working orders: select, delete cancels", "Panels"),
    KeyAction("ladder", "escape", "focus_ladder", "back to the ladder", "Panels"),
    KeyAction("help", "question_mark,f1", "help", "this help", "App"),
    KeyAction("palette", "ctrl+p", "command_palette", "command palette (themes, re-arm, ...)", "App"),
    KeyAction("quit", "q", "quit_app", "quit (asks first with a position or orders)", "App"),
)  # fmt: skip
KILL = KeyAction("kill", "ctrl+k", "kill", "KILL SWITCH: cancel all, flatten, halt (armed or not)", "Trading")  # fmt: skip

# ctrl+p is Textual's own binding (the command palette): listed in the help, not remappable
ACTION_IDS = frozenset(a.id for a in (*ACTIONS, KILL) if a.id != "palette")


class KeymapError(Exception):
    pass


def check_keymap(keymap: dict[str, str]) -> None:
    unknown = sorted(set(keymap) - ACTION_IDS)
    if unknown:
        raise KeymapError(
            f"unknown action(s) in ui.keymap: {', '.join(unknown)}; "
            f"actions: {', '.join(sorted(ACTION_IDS))}"
        )


def screen_bindings() -> list[Binding]:
    return [
        Binding(a.key, a.action, a.description, show=False, id=a.id)
        for a in ACTIONS
        if a.id not in ("palette",)
    ]


def kill_binding() -> Binding:
    return Binding(KILL.key, KILL.action, KILL.description, show=False, id=KILL.id, priority=True)


def display_key(key: str) -> str:
    names = {"question_mark": "?", "plus": "+", "minus": "-", "equals_sign": "=",
             "pageup": "PgUp", "pagedown": "PgDn", "escape": "Esc"}  # fmt: skip
    return " / ".join(names.get(k.strip(), k.strip()) for k in key.split(","))
