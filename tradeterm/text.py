"""Text from outside (a typed line, a key in a config file, a message from IB) shown on a
terminal."""

from __future__ import annotations


def printable(text: str) -> str:
    """``text`` with every character that is not printable written as ``repr`` writes it
    (``\\x1b``, ``\\n``, ``\\u2028``): nothing shown acts on the terminal or breaks a line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
