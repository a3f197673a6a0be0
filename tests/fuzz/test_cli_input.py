"""Fuzzed command lines: ``tradeterm`` and its commands with random flags and values.

``main()`` runs in this process with its run steps stubbed (the screen, the console's
runtime, the gateway's server, logging): everything up to them runs for real, so every flag
and value is parsed and validated as a user's would be, and nothing starts, listens or
connects. Either the command succeeds (exit 0) or it exits with status 2 and one clear line
on stderr (argparse's usage block before it; a configuration's problems one line each), no
traceback and no "unexpected error".
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest import mock

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz
from tests.fuzz.strategies import JUNK, LINE_BREAKS, numbers
from tradeterm.cli.main import main

NUMBERS = ("0", "1", "4002", "65535", "65536", "-1", "2.5", "1e3", "nan", "inf")
SETTINGS = {"--config": "file", "--sim": None, "--shadow": None, "--paper": None, "--live": None,
            "--host": ("127.0.0.1", "::1", "", "ib.example"), "--port": NUMBERS,
            "--client-id": NUMBERS, "--theme": ("dark", "light", "nosuch", "../x", "")}  # fmt: skip
WHICH = {"--mode": ("sim", "paper", "live", "shadow", "SIM"), "--journal": "file",
         "--from": ("2024-07-01", "2024-13-01", "07/01/2024"), "--to": ("2024-06-30", "x")}  # fmt: skip
# each command, the words that name it, its symbol argument (if any) and its options
COMMANDS: dict[str, tuple[list[str], bool, dict[str, Any]]] = {
    "screen": ([], True, SETTINGS),
    "console": (["console"], True, {**SETTINGS, "--for": NUMBERS, "--seed": NUMBERS}),
    "gateway": (
        ["gateway"],
        False,
        {
            "--config": "file",
            "--host": ("127.0.0.1", "", "256.0.0.1"),
            "--port": NUMBERS,
            "--symbols": ("ES", "ES,NQ", ",", "XYZ", "es, cl"),
            "--seed": NUMBERS,
            "--replay": "file",
            "--speed": ("1", "10x", "max", "0", "-1", "x"),
            "--rate": NUMBERS,
            "--account": ("DU1", ""),
            "--master-client-id": NUMBERS,
            "--faults": ("farm@20:5", "lost@40:3:1101", "reject@", "x@1", "farm@-1:5"),
            "--commission": ("2.25", "0", "-1", "nan", "abc"),
        },
    ),
    "locate": (["locate"], False, SETTINGS),
    "config show": (["config", "show"], False, {**SETTINGS, "--format": ("text", "json", "x")}),
    "report": (["report"], True, {**SETTINGS, **WHICH, "--format": ("table", "json", "csv")}),
    "journal export": (
        ["journal", "export"],
        True,
        {
            **SETTINGS,
            **WHICH,
            "--what": ("fills", "orders", "events", "bars", "x"),
            "--format": ("csv", "json", "table"),
        },
    ),
}
EXTRA = ("--help", "--version", "-h", "--po", "--", "-", "config", "console", "data")
USAGE_ERROR = re.compile(r"tradeterm( [a-z]+)*: error: \S")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Paths to give --config, --journal and --replay: files that are TOML, broken TOML,
    not UTF-8, a directory, missing."""
    root = tmp_path_factory.mktemp("cli")
    good, broken, binary = root / "good.toml", root / "broken.toml", root / "binary"
    good.write_text('mode = "paper"\n[connection]\nport = 4002\n')
    broken.write_text("[connection\nport = \n")
    binary.write_bytes(b"\xff\xfe\x00garbage")
    return [str(p) for p in (good, broken, binary, root, root / "missing.toml")]


@st.composite
def argvs(
    draw: st.DrawFn, files: list[str], commands: tuple[str, ...] = tuple(COMMANDS)
) -> list[str]:
    """One of ``commands`` with some of its options (values of their kind, or any), now and
    then a word of another command, a flag without its value or a stray word."""
    words, symbol, options = COMMANDS[draw(st.sampled_from(sorted(commands)))]
    anything = st.one_of(numbers(), st.sampled_from(files), JUNK)
    argv = list(words)
    if words == ["locate"]:
        argv.append(draw(st.sampled_from(["config", "data", "logs", "themes", "x"])))
    if symbol and draw(st.booleans()):
        argv.append(draw(st.one_of(st.sampled_from(["ES", "nq", "XYZ", "", "E S"]), JUNK)))
    for flag in draw(st.lists(st.sampled_from(sorted(options)), max_size=4)):
        kind = options[flag]
        if kind is None:
            argv.append(flag)
            continue
        own = st.sampled_from(files if kind == "file" else kind)
        value = draw(st.one_of(own, own, anything))
        argv += draw(st.sampled_from([[flag, value], [f"{flag}={value}"]]))
    if draw(st.integers(0, 4)) == 3:  # (not 0 nor 4: hypothesis draws those often)
        argv.insert(
            draw(st.integers(0, len(argv))), draw(st.one_of(st.sampled_from(EXTRA), anything))
        )
    return argv


@contextlib.asynccontextmanager
async def _no_runtime(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
    yield mock.Mock(unwritten=[])


@contextlib.contextmanager
def run_steps_stubbed() -> Iterator[list[str]]:
    """Everything a valid command would start, replaced by a note of it."""
    from tradeterm.cli import screen

    started: list[str] = []

    def run_screen(settings: Any, **kwargs: Any) -> int:
        screen.check_screen(settings)  # what the screen refuses before it starts
        started.append("screen")
        return 0

    async def console(*args: Any) -> int:
        started.append("console")
        return 0

    async def gateway(config: Any) -> None:
        started.append("gateway")

    with (
        mock.patch("tradeterm.cli.screen.run", run_screen),
        mock.patch("tradeterm.runtime.open_runtime", _no_runtime),
        mock.patch("tradeterm.console._run", console),
        mock.patch("tradeterm.cli.gateway.serve", gateway),
        mock.patch("tradeterm.logs.setup_logging"),
    ):
        yield started


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, --version, a usage error
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_clean_exit(code: int, err: str) -> None:
    """Exit 0, or 2 with one clear line: argparse's (after its usage block), ours, or ours
    for a configuration (a heading and one line per problem)."""
    assert "Traceback" not in err and "unexpected error" not in err, err
    assert code in (0, 2), (code, err)
    if code == 0:
        return
    lines = err.rstrip("\n").split("\n")
    assert all(line.isprintable() for line in lines), lines
    assert not any(c in err.rstrip("\n") for c in LINE_BREAKS if c != "\n"), err
    if lines[0].startswith("usage: "):
        errors = [line for line in lines if USAGE_ERROR.match(line)]
        assert errors == lines[-1:], lines
        assert all(line.startswith((" ", "usage: ")) for line in lines[:-1]), lines
    elif lines[0] == "tradeterm: invalid configuration:":
        assert len(lines) > 1 and all(line.startswith("  ") for line in lines[1:]), lines
    else:
        assert len(lines) == 1 and lines[0].startswith("tradeterm: "), lines


@fuzz(0.5)
@given(data=st.data())
def test_a_command_line_runs_or_exits_2_with_one_clear_line(files: list[str], data: Any) -> None:
    argv = data.draw(argvs(files), label="argv")
    with run_steps_stubbed() as started:
        code, _, err = run_main(argv)
    event(f"exit {code}" + (f" ({', '.join(started)} started)" if started else ""))
    assert_clean_exit(code, err)


@pytest.mark.parametrize(
    "argv",
    [
        ["gateway", "--commission", "nan"],  # Decimal NaN cannot be compared: InvalidOperation
        ["gateway", "--commission", "sNaN"],
        ["gateway", "--commission", "inf"],  # taken: an infinite commission
        ["gateway", "--commission", "abc"],  # Decimal("abc"): InvalidOperation, not ValueError
        ["report", "--journal", "."],  # a directory: IsADirectoryError
        ["journal", "export", "--what", "fills", "--journal", "."],
        ["--config", "a\0b"],  # no file name has a NUL in it: ValueError
        ["gateway", "\x1f"],  # argparse's line shows the word as typed: a control character
        ["--config", "\x1b[2J"],  # ... and so did ours ("config file ... does not exist")
        ["config", "show", "--config", "\n"],  # a line break in it split that line in two
    ],
    ids=lambda argv: " ".join(argv)[:40],
)
def test_found_command_lines_exit_2_with_one_clear_line(argv: list[str]) -> None:
    with run_steps_stubbed():
        code, _, err = run_main(argv)
    assert_clean_exit(code, err)
    assert code == 2


@fuzz(0.03, most=60)
@given(data=st.data())
def test_a_real_process_exits_0_or_2_without_a_traceback(files: list[str], data: Any) -> None:
    """A check of the stubs: the real command in its own process, for the commands that
    stop after validation (nothing to stub)."""
    argv = data.draw(argvs(files, ("config show", "locate")), label="argv")
    assume(not any("\0" in word for word in argv))  # no process takes a NUL in its arguments
    done = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", *argv], capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert_clean_exit(done.returncode, done.stderr)
