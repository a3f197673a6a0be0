"""A strategy's position and working orders survive a kill -9 (issue 15): a ``tradeterm
console --strategy`` process holds long 1 for its strategy on the fake gateway, is killed with
SIGKILL, and a second console on the same journal and gateway takes the strategy's contract
back as the strategy's: its next target (short 1) leaves the account short 1, not flat (an
order for the difference from a believed 0) nor long (standing aside behind its own
contract)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.kill_helpers import (
    CONSOLE_TOML,
    Console,
    Failed,
    Truth,
    start_gateway,
    wait_for,
)
from tests.integration.target_file_strategy import SPEC

ROOT = Path(__file__).resolve().parents[2]  # where the strategy's module is imported from


def signals_of(journal_dir: Path, source: str) -> int:
    """The signal rows of ``source``'s commands the journal holds (read while it is written)."""
    total = 0
    for path in journal_dir.rglob("*.sqlite"):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        with contextlib.closing(conn):
            total += conn.execute(
                "SELECT count(*) FROM signals WHERE source = ? AND order_ids != ''", (source,)
            ).fetchone()[0]
    return total


class StrategyConsole(Console):
    def __init__(self, workdir: Path, port: int, n: int, target: Path) -> None:
        super().__init__(workdir, port, n)
        self.args += ["--strategy", SPEC, "--param", f"path={target}"]
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH", "")) if p
        )


@pytest.fixture
async def gateway() -> AsyncIterator[Truth]:
    gw, truth = await start_gateway(3, 20.0)
    try:
        yield truth
    finally:
        await gw.stop()


async def test_a_strategys_long_survives_a_kill_9_and_its_next_target_is_reached(
    gateway: Truth, tmp_path: Path
) -> None:
    truth = gateway
    (tmp_path / "tradeterm.toml").write_text(CONSOLE_TOML.format(journal=tmp_path / "j"))
    target = tmp_path / "target"
    target.write_text("1")
    first = StrategyConsole(tmp_path, truth.gw.config.port, 1, target)
    second = StrategyConsole(tmp_path, truth.gw.config.port, 2, target)
    try:
        await first.start()
        await wait_for(lambda: truth.position() == 1, "the strategy long 1 at IB", 60)
        await wait_for(lambda: signals_of(tmp_path / "j", SPEC) >= 1, "its order journaled")
        await first.kill9()

        await second.start()
        await wait_for(lambda: "STRATEGY" in second.text(), "the strategy restarted", 60)
        target.write_text("-1")
        await wait_for(lambda: "SIGNAL" in second.text(), "the strategy's next signal", 30)
        await wait_for(lambda: truth.position() == -1, "the account short 1 at IB", 30)
        assert "standing aside" not in second.text() and "does not match" not in second.text()
        await second.type("strategy")
        await wait_for(lambda: "position owned -1" in second.text(), "it owns -1", 10)
    except Failed as exc:
        raise Failed(
            f"{exc} (IB holds {truth.position()})\n--- first console ---\n"
            f"{first.text()[-2000:]}\n--- second console ---\n{second.text()[-3000:]}"
        ) from None
    finally:
        for console in (first, second):
            if console.proc is not None and console.proc.returncode is None:
                await console.kill9()
