"""The keymap in force: key names as Textual delivers them from a plain terminal, and every
override the screen could not honour refused with one line naming the action and the key."""

from __future__ import annotations

import pytest

from tradeterm.ui.keys import (
    ACTIONS,
    BOUND,
    KILL,
    RESERVED,
    KeymapError,
    canonical_key,
    check_keymap,
    display_key,
    footer_text,
)


def refusal(overrides: dict[str, str]) -> str:
    with pytest.raises(KeymapError) as info:
        check_keymap(overrides)
    return str(info.value)


def test_the_defaults_are_in_force_without_overrides() -> None:
    keymap = check_keymap({})
    assert set(keymap) == {a.id for a in BOUND} and "palette" not in keymap
    assert keymap["kill"] == "ctrl+k" and keymap["join_bid"] == "B"
    assert [keymap[i] for i in ("buy_limit", "sell_limit", "buy_stop", "sell_stop")] == [
        "left_square_bracket", "right_square_bracket", "left_curly_bracket", "right_curly_bracket",
    ]  # fmt: skip
    assert not any(k in RESERVED for keys in keymap.values() for k in keys.split(","))


def test_no_action_picks_a_side_from_the_market() -> None:
    ids = {a.id for a in ACTIONS}
    assert not {"limit_at_cursor", "stop_at_cursor"} & ids
    for a in ACTIONS:
        if a.action.startswith(("at_cursor", "market", "join")):
            assert "'BUY'" in a.action or "'SELL'" in a.action, a


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("[", "left_square_bracket"),
        ("{", "left_curly_bracket"),
        ("?", "question_mark"),
        ("+", "plus"),
        ("B", "B"),
        ("shift+b", "B"),
        ("Ctrl+K", "ctrl+k"),
        ("ctrl+N", "ctrl+n"),
        ("ctrl+i", "tab"),
        ("ctrl+[", "escape"),
        ("alt+x", "alt+x"),
        ("alt+X", "alt+shift+x"),
        ("F5", "f5"),
        ("PageUp", "pageup"),
        ("shift+up", "shift+up"),
        ("comma", "comma"),
        ("£", "pound_sign"),
    ],
)
def test_keys_are_named_as_textual_delivers_them(given: str, name: str) -> None:
    assert canonical_key(given) == name


@pytest.mark.parametrize(
    "given",
    ["ctrl+shift+b", "super+b", "shift+1", "shift+f1", "hyper+x", "ctrl+", "bogus", "alt+["],
)
def test_keys_no_terminal_delivers_are_refused(given: str) -> None:
    assert refusal({"buy_market": given}) == (
        f"ui.keymap: buy_market = {given!r}: {given!r} is not a key a terminal delivers (a "
        "character, a named key such as f5 or pageup, ctrl+ a letter, alt+ a letter or digit, "
        "shift+ a named key)"
    )


def test_an_empty_key_says_how_to_write_a_comma() -> None:
    assert refusal({"buy_market": "b,"}) == (
        "ui.keymap: buy_market = 'b,': an empty key (a comma is written 'comma', a space 'space')"
    )


def test_a_key_of_an_action_not_moved_is_refused() -> None:
    assert refusal({"buy_market": "s"}) == (
        "ui.keymap: buy_market = 's': s is sell_market's key; move sell_market too"
    )
    swapped = check_keymap({"buy_market": "s", "sell_market": "b"})
    assert (swapped["buy_market"], swapped["sell_market"]) == ("s", "b")
    # the same key written two ways is still one key
    assert refusal({"flatten": "F", "reverse": "shift+f"}) == (
        "ui.keymap: flatten = 'F' and reverse = 'shift+f': F is one key for two actions"
    )
    assert "is cursor_up's key" in refusal({"cancel_all": "up"})  # one of several defaults


def test_nothing_may_take_the_kill_switchs_key() -> None:
    assert refusal({"buy_market": "ctrl+k"}) == (
        "ui.keymap: buy_market = 'ctrl+k': ctrl+k is the kill switch's key"
    )
    moved = check_keymap({"kill": "f12", "buy_market": "ctrl+k"})
    assert (moved["kill"], moved["buy_market"]) == ("f12", "ctrl+k")


@pytest.mark.parametrize("key", ["k", "K", "plus", "space", "enter", "escape", "backspace"])
def test_the_kill_switch_needs_a_key_no_dialog_types_or_edits_with(key: str) -> None:
    assert (
        f"ui.keymap: kill = {key!r}: the kill switch works in every dialog, even while a "
        "reason is typed, so it needs ctrl+ or alt+ a key, or a function key"
    ) in refusal({"kill": key}).splitlines()


@pytest.mark.parametrize("key", sorted(RESERVED))
def test_reserved_keys_are_refused_saying_who_takes_them(key: str) -> None:
    assert refusal({"flatten": key}) == f"ui.keymap: flatten = {key!r}: {key} {RESERVED[key]}"


def test_unknown_and_renamed_actions() -> None:
    assert refusal({"buy_now": "n"}).startswith(
        "unknown action(s) in ui.keymap: buy_now; actions: arm, buy_limit, "
    )
    assert refusal({"limit_at_cursor": "l"}) == (
        "ui.keymap: limit_at_cursor is now two actions with the side in the name: "
        "buy_limit / sell_limit"
    )


def test_every_problem_is_one_line() -> None:
    lines = refusal({"buy_market": "s", "kill": "q", "flatten": "ctrl+c"}).splitlines()
    assert len(lines) == 4 and all(line.startswith("ui.keymap: ") for line in lines)


def test_the_footer_shows_the_keys_in_force() -> None:
    default = footer_text(check_keymap({}))
    assert " b/s mkt " in default and " [/] lmt " in default and " {/} stp " in default
    assert " ^k KILL " in default and " +/- qty " in default
    moved = footer_text(check_keymap({"buy_market": "ctrl+n", "sell_market": "b", "kill": "f12"}))
    assert " ^n/b mkt " in moved and " f12 KILL " in moved and "^k" not in moved


def test_display_of_keys() -> None:
    assert display_key("question_mark,f1") == "? / f1"
    assert display_key("ctrl+k") == "ctrl+k" and display_key("ctrl+k", short=True) == "^k"
    assert display_key(KILL.key) == "ctrl+k"
    assert display_key("pageup,escape,space") == "PgUp / Esc / space"
