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


def position_text(inst: Instrument, pnl: PnL | None, width: int, protected: int = 0) -> Text:
    """The position panel in ``width`` columns; a position not wholly covered by working
    stops (``protected`` contracts) says so on its first line, whatever the size: a restart
    that lost its stops, an exit cancelled, must never look like a protected position."""
    t = Text(no_wrap=True)
    if pnl is None:
        return Text("position -")
    qty = pnl.quantity
    side = "LONG" if qty > 0 else "SHORT" if qty < 0 else "FLAT"
    at = f" @ {price_of(inst, pnl.avg_price)}" if qty else ""
    bare = "" if not qty or protected >= abs(qty) else (
        " NO STOP" if not protected else f" STOP {protected}/{abs(qty)}")  # fmt: skip
    size = f"{side} {abs(qty)}" if qty else "FLAT"
    if len("POSITION ") + len(size + at + bare) <= width or not width:  # the label goes first
        t.append("POSITION ", style="bold")
    t.append(size, style="bold $success" if qty > 0 else "bold $error" if qty < 0 else "")
    t.append(at)
    t.append(bare, style="bold reverse $error")
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
            self.fit(lambda width: position_text(inst, snap.pnl, width, snap.protected))
