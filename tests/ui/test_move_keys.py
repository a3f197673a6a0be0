"""The keys that move and resize working orders from the ladder (``ui/order_moves.py``): press
them on the real screen, assert the modification that reached the fake gateway (the same
order id placed again, at the new price or quantity), the order at the gateway afterwards,
and what the ladder shows meanwhile."""

from __future__ import annotations

from typing import Any

from tests.ui.helpers import (
    gateway,
    gateway_position,
    ladder,
    make_app,
    own_working,
    ready,
    settings,
    settle,
)
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.oms import SimOrder
from tradeterm.sim.gateway.protocol.request_types import PlaceOrder
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel


def placed_at(gw: FakeGateway) -> list[PlaceOrder]:
    """Every placeOrder the gateway reads from now on (a new order or a modification),
    recorded as it arrives, before any delayed answer."""
    seen: list[PlaceOrder] = []
    handle = gw.desk.handle_place_order

    async def spy(session: Any, req: PlaceOrder) -> None:
        seen.append(req)
        await handle(session, req)

    gw.server.register(PlaceOrder, spy)
    return seen


def only(app: TradingApp) -> SimOrder:
    (order,) = own_working(app)
    return order


def acked(app: TradingApp) -> bool:
    """Our one working order confirmed by IB (nothing of it unconfirmed)."""
    engine = app.engine
    return engine is not None and not engine.snapshot().orders[0].unconfirmed


def buys(app: TradingApp) -> dict[int, str]:
    """Our buys as the ladder shows them, by price."""
    data = ladder(app).data
    return data.buys if data is not None else {}


def status(app: TradingApp) -> str:
    return ladder(app).screen.query_one("#status", Panel).shown


async def buy_limit_below(pilot: Any, app: TradingApp, ticks: int) -> SimOrder:
    """Armed, a buy limit ``ticks`` below the bid working at the gateway, the cursor on it."""
    await pilot.press("a", *["down"] * ticks, "left_square_bracket")
    await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy limit")
    await settle(pilot, app, lambda: acked(app), "acked")
    return only(app)


async def test_K_and_J_move_the_order_one_tick_and_the_gateway_gets_the_new_price() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, gw, lad = market.bid, gateway(app), ladder(app)
        order = await buy_limit_below(pilot, app, 2)
        sent = placed_at(gw)
        await pilot.press("K")
        await settle(pilot, app, lambda: only(app).lmt_ticks == bid - 1, "moved up at the gateway")
        (modify,) = sent
        assert modify.orderId == order.order_id and modify.lmtPrice == market.px(bid - 1)
        assert only(app).perm_id == order.perm_id  # the same order, not a new one
        await settle(pilot, app, lambda: buys(app).get(bid - 1) == "1L", "1L a tick up")
        assert bid - 2 not in buys(app)
        assert lad.cursor == bid - 1  # the cursor goes with the order
        await pilot.press("J")
        await settle(pilot, app, lambda: only(app).lmt_ticks == bid - 2, "moved down again")
        assert [m.lmtPrice for m in sent] == [market.px(bid - 1), market.px(bid - 2)]


async def test_the_ladder_shows_the_old_price_until_the_gateway_confirms() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, gw = market.bid, gateway(app)
        await buy_limit_below(pilot, app, 3)
        sent = placed_at(gw)
        gw.faults.set_ack_delay(2.0)  # the exchange answers 2 s late
        await pilot.press("K")
        await settle(pilot, app, lambda: len(sent) == 1, "the modification at the gateway")
        assert sent[0].lmtPrice == market.px(bid - 2)
        await settle(pilot, app, lambda: buys(app).get(bid - 3) == "1L?", "1L? at the old price")
        assert bid - 2 not in buys(app)
        assert only(app).lmt_ticks == bid - 3  # not answered yet
        await pilot.press("K")  # a second move before the answer: refused here, nothing sent
        await pilot.pause(0.2)
        assert len(sent) == 1
        await settle(pilot, app, lambda: buys(app).get(bid - 2) == "1L", "1L at the new price")
        assert bid - 3 not in buys(app) and only(app).lmt_ticks == bid - 2


async def test_a_move_across_the_market_is_refused_and_sends_nothing() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, ask, gw = market.bid, market.ask, gateway(app)
        await buy_limit_below(pilot, app, 0)  # at the bid
        sent = placed_at(gw)
        await pilot.press(*["K"] * (ask - bid))  # onto the ask: it would trade
        await settle(pilot, app, lambda: len(app.results) == 2, "the move answered")
        assert not app.results[-1].ok and "would trade at once, not rest" in app.results[-1].reason
        assert sent == [] and only(app).lmt_ticks == bid
        await settle(pilot, app, lambda: buys(app).get(bid) == "1L", "1L where it was")


async def test_a_refused_move_leaves_the_cursor_on_the_order() -> None:
    """K on a buy limit onto the ask, J on a buy stop onto it: both refused by the engine's
    checks; the cursor stays on the order, so the next move key still finds it."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, ask, lad = market.bid, market.ask, ladder(app)
        await buy_limit_below(pilot, app, 0)  # at the bid
        await pilot.press(*["K"] * (ask - bid))  # onto the ask: it would trade
        await settle(pilot, app, lambda: len(app.results) == 2, "the move answered")
        assert not app.results[-1].ok
        await pilot.pause(0.2)
        assert lad.cursor == bid  # still on the order
        await pilot.press("x")  # cancelled, then a buy stop a tick above the ask
        await settle(pilot, app, lambda: not own_working(app), "cancelled")
        await pilot.press(*["up"] * (ask + 1 - bid), "left_curly_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy stop")
        await settle(pilot, app, lambda: acked(app), "acked")
        before = len(app.results)
        await pilot.press("J")  # onto the ask: it would trigger at once
        await settle(pilot, app, lambda: len(app.results) == before + 1, "the move answered")
        assert not app.results[-1].ok
        await pilot.pause(0.2)
        assert lad.cursor == ask + 1 and only(app).aux_ticks == ask + 1


async def test_v_picks_up_and_drops_at_the_cursor_and_escape_leaves_it() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, gw, inst = market.bid, gateway(app), app.instrument
        assert inst is not None
        await buy_limit_below(pilot, app, 1)
        sent = placed_at(gw)
        await pilot.press("v")
        picked = f"MOVING BUY 1L {inst.format_price(bid - 1)}"
        await settle(pilot, app, lambda: picked in status(app), "what is picked up, on screen")
        await pilot.press("down", "down", "down", "escape")
        await settle(pilot, app, lambda: "MOVING" not in status(app), "the pick-up left")
        await pilot.pause(0.2)
        assert sent == [] and only(app).lmt_ticks == bid - 1
        await pilot.press("up", "up", "up", "v", "down", "down", "down", "down", "v")
        await settle(pilot, app, lambda: only(app).lmt_ticks == bid - 5, "dropped 4 ticks down")
        (modify,) = sent
        assert modify.lmtPrice == market.px(bid - 5) and "MOVING" not in status(app)


async def test_quantity_keys_resize_within_the_limits() -> None:
    """max_position 2: 1 -> 2 goes, 2 -> 3 is refused by the position limit (the order counted
    once, at its new size) and sends nothing, 2 -> 1 goes, and 1 never goes below 1."""
    cfg = settings(**{"markets.ES.risk.max_order_qty": 5, "markets.ES.risk.max_position": 2})
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        gw, inst = gateway(app), app.instrument
        assert inst is not None
        price = inst.format_price(market.bid - 2)
        await buy_limit_below(pilot, app, 2)
        sent = placed_at(gw)
        await pilot.press("greater_than_sign")
        await settle(pilot, app, lambda: only(app).req.total_qty == 2, "2 at the gateway")
        assert [m.totalQuantity for m in sent] == [2]
        await settle(pilot, app, lambda: acked(app), "acked")
        await pilot.press("greater_than_sign")
        await settle(pilot, app, lambda: len(app.results) == 3, "the second resize answered")
        assert not app.results[-1].ok
        assert app.results[-1].reason == (
            "maximum position is 2: position 0, 0 other working BUY and this order changed to "
            f"BUY 3 LMT {price} would make 3 long"
        )
        assert len(sent) == 1 and only(app).req.total_qty == 2
        await pilot.press("less_than_sign")
        await settle(pilot, app, lambda: only(app).req.total_qty == 1, "1 at the gateway")
        await settle(pilot, app, lambda: acked(app), "acked")
        await pilot.press("less_than_sign")
        await pilot.pause(0.3)
        assert [m.totalQuantity for m in sent] == [2, 1] and len(app.results) == 4


async def test_t_and_y_move_the_brackets_target_and_stop_to_the_cursor() -> None:
    cfg = settings()
    cfg = cfg.model_copy(update={"markets": {"ES": cfg.market().model_copy(update={
        "bracket": cfg.market().bracket.model_copy(update={"enabled": True, "stop_ticks": 4, "target_ticks": 8})})}})  # fmt: skip
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, gw = market.bid, gateway(app)
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "stop and target working")
        assert gateway_position(gw, market) == 1

        def leg(kind: str) -> SimOrder:
            return next(o for o in own_working(app) if o.req.order_type == kind)

        sent = placed_at(gw)
        await pilot.press(*["up"] * 5, "t")
        await settle(pilot, app, lambda: leg("LMT").lmt_ticks == bid + 5, "the target moved")
        await pilot.press(*["down"] * 7, "y")
        await settle(pilot, app, lambda: leg("STP").aux_ticks == bid - 2, "the stop moved")
        assert [(m.orderType, m.lmtPrice or m.auxPrice) for m in sent] == [
            ("LMT", market.px(bid + 5)), ("STP", market.px(bid - 2)),
        ]  # fmt: skip
        assert gateway_position(gw, market) == 1 and len(own_working(app)) == 2


async def test_move_keys_do_nothing_while_disarmed() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        gw = gateway(app)
        await buy_limit_below(pilot, app, 2)
        sent = placed_at(gw)
        await pilot.press("a")  # disarmed
        await pilot.press(
            "K", "J", "v", "down", "v", "t", "y", "greater_than_sign", "less_than_sign"
        )
        await pilot.pause(0.3)
        assert sent == [] and len(app.results) == 1  # the limit's only
        assert only(app).lmt_ticks == market.bid - 2 and only(app).req.total_qty == 1
        assert "MOVING" not in status(app)
