"""The replay trainer (``tradeterm ES --replay FILE``): the screen on the embedded gateway
replaying a recorded file. The always-run tests replay a small CSV book
(tests/unit/trainer/book.csv); the recorded CME file runs when ../shared/data is there.

The queue test steps the replay by hand: the gateway's replay plays each event when a test
clock (market time, epoch seconds) reaches it, and that clock is the replay control the
screen's keys drive (pause, speed, jump), so the status bar's market time is the test's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

from tests.integration.engine_helpers import TODAY, always_open
from tests.support.waiting import until
from tests.ui.helpers import book_shown, gateway, settings
from tradeterm.broker.ib import IbBroker
from tradeterm.embedded import ReplaySource
from tradeterm.engine.engine import Engine
from tradeterm.runtime import Runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
from tradeterm.sim.replay import parse_ts
from tradeterm.ui.app import TradingApp
from tradeterm.ui.themes import select_theme
from tradeterm.ui.widgets.status import StatusPanel

BOOK = Path(__file__).parents[1] / "unit" / "trainer" / "book.csv"
MBO = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / ("ESH4_glbx-mdp3_mbo_2023-12-25.dbn.zst")
)
NS = 1_000_000_000
T0 = parse_ts("2024-07-01T23:58:00Z") / NS  # the book's first events (18:58 CT)


def ticks(price: str) -> int:
    return int(Decimal(price) / Decimal("0.25"))


def status(app: TradingApp) -> str:
    return str(app.screen.query_one(StatusPanel).render())


class StepClock:
    """The replay's clock in market time, moved by the test only; a ReplayControl for the
    screen's keys (pause, speed, jump are recorded, time moves only by :meth:`to`)."""

    def __init__(self, now: float) -> None:
        self.t = now
        self.paused = False
        self.ended = False
        self.failure: str | None = None
        self.speed = 1.0
        self.skipped = 0.0
        self.jumps = 0  # the gateway plays every event on this clock: a jump skips none

    def now(self) -> float:
        return self.t

    def now_ns(self) -> int:
        return round(self.t * NS)

    def played_ns(self) -> int:
        return round((self.t - self.skipped) * NS)

    async def sleep(self, seconds: float) -> None:
        target = self.t + seconds
        while self.t < target or self.paused:
            await asyncio.sleep(0.01)

    def to(self, t: float) -> None:
        self.t = t

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def set_speed(self, speed: float) -> None:
        self.speed = speed

    def jump(self, seconds: float) -> None:
        self.t += seconds
        self.skipped += seconds

    def release(self) -> None:  # the test moves the time: nothing held
        pass


def stepped_app(clock: StepClock) -> TradingApp:
    """The screen in REPLAY mode on a gateway replaying BOOK on ``clock``."""
    cfg = settings(mode="replay")

    @contextlib.asynccontextmanager
    async def opener() -> AsyncIterator[Runtime]:
        gw = FakeGateway(GatewayConfig(port=0, symbols=("ES",), today=TODAY, replay=BOOK,
                                       replay_clock=clock, rate=0.0))  # fmt: skip
        await gw.start()
        try:
            connection = cfg.connection.model_copy(
                update={"host": gw.config.host, "client_id": cfg.client_id()}
            )
            engine = Engine(IbBroker(connection, port=gw.config.port, clock=clock.now), "ES",
                            cfg.market(), calendar=always_open(), timer_s=0.05, source=clock,
                            queue_truth=gw.queue_position)  # fmt: skip
            try:
                yield Runtime(cfg, engine, gw.config.host, gw.config.port, gw, replay=clock)
            finally:
                await engine.stop()
        finally:
            await gw.stop()

    theme, themes = select_theme(cfg.ui.theme)
    return TradingApp(cfg, theme=theme, themes=themes, opener=opener)


async def test_a_limit_fills_only_when_its_queue_is_consumed_and_pause_shows_paused() -> None:
    clock = StepClock(T0 + 1)  # the book's snapshot is played
    app = stepped_app(clock)
    async with app.run_test(size=(120, 40)) as pilot:
        assert await book_shown(app) == (ticks("5528.50"), ticks("5528.75"))
        await pilot.pause(0.3)
        shown = status(app)
        assert " REPLAY " in shown and "18:58:01 CT x1" in shown  # market time, not the wall's

        await pilot.press("space")  # paused: the status says so, the silence is not stale
        assert clock.paused and app.engine is not None and app.engine.source_paused
        await pilot.pause(0.3)
        assert "PAUSED" in status(app)

        await pilot.press("a", "B")  # armed, a buy limit joins the bid: 5 contracts ahead
        feed = gateway(app).market.feed_for_symbol("ES")
        await until(lambda: feed.engine.working_keys(), "the limit resting at the gateway")
        (key,) = feed.engine.working_keys()

        def ahead(key: object) -> int | None:
            info = feed.engine.resting(key)
            return info.queue_ahead if info is not None else None

        info = feed.engine.resting(key)
        assert info is not None and info.price == ticks("5528.50") and info.queue_ahead == 5

        await pilot.press("space")  # resumed
        assert not clock.paused and not app.engine.source_paused
        clock.to(T0 + 10)  # 3 trade at our price: 2 still ahead of us
        await until(lambda: ahead(key) == 2, "3 traded ahead")
        clock.to(T0 + 20)  # 2 more: the queue ahead is consumed, nothing left for us
        await until(lambda: ahead(key) == 0, "the queue consumed")
        await pilot.pause(0.2)
        assert feed.engine.resting(key) is not None  # not filled: the trades were theirs
        clock.to(T0 + 30)  # 1 more trades at our price: ours
        await until(lambda: feed.engine.resting(key) is None, "our limit filled")
        engine = app.engine

        def long_one() -> bool:
            pnl = engine.snapshot(tape=0).pnl
            return pnl is not None and pnl.quantity == 1

        await until(long_one, "long 1 on the screen")

        await pilot.press("full_stop", "full_stop", "comma", "slash")
        assert clock.speed == 2.0  # 1 -> 2 -> 5 -> 2
        assert clock.t == T0 + 90  # jumped a minute ahead
        await pilot.press("q")
        await pilot.pause()


async def test_the_screen_starts_on_a_replayed_file_in_replay_mode() -> None:
    """The real runtime (``open_runtime``): REPLAY's embedded gateway plays the file, the
    journal is REPLAY's own."""
    cfg = settings(mode="replay")
    theme, themes = select_theme(cfg.ui.theme)
    app = TradingApp(cfg, theme=theme, themes=themes, replay=ReplaySource(BOOK, 1.0))
    async with app.run_test(size=(80, 24)) as pilot:
        assert (await book_shown(app))[1] == ticks("5528.75")
        assert app.runtime is not None and app.runtime.journal is not None
        assert app.runtime.journal.path.parent.name == "replay"
        await pilot.pause(0.2)
        assert " REPLAY " in status(app)
        await pilot.press("q")
        await pilot.pause()
