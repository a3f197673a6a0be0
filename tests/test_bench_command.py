"""``tradeterm bench``: every benchmark in one table. Figures are printed, never asserted here
(the machine is shared): what is checked is that every row is there with a number, or with
the reason it has none, and that a benchmark that fails or cannot run says so in its rows."""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tradeterm.bench import suite


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
