"""A password never reaches the terminal: libpq words a URL it cannot parse with the
password quoted (``unexpected spaces found in "pa ss"``), and what is shown of such an error
(``shared migrate``, ``status --shared``, the shipping's problem in ``tradeterm status``) is
blanked; a tmux window never gets the URL on tmux's command line (ps shows it to anyone)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.waiting import until
from tradeterm.cli.main import main
from tradeterm.cli.tmux import Tmux
from tradeterm.config import Settings, SharedConfig
from tradeterm.journal import Journal
from tradeterm.shared.ship_process import ShippingProcess

SPACED = "postgresql://u:pa ss@127.0.0.1:1/db"  # libpq: unexpected spaces found in "pa ss"
ENCODED = "postgresql://u:pa%2@127.0.0.1:1/db"  # libpq: invalid percent-encoded token: "pa%2"


@pytest.mark.parametrize(("url", "password"), [(SPACED, "pa ss"), (ENCODED, "pa%2")])
def test_shared_migrate_blanks_a_password_libpq_quotes(
    url: str, password: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["shared", "migrate", "--url", url]) != 0
    said = capsys.readouterr()
    assert "cannot migrate postgresql://u@127.0.0.1:1/db" in said.out
    assert password not in said.out + said.err


def test_status_shared_refuses_a_url_libpq_cannot_read_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRADETERM_SHARED__URL", SPACED)
    assert main(["status", "--shared"]) == 2  # refused as the settings load
    said = capsys.readouterr()
    assert "shared.url" in said.err and "it holds a space" in said.err
    assert "pa ss" not in said.out + said.err


async def test_the_shipping_problem_shown_by_status_blanks_the_password(tmp_path: Path) -> None:
    async with Journal(tmp_path / "j.sqlite", ship=True) as journal:
        await journal.start_session("ES", "sim", "test")
    # such a URL is refused as settings load (test_url_checked); the child blanks all the same
    shared = SharedConfig.model_construct(url=SPACED, instance="x")
    settings = Settings(symbol="ES").model_copy(update={"shared": shared})
    shipping = ShippingProcess.started(settings, tmp_path / "j.sqlite")
    assert shipping is not None
    try:
        await until(lambda: "unexpected spaces" in (shipping.lag().problem or ""),
                    "the child's problem", 30)  # fmt: skip
        assert "pa ss" not in (shipping.lag().problem or "")
    finally:
        shipping.stop(2)


def test_a_tmux_window_gets_the_url_but_never_on_a_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMUX_TMPDIR", str(tmp_path))  # a tmux server of this test's own
    monkeypatch.delenv("TMUX", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    url = "postgresql://u:s3cret@db.example:5432/tradeterm"
    monkeypatch.setenv("TRADETERM_SHARED__URL", url)
    commands: list[tuple[str, ...]] = []

    class Recorded(Tmux):
        def run(self, *args: str, check: bool = True) -> Any:
            commands.append(args)
            return super().run(*args, check=check)

    out = tmp_path / "out"
    tmux = Recorded("secret-test")
    try:
        tmux.open("w", ["sh", "-c", f'echo "$TRADETERM_SHARED__URL" > {out}; sleep 30'])
        deadline = time.monotonic() + 30
        while not (out.exists() and out.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert out.read_text().strip() == url  # the window has it
    finally:
        subprocess.run(["tmux", "kill-server"], check=False, capture_output=True)
    assert not [c for c in commands if any("s3cret" in arg for arg in c)]
    assert not list(tmp_path.glob("tradeterm-env-*"))  # read once, then gone
