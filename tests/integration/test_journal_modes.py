"""One journal and halt latch per mode and account (issue 13): a kill switch pressed in the
SIM demo never halts paper trading, an older version's shared journal keeps its HALTED for
the mode it belongs to, and a journal never applies one IB account's state to another."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.desk_helpers import session_gone
from tests.integration.journal_helpers import query, settings_for
from tests.unit.journal.test_legacy import old_journal
from tradeterm.config import Settings
from tradeterm.domain import Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.journal.latch import latch_file
from tradeterm.paths import journal_file
from tradeterm.runtime import ModeError, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

S = 1_000_000_000


def mode(settings: Settings, name: str) -> Settings:
    return settings.model_copy(update={"mode": name})


async def state_after_start(settings: Settings, gateway: FakeGateway) -> tuple[str, str]:
    """Start an instance, and stop it again: its trading state and reason."""
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        snap = rt.engine.snapshot()
    await session_gone(gateway, 1)
    return snap.trading_state, snap.trading_reason


async def test_the_demos_kill_switch_never_halts_paper_trading(
    still: FakeGateway, tmp_path: Path
) -> None:
    paper = mode(settings_for(still.config.port, tmp_path), "paper")
    demo = paper.model_copy(  # the demo: SIM on its embedded gateway
        update={"mode": "sim", "connection": paper.connection.model_copy(update={"port": None})}
    )
    async with open_runtime(demo) as rt:
        await rt.engine.start()
        assert (await rt.engine.submit(PlaceOrder(Side.BUY, 1))).ok
        rt.engine.request_kill("ctrl+k in the demo")
        await rt.engine.kill_switch.join()
        assert rt.engine.snapshot().trading_state == "HALTED"
    assert query(tmp_path, "SELECT count(*) FROM fills", mode="sim") == [(2,)]
    assert await state_after_start(paper, still) == ("ACTIVE", "")
    assert query(tmp_path, "SELECT count(*) FROM fills", mode="paper") == [(0,)]
    async with open_runtime(demo) as rt:  # the demo itself stays HALTED
        await rt.engine.start()
        snap = rt.engine.snapshot()
    assert (snap.trading_state, snap.trading_reason) == (
        "HALTED",
        "kill switch: ctrl+k in the demo",
    )
    assert latch_file(journal_file("ES", "sim", tmp_path)).exists()
    assert not latch_file(journal_file("ES", "paper", tmp_path)).exists()


async def test_an_older_versions_halt_is_carried_to_its_mode_once(
    still: FakeGateway, tmp_path: Path
) -> None:
    legacy = await old_journal(
        tmp_path / "ES.sqlite",
        (1_000 * S, "paper", [("HALTED", "daily loss limit", 1_001 * S)]),
        (1_010 * S, "sim", []),
    )
    before = hashlib.sha256(legacy.read_bytes()).hexdigest()
    paper = mode(settings_for(still.config.port, tmp_path, risk={"rearm_cooldown_s": 0}), "paper")
    state, reason = await state_after_start(paper, still)
    assert state == "HALTED"
    assert reason == f"daily loss limit (kept by an earlier version in journal {legacy})"
    assert await state_after_start(mode(paper, "sim"), still) == ("ACTIVE", "")
    async with open_runtime(paper) as rt:
        await rt.engine.start()
        assert rt.engine.rearm("the old halt is understood") is None
    await session_gone(still, 1)
    assert await state_after_start(paper, still) == ("ACTIVE", "the old halt is understood")
    assert hashlib.sha256(legacy.read_bytes()).hexdigest() == before  # never written


async def test_another_accounts_state_is_never_applied_to_it(
    still: FakeGateway, start_gateway: Callable[..., Awaitable[FakeGateway]], tmp_path: Path
) -> None:
    paper = mode(settings_for(still.config.port, tmp_path), "paper")
    async with open_runtime(paper) as rt:
        await rt.engine.start()
        rt.engine.halt("stopped by the test")
    await session_gone(still, 1)
    latch = latch_file(journal_file("ES", "paper", tmp_path))
    assert json.loads(latch.read_text())["account"] == "DU0000001"
    assert query(tmp_path, "SELECT account FROM sessions", mode="paper") == [("DU0000001",)]

    other = await start_gateway(rate=0.0, account="DU7654321")
    elsewhere = paper.model_copy(
        update={"connection": paper.connection.model_copy(update={"port": other.config.port})}
    )
    with pytest.raises(ModeError) as refused:
        async with open_runtime(elsewhere) as rt:
            await rt.engine.start()
    assert str(refused.value).startswith(
        f"journal {journal_file('ES', 'paper', tmp_path)} keeps the PAPER state of IB account "
        f"DU0000001, but 127.0.0.1:{other.config.port} is logged into DU7654321: nothing was "
        "applied or sent. Give DU7654321 a journal of its own with journal.dir"
    )
    assert other.oms.orders == {}
    # the refused session never claimed the journal for the other account
    assert query(tmp_path, "SELECT account FROM sessions", mode="paper") == [
        ("DU0000001",), (None,)
    ]  # fmt: skip
    assert json.loads(latch.read_text())["account"] == "DU0000001"
    assert await state_after_start(paper, still) == ("HALTED", "stopped by the test")
