"""The position panel: side, size, average price and P&L, from the engine snapshot."""

from __future__ import annotations

from fractions import Fraction

from rich.text import Text

from tradeterm.domain import Instrument
from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.portfolio import PnL
from tradeterm.ui.widgets.panel import Panel, append_item, signed


def price_of(inst: Instrument, avg: Fraction | None) -> str:
    if avg is None:
        return "-"
    if avg.denominator == 1:
        return inst.format_price(int(avg))
    return f"{float(avg) * float(inst.tick):.{inst.price_decimals + 2}f}"


def position_text(inst: Instrument, pnl: PnL | None, width: int) -> Text:
    """The position panel in ``width`` columns."""
    t = Text(no_wrap=True)
    if pnl is None:
        return Text("position -")
    qty = pnl.quantity
    t.append("POSITION ", style="bold")
    side = "LONG" if qty > 0 else "SHORT" if qty < 0 else "FLAT"
    t.append(f"{side} {abs(qty)}" if qty else "FLAT",
             style="bold $success" if qty > 0 else "bold $error" if qty < 0 else "")  # fmt: skip
    if qty:
        t.append(f" @ {price_of(inst, pnl.avg_price)}")
    t.append("\n")
    ticks = f" ({pnl.unrealized_ticks:+d}t)" if qty else ""
    signed(t, "unreal ", pnl.unrealized, "$profit", "$loss")
    t.append(ticks)
    t.append("\n")
    signed(t, "real   ", pnl.realized, "$profit", "$loss")
    t.append(f" ({pnl.realized_ticks:+d}t)")
    t.append("\n")
    signed(t, "today  ", pnl.daily, "$profit", "$loss")
    append_item(t, f"comm {pnl.commissions:,.2f}", width)
    return t


class PositionPanel(Panel):
    """The position panel (``#position``)."""

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        inst = snap.instrument
        if inst is not None:
            self.fit(lambda width: position_text(inst, snap.pnl, width))
