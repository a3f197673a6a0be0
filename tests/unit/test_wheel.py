"""The wheel a user installs carries every file the app reads at run time: the built-in
themes (without them the screen refuses to start: "unknown theme 'dark'"), the stylesheets and
the type marker. Built from this checkout with pip, as a user's install would build it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tradeterm import paths

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_the_wheel_ships_the_themes_and_stylesheets(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("tradeterm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {Path(n).name for n in names if n.startswith("tradeterm/themes/")}
    in_repo = {p.name for p in paths.builtin_themes_dir().glob("*.toml")}
    assert in_repo >= {"dark.toml", "light.toml", "high-contrast.toml", "colorblind.toml"}
    assert shipped == in_repo
    stylesheets = {p.name for p in (ROOT / "tradeterm" / "ui").glob("*.tcss")}
    assert {f"tradeterm/ui/{n}" for n in stylesheets} <= names
    assert "tradeterm/py.typed" in names


def test_the_builtin_themes_are_package_data_that_the_top_level_themes_links_to() -> None:
    builtin = paths.builtin_themes_dir()
    assert builtin.parent == Path(paths.__file__).resolve().parent  # inside the package
    assert (ROOT / "themes").resolve() == builtin.resolve()
