"""Traded volume by side and price alerts on the screen, on the fake gateway: the tape shows
each print's aggressor (a letter, read without colour), the ladder splits volume at price into
bid-traded and ask-traded beside the recent trades (key d cycles the columns, and at 80x24 the
ladder still fits), and a price alert set at the cursor with n (unarmed) rings the bell and
notifies once the market trades there, then is gone; N clears them all. Alerts are kept for
the next start in a file beside the journal."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.integration.engine_helpers import TODAY, always_open
from tests.support.waiting import until
from tests.ui.helpers import FIXED_NS, ladder, make_app, ready, settings, settle
from tests.ui.test_layout import cut_lines
from tradeterm.broker.ib import IbBroker
from tradeterm.config import Settings
from tradeterm.engine.engine import Engine
from tradeterm.journal.alert_file import AlertFile
from tradeterm.notify import Notifier
from tradeterm.notify.channel import Message
from tradeterm.runtime import Runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.ui import layout
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.ladder import ALERT, Ladder
from tradeterm.ui.widgets.panel import Panel


def columns(lad: Ladder) -> list[str]:
    return [name for name, _ in lad._layout]


def cell(lad: Ladder, name: str, price: int) -> str:
    """What the ladder's ``name`` column shows at ``price`` (stripped)."""
    y = lad.y_of(price)
    assert y is not None, f"{price} not in view"
    width = dict(lad._layout)[name]
    return "".join(s.text for s in lad.cell_strip(name, width, y)).strip()


async def test_the_tape_and_the_ladder_show_who_traded() -> None:
    # the engine's clock still: the recent trades stay recent however slow the machine
    app = make_app(fixed_clock=True, engine_clock=lambda: FIXED_NS)
    async with app.run_test(size=(200, 50)) as pilot:
        market = await ready(pilot, app)
        bid, ask = market.bid, market.ask
        market.trade(ask, 3)  # a buyer lifts the offer
        market.trade(bid, 2)  # a seller hits the bid
        tape = app.screen.query_one("#tape", Panel)
        await settle(pilot, app, lambda: tape.shown.count("\n") >= 2, "two prints on the tape")
        newest, older = tape.shown.splitlines()[1:3]
        assert newest.split()[-2:] == ["2", "S"] and older.split()[-2:] == ["3", "B"], tape.shown
        lad = ladder(app)
        assert {"RCNT", "BVOL", "AVOL", "VOL"} <= set(columns(lad))  # room for every column
        await settle(pilot, app, lambda: cell(lad, "AVOL", ask) == "3", "ask-traded 3")
        assert cell(lad, "BVOL", ask) == "" and cell(lad, "BVOL", bid) == "2"
        assert cell(lad, "AVOL", bid) == "" and cell(lad, "RCNT", bid) == "2"
        assert cell(lad, "RCNT", ask) == "3" and cell(lad, "VOL", ask) == "3"


@pytest.mark.parametrize("size", [(80, 24), (140, 40), (200, 50)])
async def test_d_cycles_the_volume_columns_and_the_ladder_still_fits(
    size: tuple[int, int],
) -> None:
    app = make_app(fixed_clock=True)
    async with app.run_test(size=size) as pilot:
        await ready(pilot, app)
        await pilot.pause(0.3)
        lad = ladder(app)

        def refitted() -> bool:  # the view's columns laid out, in the width the screen gave
            return lad._layout == lad._columns(lad.size.width) and not cut_lines(app)

        seen = []
        for view in (1, 2, 0):
            await settle(pilot, app, refitted, "the ladder refitted")
            seen.append({n for n in columns(lad) if n in ("RCNT", "BVOL", "AVOL")})
            await pilot.press("d")
            assert lad.volume_view == view
        assert seen[2] == set() and set(columns(lad)) >= {"BUY", "BID", "PRICE", "ASK", "SELL"}
        if size[0] >= 200:  # room for them all: by side and recent, recent only, neither
            assert seen == [{"RCNT", "BVOL", "AVOL"}, {"RCNT"}, set()]
        if size[0] >= 140:  # the chart keeps its room whatever the view
            assert app.screen.query_one("#chart").display


def test_the_volume_by_side_gives_way_to_the_chart() -> None:
    core = (46, 52, 59)  # ES: book and P&L; and the last trade's size; and volume at price
    everything = (*core, 64, 76)  # and the recent trades; and the volume by side

    def fit(widths: tuple[int, ...]) -> Any:
        return lambda budget: max([widths[0], *(w for w in widths if w <= budget)])

    assert layout.plan(140, fit(everything), fit(core)) == layout.Plan(64, 40, True, 36)
    assert layout.plan(140, fit(everything)).chart is False  # without: the chart folds
    assert layout.plan(200, fit(everything), fit(core)) == layout.Plan(76, 78, True, 46)


class Recorder:
    """A notification channel that keeps what it is given."""

    name = "recorder"
    idle = True
    pending = 0

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def put(self, message: Message) -> None:
        self.messages.append(message)


def alerting_app(cfg: Settings, kept: Path, recorder: Recorder) -> TradingApp:
    """The app on a still gateway with the notifier (bell on, ``recorder`` its channel) and
    the price alerts kept in ``kept``."""

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        gw = FakeGateway(GatewayConfig(port=0, rate=0.0, seed=7, today=TODAY))
        await gw.start()
        connection = cfg.connection.model_copy(
            update={"host": gw.config.host, "client_id": cfg.client_id()}
        )
        engine = Engine(
            IbBroker(connection, port=gw.config.port), cfg.symbol, cfg.market(),
            calendar=always_open(), timer_s=0.05, clock=time.time_ns,
            alert_store=AlertFile(kept),
        )  # fmt: skip
        notifier = Notifier(cfg.notify, cfg.symbol, cfg.mode)
        notifier.attach(engine)
        notifier.channels = [recorder]  # type: ignore[list-item]
        try:
            yield Runtime(cfg, engine, gw.config.host, gw.config.port, gw, notifier=notifier)
        finally:
            await engine.stop()
            await notifier.close()
            await gw.stop()

    chosen, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=chosen, themes=themes, opener=opener)


async def alert_at(pilot: Pilot[Any], app: TradingApp, ticks: int) -> int:
    """The cursor moved ``ticks`` from where it is, n pressed there; the alert's price."""
    lad = ladder(app)
    assert lad.cursor is not None
    price = lad.cursor + ticks
    await pilot.press(*(["up"] * ticks if ticks > 0 else ["down"] * -ticks), "n")
    await settle(pilot, app, lambda: lad.data is not None and price in lad.data.alerts, "set")
    return price


async def test_n_sets_an_alert_that_rings_and_notifies_when_the_market_trades_there(
    tmp_path: Path, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tradeterm")
    cfg = settings(**{"notify.bell": True})
    recorder, kept = Recorder(), tmp_path / "ES.sqlite.alerts"
    app = alerting_app(cfg, kept, recorder)
    rung: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rung.append(1))
    async with app.run_test(size=(160, 50)) as pilot:
        market = await ready(pilot, app)
        assert not app.armed  # alerts send no orders: they work unarmed
        lad = ladder(app)
        above = await alert_at(pilot, app, market.ask + 2 - (lad.cursor or 0))
        assert cell(lad, "PRICE", above).startswith(ALERT)
        below = await alert_at(pilot, app, -6)  # four ticks under the ask: below the market
        inst = app.instrument
        assert inst is not None
        assert AlertFile(kept).load() == [
            (inst.format_price(below), -1),
            (inst.format_price(above), 1),
        ]
        assert rung == [] and recorder.messages == []
        market.trade(above + 1, 1)  # the first trade gaps through it
        await until(lambda: rung and recorder.messages, "the bell and the notification")
        (msg,) = recorder.messages
        price = inst.format_price(above)
        assert msg.body.startswith(f"ES SIM: price alert {price} traded"), msg.body
        fired = f"price alert {price} traded at {inst.format_price(above + 1)}"
        assert fired in caplog.messages  # the log file has it, as it has the setting
        await settle(pilot, app, lambda: lad.data is not None and lad.data.alerts == {below},
                     "the alert gone")  # fmt: skip
        assert not cell(lad, "PRICE", above).startswith(ALERT)
        market.trade(above, 1)  # one-shot: no second ring
        await pilot.pause(0.3)
        assert len(rung) == 1 and len(recorder.messages) == 1
        assert AlertFile(kept).load() == [(inst.format_price(below), -1)]  # for the next start
        await pilot.press("N")
        await settle(pilot, app, lambda: lad.data is not None and not lad.data.alerts, "cleared")
        market.trade(below, 1)
        await pilot.pause(0.3)
        assert len(rung) == 1 and AlertFile(kept).load() == []


async def test_alerts_kept_by_an_earlier_run_come_back_on_the_side_they_were_set(
    tmp_path: Path,
) -> None:
    kept = tmp_path / "ES.sqlite.alerts"
    first = alerting_app(settings(), kept, Recorder())
    async with first.run_test(size=(160, 50)) as pilot:
        market = await ready(pilot, first)
        price = await alert_at(pilot, first, market.ask + 2 - (ladder(first).cursor or 0))
    second = alerting_app(settings(), kept, Recorder())
    async with second.run_test(size=(160, 50)) as pilot:
        market = await ready(pilot, second)
        lad = ladder(second)
        await settle(pilot, second, lambda: lad.data is not None and price in lad.data.alerts,
                     "the alert restored")  # fmt: skip
        market.trade(price + 1, 1)  # the market went through it while the app was down
        await settle(pilot, second, lambda: lad.data is not None and not lad.data.alerts,
                     "the alert set above the market fired")  # fmt: skip
        assert AlertFile(kept).load() == []
