"""Trade direction."""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """The direction of an order or a fill. The values are IB's order ``action`` strings."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL: the sign a fill of this side gives to a position change."""
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @classmethod
    def parse(cls, text: str) -> Side:
        """Read a side from user or broker text: BUY/SELL, IB execution sides BOT/SLD, or B/S
        (case-insensitive)."""
        try:
            return _ALIASES[text.strip().upper()]
        except KeyError:
            raise ValueError(f"not a side: {text!r}") from None


_ALIASES = {
    "BUY": Side.BUY,
    "BOT": Side.BUY,
    "B": Side.BUY,
    "SELL": Side.SELL,
    "SLD": Side.SELL,
    "S": Side.SELL,
}
