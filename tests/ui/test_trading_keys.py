"""Press the real keys on the real screen; assert what reached the fake gateway and what the
screen shows."""

from __future__ import annotations

from textual.widgets import Static

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
from tradeterm.domain import OrderStatus
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel


def status(app: TradingApp) -> str:
    return app.screen.query_one("#status", Panel).shown


async def test_trading_keys_are_inert_until_armed() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        await pilot.press("b", "s", "B", "c", "f")
        await pilot.pause(0.3)
        assert app.results == [] and own_working(app) == []
        assert gateway_position(gateway(app), market) == 0
        assert "DISARMED" in status(app)
        await pilot.press("a")
        await settle(
            pilot,
            app,
            lambda: "ARMED" in status(app) and "DISARMED" not in status(app),
            "ARMED shown",
        )


async def test_buy_market_then_flatten_reaches_the_gateway() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        gw = gateway(app)
        await pilot.press("a", "b")
        await settle(
            pilot, app, lambda: gateway_position(gw, market) == 1, "a long position at the gateway"
        )
        await settle(
            pilot,
            app,
            lambda: "LONG 1" in app.screen.query_one("#position", Panel).shown,
            "the position panel",
        )
        await pilot.press("f")
        await settle(pilot, app, lambda: gateway_position(gw, market) == 0, "flat at the gateway")


async def test_sell_market_and_reverse() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        gw = gateway(app)
        await pilot.press("a", "s")
        await settle(pilot, app, lambda: gateway_position(gw, market) == -1, "short 1")
        await pilot.press("r")
        await settle(pilot, app, lambda: gateway_position(gw, market) == 1, "reversed to long 1")


async def test_join_bid_and_ask_show_on_the_ladder_and_cancel_all() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, ask = market.bid, market.ask
        await pilot.press("a", "B", "S")
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "two limits at the gateway")
        orders = {(o.req.action, o.req.order_type, o.lmt_ticks) for o in own_working(app)}
        assert orders == {("BUY", "LMT", bid), ("SELL", "LMT", ask)}
        lad = ladder(app)
        await settle(
            pilot,
            app,
            lambda: lad.data is not None and lad.data.buys.get(bid) == "1L",
            "1L on the bid side",
        )
        assert lad.data is not None and lad.data.sells.get(ask) == "1L"
        await pilot.press("c")
        await settle(pilot, app, lambda: own_working(app) == [], "everything cancelled")


async def test_limit_stop_and_cancel_at_the_cursor() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid, ask = market.bid, market.ask
        lad = ladder(app)
        assert lad.cursor == bid  # no trade yet: the cursor starts at the middle of the touch
        await pilot.press("a", "down", "down", "left_square_bracket")  # a buy limit
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a buy limit")
        (limit,) = own_working(app)
        assert (limit.req.action, limit.req.order_type, limit.lmt_ticks) == ("BUY", "LMT", bid - 2)
        await pilot.press(*["up"] * 6, "left_curly_bracket")  # above the market: a buy stop
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "a buy stop")
        stop = next(o for o in own_working(app) if o.req.order_type == "STP")
        assert (stop.req.action, stop.aux_ticks) == ("BUY", bid + 4)
        assert lad.cursor == bid + 4 and lad.data is not None and lad.data.buys.get(bid + 4) == "1S"
        await pilot.press("x")  # cancel at the cursor: only the stop goes
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "the stop cancelled")
        assert own_working(app)[0].req.order_type == "LMT"
        await pilot.press("up", "up", "up", "right_square_bracket")  # above the ask: a sell limit
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "a sell limit")
        sell = next(o for o in own_working(app) if o.req.action == "SELL")
        assert sell.lmt_ticks == bid + 7 and sell.lmt_ticks > ask


async def test_quantity_keys_set_the_order_size() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        await pilot.press("2")
        assert app.qty == 2
        await settle(pilot, app, lambda: "qty 2" in status(app), "qty 2 in the status bar")
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 2, "long 2")
        await pilot.press("minus")
        assert app.qty == 1


async def test_brackets_from_config_go_as_native_brackets() -> None:
    cfg = settings()
    cfg = cfg.model_copy(update={"markets": {"ES": cfg.market().model_copy(update={
        "bracket": cfg.market().bracket.model_copy(update={"enabled": True, "stop_ticks": 4, "target_ticks": 8})})}})  # fmt: skip
    app = make_app(cfg)
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        ask = market.ask
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "stop and target working")
        legs = {(o.req.action, o.req.order_type) for o in own_working(app)}
        assert legs == {("SELL", "STP"), ("SELL", "LMT")}
        target = next(o for o in own_working(app) if o.req.order_type == "LMT")
        assert target.lmt_ticks == ask + 8
        assert gateway_position(gateway(app), market) == 1
        legs_sent = len(gateway(app).oms.orders)
        await pilot.press("s")  # a sell bracket while long: it would close and orphan its exits
        await settle(pilot, app, lambda: len(app.results) == 2, "the sell bracket answered")
        assert not app.results[-1].ok and "a bracket is an entry" in app.results[-1].reason
        assert len(gateway(app).oms.orders) == legs_sent and len(own_working(app)) == 2
        assert gateway_position(gateway(app), market) == 1


async def test_reverse_while_flat_is_refused_and_leaves_the_orders_working() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        engine = app.engine
        assert engine is not None

        def statuses() -> list[OrderStatus]:
            return [o.status for o in engine.snapshot().orders]

        await pilot.press("a", "B")
        await settle(pilot, app, lambda: statuses() == [OrderStatus.SUBMITTED], "a buy limit")
        await pilot.press("r")
        await settle(pilot, app, lambda: len(app.results) == 2, "the reverse answered")
        assert app.results[-1].reason == "no position to reverse"
        assert statuses() == [OrderStatus.SUBMITTED]  # no cancel was sent
        assert len(own_working(app)) == 1


async def test_keymap_from_config_overrides_a_key_and_the_footer_shows_the_keys_in_force() -> None:
    cfg = settings(**{"ui.keymap": {"buy_market": "ctrl+n", "sell_market": "b", "kill": "f12"}})
    app = make_app(cfg)
    async with app.run_test(size=(160, 40)) as pilot:
        market = await ready(pilot, app)
        footer = str(app.screen.query_one("#keys-hint", Static).render())
        assert " ^n/b mkt " in footer and " f12 KILL " in footer and "b/s" not in footer
        await pilot.press("a", "s")  # s is no key now
        await pilot.pause(0.3)
        assert app.results == []
        await pilot.press("ctrl+n")
        await settle(
            pilot, app, lambda: gateway_position(gateway(app), market) == 1, "bought with ctrl+n"
        )
        await pilot.press("b")
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 0, "sold with b")


async def test_working_orders_panel_select_and_cancel() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        await pilot.press("a", "down", "down", "left_square_bracket", "down", "left_square_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "two buy limits")
        table = app.screen.query_one("#orders")
        await settle(pilot, app, lambda: table.row_count == 2, "both listed")  # type: ignore[attr-defined]
        await pilot.press("o", "down", "delete")  # the second row: the lower limit
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "one cancelled")
        assert own_working(app)[0].lmt_ticks == market.bid - 2
        await pilot.press("escape")
        assert app.focused is not None and app.focused.id == "ladder"


async def test_help_lists_the_keys_as_configured() -> None:
    app = make_app(settings(**{"ui.keymap": {"flatten": "F"}}))
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot, app)
        await pilot.press("f1")
        text = str(app.screen.query_one("#help-text", Static).render())
        assert "ctrl+k" in text and "KILL SWITCH" in text
        assert "F " in text and "[flatten]" in text
        await pilot.press("escape")
        assert app.screen.query_one("#ladder")


async def test_a_textual_theme_from_the_palette_still_paints_the_ladder() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        app.theme = "textual-light"  # has none of tradeterm's variables: the defaults apply
        await pilot.pause()
        assert "PRICE" in ladder(app).row_text(0)
        assert "qty" in status(app)
