"""The systemd user units shipped in contrib/systemd (README "Running for real") cannot rot:
each parses into the sections and keys systemd knows, depends only on units shipped beside it
or on the user manager's own targets, and the tradeterm unit runs a real tradeterm command
with arguments its parser accepts, waiting for the port its mode connects to.

``systemd-analyze verify --user`` is the full check (it needs the executables present); this
one runs everywhere, CI included."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tradeterm.cli.main import COMMANDS, parse_args
from tradeterm.cli.options import settings_options
from tradeterm.config import DEFAULT_PORTS, ConnectionConfig

UNIT_DIR = Path(__file__).resolve().parents[2] / "contrib" / "systemd"
UNITS = ("ibgateway.service", "tradeterm-tmux.service")

# The keys these units may use, per section (systemd.unit(5), systemd.service(5),
# systemd.exec(5), systemd.kill(5)): a misspelt key is only a warning to systemd, and the
# setting silently does not apply.
KNOWN_KEYS = {
    "Unit": {"Description", "Documentation", "Wants", "Requires", "BindsTo", "After",
             "Before", "StartLimitIntervalSec", "StartLimitBurst"},
    "Service": {"Type", "ExecStartPre", "ExecStart", "ExecStartPost", "ExecStop",
                "ExecStopPost", "RemainAfterExit", "Restart", "RestartSec", "TimeoutStartSec",
                "TimeoutStopSec", "Environment", "EnvironmentFile", "WorkingDirectory",
                "KillMode", "KillSignal"},
    "Install": {"WantedBy", "RequiredBy", "Alias"},
}  # fmt: skip
# What a user manager has of its own: a user unit can neither want nor order itself after a
# system unit such as network-online.target or multi-user.target.
USER_TARGETS = {"default.target", "basic.target"}


def read_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values in order]}}`` as systemd reads a unit file: comments start
    with # or ;, a trailing backslash continues the line, a key may be given more than once."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    lines = iter((UNIT_DIR / name).read_text().splitlines())
    for raw in lines:
        line = raw.strip()
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines).strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{name}: {line!r} before any section"
        key, sep, value = line.partition("=")
        assert sep, f"{name}: {line!r} is not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def command_line(value: str) -> list[str]:
    """An Exec line as argv: without systemd's prefixes (``-`` ignores the exit status)."""
    return shlex.split(value.lstrip("-@:+!"))


def tradeterm_argv(unit: dict[str, dict[str, list[str]]]) -> list[str]:
    """The arguments of the unit's ``ExecStart`` after the tradeterm executable."""
    (start,) = unit["Service"]["ExecStart"]
    argv = command_line(start)
    assert Path(argv[0]).name == "tradeterm", f"ExecStart runs {argv[0]}, not tradeterm"
    return argv[1:]


@pytest.mark.parametrize("name", UNITS)
def test_a_unit_has_the_sections_and_keys_systemd_knows(name: str) -> None:
    unit = read_unit(name)
    assert set(unit) == set(KNOWN_KEYS), f"{name}: sections {sorted(unit)}"
    for section, keys in unit.items():
        unknown = set(keys) - KNOWN_KEYS[section]
        assert not unknown, f"{name}: unknown keys in [{section}]: {sorted(unknown)}"
    assert unit["Unit"]["Description"][0]
    assert len(unit["Service"]["ExecStart"]) == 1
    # systemd runs an absolute path (%h: the user's home directory)
    assert command_line(unit["Service"]["ExecStart"][0])[0].startswith(("/", "%h/"))
    # a user manager starts what default.target wants (at boot with lingering on)
    assert unit["Install"]["WantedBy"] == ["default.target"]


@pytest.mark.parametrize("name", UNITS)
def test_a_unit_depends_only_on_what_a_user_manager_has(name: str) -> None:
    unit = read_unit(name)
    shipped = {path.name for path in UNIT_DIR.glob("*.service")}
    for key in ("Wants", "Requires", "BindsTo", "After", "Before"):
        for value in unit["Unit"].get(key, []):
            for dependency in value.split():
                assert dependency in shipped | USER_TARGETS, f"{name}: {key}={dependency}"


def test_the_tradeterm_unit_waits_for_the_port_its_mode_connects_to() -> None:
    unit = read_unit("tradeterm-tmux.service")
    flags, _ = settings_options().parse_known_args(tradeterm_argv(unit))
    assert flags.mode in DEFAULT_PORTS, "the unit must name a mode that connects to IB Gateway"
    host = flags.host or ConnectionConfig().host
    port = flags.port or DEFAULT_PORTS[flags.mode]
    (wait,) = unit["Service"]["ExecStartPre"]
    assert f"/dev/tcp/{host}/{port}" in wait
    assert unit["Service"]["TimeoutStartSec"] == ["infinity"]  # a Sunday's second factor


def test_the_tradeterm_unit_runs_a_command_tradeterm_accepts() -> None:
    argv = tradeterm_argv(read_unit("tradeterm-tmux.service"))
    assert argv[0] == "tmux"
    if "tmux" not in COMMANDS:  # built on its own branch (issue 17); checked once merged
        pytest.skip("the tmux command is not in this build yet")
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # argparse said why on stderr
        pytest.fail(f"tradeterm {shlex.join(argv)}: refused by its parser ({exc.code})")
    assert args.detach is True  # a service must never wait on a terminal


def test_stopping_the_tradeterm_unit_closes_the_session_it_started() -> None:
    unit = read_unit("tradeterm-tmux.service")
    argv = tradeterm_argv(unit)
    session = argv[argv.index("--session") + 1]
    (stop,) = unit["Service"]["ExecStop"]
    assert command_line(stop)[1:] == ["kill-session", "-t", session]
    assert f"tmux attach -t {session}" in (UNIT_DIR / "tradeterm-tmux.service").read_text()
