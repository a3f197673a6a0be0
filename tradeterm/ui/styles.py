"""Theme variables in Rich styles: panels write ``"bold $loss"``; :func:`resolve` turns the
``$names`` into the current theme's colours before the text is shown."""

from __future__ import annotations

from typing import Any

from rich.text import Span, Text
from textual.app import App

_cache: dict[tuple[int, str], dict[str, str]] = {}


def variables(app: App[Any]) -> dict[str, str]:
    key = (id(app), app.theme)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = app.get_css_variables()
    return found


def _style(style: object, vars_: dict[str, str]) -> object:
    if not isinstance(style, str) or "$" not in style:
        return style
    words = []
    for word in style.split():
        if word.startswith("$"):
            word = vars_.get(word[1:], "default")
        words.append(word)
    return " ".join(words)


def resolve(text: Text, app: App[Any]) -> Text:
    vars_ = variables(app)
    out = text.copy()
    out.spans = [Span(s.start, s.end, _style(s.style, vars_)) for s in text.spans]  # type: ignore[arg-type]
    out.style = _style(out.style, vars_)  # type: ignore[assignment]
    return out
