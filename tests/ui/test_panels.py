"""The account panel and the chart's candle periods on the trading screen (fake gateway):
the account's figures as the gateway gives them (``unknown`` until then, never 0), key i
hiding and showing the panel, key C switching 1 / 5 / 15-minute candles built from known
bars, and every panel in its own place at the sizes traders use."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Callable

import pytest
from textual.widget import Widget

from tests.ui.helpers import make_app, ready, settings, settle, still_opener
from tests.ui.test_layout import cut_lines, long_with_a_bid, shown
from tradeterm.domain import Bar
from tradeterm.engine.bar_builder import BarBuilder
from tradeterm.engine.calendar import CHICAGO, NS
from tradeterm.runtime import Runtime
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.account_panel import AccountPanel
from tradeterm.ui.widgets.chart import ChartPanel

START = int(dt.datetime(2030, 1, 7, 9, 0, tzinfo=CHICAGO).timestamp()) * NS  # after any live bar


def held_app(release: asyncio.Event) -> TradingApp:
    """The app whose runtime opens only once ``release`` is set: the screen before IB."""
    cfg = settings()
    opener = still_opener(cfg)

    @contextlib.asynccontextmanager
    async def held() -> AsyncIterator[Runtime]:
        await release.wait()
        async with opener() as rt:
            yield rt

    chosen, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=chosen, themes=themes, opener=held)


async def test_the_account_panel_says_unknown_until_the_gateway_gives_its_figures() -> None:
    release = asyncio.Event()
    app = held_app(release)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.3)
        panel = app.screen.query_one(AccountPanel)
        before = panel.shown
        assert "net liq unknown" in before and "avail unknown" in before
        assert "init unknown" in before and "acct day unknown" in before
        assert "0.00" not in before
        release.set()
        await settle(pilot, app, lambda: "1,000,000.00" in panel.shown, "the account's values")
        await settle(pilot, app, lambda: "init 15,000" in panel.shown, "the margin per contract")
        gw_values = app.engine.snapshot(tape=0).account_values  # type: ignore[union-attr]
        assert gw_values is not None and gw_values.account in panel.shown
        assert "maint 13,600" in panel.shown and "acct day +0.00" in panel.shown
        await app.shutdown()


async def test_key_i_hides_and_shows_the_account_panel() -> None:
    app = make_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await ready(pilot, app)
        panel = app.screen.query_one(AccountPanel)
        assert panel.display
        await pilot.press("i")
        await pilot.pause()
        assert not panel.display and panel.region.height == 0
        await pilot.press("i")
        await settle(pilot, app, lambda: "net liq" in panel.shown and panel.region.height > 0,
                     "the panel back")  # fmt: skip
        await app.shutdown()


def known_bars() -> list[Bar]:
    """45 one-minute bars from 09:00 CT, 10 contracts each, one tick up a minute."""
    base = 24_000
    return [Bar(START + i * 60 * NS, base + i, base + i + 1, base + i - 1, base + i + 1, 10)
            for i in range(45)]  # fmt: skip


def x_labels(text: str) -> list[str]:
    return [w for line in text.splitlines() for w in line.split() if len(w) == 5 and w[2] == ":"]


def titled(chart: ChartPanel, title: str) -> Callable[[], bool]:
    return lambda: title in chart.shown


async def test_key_c_switches_the_chart_between_1_5_and_15_minute_candles() -> None:
    app = make_app()
    async with app.run_test(size=(200, 50)) as pilot:
        await ready(pilot, app)
        core = app.engine.core  # type: ignore[union-attr]
        assert core is not None
        core.bars = BarBuilder(core.instrument)  # only the known bars (no gateway history)
        core.bars.backfill(known_bars())
        chart = app.screen.query_one("#chart", ChartPanel)
        app.painter.chart_due = True

        def known() -> bool:  # every time on the axis one of the known bars' (09:00-09:44)
            labels = x_labels(chart.shown)
            return bool(labels) and all("09:00" <= t <= "09:44" for t in labels)

        await settle(pilot, app, known, "the known bars")
        seen = {}
        for name, minutes in (("5m", 5), ("15m", 15), ("1m", 1)):
            await pilot.press("C")
            title = f"{chart.shown.split()[0]} {name}"  # ESZ6 5m
            await settle(pilot, app, titled(chart, title), f"{name} candles")
            seen[name] = chart.shown
            labels = x_labels(chart.shown)
            assert labels and all(int(t[3:]) % minutes == 0 for t in labels), labels
        # 15-minute candles from the known bars: 09:00, 09:15, 09:30, 150 contracts each
        assert x_labels(seen["15m"]) == ["09:00", "09:15", "09:30"]
        assert "150" in seen["15m"] and "50" in seen["5m"]  # the volume pane's scale
        await app.shutdown()


def overlaps(widgets: list[Widget]) -> list[str]:
    found = []
    for a, b in itertools.combinations(widgets, 2):
        if a.region.overlaps(b.region):
            found.append(f"{a.id} {a.region} overlaps {b.id} {b.region}")
    return found


PANELS = ("#ladder", "#chart", "#log", "#position", "#risk", "#account", "#strategy", "#orders",
          "#side-chart", "#tape", "#status", "#keys-hint")  # fmt: skip


@pytest.mark.parametrize(
    ("size", "chart_at"),
    [((80, 24), None), ((120, 40), "#chart"), ((160, 45), "#chart"), ((200, 50), "#chart"),
     ((100, 30), "#side-chart")],
)  # fmt: skip
async def test_the_account_panel_and_the_chart_fit_without_overlap(
    size: tuple[int, int], chart_at: str | None
) -> None:
    app = make_app(fixed_clock=True)
    async with app.run_test(size=size) as pilot:
        await long_with_a_bid(pilot, app)
        await pilot.pause(0.6)
        visible = [w for name in PANELS if shown(w := app.screen.query_one(name))]
        visible = [w for w in visible if w.region.area]
        assert overlaps(visible) == []
        assert all(w.region.right <= size[0] and w.region.bottom <= size[1] for w in visible)
        assert cut_lines(app) == []
        account = app.screen.query_one(AccountPanel)
        assert shown(account) and account.region.height >= 2
        charts = [w.id for w in app.screen.query(ChartPanel) if shown(w) and w.region.area]
        assert charts == ([chart_at.lstrip("#")] if chart_at else [])
        for chart_id in charts:
            chart = app.screen.query_one(f"#{chart_id}", ChartPanel)
            assert " 1m" in chart.shown  # drawn, at its own size
        await app.shutdown()
