"""The position panel says when the position is not wholly covered by working stops."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from tests.support.instruments import ES, PX_5000
from tradeterm.engine.portfolio import PnL
from tradeterm.ui.widgets.position_panel import position_text


def long(quantity: int) -> PnL:
    zero = Decimal(0)
    return PnL(quantity, Fraction(PX_5000), PX_5000, zero, zero, 0, 0, Fraction(0), zero, zero,
               zero, None)  # fmt: skip


@pytest.mark.parametrize(
    ("quantity", "protected", "says"),
    [(2, 0, "NO STOP"), (2, 1, "STOP 1/2"), (2, 2, ""), (0, 0, "")],
)
def test_a_position_without_its_stops_says_so_on_its_first_line(
    quantity: int, protected: int, says: str
) -> None:
    """A restart that lost its stops (SHADOW carries a position without them) showed
    ``POSITION LONG 2 @ 5000.00`` like a protected one at 80x24, where the log is hidden."""
    first = position_text(ES, long(quantity), 32, protected).plain.splitlines()[0]
    assert first.endswith(says) if says else "STOP" not in first
    assert len(first) <= 32  # the side panel at its narrowest (80x24)
