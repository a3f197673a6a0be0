"""The shipping lag where a trader looks: the status bar and ``tradeterm status``."""

from __future__ import annotations

from pathlib import Path

from tests.shared.test_shipping import trade
from tests.support.postgres import free_port
from tests.support.waiting import until
from tradeterm.cli.status import shipping_note
from tradeterm.journal import Journal
from tradeterm.shared.ship_process import ShippingProcess
from tradeterm.shared.shipper import Identity, Lag, Shipper, ShippingThread
from tradeterm.shared.target import Target
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


def test_a_lag_not_known_yet_is_shown_as_unknown() -> None:
    unknown = Lag(None, None, False, "not connected yet")
    assert "DB down ?" in bar(unknown)
    assert shipping_note(unknown.as_status()) == "shared database down (lag unknown): not " \
        "connected yet"  # fmt: skip


async def test_before_the_database_is_reached_the_lag_is_unknown_not_a_guess(
    tmp_path: Path,
) -> None:
    j = Journal(tmp_path / "a.sqlite", clock=lambda: T0, ship=True)
    await j.open()
    await j.start_session("ES", "sim", "test")
    await trade(j, "a", 5)  # rows the database may or may not hold already
    shipping = ShippingProcess({}, retry_min_s=0.05)
    assert shipping.lag().rows is None and shipping.lag().seconds is None  # nothing reported
    target = Target(f"postgresql://u@127.0.0.1:{free_port()}/db", connect_timeout_s=1)
    thread = ShippingThread(Shipper(j.path, target, Identity("a", "h", "ES", "sim"),
                                    retry_min_s=0.05, retry_max_s=0.1))  # fmt: skip
    thread.start()
    try:
        await until(lambda: thread.shipper.problem != "not connected yet", "a failed connect")
        lag = thread.shipper.lag()
        assert (lag.rows, lag.seconds, lag.connected) == (None, None, False)
    finally:
        thread.stop()
        await j.close()
