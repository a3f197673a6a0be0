"""``tradeterm SYMBOL --replay FILE``: every bad file or option is one line and exit status 2,
before the terminal is taken over (nothing else runs)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tradeterm.cli.main import main

FIXTURE = Path(__file__).parent / "book.csv"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, said = run(capsys, *argv)
    assert code == 2, said
    assert "Traceback" not in said
    lines = said.strip().splitlines()
    assert len(lines) == 1, said
    return lines[0]


def test_a_missing_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = refused(capsys, "ES", "--replay", str(tmp_path / "nope.dbn.zst"))
    assert line.startswith("tradeterm: --replay: no such replay file")


def test_a_file_of_no_replay_format_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    junk = tmp_path / "notes.bin"
    junk.write_bytes(b"hello, not market data")
    assert "unknown replay format" in refused(capsys, "ES", "--replay", str(junk))
    broken = tmp_path / "broken.csv"
    broken.write_text("ts,type\n2024-07-01T23:58:01Z,quote,5528.3,1,5528.75,2\n")
    assert "not on the tick" in refused(capsys, "ES", "--replay", str(broken))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    locked = tmp_path / "locked.csv"
    locked.write_text(FIXTURE.read_text())
    locked.chmod(0)
    assert "cannot read" in refused(capsys, "ES", "--replay", str(locked))


def test_a_file_of_another_market_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "nq.csv"
    other.write_text("ts_event,rtype,symbol,open,high,low,close,volume\n"
                     "2024-07-01T23:40:00Z,33,NQU4,20000.00,20001.00,19999.00,20000.50,10\n")  # fmt: skip
    line = refused(capsys, "ES", "--replay", str(other))
    assert "holds NQU4, not ES" in line and "tradeterm NQ --replay" in line


def test_replay_options_that_cannot_go_together_are_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "give --replay FILE too" in refused(capsys, "ES", "--speed", "10")
    assert "leave out --paper" in refused(capsys, "ES", "--paper", "--replay", str(FIXTURE))
    assert "--speed" in refused(capsys, "ES", "--replay", str(FIXTURE), "--speed", "fast-ish")
    assert "--watch-only" in refused(capsys, "ES", "--replay", str(FIXTURE), "--watch-only")


def test_replay_mode_without_a_file_is_refused_by_the_runtime() -> None:
    """REPLAY set in the configuration, no file: the runtime refuses it (ModeError, the
    screen's one line, exit 1), it never runs SIM's synthetic market under REPLAY's name."""
    import asyncio

    from tradeterm.config import load_settings
    from tradeterm.runtime import ModeError, open_runtime

    settings = load_settings(None, {"mode": "replay"}).settings

    async def opening() -> None:
        async with open_runtime(settings):
            pass

    with pytest.raises(ModeError, match="--replay FILE"):
        asyncio.run(opening())
