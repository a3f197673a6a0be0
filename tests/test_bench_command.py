"""``tradeterm bench``: every benchmark in one table. Figures are printed, never asserted here
(the machine is shared): what is checked is that every row is there with a number, or with
the reason it has none, and that a benchmark that fails or cannot run says so in its rows."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tradeterm.bench import instance, suite, ui
from tradeterm.bench.timing import Stuck
from tradeterm.control.place import Claim, control_dir
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

T = TypeVar("T")


def figures() -> list[str]:
    return [suite._template(row.figure) for step in suite.steps() for row in step.rows]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_bench_gives_every_row_a_number_or_a_reason(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADETERM_")}
    proc = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "bench", "--quick", "--json"],
        capture_output=True, text=True, timeout=840, check=False, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["size"] == "quick" and doc["machine"]
    rows = doc["rows"]
    assert [suite._template(r["figure"]) for r in rows] == figures()
    for row in rows:
        if row["value"] is None:  # only a benchmark that cannot run here, saying why
            assert row["note"].startswith("skipped: "), row
        else:
            assert isinstance(row["value"], int | float) and math.isfinite(row["value"]), row
            assert row["met"] in (None, True, False)
            assert (row["met"] is None) == (row["target"] is None), row
    cpu = next(r for r in rows if r["figure"] == suite.CPU)
    assert cpu["value"] is not None and cpu["value"] > 0  # the instance's CPU was read


def fake_steps() -> list[suite.Step]:
    def fine(quick: bool, args: argparse.Namespace) -> dict[str, suite.Value]:
        print("detail that stays out of the table")
        return {"a": 3.0, "b": (7.5, "at 990 msgs/s"), "c": "no recorded session at /x"}

    def broken(quick: bool, args: argparse.Namespace) -> dict[str, suite.Value]:
        raise RuntimeError("the gateway went away\nsecond line")

    return [
        suite.Step("fine", [suite.Row("a", "ms", suite.Target("<", 5)),
                            suite.Row("b", "%", suite.Target("<", 5)), suite.Row("c", "MB"),
                            suite.Row("d", "s")], fine),
        suite.Step("broken", [suite.Row("e", "ms")], broken),
    ]  # fmt: skip


def options(**given: object) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    suite.add_arguments(parser)
    return argparse.Namespace(**{**vars(parser.parse_args([])), **given})


def test_rows_say_met_skipped_not_measured_and_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suite, "steps", fake_steps)
    assert suite.run(options(json=True)) == 1  # a benchmark failed
    out, err = capsys.readouterr()
    rows = {r["figure"]: r for r in json.loads(out)["rows"]}
    assert (rows["a"]["value"], rows["a"]["met"]) == (3.0, True)
    assert (rows["b"]["value"], rows["b"]["met"], rows["b"]["note"]) == (7.5, False,
                                                                       "at 990 msgs/s")  # fmt: skip
    assert rows["c"]["value"] is None and rows["c"]["note"] == "skipped: no recorded session at /x"
    assert rows["d"]["value"] is None and rows["d"]["note"] == "skipped: not measured"
    assert rows["e"]["note"] == "failed: RuntimeError: the gateway went away"
    assert "detail that stays out" not in out and "failed: broken" in err


def test_the_table_is_markdown_with_a_machine_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suite, "steps", lambda: fake_steps()[:1])
    assert suite.run(options(detail=True)) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert "cores" in lines[0] and "quick" not in lines[0]
    assert lines[1] == "| figure | value | unit | target | met | note |"
    assert "| a | 3.00 | ms | < 5 | yes |  |" in lines
    assert "| b | 7.50 | % | < 5 | **no** | at 990 msgs/s |" in lines
    assert "detail that stays out of the table" in err  # --detail


def test_a_failed_rows_note_is_one_readable_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A screen's last output came into the table as ~600 characters of escape bytes."""

    def stuck(quick: bool, args: argparse.Namespace) -> dict[str, suite.Value]:
        raise RuntimeError("no screen (it said: \x1b[?1049h\x1b[?1000h\x1b[1;1Htradeterm: ES SIM "
                           "is already running\x07\r\nnext)")  # fmt: skip

    monkeypatch.setattr(suite, "steps", lambda: [suite.Step("ui", [suite.Row("e", "ms")], stuck)])
    assert suite.run(options(json=True)) == 1
    note = json.loads(capsys.readouterr().out)["rows"][0]["note"]
    assert note == "failed: RuntimeError: no screen (it said: tradeterm: ES SIM is already running"


def test_without_a_recorded_session_the_rss_rows_say_how_to_give_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """From a wheel there is no shared data beside the source: the reason named a path inside
    the venv instead of the option."""
    monkeypatch.setattr(instance, "shared_data", lambda: tmp_path)
    args = instance.parser().parse_args([])
    assert instance.replay_skip(args.replay) == (
        "no recorded session: pass --replay FILE (a Databento MBO .dbn.zst)"
    )
    missing = tmp_path / "x.dbn.zst"
    assert instance.replay_skip(missing) == f"no recorded session at {missing}"  # as given


def on_the_benchs_screen(use: Callable[[ui.Terminal], Awaitable[T]]) -> T:
    """``use``'s result on the bench's real screen (80x24) at a fake gateway of its own."""

    async def run() -> T:
        gateway = FakeGateway(GatewayConfig(port=0, seed=7))
        await gateway.start()
        try:
            async with ui.screen(80, 24, gateway) as term:
                return await use(term)
        finally:
            await gateway.stop()

    return asyncio.run(run())


def test_the_benchs_screen_runs_beside_the_traders_own_instance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The trader's ES SIM holds its claim in the user runtime dir: the bench's ES SIM screen
    was refused as a second one (every screen row failed) and, on an idle box, listed by
    ``tradeterm status`` as the trader's. It has a runtime dir of its own, gone afterwards."""
    runtime = Path(tempfile.mkdtemp(prefix="tt-run-"))  # short: a socket's path is ~100 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    claims = control_dir()
    assert claims == runtime / "tradeterm"
    traders = Claim(claims, "ES.sim")
    traders.acquire()

    async def live(term: ui.Terminal) -> Path:
        await term.wait_for(b"IB OK")
        assert sorted(p.name for p in claims.iterdir()) == ["ES.sim.lock"]  # the trader's only
        return term.runtime

    try:
        own = on_the_benchs_screen(live)
    finally:
        traders.release()
        shutil.rmtree(runtime, ignore_errors=True)
    assert not own.exists()


def test_a_screen_that_stops_is_one_readable_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui, "SETTINGS", {"TRADETERM_MARKETS__ES__RISK__NO_ENTRY_BEFORE_BREAK_MIN":
                                         "soon"})  # fmt: skip

    async def first_frame(term: ui.Terminal) -> float:
        return await term.wait_for(b"POSITION")

    with pytest.raises(Stuck) as stuck:
        on_the_benchs_screen(first_frame)
    said = str(stuck.value)
    assert said.startswith("no 'POSITION' on the screen (it ended with status 2; it said: ")
    assert "\x1b" not in said and "\n" not in said and len(said) < 400
