"""``Journal.strategy_orders``: the orders a strategy's commands sent in earlier sessions,
found as ``report`` finds a fill's source (the signal row of the intent's command)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.journal.factories import order
from tradeterm.domain import Side
from tradeterm.engine.commands import CommandResult, PlaceBracket, PlaceOrder
from tradeterm.engine.events import CommandDone, StrategySignal
from tradeterm.engine.types import OrderRole
from tradeterm.journal import Journal


async def test_a_strategys_orders_of_earlier_sessions_are_its_own_and_no_one_elses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ES.sqlite"
    first = Journal(path, flush_interval_ms=10)
    await first.open()
    await first.start_session("ES", "sim", "0.1.0")
    plan = [  # (command id, source, the roles of its orders: orders 1, 2, 3, 4-6)
        ("cmd-1", "sma_cross", (OrderRole.PLAIN,)),
        ("cmd-2", "manual", (OrderRole.PLAIN,)),
        ("cmd-3", "orb", (OrderRole.PLAIN,)),
        ("cmd-4", "sma_cross", (OrderRole.ENTRY, OrderRole.STOP, OrderRole.TARGET)),
    ]
    seq = 0
    for command_id, source, roles in plan:
        ids = []
        for role in roles:
            seq += 1
            o = order(seq, Side.BUY)
            o.submit()
            await first.commit_intent(o, command_id, role)
            ids.append(o.client_id)
        bracket = len(roles) > 1
        cmd = PlaceBracket(Side.BUY, 1, 8, 16, source=source) if bracket else PlaceOrder(
            Side.BUY, 1, source=source
        )  # fmt: skip
        first.record(CommandDone(CommandResult(command_id, cmd, True, order_ids=tuple(ids))))
        if source != "manual":
            first.record(StrategySignal(source, "TargetPosition", "quantity=1", "why", True,
                                        ",".join(ids), 0, command_id))  # fmt: skip
    lost = order(99, Side.BUY)  # killed before its command's row was written: no one's
    lost.submit()
    await first.commit_intent(lost, "cmd-5", OrderRole.PLAIN)
    await first.close()

    second = Journal(path, flush_interval_ms=10)
    await second.open()
    await second.start_session("ES", "sim", "0.1.0")
    try:
        assert await second.strategy_orders("sma_cross") == {
            order(n).client_id for n in (1, 4, 5, 6)
        }
        assert await second.strategy_orders("orb") == {order(3).client_id}
        assert await second.strategy_orders("scalper") == frozenset()
    finally:
        await second.close()
