"""An older version's journal, shared by every mode (``<journal dir>/<SYMBOL>.sqlite``): the
HALTED state it or its latch kept is carried to the mode it belongs to (the mode of the
session it was written in), never to another; a latch whose mode cannot be told is carried
to every mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.journal.factories import T0
from tradeterm.engine.events import RiskUpdate
from tradeterm.engine.risk import RiskTransition
from tradeterm.engine.types import RiskEventKind, TradingState
from tradeterm.journal import Journal
from tradeterm.journal.latch import LatchFile, latch_file
from tradeterm.journal.legacy import carried_halt

S = 1_000_000_000  # one second in ns


async def old_journal(path: Path, *runs: tuple[int, str, list[tuple[str, str, int]]]) -> Path:
    """An old shared journal: each run is (start, mode, [(to_state, reason, ts)]), in order."""
    for start, mode, transitions in runs:
        async with Journal(path, clock=lambda start=start: start) as j:  # type: ignore[misc]
            await j.start_session("ES", mode, "0.1.0")
            for to_state, reason, ts in transitions:
                j.record(
                    RiskUpdate(
                        RiskEventKind.TRANSITION,
                        "state",
                        reason,
                        TradingState(to_state),
                        ts,
                        TradingState.ACTIVE,
                    )
                )
            j.end_session()
    return path


def latch(path: Path, reason: str, ts: int) -> None:
    halt = RiskTransition(TradingState.ACTIVE, TradingState.HALTED, reason, ts)
    LatchFile(latch_file(path)).set(halt)


async def test_a_demo_kill_stays_with_the_demo(tmp_path: Path) -> None:
    """SIM killed (journal and latch), then a PAPER run that started HALTED by it (the bug)."""
    path = await old_journal(
        tmp_path / "ES.sqlite",
        (T0, "sim", [("HALTED", "kill switch: ctrl+k", T0 + 5 * S)]),
        (T0 + 60 * S, "paper", []),
    )
    latch(path, "kill switch: ctrl+k", T0 + 5 * S)
    carried = carried_halt(path, "sim")
    assert carried is not None and carried.to_state is TradingState.HALTED
    assert carried.reason.startswith("kill switch: ctrl+k (kept by an earlier version in")
    assert carried_halt(path, "paper") is None
    assert carried_halt(path, "live") is None


async def test_each_mode_gets_its_own_last_state(tmp_path: Path) -> None:
    path = await old_journal(
        tmp_path / "ES.sqlite",
        (T0, "paper", [("HALTED", "daily loss limit", T0 + 1 * S)]),
        (T0 + 10 * S, "sim", [("HALTED", "demo kill", T0 + 11 * S)]),
        (T0 + 20 * S, "sim", [("ACTIVE", "rearmed: done", T0 + 21 * S)]),
        (T0 + 30 * S, "live", [("REDUCING", "kill switch", T0 + 31 * S)]),
    )
    paper = carried_halt(path, "paper")
    assert paper is not None and paper.reason.startswith("daily loss limit (kept by")
    assert carried_halt(path, "sim") is None  # re-armed in SIM
    live = carried_halt(path, "live")  # a kill cut short: HALTED, and the next start finishes it
    assert live is not None and live.to_state is TradingState.HALTED
    assert live.reason.startswith("kill switch (REDUCING) (kept by")


async def test_a_latch_of_one_mode_beside_a_journal_that_never_wrote_it(tmp_path: Path) -> None:
    """The disk was full: the halt is only in the latch; its time says whose it is."""
    path = await old_journal(tmp_path / "ES.sqlite", (T0, "paper", []), (T0 + 10 * S, "sim", []))
    latch(path, "journal cannot write: disk full", T0 + 3 * S)
    carried = carried_halt(path, "paper")
    assert carried is not None and "disk full" in carried.reason
    assert str(latch_file(path)) in carried.reason
    assert carried_halt(path, "sim") is None


@pytest.mark.parametrize("journal", ["none", "corrupt"])
async def test_a_latch_whose_mode_cannot_be_told_halts_every_mode(
    tmp_path: Path, journal: str
) -> None:
    path = tmp_path / "ES.sqlite"
    if journal == "corrupt":
        path.write_bytes(b"not a journal" * 50)
    latch(path, "disk full", T0)
    for mode in ("sim", "paper", "live"):
        carried = carried_halt(path, mode)
        assert carried is not None and carried.reason.startswith("disk full (kept by")


async def test_nothing_to_carry(tmp_path: Path) -> None:
    assert carried_halt(tmp_path / "ES.sqlite", "paper") is None  # no old journal at all
    path = await old_journal(tmp_path / "ES.sqlite", (T0, "paper", [("HALTED", "x", T0 + S)]),
                             (T0 + 5 * S, "paper", [("ACTIVE", "rearmed", T0 + 6 * S)]))  # fmt: skip
    assert carried_halt(path, "paper") is None
    assert path.exists() and not latch_file(path).exists()  # read, never written
