"""Colour themes: plain TOML files turned into Textual ``Theme`` objects.

A theme file holds Textual's base palette (``primary``, ``background``...) and a
``[variables]`` table of tradeterm's own colours (``ladder-bid``, ``mode-live``...), which CSS
reads as ``$ladder-bid`` and the ladder reads from the app's theme. Files in the user themes
directory override built-in ones of the same name.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from textual.theme import Theme

from tradeterm import paths

# every theme must define these (the ladder and the status bar paint with them)
REQUIRED_VARIABLES = (
    "ladder-bid", "ladder-bid-text", "ladder-ask", "ladder-ask-text", "ladder-price",
    "ladder-last", "ladder-last-text", "ladder-cursor", "ladder-avg", "ladder-volume",
    "ladder-own-buy", "ladder-own-sell", "ladder-header", "ladder-muted", "profit", "loss",
    "mode-sim", "mode-paper", "mode-live", "armed", "stale", "large-print",
)  # fmt: skip
# tradeterm's variables for a theme that lacks them (Textual's own, picked in the palette):
# the dark theme's values
DEFAULT_VARIABLES: dict[str, str] = {
    "ladder-bid": "#1d4f91",
    "ladder-bid-text": "#e6efff",
    "ladder-ask": "#8c2a2e",
    "ladder-ask-text": "#ffeaea",
    "ladder-price": "#c9d1d9",
    "ladder-last": "#f0c000",
    "ladder-last-text": "#000000",
    "ladder-cursor": "#3a4556",
    "ladder-avg": "#c678dd",
    "ladder-volume": "#6e7a8a",
    "ladder-own-buy": "#5fb0ff",
    "ladder-own-sell": "#ff7b72",
    "ladder-header": "#8b949e",
    "ladder-muted": "#5c6370",
    "profit": "#46a758",
    "loss": "#e5484d",
    "mode-sim": "#2d6a4f",
    "mode-paper": "#1d4f91",
    "mode-live": "#d00000",
    "armed": "#d8a24f",
    "stale": "#ff4d4f",
    "large-print": "#f0c000",
}
_BASE_KEYS = (
    "primary", "secondary", "accent", "warning", "error", "success", "foreground",
    "background", "surface", "panel", "boost",
)  # fmt: skip


class ThemeError(Exception):
    """A theme that cannot be used, worded for the user."""


def theme_files(dirs: tuple[Path, ...] | None = None) -> dict[str, Path]:
    """Theme name -> file; later directories (the user's) override earlier ones."""
    found: dict[str, Path] = {}
    for directory in dirs or (paths.builtin_themes_dir(), paths.user_themes_dir()):
        if directory.is_dir():
            for file in sorted(directory.glob("*.toml")):
                found[file.stem] = file
    return found


def load_theme(file: Path) -> Theme:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeError(f"theme file {file} cannot be read: {exc}") from None
    name = data.get("name", file.stem)
    if name != file.stem:
        raise ThemeError(f"theme file {file} names itself {name!r}: name must match the file")
    if "primary" not in data:
        raise ThemeError(f"theme file {file} has no 'primary' colour")
    variables = data.get("variables", {})
    missing = [v for v in REQUIRED_VARIABLES if v not in variables]
    if missing:
        raise ThemeError(f"theme file {file} lacks [variables] {', '.join(missing)}")
    unknown = set(data) - {"name", "dark", "variables", *_BASE_KEYS}
    if unknown:
        raise ThemeError(f"theme file {file}: unknown key(s) {', '.join(sorted(unknown))}")
    try:
        base: dict[str, Any] = {k: str(data[k]) for k in _BASE_KEYS if k in data}
        theme = Theme(
            name=name,
            dark=bool(data.get("dark", True)),
            variables={str(k): str(v) for k, v in variables.items()},
            **base,
        )
        theme.to_color_system()  # bad colours fail here, not on the screen
    except Exception as exc:
        raise ThemeError(f"theme file {file}: {exc}") from None
    return theme


def load_themes(dirs: tuple[Path, ...] | None = None) -> dict[str, Theme]:
    return {name: load_theme(file) for name, file in theme_files(dirs).items()}


def select_theme(name: str, dirs: tuple[Path, ...] | None = None) -> tuple[Theme, dict[str, Theme]]:
    """The theme called ``name`` and every available one; :class:`ThemeError` listing the
    available names when there is none by that name."""
    files = theme_files(dirs)
    if name not in files:
        where = ", ".join(
            str(d) for d in dirs or (paths.builtin_themes_dir(), paths.user_themes_dir())
        )
        available = ", ".join(sorted(files)) or "none"
        raise ThemeError(f"unknown theme {name!r}; available: {available} (from {where})")
    themes = load_themes(dirs)
    return themes[name], themes
