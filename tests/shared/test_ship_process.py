"""The shipping's own process (``tradeterm/shared/ship_process.py``) on a real PostgreSQL server:
it ships a journal the trading process writes, reports its lag on the pipe, keeps the URL's
password off its command line, and a child killed with -9 is started again and ships the
rest exactly once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared.test_shipping import T0, fills_once, ship_log, shipped, trade
from tests.support.postgres import WRITER_PASSWORD, SharedDb
from tests.support.waiting import until
from tradeterm.config import Settings
from tradeterm.journal import Journal
from tradeterm.shared.ship_process import ShippingProcess


async def test_a_killed_shipping_process_is_started_again_and_ships_the_rest_once(
    shared_db: SharedDb, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "tradeterm.shared.ship_process")
    j = Journal(tmp_path / "a.sqlite", clock=lambda: T0, ship=True)
    await j.open()
    await j.start_session("ES", "sim", "test")
    settings = Settings(symbol="ES", shared={"url": shared_db.writer_url, "instance": "a",
                                             "retry_min_s": 0.05, "retry_max_s": 0.2})  # fmt: skip
    shipping = ShippingProcess.started(settings, j.path)
    assert shipping is not None
    try:
        await trade(j, "a", 10)
        await until(lambda: shipped(shared_db, "a") == ship_log(j.path), "the first rows", 30)
        await until(lambda: shipping.connected and shipping.lag().rows == 0, "its lag: 0", 30)
        child = shipping.pid
        assert child is not None and child != os.getpid()
        assert WRITER_PASSWORD.encode() not in Path(f"/proc/{child}/cmdline").read_bytes()

        os.kill(child, signal.SIGKILL)
        await trade(j, "a", 20, start=10)  # written while no shipper runs
        await until(lambda: shipping.starts == 2, "a new shipping process", 30)
        await until(lambda: shipped(shared_db, "a") == ship_log(j.path), "the rest", 30)
    finally:
        shipping.stop()
        await j.close()
    assert fills_once(shared_db, "a", 30)
    said = caplog.text
    assert "the shipping process ended (exit status -9)" in said
    assert "journal shipping: shipping the journal to postgresql://tradeterm_writer@" in said
    assert WRITER_PASSWORD not in said


_TRADING = """
import sys, time
from pathlib import Path
from tradeterm.config import Settings
from tradeterm.shared.ship_process import ShippingProcess
settings = Settings(symbol="ES", shared={"url": sys.argv[2], "instance": "k", "batch_size": 1})
shipping = ShippingProcess.started(settings, Path(sys.argv[1]))
while not (shipping.pid and shipping.connected and shipping.lag().rows > 300):
    time.sleep(0.01)
print(shipping.pid, flush=True)
time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


async def test_a_trading_process_killed_with_9_leaves_its_child_shipping_every_row(
    shared_db: SharedDb, tmp_path: Path
) -> None:
    from tradeterm.bench.shipping import _fill_journal

    path = tmp_path / "k.sqlite"
    await _fill_journal(path, 1200)
    expected = ship_log(path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    trading = subprocess.Popen([sys.executable, "-c", _TRADING, str(path), shared_db.writer_url],
                               stdout=subprocess.PIPE, env=env)  # fmt: skip
    try:
        assert trading.stdout is not None
        child = int(trading.stdout.readline())  # shipping under way, rows one at a time
        os.kill(trading.pid, signal.SIGKILL)  # its stdout pipe is gone; its stdin ends
    finally:
        trading.kill()
        trading.wait(30)
    assert shipped(shared_db, "k") != expected  # the kill came mid-shipping
    await until(lambda: _gone(child), "the child ending after the rest", 120)
    assert shipped(shared_db, "k") == expected  # every row, none left behind
