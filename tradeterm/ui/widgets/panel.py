"""The panels' common ground: :class:`Panel`, a Static that repaints only when what it shows
changed (over SSH every repaint costs bytes), lays the screen out again only when its size may
have changed with it, and fits its text to its width again whenever its size changes, and the
text helpers the panels share."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from decimal import Decimal

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

from tradeterm.ui.styles import resolve

NS = 1_000_000_000


class Panel(Static):
    """A Static that ignores updates equal to what it shows. A panel whose lines depend on its
    width shows them through :meth:`fit`: its width when it is painted may not be its width on
    the screen (a panel just unfolded has none yet, a resized terminal lays the screen out
    after the paint), so the text is built again for the width the layout gives it.

    A new text repaints the panel; it lays the whole screen out again (the costliest part of a
    frame: every widget is placed anew) only when the panel's size may change with it: its
    height (or width) follows its content and the new text's lines are not the same number of
    whole lines that fit its width as the old one's (:meth:`_resizes`)."""

    DEFAULT_CSS = "Panel { height: auto; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes)
        self._shown: object = None
        self._build: Callable[[int], Text] | None = None
        self._lines: tuple[int, int] | None = None  # what is shown: (lines, widest), see _shape
        self.updates = 0

    def set(self, text: Text | str) -> None:
        key = (text.plain, tuple(text.spans)) if isinstance(text, Text) else text
        if key == self._shown:
            return
        self._shown = key
        self.updates += 1
        self._source = text
        lines, self._lines = self._lines, _shape(text)
        layout = self._resizes(lines, self._lines)
        self.update(resolve(text, self.app) if isinstance(text, Text) else text, layout=layout)

    def _resizes(self, old: tuple[int, int] | None, new: tuple[int, int] | None) -> bool:
        """Whether showing text of shape ``new`` instead of ``old`` may change the panel's
        size. A size set by the stylesheet (``height: 1``, ``1fr``) does not follow the text;
        an ``auto`` one does, unless both texts are the same number of lines, none wider than
        the panel (no line wraps: each is one row on the screen)."""
        height, width = self.styles.height, self.styles.width
        if width is not None and (width.is_auto or width.is_fraction):
            return True  # a fraction counts as auto when Textual measures the content
        if height is not None and not height.is_auto:
            return False
        room = self.content_size.width
        return old is None or new is None or old[0] != new[0] or max(old[1], new[1]) > room

    def fit(self, build: Callable[[int], Text]) -> None:
        """Show ``build(width)`` for the content width now and again at each new size."""
        self._build = build
        self.set(build(self.content_size.width))

    def on_resize(self) -> None:
        if self._build is not None:
            self.set(self._build(self.content_size.width))

    def on_mount(self) -> None:
        self.watch(self.app, "theme", self._retheme, init=False)

    def _retheme(self) -> None:
        source = getattr(self, "_source", None)
        if isinstance(source, Text):
            self.update(resolve(source, self.app))

    @property
    def shown(self) -> str:
        return self._shown[0] if isinstance(self._shown, tuple) else str(self._shown or "")


def _shape(text: Text | str) -> tuple[int, int] | None:
    """``text``'s lines and its widest line in cells; None when that is not what it shows
    (markup in a string, tabs)."""
    if not isinstance(text, Text) or "\t" in text.plain:
        return None
    lines = text.plain.split("\n")
    return len(lines), max(cell_len(line) for line in lines)


def money(amount: Decimal | float) -> str:
    return f"{amount:+,.2f}"


def signed(text: Text, label: str, amount: Decimal, style_up: str, style_down: str) -> None:
    text.append(label)
    style = style_up if amount > 0 else style_down if amount < 0 else ""
    text.append(money(amount), style=style)


def append_item(text: Text, item: Text | str, width: int, sep: str = "  ") -> None:
    """Append ``item`` to the last line of ``text``, ``sep`` before it, or on a new line when
    it would pass ``width``: a narrow panel breaks between items, never inside a number."""
    line = text.plain.rsplit("\n", 1)[-1]
    if not line:
        text.append(item)
    elif width and len(line) + len(sep) + len(item) > width:
        text.append("\n")
        text.append(item)
    else:
        text.append(sep)
        text.append(item)


def brief(text: str, width: int, lines: int = 2) -> str:
    """``text`` cut to what a panel can spare beside the others: its first sentence, on at
    most ``lines`` lines of ``width`` (broken here, between words), ending in ``…`` where
    anything was left out. For a reason whose whole text is in the log: a panel that grew
    with it would push the panels under it out of view."""
    first, _, rest = text.partition(". ")
    cut = bool(rest.strip())
    sentence = f"{first}." if cut else text
    if width <= 1:
        return f"{sentence}…" if cut else sentence
    wrapped = textwrap.wrap(sentence, width) or [""]
    if len(wrapped) > lines:
        wrapped, cut = wrapped[:lines], True
    if cut:
        last = wrapped[-1]
        wrapped[-1] = (last if len(last) < width else last[: width - 1]) + "…"
    return "\n".join(wrapped)
