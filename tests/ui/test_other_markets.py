"""Another market's orders on the same account never show as this market's (trial finding:
a YM screen listed a GC instance's stop as ``other SELL 1 STP - working``). The ES screen
lists another client's ES stop with its price, read-only (and marks it ``(1S)`` on the
ladder), and names the GC orders under the table without listing them; its long position
stays NO STOP."""

from __future__ import annotations

from typing import Any

from ib_async import IB, Contract, LimitOrder, StopOrder
from textual.widgets import DataTable

from tests.ui.helpers import gateway, ladder, long_one, make_app, settings, settle
from tradeterm.ui.widgets.panel import Panel


def rows(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_the_orders_panel_lists_this_markets_orders_only() -> None:
    es_id = settings().client_id()
    app = make_app(symbols=("ES", "GC"), master_client_id=es_id)  # it sees others' orders live
    async with app.run_test(size=(120, 40)) as pilot:
        market = await long_one(pilot, app)
        gw = gateway(app)
        gc = gw.market.feed_for_symbol("GC")
        gc_bid = gc.engine.best_bid
        assert gc_bid is not None
        other = IB()  # another client of the account: the GC instance, say
        await other.connectAsync(gw.config.host, gw.config.port, clientId=180)
        try:
            gold = Contract(conId=gc.con_id, exchange="COMEX")
            other.placeOrder(gold, LimitOrder("BUY", 1, float((gc_bid - 50) * gc.tick)))
            other.placeOrder(gold, StopOrder("SELL", 1, float((gc_bid - 100) * gc.tick)))
            other.placeOrder(market.contract, StopOrder("SELL", 1, market.px(market.bid - 8)))
            table = app.screen.query_one("#orders", DataTable)
            inst = app.instrument
            assert inst is not None
            es_stop = ["other", "SELL", "1", "STP", inst.format_price(market.bid - 8), "working"]
            # IB tells of the three in the order they were placed: the GC ones came first
            await settle(pilot, app, lambda: es_stop in rows(table), "the ES stop listed")
            assert rows(table) == [es_stop]
            lad = ladder(app)  # on the ladder too, in parentheses: not ours
            y = lad.y_of(market.bid - 8)
            assert y is not None and "(1S)" in lad.row_text(y)
            gc_symbol = gc.entry.localSymbol
            assert table.border_subtitle == f"2 orders in another market: {gc_symbol}"
            position = app.screen.query_one("#position", Panel)
            # no other client's stop protects this position (the side panels paint at their
            # own rate: the final CI run read the panel before it had shown the fill)
            await settle(pilot, app, lambda: "LONG 1" in position.shown, "LONG 1 in the panel")
            assert "NO STOP" in position.shown
        finally:
            other.disconnect()
