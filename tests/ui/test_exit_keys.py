"""Exit strategies from the screen: X chooses the next entry's strategy (the status bar shows
it), u moves the stops to breakeven now; what reached the fake gateway."""

from __future__ import annotations

from pathlib import Path

from tests.support.waiting import until
from tests.ui.helpers import gateway, gateway_position, ladder, make_app, own_working, ready, settle
from tradeterm.config import Settings, load_settings
from tradeterm.sim.gateway.oms import SimOrder
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.panel import Panel

CONFIG = """
[markets.ES.exits.be]
stop_ticks = 8
targets = [{ticks = 20, qty = 1}]
breakeven_after_ticks = 10
breakeven_offset_ticks = 1

[markets.ES.exits.trail]
stop_ticks = 6
trail_ticks = 3
"""


def with_exits(tmp_path: Path) -> Settings:
    path = tmp_path / "tradeterm.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_settings(path).settings


def status(app: TradingApp) -> str:
    return app.screen.query_one("#status", Panel).shown


def stops(app: TradingApp) -> list[SimOrder]:
    return [o for o in own_working(app) if o.req.order_type in ("STP", "TRAIL")]


def last_trade(app: TradingApp) -> int | None:
    market = app.engine.snapshot(tape=0).market if app.engine is not None else None
    return market.last.price if market is not None and market.last is not None else None


async def test_x_chooses_the_next_entrys_exits_and_u_moves_its_stop_to_breakeven(
    tmp_path: Path,
) -> None:
    app = make_app(with_exits(tmp_path))
    async with app.run_test(size=(140, 40)) as pilot:
        market = await ready(pilot, app)
        assert "ATM off" in status(app)
        await pilot.press("X")
        await settle(pilot, app, lambda: "ATM be" in status(app), "ATM be shown")
        ask = market.ask
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 1, "long 1")
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "stop and target")
        (stop,) = stops(app)
        assert stop.req.order_type == "STP" and stop.aux_ticks == ask - 8
        await pilot.press("X")  # the next entry's: the working stop stays as it is
        await settle(pilot, app, lambda: "ATM trail" in status(app), "ATM trail shown")
        assert stops(app) == [stop] and stop.req.order_type == "STP"
        await pilot.press("u")  # the market is not beyond breakeven yet: refused, nothing sent
        await pilot.pause(0.3)
        assert stop.aux_ticks == ask - 8
        market.trade(ask + 3)  # beyond breakeven + 1, short of the automatic 10 ticks
        await until(lambda: last_trade(app) == ask + 3, "the trade seen")
        await pilot.press("u")
        await settle(pilot, app, lambda: stop.aux_ticks == ask + 1, "the stop at breakeven + 1")
        lad = ladder(app)
        await settle(pilot, app, lambda: lad.data is not None and lad.data.sells.get(ask + 1)
                     == "1S", "shown on the ladder at its new price")  # fmt: skip


async def test_a_trailing_exit_from_the_screen_trails_at_the_gateway(tmp_path: Path) -> None:
    app = make_app(with_exits(tmp_path))
    async with app.run_test(size=(140, 40)) as pilot:
        market = await ready(pilot, app)
        await pilot.press("X", "X")
        await settle(pilot, app, lambda: "ATM trail" in status(app), "ATM trail shown")
        ask = market.ask
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: len(stops(app)) == 1, "the trailing stop")
        (stop,) = stops(app)
        assert stop.req.order_type == "TRAIL" and stop.trail_stop_ticks == ask - 6
        market.trade(ask + 5)
        await settle(pilot, app, lambda: stop.trail_stop_ticks == ask + 2, "trailed")
        lad = ladder(app)
        await settle(pilot, app, lambda: lad.data is not None and lad.data.sells.get(ask + 2)
                     == "1T", "the ladder shows it where IB says it is")  # fmt: skip
        market.trade(ask + 2)
        await settle(pilot, app, lambda: gateway_position(gateway(app), market) == 0, "stopped")


async def test_r_protects_the_reversed_position_with_the_chosen_exit_strategy(
    tmp_path: Path,
) -> None:
    """Long 1 with ATM be's exits, r: the reverse cancels them and sells 2; the short 1 it
    opens gets be's stop and target (trial: SHORT 1 ... NO STOP), and the close the reverse
    started does not cancel them."""
    app = make_app(with_exits(tmp_path))
    async with app.run_test(size=(140, 40)) as pilot:
        market = await ready(pilot, app)
        gw = gateway(app)
        await pilot.press("X")
        await settle(pilot, app, lambda: "ATM be" in status(app), "ATM be shown")
        await pilot.press("a", "b")
        await settle(pilot, app, lambda: len(own_working(app)) == 2, "long 1, stop and target")
        bid = market.bid
        await pilot.press("r")
        await settle(pilot, app, lambda: gateway_position(gw, market) == -1, "short 1")
        await settle(pilot, app, lambda: len(stops(app)) == 1 and len(own_working(app)) == 2,
                     "the short's stop and target")  # fmt: skip
        assert app.engine is not None
        await app.engine.exits.idle()
        await pilot.pause(0.3)
        (stop,) = stops(app)
        (target,) = [o for o in own_working(app) if o is not stop]
        assert (stop.req.action, stop.remaining, stop.aux_ticks) == ("BUY", 1, bid + 8)
        assert (target.req.action, target.lmt_ticks) == ("BUY", bid - 20)
        position = app.screen.query_one("#position", Panel)
        await settle(pilot, app, lambda: "SHORT 1" in position.shown
                     and "NO STOP" not in position.shown, "the panel: short 1, stopped")  # fmt: skip
