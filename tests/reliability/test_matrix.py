"""The fault × action matrix (issue 20; see harness.py for what a cell does and observe.py
for what it checks). A failing cell prints what is violated and the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import (
    FAULTS,
    KNOWN_FAILURES,
    Action,
    Failed,
    Fault,
    cells,
    make_cell,
    not_applicable,
    readme_table,
)

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.timeout(180)]


def _param(fault: Fault, timing: str, action: Action) -> object:
    known = KNOWN_FAILURES.get((fault.name, timing, action.name))
    marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
    return pytest.param(fault, timing, action, id=f"{fault.name}:{timing}-{action.name}",
                        marks=marks)  # fmt: skip


@pytest.mark.parametrize(("fault", "timing", "action"), [_param(*c) for c in cells()])
async def test_cell(fault: Fault, timing: str, action: Action, tmp_path: Path) -> None:
    why = not_applicable(fault, timing, action)
    if why:
        pytest.skip(f"n/a: {why}")
    failure = None
    try:
        await make_cell(fault, timing, action, tmp_path).run()
    except Failed as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(failure, pytrace=False)


def test_the_matrix_covers_every_fault_the_gateway_injects() -> None:
    from tradeterm.sim.gateway.faults import KINDS

    rows = {f.name.removesuffix("-1101").removesuffix("-1102") for f in FAULTS}
    assert rows == {"none", *KINDS}


def test_the_readme_shows_this_matrix() -> None:
    readme = Path(__file__).resolve().parents[2] / "README.md"
    assert readme_table() in readme.read_text()
