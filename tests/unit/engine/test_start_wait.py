"""A start that waits for the gateway (``connection.wait_at_start``, ``--wait-for-gateway``):
a gateway that is not there yet is tried again with the reconnect's backoff, the health says
so (one change per attempt), the advice is said once; what the user must fix (a client id in
use) still ends the start at once. In-memory broker; the waits between attempts are the
test's (no real time passes)."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES
from tests.support.waiting import until
from tests.unit.engine.test_orders import Run
from tradeterm.broker.port import Broker, ConnectError, ConnectionState, GatewayUnreachable
from tradeterm.engine.calendar import CME
from tradeterm.engine.connectivity import GatewayWait
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice, HealthChanged, Reconciled
from tradeterm.engine.types import KillStep, TradingState
from tradeterm.paper.paper_broker import PaperBroker

ADVICE = "cannot connect to IB at 127.0.0.1:4002: nothing is listening there. Check that ..."


class AwayBroker(FakeBroker):
    """Its first ``away`` starts fail as the IB adapter's do when nothing listens (CONNECTING,
    then DISCONNECTED with the advice, then ``GatewayUnreachable``); ``refuse``: the next
    start after those fails as a client id in use does."""

    def __init__(self, away: int, refuse: bool = False) -> None:
        super().__init__(ES)
        self.away, self.refuse, self.starts = away, refuse, 0

    async def start(self) -> None:
        self.starts += 1
        self.set_state(ConnectionState.CONNECTING, "connecting to 127.0.0.1:4002")
        await asyncio.sleep(0)
        if self.starts <= self.away:
            self.set_state(ConnectionState.DISCONNECTED, ADVICE)
            raise GatewayUnreachable(ADVICE, "nothing is listening there")
        if self.refuse:
            self.set_state(ConnectionState.DISCONNECTED, "client id 1 already in use (326)")
            raise ConnectError("client id 1 already in use by another API connection (326)")
        await super().start()


class Sleeps:
    """The waits between attempts, recorded; each lets the engine's pump run, no more."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        for _ in range(10):
            await asyncio.sleep(0)


def engine_for(broker: Broker, sleeps: Sleeps | None) -> tuple[Engine, Run]:
    wait = (
        GatewayWait("127.0.0.1:4002", lambda failed: 2.0**failed, sleeps)
        if sleeps is not None
        else None
    )
    clock = Clock()
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600,
                    wait_for_gateway=wait)  # fmt: skip
    return engine, Run(engine, broker, clock)  # type: ignore[arg-type]


async def test_a_start_waiting_for_the_gateway_tries_again_with_the_backoff_then_trades() -> None:
    broker, sleeps = AwayBroker(away=3), Sleeps()
    engine, run = engine_for(broker, sleeps)
    await engine.start()
    try:
        assert broker.starts == 4 and sleeps.asked == [1.0, 2.0, 4.0]
        waiting = [h for h in run.of(HealthChanged) if "waiting for the gateway" in h.reason]
        assert [(h.state, h.reason, h.retry_in_s) for h in waiting] == [
            (
                ConnectionState.RECONNECTING,
                f"waiting for the gateway at 127.0.0.1:4002: attempt {n} failed "
                "(nothing is listening there)",
                delay,
            )
            for n, delay in ((1, 1.0), (2, 2.0), (3, 4.0))
        ]  # one change per attempt: the adapter's CONNECTING and DISCONNECTED do not show
        said = [n.text for n in run.of(EngineNotice) if ADVICE in n.text]
        assert said == [f"{ADVICE} Waiting for the gateway: trying again until it answers"]
        assert run.of(Reconciled)[0].reason == "start"
        assert engine.snapshot().health.state is ConnectionState.OK
        assert engine.link.waiting is None
    finally:
        await engine.stop()


async def test_without_the_wait_an_unreachable_gateway_ends_the_start() -> None:
    broker = AwayBroker(away=1)
    engine, run = engine_for(broker, None)
    with pytest.raises(GatewayUnreachable, match="nothing is listening"):
        await engine.start()
    assert broker.starts == 1
    assert not [h for h in run.of(HealthChanged) if "waiting" in h.reason]


async def test_a_client_id_in_use_ends_a_waiting_start_at_once() -> None:
    broker, sleeps = AwayBroker(away=1, refuse=True), Sleeps()
    engine, _ = engine_for(broker, sleeps)
    with pytest.raises(ConnectError, match="326") as info:
        await engine.start()
    assert not isinstance(info.value, GatewayUnreachable)
    assert broker.starts == 2 and sleeps.asked == [1.0]


async def test_a_waiting_start_cancelled_stops_the_engine_and_says_so() -> None:
    broker = AwayBroker(away=10**6)
    held = asyncio.Event()

    class Held(Sleeps):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            await held.wait()  # the gateway stays away until the start is given up

    engine, _ = engine_for(broker, Held())
    start = asyncio.ensure_future(engine.start())
    for _ in range(20):
        await asyncio.sleep(0)
    assert engine.snapshot().health.state is ConnectionState.RECONNECTING
    start.cancel()
    with pytest.raises(asyncio.CancelledError):
        await start
    health = engine.snapshot().health
    assert (health.state, health.reason) == (ConnectionState.DISCONNECTED, "stopped")


async def test_a_shadow_start_waiting_for_the_gateway_keeps_one_market_pump() -> None:
    """SHADOW: the paper broker's start, tried again, must not start another pump on the IB
    adapter's stream (one consumer: a second would take every other market event)."""
    source = AwayBroker(away=2)
    engine, _ = engine_for(PaperBroker(source, ES, clock=Clock()), Sleeps())
    await engine.start()
    try:
        pumps = [t for t in asyncio.all_tasks() if t.get_name() == "paper-broker-pump"]
        assert source.starts == 3 and len([t for t in pumps if not t.done()]) == 1
    finally:
        await engine.stop()


async def test_a_kill_switch_pressed_while_waiting_halts_at_once_and_runs_once_started() -> None:
    """Pressed while the start waits for the gateway (no contract, nothing of IB's known):
    HALTED at once, so nothing can be sent once it connects, and the run waits, then cancels,
    flattens and checks at IB first thing after the start. It used to end at once in
    "internal error" (an assertion on the orders not built yet), HALTED only in name."""
    broker = AwayBroker(away=10**6)
    gate = asyncio.Event()

    class UntilOpened(Sleeps):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            if gate.is_set():
                broker.away = 0

    engine, run = engine_for(broker, UntilOpened())
    start = asyncio.create_task(engine.start())
    try:
        await until(lambda: broker.starts >= 2, "the start waiting for the gateway")
        run_ = engine.kill_switch.request("news")
        await until(lambda: engine.kill_switch.last is not None
                    and engine.kill_switch.last.step is KillStep.WAITING, "the run waiting")  # fmt: skip
        assert engine.trading_state[0] is TradingState.HALTED
        waiting = engine.kill_switch.last
        assert waiting is not None and "not started yet" in waiting.detail
        assert not run_.done()

        gate.set()  # the gateway answers: the start ends, then the run goes on
        await asyncio.wait_for(start, 30)
        last = await asyncio.wait_for(run_, 30)
        assert last.ok and last.step is KillStep.HALTED, last
        assert "internal error" not in last.detail
        assert engine.trading_state[0] is TradingState.HALTED
        assert run.of(Reconciled)[0].reason == "start"
    finally:
        start.cancel()
        await engine.stop()
