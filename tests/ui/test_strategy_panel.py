"""The strategy on the screen: ``--strategy`` starts it with the engine, its panel shows its
state, parameters, position, P&L and signals, the keys start (armed only), pause and stop it,
and the ladder marks its orders apart from manual ones."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import RichLog

from tests.ui.helpers import Market, ladder, make_app, ready, settings, settle
from tests.ui.test_layout import cut_lines
from tradeterm.engine.types import StrategyState
from tradeterm.strategies import load
from tradeterm.ui.app import TradingApp
from tradeterm.ui.widgets.strategy_panel import StrategyPanel

BELOW = "tests.support.strategies:BidsBelow"
LONG = "tests.support.strategies:LongAtStart"


def panel(app: TradingApp) -> StrategyPanel:
    return app.screen.query_one(StrategyPanel)


def state(app: TradingApp) -> StrategyState | None:
    return app.runner.state if app.runner is not None else None


async def entered(pilot: Pilot[Any], app: TradingApp) -> Market:
    """Ready, and BidsBelow's bracket working: its entry 4 ticks under a trade printed now,
    sized by the account's equity (known before the trade: the default quantity otherwise)."""
    market = await ready(pilot, app)
    await settle(pilot, app, lambda: state(app) is StrategyState.RUNNING, "the strategy running")
    engine = app.engine
    assert engine is not None
    await settle(pilot, app, lambda: engine.account_values is not None, "the account's equity")
    market.trade(market.bid)
    lad = ladder(app)
    await settle(pilot, app, lambda: lad.data is not None and market.bid - 4 in lad.data.buys,
                 "its entry on the ladder")  # fmt: skip
    return market


async def test_the_panel_shows_state_parameters_position_and_each_signal_with_its_fate() -> None:
    app = make_app(strategy=load(LONG, []))
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        shown = panel(app)
        await settle(pilot, app, lambda: "pos +1" in shown.shown, "its long in the panel")
        text = shown.shown
        first = text.split("\n", 1)[0]  # the name cut to the panel's width, its class kept
        assert first.startswith("STRATEGY …") and first.endswith(":LongAtStart RUNNING")
        assert len(first) <= shown.content_size.width and "no parameters" in text
        assert "target quantity=1" in text and "sent 1 (long from the start)" in text
        assert "real +0.00" in text and "open " in text
        assert "g start  p pause  e stop" in text


async def test_the_panel_shows_its_parameters_and_a_signal_refused_while_paused() -> None:
    app = make_app(strategy=load(BELOW, ["ticks=6"]))
    async with app.run_test(size=(120, 40)) as pilot:
        market = await ready(pilot, app)
        shown = panel(app)
        await settle(pilot, app, lambda: "RUNNING" in shown.shown, "running")
        assert "ticks=6" in shown.shown and "no signals yet" in shown.shown
        await pilot.press("p")
        await settle(pilot, app, lambda: "PAUSED" in shown.shown, "paused in the panel")
        assert state(app) is StrategyState.PAUSED and "paused on the screen" in shown.shown
        market.trade(market.bid)
        await settle(pilot, app, lambda: "not sent: paused (6 under)" in shown.shown,
                     "the paused signal")  # fmt: skip
        assert "entry side=BUY entry=LIMIT@" in shown.shown
        assert app.engine is not None and app.engine.snapshot().orders == ()


async def test_the_keys_start_pause_and_stop_it_start_only_armed() -> None:
    app = make_app(strategy=load(BELOW, []))
    async with app.run_test(size=(120, 40)) as pilot:
        await entered(pilot, app)
        assert app.engine is not None and len(app.engine.snapshot().orders) == 3
        await pilot.press("p")  # no arming needed: it sends nothing
        await settle(pilot, app, lambda: state(app) is StrategyState.PAUSED, "paused")
        await pilot.press("g")  # resuming sends orders: disarmed, refused
        await pilot.pause(0.3)
        assert state(app) is StrategyState.PAUSED
        await pilot.press("a", "g")
        await settle(pilot, app, lambda: state(app) is StrategyState.RUNNING, "resumed")
        await pilot.press("a", "e")  # disarmed again: stopping needs no arming
        await settle(pilot, app, lambda: state(app) is StrategyState.STOPPED, "stopped")
        engine = app.engine
        await settle(pilot, app, lambda: engine.snapshot().orders == (), "its bracket cancelled")
        await settle(pilot, app, lambda: "STOPPED" in panel(app).shown, "the panel says so")
        assert "stopped on the screen" in panel(app).shown
        await pilot.press("g")  # disarmed: it stays stopped
        await pilot.pause(0.3)
        assert state(app) is StrategyState.STOPPED
        await pilot.press("a", "g")
        await settle(pilot, app, lambda: state(app) is StrategyState.RUNNING, "started again")
        assert app.runner is not None and app.runner.reason == "started on the screen"


async def test_the_ladder_marks_the_strategys_orders_apart_from_manual_ones() -> None:
    # 0.01% of the fake account's 1,000,000 risks 100: one contract at an 8-tick ES stop,
    # which leaves room under max_position 2 for the manual bid
    cfg = settings(**{"markets.ES.risk.risk_per_trade_pct": 0.01})
    app = make_app(cfg, strategy=load(BELOW, []))
    async with app.run_test(size=(120, 40)) as pilot:
        market = await entered(pilot, app)
        lad = ladder(app)
        entry = market.bid - 4
        await pilot.press("a", *["down"] * 6, "left_square_bracket")  # a manual bid
        cursor = lad.cursor
        assert cursor is not None and cursor != entry
        await settle(pilot, app, lambda: lad.data is not None and cursor in lad.data.buys,
                     "the manual bid")  # fmt: skip
        data = lad.data
        assert data is not None
        assert data.buys[entry] == "1L*" and data.buys[cursor] == "1L"
        assert data.sells[entry - 8] == "1S*" and data.sells[entry + 16] == "1L*"  # its exits
        row = next(y for y in range(lad.size.height) if lad.price_at(y) == entry)
        assert "1L*" in lad.row_text(row)
        await pilot.press("e")
        await settle(pilot, app, lambda: lad.data is not None and entry not in lad.data.buys,
                     "its orders cancelled")  # fmt: skip
        assert lad.data is not None and lad.data.buys[cursor] == "1L"


async def test_the_panel_shows_a_sent_entrys_size_the_log_how_it_was_sized() -> None:
    cfg = settings(**{"markets.ES.risk.risk_per_trade_pct": 0.01})
    app = make_app(cfg, strategy=load(BELOW, []))
    async with app.run_test(size=(120, 40)) as pilot:
        await entered(pilot, app)
        await settle(pilot, app, lambda: "sent 1 (4 under)" in panel(app).shown, "the panel")
        assert "sized" not in panel(app).shown
        log = app.screen.query_one("#log", RichLog)
        words = " ".join(" ".join(strip.text.split()) for strip in log.lines)
        assert "(4 under): sent 1: " in words
        assert "sized 1: 0.01% of the account's net liquidation 1000000" in words


async def test_without_a_strategy_the_panel_folds_away_and_its_keys_say_so() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await ready(pilot, app)
        await pilot.press("g")
        await pilot.pause(0.3)
        assert not panel(app).display and app.runner is None


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 50)])
async def test_the_panel_fits_at_the_sizes_traders_use(size: tuple[int, int]) -> None:
    app = make_app(settings(), strategy=load(BELOW, []), fixed_clock=True)
    async with app.run_test(size=size) as pilot:
        await entered(pilot, app)
        shown = panel(app)
        await settle(pilot, app, lambda: "sent" in shown.shown, "its signal")
        await pilot.pause(0.6)
        assert shown.display and cut_lines(app) == []
        for name in ("#position", "#risk", "#strategy", "#orders"):
            widget = app.screen.query_one(name)
            assert widget.region.height > 0, name
        regions = [app.screen.query_one(n).region for n in ("#position", "#risk", "#strategy")]
        assert all(not a.overlaps(b) for i, a in enumerate(regions) for b in regions[i + 1 :])
