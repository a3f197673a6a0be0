"""Time and sales: the last prints, newest first, from the engine snapshot. Each line ends in
the aggressor's letter (``B`` a buyer lifted the offer, ``S`` a seller hit the bid, ``?`` not
known: it printed between them) and is coloured by it, so it reads without colour too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from rich.text import Text

from tradeterm.domain import Instrument, Side
from tradeterm.engine.calendar import CHICAGO
from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.marketdata import Print
from tradeterm.ui.widgets.panel import NS, Panel

AGGRESSOR = {Side.BUY: "B", Side.SELL: "S", None: "?"}


def tape_text(inst: Instrument, prints: Sequence[Print], lines: int) -> Text:
    t = Text(no_wrap=True)
    t.append("TIME & SALES\n", style="bold")
    for i, p in enumerate(reversed(prints[-lines:])):
        if i:
            t.append("\n")
        stamp = dt.datetime.fromtimestamp(p.ts_ns / NS, CHICAGO).strftime("%H:%M:%S")
        side = AGGRESSOR[p.aggressor]
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
