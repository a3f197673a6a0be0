"""The move keys through a real terminal: ``K``, ``>``, ``<``, ``v`` and escape typed into tmux
reach the screen (no pilot: the bytes go through tmux, the pty and Textual's input parser)."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tests.ui.test_tmux import Tmux, exit_status, start_screen
from tests.ui.test_tmux_keys import term

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
__all__ = ["term"]  # the fixture

_OWN = re.compile(r"^\s*(\d)L\s+\d*\s+(\d+\.\d+)", re.MULTILINE)  # BUY, BID, PRICE columns


def own_buy(screen: str) -> tuple[int, Decimal] | None:
    """Our buy on the ladder: its quantity and price, None when none shows."""
    found = _OWN.search(screen)
    return (int(found[1]), Decimal(found[2])) if found else None


def test_move_keys_in_tmux(term: Tmux, tmp_path: Path) -> None:
    rc = tmp_path / "rc"
    start_screen(term, rc)
    term.arm()
    term.keys("Q")  # the queue figures hidden: a one-lot's cell would show q312, not 1L
    term.keys(*["Down"] * 8, "[")  # a buy limit well under the market
    placed = own_buy(term.wait_for(lambda s: own_buy(s) is not None, "the buy limit"))
    assert placed is not None
    _, price = placed
    term.keys("K")
    term.wait_for(lambda s: own_buy(s) == (1, price + Decimal("0.25")), "moved a tick up")
    term.keys(">")
    term.wait_for(lambda s: own_buy(s) == (2, price + Decimal("0.25")), "2 contracts")
    term.keys("<")
    term.wait_for(lambda s: own_buy(s) == (1, price + Decimal("0.25")), "1 contract again")
    term.keys("v")
    term.wait_for(lambda s: "MOVING BUY 1L" in s, "the pick-up in the status bar")
    term.keys("Escape")
    term.wait_for(lambda s: "MOVING" not in s, "the pick-up left")
    term.keys("c")  # cancel: q then quits without asking
    term.wait_for(lambda s: own_buy(s) is None, "cancelled")
    term.keys("q")
    assert exit_status(rc) == "0"
