"""A SIM restart where the market does not survive: the journal, the engine and ``tradeterm
report`` agree with the gateway afterwards.

* An embedded gateway (SIM without a port) ends with its instance, its account and orders
  with it: the next run's is a new market. The journal records the boundary (the earlier
  orders end with their gateway, the position starts from zero), so nothing says an order that
  reached the old gateway "never reached IB", and the report's open position is the new
  market's.
* A ``tradeterm gateway`` restarted afresh: reconciliation adopts its position, and the
  journal keeps that adoption, so the report says what the engine holds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import always_open
from tests.integration.journal_helpers import query, settings_for
from tests.integration.test_journal_fills import cli_json
from tests.support.waiting import until
from tradeterm.config import Settings
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.events import EngineNotice, PositionDivergence
from tradeterm.runtime import Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


def embedded_settings(journal_dir: Path) -> Settings:
    """SIM without a port: the embedded gateway."""
    return Settings(journal={"dir": journal_dir, "flush_interval_ms": 20})


async def buy(rt: Runtime, qty: int) -> None:
    before = rt.engine.snapshot(tape=0).pnl.quantity  # type: ignore[union-attr]
    result = await rt.engine.submit(PlaceOrder(Side.BUY, qty))
    assert result.ok, result.reason
    await until(
        lambda: rt.engine.snapshot(tape=0).pnl.quantity == before + qty,  # type: ignore[union-attr]
        f"long {before + qty}",
    )


async def rest_an_offer(rt: Runtime, gateway: FakeGateway) -> str:
    """An offer far above the market: working at the gateway when the run ends."""
    market = Market(gateway)
    result = await rt.engine.submit(
        PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(market.ask + 40))
    )
    assert result.ok, result.reason
    (oid,) = result.order_ids
    await until(lambda: any(not o.done for o in gateway.oms.orders.values()), "working")
    return oid


async def test_a_new_embedded_gateway_is_a_new_market_in_the_journal_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(tmp_path))  # for the report command
    settings = embedded_settings(tmp_path)
    async with open_runtime(settings, gateway_rate=0.0, calendar=always_open()) as rt:
        await rt.engine.start()
        assert rt.gateway is not None
        await buy(rt, 2)
        offer = await rest_an_offer(rt, rt.gateway)
    assert cli_json("report", "--format", "json")["open_position"] == 2  # type: ignore[index]

    async with open_runtime(settings, gateway_rate=0.0, calendar=always_open()) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        assert rt.engine.snapshot(tape=0).pnl.quantity == 0  # type: ignore[union-attr]
        # the fresh gateway's 0 is what the journal said: nothing to adopt, nothing lost
        events = stream.drain()
        assert not [e for e in events if isinstance(e, PositionDivergence)]
        said = [e.text for e in events if isinstance(e, EngineNotice)]
        assert said and not any("never reached IB" in text for text in said)
        orders = rt.engine.orders
        assert orders is not None and orders.get(offer) is None  # ended with its gateway
        await buy(rt, 1)
    [(state, note)] = query(tmp_path, "SELECT state, note FROM order_intents WHERE order_id = ?",
                            (offer,))  # fmt: skip
    assert state == "done" and "ended with its gateway" in note
    assert cli_json("report", "--format", "json")["open_position"] == 1  # type: ignore[index]


async def test_a_restarted_gateway_is_adopted_and_the_report_agrees(
    start_gateway: Callable[..., Awaitable[FakeGateway]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(tmp_path))
    first = await start_gateway(rate=0.0)
    async with open_runtime(settings_for(first.config.port, tmp_path),
                            calendar=always_open()) as rt:  # fmt: skip
        await rt.engine.start()
        await buy(rt, 2)
    await first.stop()  # tradeterm gateway stopped and started again: an empty account
    again = await start_gateway(rate=0.0)
    async with open_runtime(settings_for(again.config.port, tmp_path),
                            calendar=always_open()) as rt:  # fmt: skip
        await rt.engine.start()
        assert rt.engine.snapshot(tape=0).pnl.quantity == 0  # type: ignore[union-attr]
    assert cli_json("report", "--format", "json")["open_position"] == 0  # type: ignore[index]
    async with open_runtime(settings_for(again.config.port, tmp_path),
                            calendar=always_open()) as rt:  # fmt: skip
        await rt.engine.start()
        await buy(rt, 1)
    assert cli_json("report", "--format", "json")["open_position"] == 1  # type: ignore[index]
