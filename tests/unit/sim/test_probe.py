"""The benchmarks' wire probe: marker frames, placeOrder and cancelOrder arrivals are stamped,
only when installed, and the gateway works the same with it."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date

from ib_async import IB, Contract, LimitOrder, TickByTickAllLast

from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.gateway.probe import WireProbe, frame_with
from tradeterm.sim.gateway.protocol.wire import encode_frame
from tradeterm.sim.market_events import TradePrint

TODAY = date(2026, 11, 20)


def test_frame_with_matches_message_id_and_a_whole_field() -> None:
    match = frame_with(99, "777")
    assert match(encode_frame([99, 5, 2, 1_795_000_000, 6000.25, 777, 0, "CME", ""]))
    assert not match(encode_frame([99, 5, 2, 1_795_000_000, 6000.25, 7770, 0, "CME", ""]))
    assert not match(encode_frame([1, 5, 4, 6000.25, 777, 0]))  # tickPrice, not tick-by-tick
    assert not match(encode_frame([4, 2, -1, 2104, "5999"]))  # "99" inside a field is not an id


async def test_marker_and_order_are_stamped_in_order_and_the_order_still_works() -> None:
    ticks = itertools.count(1_000)
    gateway = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=TODAY))
    probe = WireProbe(clock=lambda: next(ticks))
    probe.install(gateway.server)
    arrived: list[tuple[int, int]] = []
    probe.on_order = lambda oid, ns: arrived.append((oid, ns))
    host, port = await gateway.start()
    ib = IB()
    try:
        await ib.connectAsync(host, port, clientId=3, timeout=5)
        feed = gateway.market.feed_for_symbol("ES")
        contract = Contract(conId=feed.con_id, exchange="CME")
        ticker = ib.reqTickByTickData(contract, "AllLast")
        await until(lambda: gateway.server.subscribers("tbtAllLast"), "the subscription")
        assert probe.frames > 0 and not probe.armed  # every frame counted, nothing stamped
        last = feed.last if feed.last is not None else 24_000

        probe.arm(frame_with(99, "777"))
        feed.push(TradePrint(gateway.now_ns(), last, 777, None))
        await until(
            lambda: any(
                isinstance(t, TickByTickAllLast) and t.size == 777 for t in ticker.tickByTicks
            ),
            "the marker",
        )
        assert len(probe.marks) == 1 and not probe.armed
        feed.push(TradePrint(gateway.now_ns(), last, 777, None))  # not armed: not stamped
        await asyncio.sleep(0.05)
        assert len(probe.marks) == 1

        trade = ib.placeOrder(contract, LimitOrder("BUY", 1, float((last - 40) * feed.tick)))
        await until(lambda: trade.orderStatus.status == "Submitted", "the order working")
        assert probe.orders == arrived == [(trade.order.orderId, probe.orders[0][1])]
        assert probe.orders[0][1] > probe.marks[0]
        assert probe.cancels == []

        cancelled: list[tuple[int, int]] = []
        probe.on_cancel = lambda oid, ns: cancelled.append((oid, ns))
        ib.cancelOrder(trade.order)
        await until(lambda: trade.orderStatus.status == "Cancelled", "the order cancelled")
        assert probe.cancels == cancelled == [(trade.order.orderId, probe.cancels[0][1])]
        assert probe.cancels[0][1] > probe.orders[0][1]
    finally:
        ib.disconnect()
        await gateway.stop()


def test_a_gateway_without_a_probe_does_not_wrap_writers() -> None:
    assert FakeGateway(GatewayConfig(port=0, rate=0.0, today=TODAY)).server.wrap_writer is None
