"""The risk panel: the trading state and the limits in use, from the engine snapshot."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text

from tradeterm.engine.events import EngineSnapshot
from tradeterm.engine.types import TradingState
from tradeterm.ui.widgets.panel import Panel, append_item, brief, money


def risk_text(
    snap: EngineSnapshot, *, limit: Decimal, max_dd: Decimal, drawdown: Decimal | None,
    max_position: int, rate: int | None, max_rate: float, width: int = 0,
) -> Text:  # fmt: skip
    """The risk panel in ``width`` columns: figures move to the next line rather than being
    cut, sentences wrap between words."""
    t = Text()
    t.append("RISK ", style="bold")
    state = snap.trading_state
    t.append(
        state,
        style={TradingState.ACTIVE: "bold $success", TradingState.REDUCING: "bold $warning"}.get(
            state, "bold reverse $error"
        ),
    )
    if snap.trading_reason and state is not TradingState.ACTIVE:
        t.append(f" {snap.trading_reason}")
    t.append("\n")
    daily = snap.pnl.daily if snap.pnl else Decimal(0)
    used = -daily / limit if daily < 0 else Decimal(0)
    t.append(f"day {money(daily)} / -{limit:,.0f}",
             style="$loss" if used >= Decimal("0.8") else "")  # fmt: skip
    if drawdown is not None:
        append_item(t, f"dd {drawdown:,.0f}/{max_dd:,.0f}", width)
    t.append("\n")
    pos = abs(snap.pnl.quantity) if snap.pnl else 0
    t.append(f"pos {pos}/{max_position}")
    if rate is not None:
        append_item(t, f"rate {rate}/{max_rate:g}/s", width)
    if snap.entries_blocked:
        t.append("\n")
        t.append(brief(f"entries blocked: {snap.entries_blocked}", width), style="$warning")
    if snap.last_refusal:
        t.append("\n")
        t.append(f"refused: {snap.last_refusal}", style="$error")
    return t


class RiskPanel(Panel):
    """The risk panel (``#risk``): the state and the limits the engine applies, both from the
    snapshot."""

    def show_snapshot(self, snap: EngineSnapshot) -> None:
        limits = snap.risk_limits
        if limits is None:  # a snapshot from no engine: nothing to show
            return
        self.fit(
            lambda width: risk_text(
                snap, limit=limits.daily_loss_limit, max_dd=limits.max_drawdown,
                drawdown=snap.drawdown, max_position=limits.max_position, rate=snap.order_rate,
                max_rate=limits.max_orders_per_s, width=width,
            )
        )  # fmt: skip
