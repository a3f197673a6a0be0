"""The account panel's figures from the fake gateway through the real IB adapter and engine:
the margin one more contract takes (a what-if of one contract: nothing placed), the account's
values and its daily P&L (reqPnL), unknown until IB has said them."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from tests.integration.desk_helpers import Market
from tests.integration.engine_helpers import MakeEngine, gateway_position, working_at_gateway
from tests.support.waiting import until
from tradeterm.broker.ib import convert as cv
from tradeterm.domain import Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

INIT, MAINT = Decimal("15000"), Decimal("13600")  # the fake gateway's ES terms


async def test_the_engine_asks_the_margin_per_contract_with_a_what_if_that_places_nothing(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    run = await make_engine(still)
    engine = run.engine
    await until(lambda: engine.contract_margin is not None, "the margin per contract")
    margin = engine.snapshot(tape=0).contract_margin
    assert margin is not None
    assert (margin.initial, margin.maintenance, margin.currency) == (INIT, MAINT, "USD")
    assert working_at_gateway(still) == []  # a what-if is never an order
    assert gateway_position(still, Market(still)) == 0
    snap = engine.snapshot(tape=0)
    assert snap.account_values is not None and snap.account_values.net_liquidation is not None
    await until(lambda: engine.snapshot(tape=0).account_pnl is not None, "reqPnL's first answer")


async def test_short_a_what_if_sells_one_more_and_the_margin_is_still_per_contract(
    make_engine: MakeEngine, still: FakeGateway
) -> None:
    """Short, a buy of one contract would lower the margin: the broker is asked about one
    more contract on the side held, so the figure stays the margin a contract takes."""
    run = await make_engine(still)
    await until(lambda: run.engine.contract_margin is not None, "the first margin")
    result = await run.engine.submit(PlaceOrder(Side.SELL, 1))
    assert result.ok, result.reason
    await until(lambda: gateway_position(still, Market(still)) == -1, "short 1")
    assert run.engine.broker.account is not None
    margin = await run.engine.broker.contract_margin(run.engine.core.instrument, Side.BUY)  # type: ignore[union-attr]
    assert margin.initial == INIT  # the change is negative; its size is the per-contract figure
    run.engine.contract_margin = None
    await until(lambda: run.engine.contract_margin is not None, "the margin asked again")
    again = run.engine.contract_margin
    assert again is not None and again.initial == INIT


def test_an_unset_or_unreadable_margin_is_unknown_not_zero() -> None:
    state = SimpleNamespace(initMarginChange="1.7976931348623157E308", maintMarginChange="abc",
                            commissionCurrency="USD")  # fmt: skip
    margin = cv.contract_margin(state, "USD", 0)
    assert (margin.initial, margin.maintenance) == (None, None)
    numbers = SimpleNamespace(initMarginChange=-15000.0, maintMarginChange="13600.5")
    margin = cv.contract_margin(numbers, "USD", 0)
    assert (margin.initial, margin.maintenance) == (INIT, Decimal("13600.5"))
