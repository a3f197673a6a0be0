"""The screen rings the terminal bell (``App.bell``) on the events the notifier tells of, when
``notify.bell`` is on: a fill from a key press rings it once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.waiting import until
from tests.ui.helpers import long_one, settings, still_opener
from tradeterm.notify import Notifier
from tradeterm.runtime import Runtime
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme


def notifying_app(bell: bool) -> TradingApp:
    """The app on a still gateway, with the notifier the runtime gives it."""
    cfg = settings(**{"notify.bell": bell})
    opened = still_opener(cfg)

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        async with opened() as rt:
            rt.notifier = Notifier(cfg.notify, cfg.symbol, cfg.mode)
            rt.notifier.attach(rt.engine)
            try:
                yield rt
            finally:
                await rt.notifier.close()

    chosen, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=chosen, themes=themes, opener=opener)


@pytest.mark.parametrize("bell", [True, False])
async def test_a_fill_rings_the_bell_when_asked(bell: bool, monkeypatch: Any) -> None:
    app = notifying_app(bell)
    rung: list[int] = []
    monkeypatch.setattr(app, "bell", lambda: rung.append(1))
    async with app.run_test(size=(160, 50)) as pilot:
        await long_one(pilot, app)
        if bell:
            await until(lambda: rung, "the bell")
        await pilot.pause()
    assert rung == ([1] if bell else [])
