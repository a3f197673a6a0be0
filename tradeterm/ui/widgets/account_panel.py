"""The account panel: the account's money as IB values it, from the engine snapshot.

Net liquidation and available funds (IB's account values), the initial and maintenance
margin one more contract of this market takes (IB's what-if of one contract), and the
account's daily P&L as IB computes it (reqPnL: every instance and market of the account
together, where the position panel's "today" is this instance's). A figure IB has not given
yet reads ``unknown``, never 0: a zero would look like an empty account or a flat day. On a
short screen the panel is compact (no title, no cents); the account key hides it.
"""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from tradeterm.engine.events import EngineSnapshot
from tradeterm.ui.widgets.panel import Panel, append_item

UNKNOWN = "unknown"


def amount(value: Decimal | None, *, cents: bool = True, sign: bool = False) -> str:
    """``value`` as money (``unknown`` when IB has not said)."""
    if value is None:
        return UNKNOWN
    return f"{value:{'+' if sign else ''},.{2 if cents else 0}f}"


def account_text(snap: EngineSnapshot | None, width: int, *, compact: bool = False) -> Text:
    """The panel in ``width`` columns: figures move to the next line rather than being cut;
    ``compact``: no title line, whole units, ``init/maint`` margin as one item."""
    values = snap.account_values if snap is not None else None
    margin = snap.contract_margin if snap is not None else None
    pnl = snap.account_pnl if snap is not None else None
    daily = pnl.daily if pnl is not None else None
    cents = not compact
    t = Text()
    if not compact:
        t.append("ACCOUNT ", style="bold")
        account = (values.account if values is not None else None) or (
            snap.account if snap is not None else None
        )
        t.append(account or UNKNOWN)
        if values is not None and values.currency:
            t.append(f" {values.currency}", style="dim")
        t.append("\n")
    liq = amount(values.net_liquidation if values else None, cents=cents)
    avail = amount(values.available_funds if values else None, cents=cents)
    init = amount(margin.initial if margin is not None else None, cents=False)
    maint = amount(margin.maintenance if margin is not None else None, cents=False)
    money_items = (
        [f"liq {liq}", f"avail {avail}"] if compact else [f"net liq {liq}", f"avail {avail}"]
    )
    for item in money_items:
        append_item(t, item, width)
    t.append("\n")
    margin_items = (
        [f"mgn {init}/{maint}"] if compact else [f"margin/ct init {init}", f"maint {maint}"]
    )
    for item in margin_items:
        append_item(t, item, width)
    day = Text("acct day ")
    style = "$profit" if daily is not None and daily > 0 else "$loss" if daily else ""
    day.append(amount(daily, cents=cents, sign=True), style=style)
    append_item(t, day, width)
    return t


class AccountPanel(Panel):
    """The account panel (``#account``); compact on a short screen (``Screen.short``)."""

    def on_mount(self) -> None:
        super().on_mount()
        self.show_snapshot(None)  # every figure unknown until the engine has them

    def show_snapshot(self, snap: EngineSnapshot | None) -> None:
        if not self.display:
            return
        compact = self.screen.has_class("short")
        self.fit(lambda width: account_text(snap, width, compact=compact))
