"""The tradeterm command: help, version, locate, config show, and its error paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tradeterm import __version__
from tradeterm.cli.main import main
from tradeterm.cli.strategy_option import CANARY_WITH_SHADOW
from tradeterm.strategies import BUILTINS


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's --help/--version/usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"tradeterm {__version__}"


def test_help_lists_commands_and_modes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for word in (
        "locate",
        "config",
        "strategies",
        "--paper",
        "--live",
        "--client-id",
        "TRADETERM_",
    ):
        assert word in out


def test_locate_prints_real_paths_under_xdg(
    capsys: pytest.CaptureFixture[str], isolated_user_dirs: Path
) -> None:
    home = isolated_user_dirs
    assert run(capsys, "locate", "config")[1].strip() == str(
        home / "config" / "tradeterm" / "tradeterm.toml"
    )
    assert run(capsys, "locate", "data")[1].strip() == str(home / "data" / "tradeterm")
    assert run(capsys, "locate", "logs")[1].strip() == str(home / "state" / "tradeterm" / "log")
    themes = run(capsys, "locate", "themes")[1].split()
    assert themes[0] == str(home / "config" / "tradeterm" / "themes")
    assert Path(themes[1]).name == "themes"


def test_locate_config_honours_flag_and_logs_honour_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "my.toml"
    cfg.write_text(f'[logging]\ndir = "{tmp_path / "L"}"\n')
    assert run(capsys, "locate", "config", "--config", str(cfg))[1].strip() == str(cfg)
    assert run(capsys, "locate", "logs", "--config", str(cfg))[1].strip() == str(tmp_path / "L")


def test_config_show_marks_origin_of_each_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('mode = "paper"\n[ui]\ntheme = "light"\n')
    monkeypatch.setenv("TRADETERM_CONNECTION__CLIENT_ID", "12")
    code, out, _ = run(capsys, "config", "show", "--config", str(cfg), "--port", "4010")
    assert code == 0
    lines = {line.split(" = ")[0]: line for line in out.splitlines() if " = " in line}
    assert lines["mode"].endswith(f"# file {cfg}") and '"paper"' in lines["mode"]
    assert lines["connection.client_id"].endswith("# env TRADETERM_CONNECTION__CLIENT_ID")
    assert (
        lines["connection.port"].endswith("# command line") and "4010" in lines["connection.port"]
    )
    assert lines["connection.host"].endswith("# default")


def test_config_show_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "show", "--format", "json", "--live")
    doc = json.loads(out)
    assert code == 0
    assert doc["mode"] == {"value": "live", "origin": "command line"}
    assert doc["markets.ES.default_qty"]["origin"] == "default"


def test_bad_config_value_exits_2_with_one_clear_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text("[markets.ES.risk]\nmax_position = -1\n")
    code, out, err = run(capsys, "config", "show", "--config", str(cfg))
    assert code == 2 and out == ""
    assert "markets.ES.risk.max_position = -1" in err and "greater than or equal to 1" in err
    assert "Traceback" not in err


def test_bad_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--port", "abc")
    assert code == 2 and "argument --port: not a whole number: 'abc'" in err


def test_conflicting_modes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--paper", "--live")
    assert code == 2 and "not allowed with" in err


def test_unexpected_error_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import tradeterm.cli.main as cli

    def boom(args: object) -> int:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli, "_cmd_locate", boom)
    code, _, err = run(capsys, "locate", "data")
    assert code == 1
    assert err.strip() == "tradeterm: unexpected error: RuntimeError: disk on fire"


def test_console_script_runs_in_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "d")}
    proc = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "locate", "data"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "d" / "tradeterm")


BAD_INPUT_PER_FRONT_END = [
    (["--theme", "neon"], "unknown theme 'neon'; available: "),
    (["console", "--live"], "LIVE trading is refused in the console"),
    (["gateway", "--port", "70000"], "--port 70000 is not a TCP port (0-65535)"),
    (["report"], "no journal at "),
    (["journal", "export", "--what", "fills"], "no journal at "),
    (["config", "show", "--theme", "neon"], "unknown theme 'neon'; available: "),
    (["strategies", "nope"], "unknown strategy 'nope'; installed: ema_scalp, opening_range, "),
    (["strategies", "sma_cross", "--param", "fast=x"], "sma_cross: fast='x': Input should be"),
]


@pytest.mark.parametrize(
    ("argv", "line"),
    BAD_INPUT_PER_FRONT_END,
    ids=[" ".join(argv[:2]) for argv, _ in BAD_INPUT_PER_FRONT_END],
)
def test_each_front_ends_bad_input_is_one_line_and_exit_2_however_the_command_is_started(
    isolated_user_dirs: Path, argv: list[str], line: str
) -> None:
    """``python -m tradeterm.cli`` (what the tests, benchmarks and soak run) as the installed
    ``tradeterm``: every command says its errors with the CLI's one error type, which carries
    the exit status. The journal commands raised ``tradeterm.cli.UsageError``, another class
    than the one ``__main__`` caught: 'unexpected error: UsageError: no journal ...', exit 1."""
    proc = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", *argv],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (proc.returncode, proc.stdout) == (2, ""), proc.stderr
    assert proc.stderr.startswith(f"tradeterm: {line}") and proc.stderr.count("\n") == 1


def test_unknown_theme_exits_2_listing_the_available_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "--theme", "neon")
    assert code == 2 and out == ""
    assert err.startswith("tradeterm: unknown theme 'neon'; available: ")
    for name in ("colorblind", "dark", "high-contrast", "light"):
        assert name in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_unknown_keymap_action_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[ui.keymap]\nbuy_now = "ctrl+b"\n')
    code, _, err = run(capsys, "--config", str(cfg))
    assert code == 2 and "unknown action(s) in ui.keymap: buy_now" in err


REFUSED_AT_START_AND_IN_CONFIG_SHOW = [
    ('[ui.keymap]\nbuy_market = "s"\n',
     "ui.keymap: buy_market = 's': s is sell_market's key; move sell_market too"),
    ('[ui.keymap]\nbuy_market = "ctrl+k"\n',
     "ui.keymap: buy_market = 'ctrl+k': ctrl+k is the kill switch's key"),
    ('[ui.keymap]\nflatten = "ctrl+p"\n',
     "ui.keymap: flatten = 'ctrl+p': ctrl+p opens the command palette"),
    ('[ui.keymap]\nflatten = "ctrl+b"\n',
     "ui.keymap: flatten = 'ctrl+b': ctrl+b is tmux's prefix key (tmux never passes it on)"),
    ('[ui.keymap]\nflatten = "ctrl+shift+f"\n',
     "ui.keymap: flatten = 'ctrl+shift+f': 'ctrl+shift+f' is not a key a terminal delivers (a "
     "character, a named key such as f5 or pageup, ctrl+ a letter, alt+ a letter or digit, "
     "shift+ a named key)"),
]  # fmt: skip


@pytest.mark.parametrize("command", [[], ["config", "show"]], ids=["start", "config show"])
@pytest.mark.parametrize(("toml", "line"), REFUSED_AT_START_AND_IN_CONFIG_SHOW)
def test_a_keymap_the_screen_cannot_honour_is_one_line_and_exit_2_at_start_and_in_config_show(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str], toml: str, line: str
) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text(toml)
    code, out, err = run(capsys, *command, "--config", str(cfg))
    assert (code, out, err) == (2, "", f"tradeterm: {line}\n")


def test_an_unknown_theme_is_refused_by_config_show_too(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "config", "show", "--theme", "neon")
    assert code == 2 and out == ""
    assert err.startswith("tradeterm: unknown theme 'neon'; available: ")
    assert len(err.strip().splitlines()) == 1
    assert err == run(capsys, "--theme", "neon")[2]  # the same line as at start


@pytest.mark.parametrize("command", [[], ["config", "show"]], ids=["start", "config show"])
def test_a_default_quantity_the_risk_limits_refuse_is_refused_at_load(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text("[markets.ES]\ndefault_qty = 3\n[markets.ES.risk]\nmax_order_qty = 2\n")
    code, out, err = run(capsys, *command, "--config", str(cfg))
    assert code == 2 and out == ""
    assert err == (
        "tradeterm: invalid configuration:\n"
        f"  markets.ES.default_qty = 3 (file {cfg}): expected at most risk.max_order_qty = 2: "
        "every order of 3 would be refused\n"
    )


def test_shadow_mode_on_the_screen_without_a_gateway_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.app import App

    def run_headless(self: App[object], **kw: object) -> object:  # no terminal in pytest
        import asyncio

        async def go() -> None:
            async with self.run_test(size=(80, 24)) as pilot:
                while self.is_running:
                    await pilot.pause(0.05)

        asyncio.run(go())
        return self.return_value

    monkeypatch.setattr(App, "run", run_headless)
    code, _, err = run(capsys, "--shadow", "--port", "1")
    assert code == 1 and len(err.strip().splitlines()) == 1  # SHADOW is built: it connects
    assert err.startswith(
        "tradeterm: cannot start ES in SHADOW mode via 127.0.0.1:1 (market data only: fills "
        "simulated here, no order reaches IB): cannot connect to IB at 127.0.0.1:1: "
    )


@pytest.fixture
def console_runs(monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """``tradeterm console`` without starting anything: the ``seconds`` it would run for."""
    started: list[float | None] = []

    async def fake_run(
        settings: object, *, seconds: float | None, seed: int, strategy: object = None,
        canary: float | None = None,
    ) -> int:  # fmt: skip
        started.append(seconds)
        return 0

    monkeypatch.setattr("tradeterm.console.run", fake_run)
    return started


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--canary", "0.5"], "--canary needs --strategy NAME"),
        (["--strategy", "sma_cross", "--canary", "0"], "--canary must be a fraction above 0"),
        (["--strategy", "sma_cross", "--canary", "1.5"], "at most 1, got 1.5"),
        (["--strategy", "sma_cross", "--canary", "0.5", "--shadow"], CANARY_WITH_SHADOW),
    ],
)
def test_console_canary_refuses_bad_input_in_one_line(
    capsys: pytest.CaptureFixture[str], console_runs: list[float | None], argv: list[str],
    line: str,
) -> None:  # fmt: skip
    code, _, err = run(capsys, "console", *argv)
    assert code == 2 and console_runs == []
    assert line in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_console_canary_runs_the_strategy_with_its_fraction(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, float | None]] = []

    async def fake_run(settings: object, *, seconds: float | None, seed: int,
                       strategy: Any = None, canary: float | None = None) -> int:  # fmt: skip
        asked.append((strategy.name, canary))
        return 0

    monkeypatch.setattr("tradeterm.console.run", fake_run)
    assert run(capsys, "console", "--strategy", "sma_cross", "--canary", "0.25")[0] == 0
    assert asked == [("sma_cross", 0.25)]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "Infinity", "\u0663", "\uff11\uff10"])
def test_console_for_must_be_a_plain_number(
    capsys: pytest.CaptureFixture[str], console_runs: list[float | None], value: str
) -> None:
    code, _, err = run(capsys, "console", "--for", value)
    assert code == 2 and console_runs == []
    assert f"argument --for: not a number: {value!r}" in err and "Traceback" not in err


def test_console_for_takes_a_positive_number_of_seconds(
    capsys: pytest.CaptureFixture[str], console_runs: list[float | None]
) -> None:
    assert run(capsys, "console", "--for", "2.5")[0] == 0
    assert console_runs == [2.5]
    code, _, err = run(capsys, "console", "--for", "0")
    assert code == 2 and "--for must be a positive number of seconds, got 0" in err
    assert console_runs == [2.5]


@pytest.mark.parametrize("flag", ["--port", "--client-id"])
def test_whole_number_options_take_ascii_digits_only(
    capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    code, out, err = run(capsys, "config", "show", flag, "\u0664\u0660\u0660\u0662")
    assert code == 2 and out == ""
    assert f"argument {flag}: not a whole number: '\u0664\u0660\u0660\u0662'" in err


@pytest.mark.parametrize(
    "argv",
    [["XYZ"], ["console", "XYZ", "--for", "1"], ["report", "XYZ"],
     ["journal", "export", "XYZ", "--what", "fills"], ["config", "show"]],
    ids=["screen", "console", "report", "export", "config-show-env"],
)  # fmt: skip
def test_an_unknown_market_exits_2_listing_the_known_ones_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], isolated_user_dirs: Path,
    monkeypatch: pytest.MonkeyPatch, argv: list[str],
) -> None:  # fmt: skip
    if argv == ["config", "show"]:  # from the environment (or a file) it is the same
        monkeypatch.setenv("TRADETERM_SYMBOL", "XYZ")
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert "symbol = 'XYZ'" in err
    assert (
        "known markets: ES, MES, NQ, MNQ, YM, MYM, RTY, M2K, ZN, ZB, 6E, CL, MCL, NG, GC, "
        "MGC, SI, M6E (in paper or live mode, any futures root IB lists)"
    ) in err
    assert "Traceback" not in err and "KeyError" not in err
    assert not any(p.is_file() for p in isolated_user_dirs.rglob("*"))  # no journal, no log


def test_nothing_below_the_command_line_imports_it_and_its_modules_form_no_cycle() -> None:
    """The command line is the top layer: no module outside ``tradeterm.cli`` imports it,
    directly or through another (the journal commands imported the CLI for its error class,
    a cycle), and its own modules import each other one way only."""
    import grimp

    graph = grimp.build_graph("tradeterm", cache_dir=None)
    assert graph.find_downstream_modules("tradeterm.cli", as_package=True) == set()
    modules = sorted(graph.find_children("tradeterm.cli"))
    cycles = [
        (a, b)
        for a in modules
        for b in modules
        if a < b
        and graph.chain_exists(importer=a, imported=b)
        and graph.chain_exists(importer=b, imported=a)
    ]
    assert cycles == []


def test_strategies_lists_each_parameter_with_its_type_default_and_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "strategies")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "sma_cross  (built-in: tradeterm.strategies.sma_cross:SmaCross)"
    assert lines[1].startswith("  Long N while SMA(fast)")
    rows = {line.split()[0]: line.split(maxsplit=3)[1:] for line in lines[3:6]}
    assert rows["fast"] == ["int", "10", "bars in the fast average of closes (>= 1)"]
    assert rows["slow"][:2] == ["int", "30"] and rows["quantity"][:2] == ["int", "1"]


def test_strategies_lists_the_four_built_ins_each_with_its_parameters(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "strategies")
    assert (code, err) == (0, "")
    blocks = {block.split()[0]: block.splitlines() for block in out.strip().split("\n\n")}
    want = {
        "sma_cross": ["fast", "slow", "quantity"],
        "ema_scalp": ["fast", "slow", "atr_bars", "stop_atr", "target_r", "max_bars"],
        "trend_pullback": ["trend_bars", "slope_bars", "pullback_ema", "pullback_bars",
                           "atr_bars", "min_atr_ticks", "max_atr_ticks", "stop_atr", "target_r"],
        "opening_range": ["session_open", "range_minutes", "stop_cap_ticks", "target_range",
                          "flat_minutes"],
    }  # fmt: skip
    assert list(blocks) == list(want)
    for name, params in want.items():
        lines = blocks[name]
        assert lines[0] == f"{name}  (built-in: {BUILTINS[name]})"
        assert lines[2].split() == ["parameter", "type", "default"]
        assert [line.split()[0] for line in lines[3:]] == params
    session_open, *_, target_range, _ = (
        " ".join(line.split()) for line in blocks["opening_range"][3:]
    )
    assert session_open == (
        "session_open Literal['rth', 'globex'] 'rth' the open the range starts at: rth 08:30 or "
        "globex 17:00 Chicago"
    )
    assert target_range == (
        "target_range Decimal 1 target: this many times the range's height from the "
        "fill (> 0, <= 20)"
    )


def test_strategies_checks_parameters_and_shows_the_values_a_run_would_use(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "strategies", "sma_cross", "--param", "fast=4", "--param", "quantity=3"
    )
    assert code == 0
    values = {line.split()[0]: line.split()[2] for line in out.splitlines()[3:6]}
    assert values == {"fast": "4", "slow": "30", "quantity": "3"}
    code, out, err = run(capsys, "strategies", "--param", "fast=4")
    assert (code, out, err) == (2, "", "tradeterm: --param needs a strategy NAME\n")


def test_strategies_lists_a_package_whose_strategy_cannot_be_imported_and_the_others(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    broken = metadata.EntryPoint("orb", "no_such_pkg_xyz:Orb", "tradeterm.strategies")
    monkeypatch.setattr(metadata, "entry_points", lambda **select: [broken])
    code, out, _ = run(capsys, "strategies")
    assert code == 0 and out.startswith("sma_cross  (built-in: ")
    assert "orb  (entry point) cannot be loaded: no_such_pkg_xyz:Orb: no module named " in out


@pytest.fixture
def screen_runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """``tradeterm [SYMBOL]`` without opening the screen: the strategy it would run with (and
    its CANARY fraction, when there is one)."""
    runs: list[object] = []

    def fake_run(
        settings: object, *, seed: int = 1, strategy: object = None, canary: object = None,
        watch_only: bool = False, replay: object = None,
    ) -> int:  # fmt: skip
        runs.append(
            "watch-only" if watch_only else strategy if canary is None else (strategy, canary)
        )
        return 0

    monkeypatch.setattr("tradeterm.cli.screen.run", fake_run)
    return runs


def test_the_screen_takes_the_consoles_strategy_option(
    capsys: pytest.CaptureFixture[str], screen_runs: list[object]
) -> None:
    from tradeterm.strategies import Loaded

    code, _, err = run(capsys, "ES", "--shadow", "--strategy", "sma_cross",
                       "--param", "fast=2", "--param", "slow=3")  # fmt: skip
    assert (code, err) == (0, "")
    (loaded,) = screen_runs
    assert isinstance(loaded, Loaded) and loaded.name == "sma_cross"
    assert loaded.strategy.params.model_dump() == {"fast": 2, "slow": 3, "quantity": 1}


def test_the_screen_takes_a_canary_fraction_like_the_console(
    capsys: pytest.CaptureFixture[str], screen_runs: list[object]
) -> None:
    code, _, err = run(capsys, "ES", "--sim", "--strategy", "sma_cross", "--canary", "0.25")
    assert (code, err) == (0, "")
    (ran,) = screen_runs
    assert isinstance(ran, tuple) and ran[1] == 0.25
    assert getattr(ran[0], "name", None) == "sma_cross"


@pytest.mark.parametrize(
    ("argv", "line"),
    [(["--strategy", "nope"], "unknown strategy 'nope'"),
     (["--strategy", "sma_cross", "--param", "fast=50"], "fast (50) must be fewer bars than slow"),
     (["--param", "fast=5"], "--param needs --strategy NAME")],
)  # fmt: skip
def test_the_screen_refuses_a_bad_strategy_in_one_line_before_it_opens(
    capsys: pytest.CaptureFixture[str], screen_runs: list[object], argv: list[str], line: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, screen_runs) == (2, "", [])
    assert err.startswith("tradeterm: ") and line in err and err.count("\n") == 1


def test_the_screen_watches_only_what_can_be_watched(
    capsys: pytest.CaptureFixture[str], screen_runs: list[object]
) -> None:
    assert run(capsys, "ES", "--paper", "--watch-only") == (0, "", "")
    assert screen_runs == ["watch-only"]
    for argv, line in (
        (["--sim"], "--watch-only in SIM watches a running gateway"),
        (["--shadow"], "--watch-only cannot show a SHADOW instance"),
        (["--paper", "--strategy", "sma_cross"], "--watch-only runs no strategy"),
    ):
        code, _, err = run(capsys, "ES", "--watch-only", *argv)
        assert code == 2 and err.startswith(f"tradeterm: {line}") and err.count("\n") == 1
    assert screen_runs == ["watch-only"]  # none of them opened the screen
