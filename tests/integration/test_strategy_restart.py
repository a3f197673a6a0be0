"""A strategy's position and working orders survive a kill -9 (issue 15): a ``tradeterm
console --strategy`` process holds long 1 for its strategy on the fake gateway, is killed with
SIGKILL, and a second console on the same journal and gateway takes the strategy's contract
back as the strategy's: its next target (short 1) leaves the account short 1, not flat (an
order for the difference from a believed 0) nor long (standing aside behind its own
contract).

The same in one process, at the worst moment: the journal records nothing after the strategy's
order intent (its command's ``signals`` row and every later row lost, as a kill -9 between
them loses them); the restart still knows the order as the strategy's, from its intent."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market, session_gone
from tests.integration.engine_helpers import always_open, gateway_position
from tests.integration.journal_helpers import query, settings_for
from tests.integration.kill_helpers import (
    CONSOLE_TOML,
    Console,
    Failed,
    Truth,
    start_gateway,
    wait_for,
)
from tests.integration.target_file_strategy import SPEC
from tests.support.waiting import until
from tradeterm.domain import Trade
from tradeterm.engine.events import EngineEvent
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.strategies import Intents, Params, Strategy, StrategyContext, TargetPosition
from tradeterm.strategies.loader import Loaded

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


class HoldParams(Params):
    target: int


class Hold(Strategy[HoldParams]):
    """Holds ``target`` contracts, said at every public trade."""

    parameters = HoldParams
    wants_trades = True

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        return (TargetPosition(self.params.target, "hold"),)


def hold(target: int) -> Loaded:
    return Loaded("hold", "test:Hold", Hold(HoldParams(target=target)))


async def test_a_strategys_order_is_its_own_after_a_kill_right_after_its_intent(
    still: FakeGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = Market(still)
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings, calendar=always_open()) as rt:
        assert rt.journal is not None

        def lost(event: EngineEvent) -> None:
            """Every row after the intent's commit is lost, as with a kill -9 then."""

        monkeypatch.setattr(rt.journal, "record", lost)
        await rt.engine.start()
        runner = await rt.strategy_runner(hold(1))
        await runner.start()
        market.trade(market.bid)
        await until(lambda: gateway_position(still, market) == 1, "long 1 at IB")
        await runner.close()
    await session_gone(still, 1)
    assert query(tmp_path, "SELECT count(*) FROM signals") == [(0,)]
    assert query(tmp_path, "SELECT count(*) FROM fills") == [(0,)]
    assert query(tmp_path, "SELECT state FROM order_intents") == [("open",)]  # nothing after

    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        runner = await rt.strategy_runner(hold(-1))
        await runner.start()
        try:
            assert runner.position == 1  # its fill, from IB at the reconciliation
            market.trade(market.bid)
            await until(lambda: runner.signals, "its signal")  # it asks at each trade: 1 or more
            assert runner.signals[0].ok, runner.signals[0].outcome  # not standing aside
            await until(lambda: gateway_position(still, market) == -1, "short 1 at IB")
        finally:
            await runner.close()
    await session_gone(still, 1)
