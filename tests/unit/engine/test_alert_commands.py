"""Price alert commands send no order: the dispatcher takes them while the kill switch runs
(an order command is refused then), and hands them to the engine's price alerts."""

from __future__ import annotations

from typing import Any

from tradeterm.domain import Side
from tradeterm.engine.commands import ClearAlerts, Command, PlaceOrder, ToggleAlert
from tradeterm.engine.dispatch import KILL_RUNNING, CommandDispatcher


class Running:
    running = True


async def test_alert_commands_go_while_the_kill_switch_runs() -> None:
    taken: list[Command] = []
    dispatcher = CommandDispatcher(
        None,  # type: ignore[arg-type]  # no broker: an alert never reaches one
        Running(),  # type: ignore[arg-type]
        core=lambda: object(),  # type: ignore[arg-type,return-value]
        notice=lambda *_: None,
        publish=lambda _event: None,
        alerts=taken.append,
    )
    toggle, clear = ToggleAlert("6001.00"), ClearAlerts()
    results: list[Any] = [await dispatcher.submit(c) for c in (toggle, clear)]
    assert all(r.ok for r in results) and taken == [toggle, clear]
    refused = await dispatcher.submit(PlaceOrder(Side.BUY, 1))
    assert not refused.ok and refused.reason == KILL_RUNNING
