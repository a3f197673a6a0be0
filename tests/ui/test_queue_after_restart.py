"""trial21: after a restart, an order of ours IB still works (a restored ATM target) showed
`1L` with no queue figure while Q was on, and the orders panel dropped its `ahead` column: the
orders the start finds at IB never joined the queue estimate. It shows a figure, `q?` at
worst (README: an order whose place is unknown)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator

from tests.integration.engine_helpers import TODAY, always_open
from tests.ui.helpers import ladder, settings, settle
from tests.ui.test_queue_position import ahead_cell, row_at
from tradeterm.broker.ib import IbBroker
from tradeterm.engine.engine import Engine
from tradeterm.runtime import Runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.ladder_data import QUEUE


def app_on(gw: FakeGateway) -> TradingApp:
    """The app on ``gw``, a gateway that outlives it (a restart of tradeterm, not of IB)."""
    cfg = settings()

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        connection = cfg.connection.model_copy(
            update={"host": gw.config.host, "client_id": cfg.client_id()}
        )
        engine = Engine(
            IbBroker(connection, port=gw.config.port), cfg.symbol, cfg.market(),
            calendar=always_open(), timer_s=0.05, clock=time.time_ns,
        )  # fmt: skip
        try:
            yield Runtime(cfg, engine, gw.config.host, gw.config.port, None)
        finally:
            await engine.stop()

    chosen, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=chosen, themes=themes, opener=opener)


def working(gw: FakeGateway) -> list[int]:
    return [o.lmt_ticks for o in gw.oms.orders.values() if not o.done and o.lmt_ticks]


async def test_an_order_found_at_ib_after_a_restart_shows_its_queue() -> None:
    gw = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=TODAY))
    await gw.start()
    try:
        first = app_on(gw)
        async with first.run_test(size=(200, 50)) as pilot:
            await settle(pilot, first, lambda: first.started.is_set(), "started")
            await settle(pilot, first, lambda: ladder(first).data is not None, "the ladder")
            await pilot.press("a", "B")  # arm, join the bid
            await settle(pilot, first, lambda: len(working(gw)) == 1, "a bid at the gateway")
        (price,) = working(gw)
        again = app_on(gw)  # tradeterm started again: the bid still works at IB
        async with again.run_test(size=(200, 50)) as pilot:
            await settle(pilot, again, lambda: again.started.is_set(), "started again")
            figure = re.compile(rf"\b1L{QUEUE}(\d+|\?)")
            await settle(pilot, again, lambda: figure.search(row_at(again, price)), "its queue")
            await settle(pilot, again, lambda: ahead_cell(again) != "", "the ahead column")
    finally:
        await gw.stop()
