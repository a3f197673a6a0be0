"""``--wait-for-gateway`` on the screen and on the console sets ``connection.wait_at_start``;
without it the configured value stands (default false: a start fails fast, as before)."""

from __future__ import annotations

import pytest

from tradeterm.cli.main import parse_args
from tradeterm.cli.options import load


@pytest.mark.parametrize(
    ("argv", "env", "waits"),
    [
        ([], None, False),
        (["--paper", "--wait-for-gateway"], None, True),
        (["console", "--paper", "--wait-for-gateway"], None, True),
        (["NQ", "--wait-for-gateway"], None, True),
        (["console"], "true", True),  # the configured value, when the flag is not given
        ([], "true", True),
    ],
)
def test_the_flag_sets_wait_at_start(
    argv: list[str], env: str | None, waits: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if env is not None:
        monkeypatch.setenv("TRADETERM_CONNECTION__WAIT_AT_START", env)
    loaded = load(parse_args(argv))
    assert loaded.settings.connection.wait_at_start is waits
    if argv and argv[-1] == "--wait-for-gateway":
        assert loaded.origin("connection.wait_at_start") == "command line"
