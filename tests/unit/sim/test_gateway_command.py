"""`tradeterm gateway` option checking: every bad option is one clear line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeterm.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--symbols", "ES,ZZ"],
            "unknown symbol 'ZZ' (known: 6E, CL, ES, GC, M2K, M6E, MCL, MES, MGC, MNQ, MYM, NG, NQ, RTY, SI, YM, ZB, ZN)",
        ),
        (["--symbols", " , "], "--symbols needs at least one root symbol"),
        (["--port", "70000"], "--port 70000 is not a TCP port"),
        (["--rate", "0"], "--rate 0 must be above 0"),
        (["--speed", "warp"], "--speed: invalid replay speed 'warp'"),
        (["--faults", "farm@3"], "--faults: 'farm@3': farm takes 1 argument"),
        (["--replay", "/no/such/file.csv"], "--replay: no such replay file: /no/such/file.csv"),
        (["--commission", "-1"], "--commission cannot be negative"),
    ],
)
def test_bad_options(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_replay_file_in_an_unknown_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "data.parquet"
    bad.write_bytes(b"PAR1")
    assert main(["gateway", "--replay", str(bad)]) == 2
    assert "--replay:" in capsys.readouterr().err
