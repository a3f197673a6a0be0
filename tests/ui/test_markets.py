"""Any futures market on the screen (issue 18): ``tradeterm M6E`` on a gateway whose catalog
lists M6E, a root the client's own table does not know, trades on IB's contract details (the
ladder on its 0.0001 tick, P&L with its 12,500 multiplier); ZN's ladder shows every price on
its 1/64 (0.015625), 6E's on its 0.00005."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.support.waiting import until
from tests.ui.helpers import gateway, ladder, make_app, settings, settle
from tradeterm.domain import CME_ROOTS
from tradeterm.sim.gateway.desks.feed import InstrumentFeed
from tradeterm.sim.market_events import TradePrint
from tradeterm.ui.app import TradingApp


async def painted(pilot: Pilot[Any], app: TradingApp, root: str) -> InstrumentFeed:
    await until(lambda: app.started.is_set() or app.startup_error, "the engine to start")
    assert app.startup_error is None, app.startup_error
    await until(lambda: (d := ladder(app).data) is not None and d.best_bid is not None, "ladder")
    await pilot.pause()
    inst = app.instrument
    assert inst is not None and inst.root == root and inst.con_id is not None
    return gateway(app).market.feed(inst.con_id)  # the month the engine chose


def ladder_prices(app: TradingApp) -> list[tuple[int, str]]:
    """Every visible ladder row: its price in ticks and its text."""
    lad = ladder(app)
    rows = [(lad.price_at(y), lad.row_text(y)) for y in range(1, lad.rows + 1)]
    return [(p, text) for p, text in rows if p is not None]


@pytest.mark.parametrize(
    ("root", "tick", "shown"),
    [("ZN", "0.015625", 6), ("6E", "0.00005", 5), ("M6E", "0.0001", 4)],
)
async def test_the_ladder_shows_each_price_on_the_markets_tick(
    root: str, tick: str, shown: int
) -> None:
    app = make_app(settings(symbol=root), symbols=(root,))
    async with app.run_test(size=(120, 40)) as pilot:
        feed = await painted(pilot, app, root)
        inst = app.instrument
        assert inst is not None and inst.tick == Decimal(tick) == feed.tick
        rows = ladder_prices(app)
        assert len(rows) > 10
        for ticks, text in rows:
            price = inst.format_price(ticks)
            assert price in text  # the row's price, on the tick...
            assert Decimal(price) % Decimal(tick) == 0
            assert len(price.split(".")[1]) == shown  # ...with the tick's decimals


async def test_a_root_only_the_gateways_catalog_knows_trades_on_its_details() -> None:
    assert "M6E" not in CME_ROOTS
    app = make_app(settings(symbol="M6E"), symbols=("M6E",))
    async with app.run_test(size=(120, 40)) as pilot:
        feed = await painted(pilot, app, "M6E")
        inst = app.instrument
        assert inst is not None and inst.local_symbol == feed.entry.localSymbol
        assert (inst.tick, inst.multiplier, inst.exchange) == (Decimal("0.0001"), 12_500, "CME")
        await pilot.press("a", "b")  # arm, buy 1 at market
        account = gateway(app).books.account(gateway(app).config.account)
        await settle(pilot, app, lambda: account.position(feed.con_id).qty == 1, "long 1 M6E")
        engine = app.engine
        assert engine is not None
        pnl = engine.snapshot().pnl
        assert pnl is not None and pnl.quantity == 1
        ask = feed.engine.best_ask
        assert ask is not None
        feed.push(TradePrint(gateway(app).now_ns(), ask + 10, 1, None), external=True)

        def marked() -> bool:
            now = engine.snapshot().pnl
            return now is not None and now.unrealized_ticks >= 10

        await settle(pilot, app, marked, "the position marked 10 ticks up or more")
        now = engine.snapshot().pnl
        assert now is not None
        # one M6E tick on one lot is 0.0001 x 12,500 = 1.25 dollars
        assert now.unrealized == now.unrealized_ticks * Decimal("1.25")
