"""Positions, account values and P&L against a hand computation; order errors; whatIf; the
acknowledgement-delay fault. The real ib_async 2.1.0 ``IB`` client against ``FakeGateway``.

Fills happen at known prices: limit orders rest below/above the still market and a public trade
is printed through them, which fills them completely at their limit.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from ib_async import IB, Contract, LimitOrder, MarketOrder, Trade

from tests.integration.desk_helpers import COMMISSION, Connect, Market, errors_of, status_is
from tests.integration.kill_helpers import Truth
from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

ACCOUNT = "DU0000001"
TICK_VALUE = Decimal("12.50")  # ES: 0.25 x 50


@pytest.fixture
def market(fake_gateway: FakeGateway) -> Market:
    return Market(fake_gateway)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


async def fill_at(ib: IB, market: Market, action: str, qty: int, ticks: int) -> Trade:
    """Rest a limit at ``ticks`` away from the market, print through it, wait for the fill."""
    trade = ib.placeOrder(market.contract, LimitOrder(action, qty, market.px(ticks)))
    await until(status_is((trade, "Submitted")), f"{action} {qty} resting at {ticks}")
    market.trade(ticks - 1 if action == "BUY" else ticks + 1)
    await until(
        lambda: (
            trade.orderStatus.status == "Filled"
            and all(f.commissionReport.execId for f in trade.fills)
        ),
        f"{action} {qty} @ {ticks} to fill",
    )
    return trade


async def test_positions_average_cost_commissions_and_pnl_equal_a_hand_computation(
    fake_connect: Connect, market: Market
) -> None:
    ib = await fake_connect(1)
    con_id = market.feed.con_id
    bid, ask = market.bid, market.ask
    pnl = ib.reqPnL(ACCOUNT)
    single = ib.reqPnLSingle(ACCOUNT, "", con_id)

    # buy 2 at b1, buy 1 at b2, sell 2 at s1 (ticks); last trade printed at s1 + 1
    b1, b2, s1 = bid - 4, bid - 8, ask + 8
    t1 = await fill_at(ib, market, "BUY", 2, b1)
    t2 = await fill_at(ib, market, "BUY", 1, b2)
    t3 = await fill_at(ib, market, "SELL", 2, s1)
    last = s1 + 1

    # by hand, in ticks and dollars
    avg_ticks = Decimal(2 * b1 + b2) / 3
    realized_gross = cents(2 * (s1 - avg_ticks) * TICK_VALUE)
    commissions = 5 * Decimal(str(COMMISSION))
    realized = realized_gross - commissions
    unrealized = cents((last - avg_ticks) * TICK_VALUE)
    avg_cost = avg_ticks * Decimal("0.25") * 50

    reports = [f.commissionReport for t in (t1, t2, t3) for f in t.fills]
    assert [r.commission for r in reports] == [4.5, 2.25, 4.5]
    assert [r.realizedPNL for r in reports] == [0.0, 0.0, float(realized_gross - Decimal("4.5"))]
    assert [f.execution.price for t in (t1, t2, t3) for f in t.fills] == [
        market.px(b1),
        market.px(b2),
        market.px(s1),
    ]

    await until(lambda: ib.positions() and ib.positions()[0].position == 1.0, "position 1")
    (position,) = ib.positions()
    assert position.avgCost == pytest.approx(float(avg_cost))

    def portfolio_settled() -> bool:
        items = ib.portfolio()
        return (
            len(items) == 1 and items[0].position == 1.0 and items[0].marketPrice == market.px(last)
        )

    await until(portfolio_settled, "the portfolio line")
    (item,) = ib.portfolio()
    assert item.averageCost == pytest.approx(float(avg_cost))
    assert item.marketValue == pytest.approx(market.px(last) * 50)
    assert item.unrealizedPNL == pytest.approx(float(unrealized))
    assert item.realizedPNL == pytest.approx(float(realized))

    await until(lambda: pnl.realizedPnL == float(realized), "account P&L")
    await until(lambda: pnl.unrealizedPnL == float(unrealized), "account unrealized P&L")
    assert pnl.dailyPnL == pytest.approx(float(realized + unrealized))
    await until(lambda: single.position == 1, "single P&L")
    await until(lambda: single.unrealizedPnL == float(unrealized), "single unrealized P&L")
    assert single.realizedPnL == pytest.approx(float(realized))
    assert single.value == pytest.approx(market.px(last) * 50)

    net_liq = Decimal(1_000_000) + realized + unrealized
    margin = Decimal(15_000)  # one contract's initial margin in the books

    def values() -> dict[str, str]:
        return {
            v.tag: v.value for v in ib.accountValues() if v.currency == "USD" and not v.modelCode
        }

    await until(lambda: values().get("RealizedPnL") == f"{realized:.2f}", "account values")
    await until(lambda: values().get("UnrealizedPnL") == f"{unrealized:.2f}", "unrealized")
    got = values()
    assert got["NetLiquidation"] == f"{net_liq:.2f}"
    assert got["TotalCashValue"] == f"{Decimal(1_000_000) + realized:.2f}"
    assert got["InitMarginReq"] == f"{margin:.2f}"
    assert got["AvailableFunds"] == f"{net_liq - margin:.2f}"
    summary = {v.tag: v.value for v in await ib.accountSummaryAsync(ACCOUNT)}
    assert summary["NetLiquidation"] == f"{net_liq:.2f}"
    assert summary["RealizedPnL"] == f"{realized:.2f}"


async def test_order_errors_off_tick_unknown_contract_and_rejection_fault(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    errors = errors_of(ib)

    off_tick = ib.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(market.bid) - 0.1))
    await until(status_is((off_tick, "Cancelled")), "the off-tick order to end")
    assert (off_tick.order.orderId, 110) in [(e[0], e[1]) for e in errors]

    expired = Contract(
        symbol="ES", secType="FUT", lastTradeDateOrContractMonth="203012", exchange="CME",
        currency="USD",
    )  # fmt: skip
    unknown = ib.placeOrder(expired, MarketOrder("BUY", 1))
    await until(status_is((unknown, "Cancelled")), "the unknown-contract order to end")
    assert (unknown.order.orderId, 200) in [(e[0], e[1]) for e in errors]

    fake_gateway.desk.reject_next("simulated margin deficit")
    rejected = ib.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(market.bid - 4)))
    await until(status_is((rejected, "Cancelled")), "the rejected order to end")
    (text,) = [e[2] for e in errors if e[:2] == (rejected.order.orderId, 201)]
    assert "simulated margin deficit" in text

    fine = ib.placeOrder(market.contract, LimitOrder("BUY", 1, market.px(market.bid - 4)))
    await until(status_is((fine, "Submitted")), "the next order to work")
    assert [o.order_id for o in fake_gateway.oms.working()] == [fine.order.orderId]


async def test_what_if_reports_margins_and_commission_without_placing(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    ib = await fake_connect(1)
    state = await ib.whatIfOrderAsync(
        market.contract, LimitOrder("BUY", 2, market.px(market.bid - 4))
    )
    assert float(state.initMarginBefore) == 0.0
    assert float(state.initMarginChange) == 30_000.0
    assert float(state.maintMarginChange) == 27_200.0
    assert float(state.initMarginAfter) == 30_000.0
    assert state.commission == 2 * COMMISSION
    assert state.commissionCurrency == "USD"
    assert fake_gateway.oms.working() == [] and ib.openTrades() == []

    await fill_at(ib, market, "BUY", 1, market.bid - 4)
    closing = await ib.whatIfOrderAsync(market.contract, MarketOrder("SELL", 1))
    assert float(closing.initMarginBefore) == 15_000.0
    assert float(closing.initMarginChange) == -15_000.0
    assert float(closing.initMarginAfter) == 0.0


async def test_a_partial_fill_between_cancel_request_and_its_processing(
    fake_connect: Connect, fake_gateway: FakeGateway, market: Market
) -> None:
    """With acknowledgements delayed, a fill lands while the cancel waits: the client sees
    PendingCancel, the fill, then Cancelled with the filled part kept."""
    ib = await fake_connect(1)
    desk = fake_gateway.desk
    desk.ack_delay_s = 3600.0  # held until the test lowers it
    limit = market.bid - 4
    trade = ib.placeOrder(market.contract, LimitOrder("BUY", 3, market.px(limit)))
    await until(lambda: desk.pending_acks == 1, "the placeOrder to be held")
    assert await ib.reqCurrentTimeAsync()  # the connection keeps serving other requests
    assert trade.orderStatus.status == "PendingSubmit"
    desk.ack_delay_s = 0.0
    await until(status_is((trade, "Submitted")), "the released order")

    desk.ack_delay_s = 3600.0
    ib.cancelOrder(trade.order)
    await until(lambda: desk.pending_acks == 1, "the cancel to be held")
    resting = market.feed.engine.resting(trade.order.permId)
    assert resting is not None and resting.queue_ahead is not None
    market.trade(limit, resting.queue_ahead + 1)  # clears the queue ahead, then 1 lot of ours
    await until(lambda: trade.fills, "the partial fill")
    desk.ack_delay_s = 0.0
    await until(status_is((trade, "Cancelled")), "the cancel")

    log = trade.log
    pending = next(i for i, e in enumerate(log) if e.status == "PendingCancel")
    fill = next(i for i, e in enumerate(log) if e.message.startswith("Fill"))
    cancelled = next(i for i, e in enumerate(log) if e.status == "Cancelled")
    assert pending < fill < cancelled
    assert (trade.orderStatus.filled, trade.fills[0].execution.shares) == (1.0, 1.0)
    await until(lambda: ib.positions() and ib.positions()[0].position == 1.0, "position 1")


async def test_account_requests_are_answered_after_a_look_at_a_position_never_held(
    fake_gateway: FakeGateway, market: Market
) -> None:
    """The integration helpers look at the gateway's ES position before any order is placed
    (kill_helpers' ``Truth.position()``): the look must leave the books as they were. It used
    to leave an empty position in a contract the books had no terms for, and every account
    request then failed with error 321 (``KeyError`` of the conId): a client's startup sync
    waited out its timeout for the account updates."""
    assert Truth(fake_gateway).position() == 0
    ib = IB()
    seen = errors_of(ib)
    cfg = fake_gateway.config
    try:
        await ib.connectAsync(cfg.host, cfg.port, clientId=1, timeout=5, raiseSyncErrors=True)
        pnl = ib.reqPnL(ACCOUNT)
        await until(lambda: not math.isnan(pnl.dailyPnL), "the account's P&L")
        values = {v.tag: v.value for v in ib.accountValues(ACCOUNT) if v.currency == "USD"}
        assert values["NetLiquidation"] == "1000000.00"
        assert (pnl.dailyPnL, pnl.realizedPnL) == (0.0, 0.0)
        assert [e for e in seen if not 2100 <= e[1] < 2200] == []  # farm news aside
        assert ib.positions() == []
    finally:
        ib.disconnect()
