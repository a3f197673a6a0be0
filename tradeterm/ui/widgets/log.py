"""The on-screen log panel."""

from __future__ import annotations

from collections import deque
from typing import Self

from rich.console import RenderableType
from textual.events import Resize
from textual.widgets import RichLog


class LogPanel(RichLog):
    """The on-screen log. Lines wrap between words at the panel's width, and wrap again when
    the width changes: a RichLog renders each line once, at the width of that moment (and at
    least ``min_width``, 78 by default), so a line written before a resize would be cut."""

    def __init__(self, *, id: str | None = None, max_lines: int = 500) -> None:
        super().__init__(id=id, max_lines=max_lines, wrap=True, markup=False, min_width=1)
        self._entries: deque[object] = deque(maxlen=max_lines)
        self._wrapped_at = 0

    def write(
        self,
        content: RenderableType | object,
        width: int | None = None,
        expand: bool = False,
        shrink: bool = True,
        scroll_end: bool | None = None,
        animate: bool = False,
    ) -> Self:
        if self._size_known:  # before, RichLog keeps it and writes it again once sized
            self._entries.append(content)
        return super().write(content, width, expand, shrink, scroll_end, animate)

    def on_resize(self, event: Resize) -> None:
        width = event.size.width
        if self._size_known and width and width != self._wrapped_at:
            self.clear()
            for entry in self._entries:
                super().write(entry)
        if width:
            self._wrapped_at = width
