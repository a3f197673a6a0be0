"""Keys a trader is never surprised by: the side of an order at the cursor is the key's, an
order meant to rest that would trade or trigger at once is refused by the engine against its
own book (not the painted one), digit keys exist only for the quantity presets the risk
limits allow, a trading key while HALTED says so, and the palette lists each command once."""

from __future__ import annotations

from typing import Any

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Static

from tests.ui.helpers import (
    Market,
    gateway,
    gateway_position,
    halted,
    ladder,
    long_one,
    make_app,
    own_working,
    ready,
    settings,
    settle,
)
from tradeterm.engine.commands import PlaceOrder
from tradeterm.sim.market_events import BookDelta, BookSide, TradePrint
from tradeterm.ui.app import TradingApp
from tradeterm.ui.dialogs import ConfirmScreen


def move_market(market: Market, bid: int) -> None:
    """The public book moves so that ``bid`` is the best bid and ``bid + 1`` the best ask."""
    book = market.feed.engine.book
    now = market.gateway.now_ns()
    for price in book.prices(BookSide.BID):
        if price > bid:
            market.feed.push(BookDelta(now, BookSide.BID, price, 0), external=True)
    for price in book.prices(BookSide.ASK):
        if price <= bid:
            market.feed.push(BookDelta(now, BookSide.ASK, price, 0), external=True)
    market.feed.push(BookDelta(now, BookSide.BID, bid, 20), external=True)
    market.feed.push(BookDelta(now, BookSide.ASK, bid + 1, 20), external=True)


def engine_quote(app: TradingApp) -> tuple[int | None, int | None]:
    market = app.engine.market if app.engine is not None else None
    quote = market.quote if market is not None else None
    return (quote.bid, quote.ask) if quote is not None else (None, None)


def sent_to_gateway(app: TradingApp) -> int:
    return len(gateway(app).oms.orders)


def last_result(app: TradingApp, n: int) -> Any:
    return app.results[n - 1] if len(app.results) >= n else None


async def test_a_market_moving_onto_the_cursor_never_flips_the_side_and_is_refused() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid = market.bid
        await pilot.press("a", "down", "down")  # the cursor two ticks under the bid
        lad = ladder(app)
        await settle(pilot, app, lambda: lad.cursor == bid - 2, "the cursor under the bid")
        # the screen stops painting: what it shows from here on is the old book
        app.paint = lambda: None  # type: ignore[method-assign]
        move_market(market, bid - 3)  # the market falls onto the cursor: its ask is there now
        await settle(pilot, app, lambda: engine_quote(app) == (bid - 3, bid - 2), "the new book")
        assert lad.data is not None and lad.data.best_ask == bid + 1  # painted: the old book
        await pilot.press("left_square_bracket")  # buy limit at the cursor: now marketable
        await settle(pilot, app, lambda: last_result(app, 1), "the buy limit answered")
        refused = app.results[0]
        assert isinstance(refused.command, PlaceOrder)
        assert not refused.ok and refused.command.side == "BUY"
        price = app.engine.instrument.format_price  # type: ignore[union-attr]
        assert refused.reason == (
            f"buy limit {price(bid - 2)} is at or above the ask {price(bid - 2)}: it would "
            "trade at once, not rest"
        )
        # join the bid as painted (the old bid, now above the ask): refused as well
        await pilot.press("B")
        await settle(pilot, app, lambda: last_result(app, 2), "the join answered")
        assert not app.results[1].ok and "at or above the ask" in app.results[1].reason
        assert sent_to_gateway(app) == 0 and gateway_position(gateway(app), market) == 0
        # the other side, asked for by its own key, rests at the ask
        await pilot.press("right_square_bracket")
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a sell limit at the gateway")
        (sell,) = own_working(app)
        assert (sell.req.action, sell.req.order_type, sell.lmt_ticks) == ("SELL", "LMT", bid - 2)
        assert gateway_position(gateway(app), market) == 0


async def test_a_stop_the_market_has_passed_is_refused_and_keeps_its_side() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        bid = market.bid
        await pilot.press("a", "up", "up", "up")  # the cursor above the ask
        lad = ladder(app)
        await settle(pilot, app, lambda: lad.cursor == bid + 3, "the cursor above the ask")
        move_market(market, bid + 4)  # the market rises past the cursor
        market.feed.push(TradePrint(market.gateway.now_ns(), bid + 4, 1, None), external=True)
        await settle(pilot, app, lambda: engine_quote(app) == (bid + 4, bid + 5), "the new book")
        await pilot.press("left_curly_bracket")  # buy stop at the cursor: under the market now
        await settle(pilot, app, lambda: last_result(app, 1), "the buy stop answered")
        refused = app.results[0]
        assert isinstance(refused.command, PlaceOrder)
        assert not refused.ok and refused.command.side == "BUY"
        assert "buy stop" in app.results[0].reason and "trigger at once" in app.results[0].reason
        assert sent_to_gateway(app) == 0
        await pilot.press("right_curly_bracket")  # sell stop at the cursor: under the market
        await settle(pilot, app, lambda: len(own_working(app)) == 1, "a sell stop at the gateway")
        (stop,) = own_working(app)
        assert (stop.req.action, stop.req.order_type, stop.aux_ticks) == ("SELL", "STP", bid + 3)


def help_shown(app: TradingApp) -> str:
    return str(app.screen.query_one("#help-text", Static).render())


async def test_digit_keys_only_for_the_presets_the_risk_limits_allow() -> None:
    cfg = settings(**{"markets.ES.risk.max_order_qty": 3, "markets.ES.risk.max_position": 5})
    app = make_app(cfg)
    async with app.run_test(size=(120, 50)) as pilot:
        await ready(pilot, app)
        assert app.presets == [1, 2, 3]  # 1, 2, 3, 5, 10 up to max_order_qty
        await pilot.press("3")
        assert app.qty == 3
        await pilot.press("4", "5", "9")  # not bound: nothing changes
        assert app.qty == 3
        await pilot.press("f1")
        shown = help_shown(app)
        assert "quantity 3" in shown and "[qty_3]" in shown
        assert "[qty_4]" not in shown and "[qty_9]" not in shown


async def test_the_default_presets_stop_at_the_default_order_limit() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        assert app.presets == [1, 2]
        await pilot.press("3", "a", "b")  # 3 is no key: the order is of the default 1
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 1, "long 1")
        assert app.qty == 1 and app.results[0].ok


def notifications(app: TradingApp) -> list[str]:
    return [n.message for n in app._notifications]


async def test_a_trading_key_while_halted_says_halted_and_how_to_re_arm() -> None:
    app = make_app(settings(**{"ui.keymap": {"arm": "ctrl+r", "kill": "f12"}}))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await halted(pilot, app, "f12")
        await pilot.press("enter", "b")
        await settle(pilot, app, lambda: any("BUY market" in n for n in notifications(app)), "an answer")  # fmt: skip
        (said,) = [n for n in notifications(app) if n.startswith("BUY market")]
        assert said.startswith(
            "BUY market: trading is HALTED (kill switch: kill switch pressed (f12)"
        )
        assert said.endswith("; press ctrl+r to re-arm with a typed reason")
        assert "DISARMED" not in said and "press a" not in said


async def palette_entries(pilot: Pilot[Any], app: TradingApp) -> list[str]:
    await pilot.press("ctrl+p")
    await settle(pilot, app, lambda: isinstance(app.screen, CommandPalette), "the palette")
    commands = app.screen.query_one(CommandList)
    await settle(pilot, app, lambda: commands.option_count > 5, "the commands listed")
    await pilot.pause(0.3)  # every provider answered
    return [
        str(commands.get_option_at_index(i).prompt).split("\n")[0]
        for i in range(commands.option_count)
    ]


async def test_the_palette_lists_each_command_once_and_its_quit_asks_first() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        market = await long_one(pilot, app)
        names = await palette_entries(pilot, app)
        assert len(names) == len(set(names)), names
        assert {"Keys", "Quit", "Theme", "Kill switch", "Re-arm trading"} <= set(names)
        await pilot.press(*"quit", "enter")
        await settle(pilot, app, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n", "ctrl+q")  # Textual's own quit key asks too
        await settle(pilot, app, lambda: isinstance(app.screen, ConfirmScreen), "asked again")
        await pilot.press("n")
        assert app.is_running and gateway_position(gateway(app), market) == 1
