"""Orders, executions, positions, account values and P&L: the real ib_async 2.1.0 ``IB`` client
against the in-process ``FakeGateway``.

The market is still (``fake_gateway`` runs no synthetic events after the opening book), so
every price is known: tests move the market themselves by injecting public trades into the ES
feed. No timing assertions: every wait is on a condition, with a hang guard.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ib_async import (
    IB,
    ExecutionFilter,
    LimitOrder,
    MarketOrder,
    StopLimitOrder,
    StopOrder,
    Trade,
)

from tests.integration.desk_helpers import (
    COMMISSION,
    ES_MULTIPLIER,
    Connect,
    Market,
    errors_of,
    session_gone,
    status_is,
    statuses,
)
from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

pytestmark = pytest.mark.integration


@pytest.fixture
def market(fake_gateway: FakeGateway) -> Market:
    return Market(fake_gateway)


# ---------------------------------------------------------------------------- order types


async def test_market_order_fills_in_the_tws_sequence(
    fake_connect: Connect, market: Market
) -> None:
    ib = await fake_connect(1)
    ask = market.ask
    trade = ib.placeOrder(market.contract, MarketOrder("BUY", 1))
    await until(lambda: trade.fills and trade.fills[0].commissionReport.execId, "commission")
    assert trade.orderStatus.status == "Filled"
    assert statuses(trade) == ["PendingSubmit", "PreSubmitted", "PreSubmitted", "Filled"]
    assert trade.log[2].message == f"Fill 1.0@{market.px(ask)}"
    fill = trade.fills[0]
    assert (fill.execution.side, fill.execution.shares) == ("BOT", 1.0)
    assert fill.execution.price == market.px(ask)
    assert fill.execution.lastLiquidity == 2  # removed liquidity
    assert fill.commissionReport.commission == COMMISSION
    await until(ib.positions, "the position push")
    (position,) = ib.positions()
    assert (position.contract.conId, position.position) == (market.feed.con_id, 1.0)
    assert position.avgCost == pytest.approx(market.px(ask) * ES_MULTIPLIER)


async def test_a_market_fill_arrives_as_tws_orders_its_messages(
    fake_connect: Connect, market: Market
) -> None:
    """On the wire: openOrder+orderStatus PreSubmitted, execDetails (reqId -1), openOrder+
    orderStatus Filled, commissionReport; then position, portfolio, account values, time,
    account values multi and P&L."""
    ib = await fake_connect(1)
    pnl = ib.reqPnL("DU0000001")
    await until(lambda: pnl.dailyPnL == 0.0, "the first P&L")
    seen: list[list[str]] = []
    interpret = ib.client.decoder.interpret

    def spy(fields: list[str]) -> None:
        seen.append(fields)
        interpret(fields)

    ib.client.decoder.interpret = spy  # type: ignore[method-assign]
    trade = ib.placeOrder(market.contract, MarketOrder("SELL", 1))
    await until(lambda: any(f[0] == "94" for f in seen), "the P&L push")
    ids = [f[0] for f in seen]
    assert ids[:6] == ["5", "3", "11", "5", "3", "59"]
    assert [seen[i][2] for i in (1, 4)] == ["PreSubmitted", "Filled"]
    assert seen[2][1] == "-1"  # a live execution
    rest = ids[6:]
    assert rest[0] == "61" and rest[1] == "7" and rest[-1] == "94"
    assert rest.index("8") < rest.index("73") and set(rest[2 : rest.index("8")]) == {"6"}
    assert trade.orderStatus.status == "Filled"


async def test_limit_stop_and_stop_limit_orders_rest_then_fill(
    fake_connect: Connect, market: Market
) -> None:
    ib = await fake_connect(1)
    bid, ask = market.bid, market.ask
    c = market.contract
    lmt = ib.placeOrder(c, LimitOrder("BUY", 1, market.px(bid - 4)))
    stp = ib.placeOrder(c, StopOrder("BUY", 1, market.px(ask + 4)))
    stp_lmt = ib.placeOrder(c, StopLimitOrder("SELL", 1, market.px(bid - 10), market.px(bid - 8)))
    working = status_is((lmt, "Submitted"), (stp, "Submitted"), (stp_lmt, "Submitted"))
    await until(working, "three working orders")
    for trade in (lmt, stp, stp_lmt):
        assert statuses(trade) == ["PendingSubmit", "PreSubmitted", "Submitted"]

    market.trade(bid - 5)  # prints through the limit; no stop is reached
    await until(status_is((lmt, "Filled")), "the limit fill")
    assert lmt.fills[0].execution.price == market.px(bid - 4)
    assert lmt.fills[0].execution.lastLiquidity == 1  # added liquidity, filled at its limit
    assert stp.orderStatus.status == stp_lmt.orderStatus.status == "Submitted"

    market.trade(ask + 4)  # reaches the buy stop: it becomes a market order
    await until(status_is((stp, "Filled")), "the stop fill")
    assert stp.fills[0].execution.price == market.px(ask)  # the public offer it took

    market.trade(bid - 8)  # reaches the sell stop: a limit at bid-10, marketable at the bid
    await until(status_is((stp_lmt, "Filled")), "the stop-limit fill")
    assert stp_lmt.fills[0].execution.price == market.px(bid)
    await until(lambda: ib.positions() and ib.positions()[0].position == 1.0, "position")


async def test_bracket_entry_fills_target_fills_stop_is_cancelled(
    fake_connect: Connect, market: Market
) -> None:
    ib = await fake_connect(1)
    errors = errors_of(ib)
    bid, ask = market.bid, market.ask
    entry, target, stop = bid - 4, ask + 8, bid - 12
    bracket = ib.bracketOrder("BUY", 1, market.px(entry), market.px(target), market.px(stop))
    parent, take_profit, stop_loss = (ib.placeOrder(market.contract, o) for o in bracket)
    await until(
        status_is(
            (parent, "Submitted"), (take_profit, "PreSubmitted"), (stop_loss, "PreSubmitted")
        ),
        "the bracket to be working with its children held",
    )
    assert (
        take_profit.orderStatus.parentId == stop_loss.orderStatus.parentId == parent.order.orderId
    )

    market.trade(entry - 1)
    await until(
        status_is((parent, "Filled"), (take_profit, "Submitted"), (stop_loss, "Submitted")),
        "the entry fill to activate the children",
    )
    assert parent.fills[0].execution.price == market.px(entry)

    market.trade(target + 1)
    await until(status_is((take_profit, "Filled"), (stop_loss, "Cancelled")), "target + OCA")
    assert (stop_loss.order.orderId, 202) in [(e[0], e[1]) for e in errors]
    await until(lambda: take_profit.fills[0].commissionReport.execId, "the target's commission")
    expected = (target - entry) * 12.5 - 2 * COMMISSION  # tick value $12.50
    assert take_profit.fills[0].commissionReport.realizedPNL == pytest.approx(
        expected + COMMISSION  # the report of the closing fill carries its own commission only
    )
    await until(lambda: not ib.positions(), "the flat position")
    assert not market.gateway.oms.working()


# ---------------------------------------------------------------------- modify and cancel


async def test_modify_by_replacing_then_cancel(fake_connect: Connect, market: Market) -> None:
    ib = await fake_connect(1)
    errors = errors_of(ib)
    bid = market.bid
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 2, market.px(bid - 4)))
    await until(status_is((trade, "Submitted")), "a working limit")

    trade.order.lmtPrice = market.px(bid - 6)
    ib.placeOrder(market.contract, trade.order)
    await until(lambda: trade.log[-1].message == "Modified", "the modify ack")
    resting = market.feed.engine.resting(trade.order.permId)
    assert resting is not None and (resting.limit, resting.qty) == (bid - 6, 2)

    trade.order.totalQuantity = 3
    ib.placeOrder(market.contract, trade.order)
    await until(lambda: trade.orderStatus.remaining == 3, "the new quantity")
    resting = market.feed.engine.resting(trade.order.permId)
    assert resting is not None and (resting.limit, resting.qty) == (bid - 6, 3)

    ib.cancelOrder(trade.order)
    await until(status_is((trade, "Cancelled")), "the cancel")
    assert (trade.order.orderId, 202) in [(e[0], e[1]) for e in errors]
    assert market.feed.engine.resting(trade.order.permId) is None

    filled = ib.placeOrder(market.contract, MarketOrder("SELL", 1))
    await until(status_is((filled, "Filled")), "a market fill")
    ib.cancelOrder(filled.order)  # too late: TWS answers 10148 and the order stays filled
    await until(lambda: any(e[1] == 10148 for e in errors), "error 10148")
    assert filled.orderStatus.status == "Filled"


async def test_global_cancel_cancels_the_orders_of_every_client(
    fake_connect: Connect, market: Market
) -> None:
    ib1, ib2 = await fake_connect(1), await fake_connect(2)
    t1 = ib1.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(market.bid - 4)))
    t2 = ib2.placeOrder(market.contract, LimitOrder("SELL", 1, market.px(market.ask + 4)))
    await until(status_is((t1, "Submitted"), (t2, "Submitted")), "two working orders")
    ib2.reqGlobalCancel()
    await until(status_is((t1, "Cancelled"), (t2, "Cancelled")), "both cancelled")
    assert not market.gateway.oms.working()


async def test_an_order_held_for_transmission_can_be_cancelled(
    fake_connect: Connect, market: Market
) -> None:
    ib = await fake_connect(1)
    held = ib.placeOrder(
        market.contract, LimitOrder("BUY", 1, market.px(market.bid - 4), transmit=False)
    )
    ib.cancelOrder(held.order)
    await until(status_is((held, "Cancelled")), "the held order's cancel")
    assert market.feed.engine.working_keys() == []


async def test_day_orders_expire_at_the_daily_close_and_gtc_orders_stay() -> None:
    close = datetime.now(ZoneInfo("America/Chicago")).replace(hour=16, minute=0, second=0)
    shift = [-2.0]  # two seconds before the 16:00 CT close; the test moves the clock

    def clock() -> float:
        return close.timestamp() + shift[0]

    gateway = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, clock=clock))
    await gateway.start()
    ib = IB()
    try:
        await ib.connectAsync(gateway.config.host, gateway.config.port, clientId=1)
        market = Market(gateway)
        price = market.px(market.bid - 4)
        day = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price, tif="DAY"))
        gtc = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price, tif="GTC"))
        await until(status_is((day, "Submitted"), (gtc, "Submitted")), "two working orders")
        shift[0] = 5.0
        await until(status_is((day, "Cancelled")), "the DAY order to expire")
        assert gtc.orderStatus.status == "Submitted"
        assert [o.order_id for o in gateway.oms.working()] == [gtc.order.orderId]
    finally:
        ib.disconnect()
        await gateway.stop()


# ---------------------------------------------------------------- reconnects and scoping


async def test_working_orders_come_back_after_a_reconnect_scoped_to_their_client(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    price = market.px(market.bid - 4)
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 1, price, orderRef="keep-me"))
    await until(status_is((trade, "Submitted")), "a working limit")
    perm_id = trade.order.permId
    ib.disconnect()
    await session_gone(fake_gateway, 1)

    again = await fake_connect(1)
    (found,) = again.openTrades()
    assert (found.order.permId, found.order.orderId) == (perm_id, trade.order.orderId)
    assert (found.orderStatus.status, found.order.lmtPrice) == ("Submitted", price)
    assert found.order.orderRef == "keep-me"

    other = await fake_connect(2)
    assert other.openTrades() == []
    assert perm_id in [t.order.permId for t in await other.reqAllOpenOrdersAsync()]
    master = await fake_connect(fake_gateway.config.master_client_id)
    assert [t.order.permId for t in master.openTrades()] == [perm_id]

    again.cancelOrder(found.order)  # the recovered order is fully usable
    await until(status_is((found, "Cancelled")), "the recovered order's cancel")
    await until(
        lambda: master.trades() and master.trades()[0].orderStatus.status == "Cancelled",
        "the master to see the cancel",
    )


async def test_two_clients_are_scoped_and_the_master_client_sees_everything(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib1, ib2 = await fake_connect(1), await fake_connect(2)
    master = await fake_connect(fake_gateway.config.master_client_id)
    errors2 = errors_of(ib2)
    seen_by_2: list[Trade] = []
    ib2.openOrderEvent += seen_by_2.append
    ib2.orderStatusEvent += seen_by_2.append
    limit = market.bid - 4
    trade = ib1.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(limit)))
    await until(status_is((trade, "Submitted")), "a working limit")
    await until(lambda: master.openTrades(), "the master to see client 1's order")
    (mirror,) = master.openTrades()
    assert (mirror.order.clientId, mirror.order.permId) == (1, trade.order.permId)

    market.trade(limit - 1)
    await until(lambda: trade.fills and trade.fills[0].commissionReport.execId, "the fill")
    await until(lambda: master.fills() and master.fills()[0].commissionReport.execId, "master")
    assert mirror.orderStatus.status == "Filled"
    assert master.fills()[0].execution.execId == trade.fills[0].execution.execId

    ib2.client.cancelOrder(trade.order.orderId, "")  # client 2 has no order with that id
    await until(lambda: any(e[1] == 10147 for e in errors2), "error 10147")
    assert ib2.trades() == [] and ib2.fills() == [] and seen_by_2 == []
    assert [f.execution.execId for f in await ib2.reqExecutionsAsync()] == []
    # positions belong to the account, not to a client
    await until(lambda: ib2.positions() and ib2.positions()[0].position == 1.0, "positions")


async def test_a_fill_while_disconnected_is_recovered_with_executions(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    limit = market.bid - 4
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 2, market.px(limit)))
    await until(status_is((trade, "Submitted")), "a working limit")

    assert fake_gateway.faults.fill_while_disconnected() == 1  # drops client 1 and fills
    await until(lambda: not ib.isConnected(), "the client to see the drop")
    await session_gone(fake_gateway, 1)
    assert trade.orderStatus.status == "Submitted"  # it never heard of the fill

    again = await fake_connect(1)
    (fill,) = again.fills()  # the startup sync ran reqExecutions
    assert (fill.execution.shares, fill.execution.price) == (2.0, market.px(limit))
    assert fill.execution.permId == trade.order.permId
    assert fill.commissionReport.commission == 2 * COMMISSION
    assert [(p.position, p.avgCost) for p in again.positions()] == [
        (2.0, pytest.approx(market.px(limit) * ES_MULTIPLIER))
    ]
    assert again.openTrades() == []

    when = fill.execution.time
    assert when.tzinfo is not None
    before = (when - timedelta(seconds=1)).strftime("%Y%m%d %H:%M:%S")
    after = (when + timedelta(seconds=1)).strftime("%Y%m%d %H:%M:%S")

    async def exec_ids(**kwargs: object) -> list[str]:
        fills = await again.reqExecutionsAsync(ExecutionFilter(**kwargs))  # type: ignore[arg-type]
        return [f.execution.execId for f in fills]

    exec_id = fill.execution.execId
    assert await exec_ids(time=before) == [exec_id]
    assert await exec_ids(time=after) == []
    assert await exec_ids(symbol="ES", side="BUY", secType="FUT") == [exec_id]
    assert await exec_ids(side="SELL") == []
    assert await exec_ids(clientId=2) == []
    assert await exec_ids(acctCode="DU9999999") == []
    completed = await again.reqCompletedOrdersAsync(False)
    assert [(t.order.permId, t.orderStatus.status) for t in completed] == [
        (trade.order.permId, "Filled")
    ]
