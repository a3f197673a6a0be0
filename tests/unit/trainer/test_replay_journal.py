"""A replay's journal is its own (REPLAY mode: journal/replay/, its own halt latch), and
``tradeterm report`` says its trades were made on recorded data."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tradeterm import __version__
from tradeterm.cli.main import main
from tradeterm.config import load_settings
from tradeterm.journal import Journal
from tradeterm.journal.latch import latch_file


def test_replay_keeps_a_journal_and_a_halt_latch_of_its_own() -> None:
    paths = {
        mode: load_settings(None, {"mode": mode}).settings.journal_path()
        for mode in ("sim", "shadow", "paper", "live", "replay")
    }
    assert paths["replay"].parent.name == "replay"
    assert len(set(paths.values())) == 5
    latches = {latch_file(p) for p in paths.values()}
    assert len(latches) == 5  # a replay's HALTED never blocks another mode


def test_report_tells_a_replay_journal_apart(capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings(None, {"mode": "replay"}).settings

    async def session(path: Path, mode: str) -> None:
        journal = Journal(path)
        await journal.open()
        await journal.start_session("ES", mode, __version__, client_id=110)
        journal.end_session("stopped")
        await journal.close()

    asyncio.run(session(settings.journal_path(), "replay"))
    asyncio.run(session(load_settings(None, {}).settings.journal_path(), "sim"))
    assert main(["report", "ES", "--mode", "replay"]) == 0
    out, err = capsys.readouterr()
    assert "REPLAY mode" in err
    assert "REPLAY: trades made on recorded market data" in out
    assert main(["report", "ES", "--mode", "sim"]) == 0
    out, _ = capsys.readouterr()
    assert "REPLAY" not in out


async def test_each_replay_run_is_a_session_of_its_own_its_fills_only(tmp_path: Path) -> None:
    """A fresh run of the same replayed day starts flat: each run's session starts a new market
    (its gateway is embedded: ``embedded.NEW_MARKET``), so the engine restores only the fills
    booked in this run, and today's P&L and commissions are this run's."""
    from tests.unit.journal.factories import ES, booked, fill
    from tradeterm.embedded import NEW_MARKET

    wall = [1_000]
    journal = Journal(tmp_path / "ES.sqlite", clock=lambda: wall[0], flush_interval_ms=10)
    await journal.open()
    await journal.start_session("ES", "replay", __version__, new_market=NEW_MARKET)
    wall[0] = 1_100  # booked after the session began (as on any clock that moves)
    earlier = fill("e1", price=24000, ts=5)  # the replayed market's time: the same each run
    journal.record(booked(earlier))
    await journal.flush()
    assert [f.exec_id for f, _ in await journal.fills(ES)] == ["e1"]
    journal.end_session("stopped")
    wall[0] = 2_000
    await journal.start_session("ES", "replay", __version__, new_market=NEW_MARKET)
    assert await journal.fills(ES) == []  # the earlier run's market ended with it
    wall[0] = 2_100
    now = fill("e2", price=24001, ts=5)
    journal.record(booked(now))
    await journal.flush()
    assert [f.exec_id for f, _ in await journal.fills(ES)] == ["e2"]
    await journal.close()
