"""Time and sales: the last prints, newest first, from the engine snapshot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text

from tradeterm.domain import Instrument
from tradeterm.engine.calendar import CHICAGO
from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.marketdata import Print
from tradeterm.ui.widgets.panel import NS, Panel


def tape_text(inst: Instrument, prints: Sequence[Print], lines: int) -> Text:
    t = Text(no_wrap=True)
    t.append("TIME & SALES\n", style="bold")
    for i, p in enumerate(reversed(prints[-lines:])):
        if i:
            t.append("\n")
        stamp = dt.datetime.fromtimestamp(p.ts_ns / NS, CHICAGO).strftime("%H:%M:%S")
        side = "B" if p.aggressor and str(p.aggressor) == "BUY" else "S" if p.aggressor else " "
        style = (
            "bold reverse $large-print"
            if p.large
            else ("$ladder-own-buy" if side == "B" else "$ladder-own-sell" if side == "S" else "")
        )
        t.append(f"{stamp} {inst.format_price(p.price):>9} {p.size:>4} {side}", style=style)
    return t


class TapePanel(Panel):
    """The tape (``#tape``): as many prints as its height holds; nothing while folded away."""

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        inst, market = snap.instrument, snap.market
        if self.display and inst is not None and market is not None:
            self.set(tape_text(inst, market.tape, max(self.size.height - 1, 1)))
