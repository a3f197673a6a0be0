"""The shipping lag where a trader looks: the status bar and ``tradeterm status``."""

from __future__ import annotations

from tradeterm.cli.status import shipping_note
from tradeterm.shared.shipper import Lag
from tradeterm.ui.widgets.status import status_text

T0 = 1_780_000_000 * 10**9


def bar(lag: Lag | None) -> str:
    return status_text(mode="sim", symbol="ES", snap=None, armed=False, confirmed=True, qty=1,
                       now_ns=T0, session=None, wide=True, shipping=lag).plain  # fmt: skip


def test_the_status_bar_shows_the_lag_and_an_outage() -> None:
    assert "DB" not in bar(None)  # no [shared] url: nothing said
    assert "DB ok" in bar(Lag(0, 0.0, True, None))
    assert "DB lag 12/1.3s" in bar(Lag(12, 1.3, True, None))
    assert "DB down 40/31s" in bar(Lag(40, 31.2, False, "connection refused"))


def test_tradeterm_status_says_it_in_one_line() -> None:
    down = Lag(40, 31.2, False, "connection refused. Is the server running?").as_status()
    assert shipping_note(down) == "shared database down (40 rows, 31s behind): connection refused"
    assert (
        shipping_note(Lag(3, 0.4, True, None).as_status()) == "shared database: 3 rows, 0.4s behind"
    )
    assert shipping_note(Lag(0, 0.0, True, None).as_status()) == "shared database: up to date"
