"""The halt latch file: written whole or not at all (0600, no temporary left), read back as
the halt it records, removed durably; a latch that cannot be read still halts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.journal.factories import T0
from tradeterm.engine.risk import RiskTransition, TradingState
from tradeterm.journal.latch import LatchFile, latch_file

HALT = RiskTransition(TradingState.REDUCING, TradingState.HALTED, "disk full: é", T0)


def test_the_latch_lives_beside_the_journal(tmp_path: Path) -> None:
    assert latch_file(tmp_path / "ES.sqlite") == tmp_path / "ES.sqlite.halted"


def test_set_read_clear(tmp_path: Path) -> None:
    latch = LatchFile(tmp_path / "journal" / "ES.sqlite.halted")
    assert latch.read() is None
    latch.set(HALT)
    assert latch.read() == HALT
    assert os.stat(latch.path).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in latch.path.parent.iterdir()) == ["ES.sqlite.halted"]
    later = RiskTransition(TradingState.ACTIVE, TradingState.HALTED, "again", T0 + 1)
    latch.set(later)  # replaced whole
    assert latch.read() == later
    latch.clear()
    assert latch.read() is None and not latch.path.exists()
    latch.clear()  # no latch: nothing to do


@pytest.mark.parametrize("text", ["", "{", '{"state": "HALTED"}', "[1, 2]", '{"reason": 1'])
def test_a_latch_that_cannot_be_read_halts(tmp_path: Path, text: str) -> None:
    latch = LatchFile(tmp_path / "ES.sqlite.halted")
    latch.path.write_text(text)
    got = latch.read()
    assert got is not None and got.to_state is TradingState.HALTED
    assert "cannot be read" in got.reason and "delete it" in got.reason


def test_a_failed_write_leaves_the_old_latch_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latch = LatchFile(tmp_path / "ES.sqlite.halted")
    latch.set(HALT)

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        latch.set(RiskTransition(TradingState.ACTIVE, TradingState.HALTED, "new", T0 + 5))
    monkeypatch.undo()
    assert latch.read() == HALT
    assert [p.name for p in tmp_path.iterdir()] == ["ES.sqlite.halted"]
