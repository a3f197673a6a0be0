"""``tradeterm doctor``'s checks of this machine: the journal's directory and free disk (the
free-space figure is given, never a disk filled), the terminal and tmux."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tradeterm.broker.ib.checkup import GatewayReport
from tradeterm.cli import doctor
from tradeterm.cli.doctor import FAIL, OK, SKIP, WARN, Machine
from tradeterm.cli.main import main
from tradeterm.config import Settings


def settings(journal: Path) -> Settings:
    return Settings(mode="paper", symbol="ES", journal={"dir": journal})


@pytest.mark.parametrize(
    ("free", "level", "words"),
    [(50 * 10**9, OK, "50.0 GB free"), (500 * 10**6, WARN, "500.0 MB free (under 1.0 GB)"),
     (50 * 10**6, FAIL, "the journal would soon stop writing")],
)  # fmt: skip
def test_the_journal_disk_free_space(tmp_path: Path, free: int, level: str, words: str) -> None:
    asked: list[Path] = []

    def free_bytes(path: Path) -> int:
        asked.append(path)
        return free

    found = doctor.journal_finding(settings(tmp_path / "journal"), free_bytes)
    assert (found.level, found.name) == (level, "journal")
    assert words in found.detail
    assert asked == [tmp_path / "journal" / "paper"]  # the journal's own directory
    assert (found.fix == "") == (level == OK)


def test_an_unwritable_journal_directory_fails_with_its_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    found = doctor.journal_finding(settings(blocker / "journal"), lambda _p: 10**12)
    assert found.level == FAIL
    assert f"{blocker / 'journal' / 'paper'} is not writable: Not a directory" == found.detail
    assert "journal.dir" in found.fix


def machine(size: tuple[int, int] = (120, 40), env: dict[str, str] | None = None) -> Machine:
    return Machine(terminal_size=lambda: os.terminal_size(size), environ=env or {})


@pytest.mark.parametrize(
    ("size", "level", "words"),
    [((80, 24), OK, "80x24"), ((79, 40), WARN, "79x40: the screen needs 80x24"),
     ((100, 20), WARN, "100x20"), ((0, 0), WARN, "size unknown")],
)  # fmt: skip
def test_the_terminal_size(size: tuple[int, int], level: str, words: str) -> None:
    found = doctor.terminal_findings(machine(size, {"TERM": "xterm-256color"}))[0]
    assert (found.name, found.level) == ("terminal", level)
    assert words in found.detail


@pytest.mark.parametrize(
    ("env", "level", "words"),
    [({"TERM": "xterm-256color", "COLORTERM": "truecolor"}, OK, "24-bit"),
     ({"TERM": "tmux-256color"}, OK, "256"),
     ({"TERM": "xterm"}, WARN, "TERM=xterm: only 8 colours"),
     ({"TERM": "dumb"}, FAIL, "no colours"),
     ({}, WARN, "TERM=unset: only 8 colours"),  # Textual still draws, in 8 colours
     ({"TERM": "xterm-kitty"}, OK, "256"),  # what Textual (Rich) picks, not a guess
     ({"TERM": "xterm", "TEXTUAL_COLOR_SYSTEM": "truecolor"}, OK, "24-bit"),
     ({"TERM": "xterm-256color", "NO_COLOR": "1"}, WARN, "monochrome")],
)  # fmt: skip
def test_the_colours(env: dict[str, str], level: str, words: str) -> None:
    found = doctor.terminal_findings(machine(env=env))[1]
    assert (found.name, found.level) == ("colours", level)
    assert words in found.detail
    assert (found.fix != "") == (level != OK)


def test_tmux_missing_is_a_warning_with_how_to_install() -> None:
    found = doctor.tmux_finding(lambda _name: None)
    assert found.level == WARN
    assert found.fix == "sudo apt install tmux"


def test_sim_mode_without_a_port_has_no_gateway_to_check(tmp_path: Path) -> None:
    import asyncio

    sim = Settings(mode="sim", symbol="ES", journal={"dir": tmp_path})
    [found] = asyncio.run(doctor.gateway_findings(sim, 1.0))
    assert found.level == "SKIP"
    assert "--paper" in found.detail


@pytest.mark.parametrize(
    ("mode", "said", "never"),
    [("sim", "tradeterm gateway --port 45811", "4002"),
     ("paper", "IB Gateway 4002 paper", "tradeterm gateway")],
)  # fmt: skip
def test_a_gateway_down_is_fixed_the_way_of_the_mode(mode: str, said: str, never: str) -> None:
    """In SIM with a port the gateway is tradeterm's own: IB Gateway's ports are no fix."""
    report = GatewayReport("127.0.0.1:45811", 110, 2.0, tcp_error="nothing is listening")
    settings = Settings(mode=mode, symbol="ES", connection={"port": 45811})
    [down, *_] = doctor._gateway(report, settings)
    assert (down.name, down.level) == ("gateway", FAIL)
    assert said in down.fix and never not in down.fix


GATEWAY_CHECKS = ["client id", "API", "accounts", "clock", "contract", "quotes (L1)",
                  "depth (L2)", "trades"]  # fmt: skip
"""Printed in this order whether they ran or not."""


@pytest.mark.parametrize(
    ("failed", "fails"),
    [({"tcp_error": "nothing is listening at 127.0.0.1:4002 (connection refused)"}, ["gateway"]),
     ({"connect_error": "the API handshake did not finish within 2s"}, ["API"]),
     ({"connect_error": "client ids 110 and 999 are both in use (error 326)",
       "client_id_in_use": True}, ["client id", "API"])],
)  # fmt: skip
def test_a_gateway_check_that_could_not_run_says_skip_never_ok(
    failed: dict[str, object], fails: list[str]
) -> None:
    report = GatewayReport("127.0.0.1:4002", 110, 2.0, **failed)  # type: ignore[arg-type]
    found = list(doctor._gateway(report, Settings(mode="paper", symbol="ES")))
    assert [f.name for f in found] == ["gateway", *GATEWAY_CHECKS]  # the order when all run
    assert [f.name for f in found if f.level == FAIL] == fails
    assert [f.name for f in found if f.level == SKIP] == [
        name for name in GATEWAY_CHECKS if name not in fails
    ]


def test_a_connection_closed_at_the_clock_check_leaves_the_rest_unchecked() -> None:
    report = GatewayReport("127.0.0.1:4002", 110, 2.0, client_id_in_use=False,
                           server_version=178, accounts=["DU0000001"],
                           lost="the gateway closed the API connection during the clock check")  # fmt: skip
    found = list(doctor._gateway(report, Settings(mode="paper", symbol="ES")))
    assert [(f.name, f.level) for f in found] == [
        ("gateway", OK), ("client id", OK), ("API", OK), ("accounts", OK), ("connection", FAIL),
        *((name, SKIP) for name in GATEWAY_CHECKS[3:]),
    ]  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("timeout", ["0", "-1", "300.5"])
def test_a_timeout_out_of_bounds_says_the_real_bounds(
    capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    code, out, err = run(capsys, "doctor", "--timeout", timeout)
    assert (code, out) == (2, "")
    assert (
        err == f"tradeterm: --timeout must be more than 0 and at most 300 seconds, got {timeout}\n"
    )


@pytest.mark.parametrize(
    ("flags", "toml"),
    [(["--theme", "neon"], ""), ([], '[ui.keymap]\nbuy_market = "s"\n')],
    ids=["theme", "keymap"],
)
def test_what_the_screen_would_refuse_the_doctor_refuses_with_the_same_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], toml: str
) -> None:
    config = tmp_path / "t.toml"
    config.write_text(toml)
    screen = run(capsys, "--config", str(config), *flags)
    assert screen[:2] == (2, "")  # the screen refuses it before it starts
    assert run(capsys, "doctor", "--config", str(config), *flags) == screen
