"""Which engine events notify, in what words, and the bell: the notifier on events made by
hand (the sending itself is tested against a local receiver in tests/integration)."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.instruments import ES, PX_5000
from tests.support.waiting import until
from tradeterm.broker.port import ConnectionState
from tradeterm.config import NotifyConfig
from tradeterm.console import Console
from tradeterm.domain import Fill, OrderStatus, Side
from tradeterm.engine.commands import CommandResult, Flatten, PlaceOrder
from tradeterm.engine.events import (
    CommandDone,
    EngineEvent,
    FillBooked,
    HealthChanged,
    KillProgress,
    OrderUpdated,
    OrderView,
    PriceAlertHit,
    RiskUpdate,
    StrategyStateChanged,
)
from tradeterm.engine.types import (
    KillStep,
    OrderRole,
    RiskEventKind,
    StrategyState,
    TradingState,
)
from tradeterm.notify import Alert, Notifier, Watcher
from tradeterm.notify.channel import Channel


def fill(historical: bool = False, own: bool = True) -> FillBooked:
    f = Fill("e1", "o1", ES, Side.BUY, 1, PX_5000 + 49, 0)  # 5012.25
    return FillBooked(f, own=own, historical=historical)


def health(state: ConnectionState, reason: str = "") -> HealthChanged:
    return HealthChanged(state, reason, (), 0)


def rejected(order_id: str = "o7") -> OrderUpdated:
    view = OrderView(order_id, Side.SELL, 2, "LMT", PX_5000, None, "DAY", OrderStatus.REJECTED,
                     0, 0, None, 7, None, None, None, OrderRole.PLAIN, True,
                     reason="201 order rejected")  # fmt: skip
    return OrderUpdated(view)


def watch(*events: EngineEvent, after: float = 30.0) -> list[Alert]:
    alerts: list[Alert] = []
    watcher = Watcher(alerts.append, after, lambda: ES)
    for event in events:
        watcher.see(event)
    watcher.close()
    return alerts


async def test_each_kind_of_event_in_its_words() -> None:
    refused = CommandResult("cmd-3", PlaceOrder(Side.BUY, 3), False, "maximum position is 2")
    alerts = watch(
        fill(),
        fill(historical=True),  # recovered at start: not news
        CommandDone(refused),
        CommandDone(CommandResult("cmd-4", Flatten(), False, "not connected")),
        CommandDone(CommandResult("cmd-5", PlaceOrder(Side.BUY, 1), True)),
        rejected(),
        rejected(),  # the same rejection reported again: told once
        RiskUpdate(RiskEventKind.TRANSITION, "daily_loss", "daily loss limit",
                   TradingState.REDUCING, 0, TradingState.ACTIVE),
        RiskUpdate(RiskEventKind.WARNING, "daily_loss", "80% of the limit", TradingState.ACTIVE, 0),
        KillProgress(KillStep.REQUESTED, "", "typed", 1, 0, 0),
        KillProgress(KillStep.FLATTENING, "", "typed", 1, 0, 0),
        KillProgress(KillStep.HALTED, "flat, nothing working", "typed", 0, 0, 0, True, True),
        StrategyStateChanged("sma_cross", StrategyState.FAULTED, "ZeroDivisionError", 0),
        StrategyStateChanged("sma_cross", StrategyState.STOPPED, "asked", 0),
    )  # fmt: skip
    assert [(a.event, a.text) for a in alerts] == [
        ("fill", "BUY 1 @ 5012.25 filled"),
        ("refusal", "BUY 3 MKT refused: maximum position is 2"),
        ("refusal", "Flatten refused: not connected"),
        ("refusal", "SELL 2 LMT @ 5000.00 rejected: 201 order rejected"),
        ("risk", "trading ACTIVE -> REDUCING: daily loss limit"),
        ("kill", "kill switch pressed: typed"),
        ("kill", "kill switch halted: flat, nothing working"),
        ("strategy", "strategy sma_cross faulted: ZeroDivisionError"),
    ]
    assert alerts[-2].level == "success" and alerts[-1].level == "failure"


async def test_a_disconnect_notifies_once_it_lasted_and_then_its_reconnect() -> None:
    alerts: list[Alert] = []
    watcher = Watcher(alerts.append, 0.05, lambda: ES)
    watcher.see(health(ConnectionState.CONNECTING))  # the start: not a disconnect
    watcher.see(health(ConnectionState.OK))
    watcher.see(health(ConnectionState.RECONNECTING, "socket closed"))
    watcher.see(health(ConnectionState.SYNCING))  # back before disconnect_after_s: nothing
    await asyncio.sleep(0.1)
    assert alerts == []
    watcher.see(health(ConnectionState.RECONNECTING, "socket closed"))
    watcher.see(health(ConnectionState.DISCONNECTED, "gave up"))  # still the same outage
    await until(lambda: alerts, "the disconnect told")
    watcher.see(health(ConnectionState.OK))
    assert [a.text.split(" after ")[0] for a in alerts] == [
        "disconnected for 0.05s: socket closed",
        "reconnected",
    ]
    watcher.close()


def test_a_start_that_never_connected_is_no_disconnect() -> None:
    async def run() -> list[Alert]:
        alerts: list[Alert] = []
        watcher = Watcher(alerts.append, 0.01, lambda: ES)
        watcher.see(health(ConnectionState.RECONNECTING, "refused"))
        await asyncio.sleep(0.05)
        watcher.close()
        return alerts

    assert asyncio.run(run()) == []


async def test_only_the_configured_events_ring_the_bell_and_are_queued() -> None:
    notifier = Notifier(NotifyConfig(events=["kill"], bell=True), "ES", "sim")
    rung: list[int] = []
    notifier.bell = lambda: rung.append(1)
    notifier.post(Alert("fill", "BUY 1 @ 5012.25 filled"))
    notifier.post(Alert("kill", "kill switch pressed: typed"))
    assert rung == [1]
    assert NotifyConfig().bell is False  # a bell is asked for, never a surprise


def test_nothing_is_followed_without_a_channel_or_the_bell() -> None:
    assert not Notifier(NotifyConfig(), "ES", "sim").wanted
    assert Notifier(NotifyConfig(bell=True), "ES", "sim").wanted


def test_the_console_bell_writes_bel() -> None:
    out = io.StringIO()
    Console(engine=None, out=out).bell()  # type: ignore[arg-type]
    assert out.getvalue() == "\a"


@pytest.mark.parametrize("queue_max", [1, 3])
async def test_a_full_queue_drops_the_oldest_and_counts(
    queue_max: int, caplog: pytest.LogCaptureFixture
) -> None:
    config = NotifyConfig(urls=["json://127.0.0.1:9/x"], queue_max=queue_max)
    notifier = Notifier(config, "ES", "sim")
    channel = Channel(config.urls[0], queue_max=queue_max, retries=0, backoff_s=1,
                      executor=ThreadPoolExecutor(1))  # fmt: skip
    notifier.channels = [channel]  # not running: nothing is taken off the queue
    for n in range(5):
        notifier.post(Alert("fill", f"fill {n}"))
    assert channel.dropped == 5 - queue_max
    assert [m.body for m in channel._queue] == [
        f"ES SIM: fill {n}" for n in range(5 - queue_max, 5)
    ]
    assert "dropped the oldest message" in caplog.text


def test_a_price_alert_names_its_price_and_where_it_traded() -> None:
    at = PriceAlertHit(ES, PX_5000 + 49, PX_5000 + 49, 0)  # 5012.25 traded
    through = PriceAlertHit(ES, PX_5000 + 49, PX_5000 + 51, 0)  # a gap through it
    assert watch(at, through) == [
        Alert("price", "price alert 5012.25 traded", "warning"),
        Alert("price", "price alert 5012.25 traded (through it, at 5012.75)", "warning"),
    ]
