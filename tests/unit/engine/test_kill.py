"""The kill switch's paths the fake gateway cannot easily produce, on the in-memory broker: a
broker that never fills (the timeout, and what HALTED then says), and the disconnect policy."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.clock import TUESDAY_10 as T0
from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tests.support.waiting import until
from tests.unit.engine.test_orders import Run, execution, report, settle
from tradeterm.broker.port import ConnectionState, PositionReport, QuoteEvent, Unsent
from tradeterm.config import MarketConfig, RiskConfig
from tradeterm.domain import Order, OrderStatus, OrderType, Quote, Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.commands import ModifyOrder, PlaceOrder
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import KillProgress
from tradeterm.engine.kill import KillSwitch, KillTimings
from tradeterm.engine.order_manager import BeforeSend
from tradeterm.engine.types import KillStep
from tradeterm.journal import Journal

FAST = KillTimings(cancel_wait_s=0.02, fill_wait_s=0.02, timeout_s=0.2, retry_pause_s=0.01)
MakeRun = Callable[..., Any]


def long_one() -> PositionReport:
    return PositionReport(ES, ES.con_id or 0, "DU1234567", 1, Decimal("250000"), T0)


@pytest.fixture
async def make_run() -> AsyncIterator[MakeRun]:
    engines: list[Engine] = []

    async def make(
        risk: RiskConfig | None = None, held: int = 0, before_send: BeforeSend | None = None
    ) -> Run:
        broker = FakeBroker(ES)
        if held:
            broker.position_reports = [long_one()]
        config = MarketConfig(risk=risk or RiskConfig())
        engine = Engine(broker, "ES", config, clock=Clock(), calendar=CME, session=2,
                        timer_s=3600, before_send=before_send)  # fmt: skip
        engine.kill_switch.timings = FAST
        engines.append(engine)
        run = Run(engine, broker, Clock())
        await engine.start()
        broker.push(QuoteEvent(Quote(T0, PX_5000 - 1, 10, PX_5000, 10)))
        await settle()
        return run

    yield make
    for engine in engines:
        await engine.stop()


def steps(run: Run) -> list[str]:
    return [k.step for k in run.of(KillProgress)]


async def test_a_position_that_will_not_close_ends_halted_saying_not_flat(
    make_run: MakeRun,
) -> None:
    """IB rejects every close: each is confirmed finished before the next is sent, and past
    the deadline the run ends failed, HALTED, saying what is left."""
    run = await make_run(held=1)
    assert run.engine.snapshot().pnl.quantity == 1
    seen = 0

    async def reject_each_close() -> None:
        nonlocal seen
        while True:
            await asyncio.sleep(0.005)
            for placed in run.broker.placed[seen:]:
                order = run.om().get(placed.client_order_id)
                assert order is not None
                # a second close while the first is open would be an overshoot
                assert [o for o in run.om().working() if o is not order] == []
                run.broker.push(report(order, OrderStatus.REJECTED, reason="no margin"))
            seen = len(run.broker.placed)

    rejecting = asyncio.create_task(reject_each_close())
    try:
        done = await run.engine.kill("broker never fills")
    finally:
        rejecting.cancel()
    assert done.done and not done.ok and done.step is KillStep.FAILED
    assert "IB shows position 1" in done.detail and "by hand" in done.detail
    snap = run.engine.snapshot()
    assert snap.trading_state == "HALTED" and "kill switch" in snap.trading_reason
    assert len(run.broker.placed) >= 2
    assert {(p.order_type, p.side, p.quantity) for p in run.broker.placed} == {
        (OrderType.MARKET, Side.SELL, 1)
    }


async def test_a_close_ib_never_answers_is_unverified_not_flat_and_never_doubled(
    make_run: MakeRun,
) -> None:
    """IB is silent about the close: past the deadline the kill says what is unknown, halts,
    sends nothing more, and keeps verifying; IB's answer then ends it flat."""
    run = await make_run(held=1)
    kill = asyncio.create_task(run.engine.kill("slow IB"))
    await until_step(run, "unverified")
    (close,) = run.broker.placed
    unverified = [k for k in run.of(KillProgress) if k.step == "unverified"][-1]
    assert not unverified.done and "SELL 1 MKT sent" in unverified.detail
    assert "not acknowledged" in unverified.detail or "not listed" in unverified.detail
    assert run.engine.snapshot().trading_state == "HALTED"
    assert "still running" in (run.engine.rearm("ok now") or "")
    await asyncio.sleep(0.1)
    assert not kill.done() and len(run.broker.placed) == 1  # no second close, ever
    assert close.broker_id not in run.broker.cancelled  # nor is the slow close cancelled
    order = run.om().get(close.client_order_id)
    assert order is not None
    run.broker.push(execution(order, 1, PX_5000, "late-fill"))
    run.broker.push(report(order, OrderStatus.FILLED, filled=1, remaining=0))
    run.broker.position_reports = []
    done = await asyncio.wait_for(kill, 5)
    assert done.ok and done.step == "halted" and len(run.broker.placed) == 1


async def until_step(run: Run, step: str) -> None:
    await until(lambda: step in steps(run), f"the kill step {step!r}")


async def test_the_kill_switch_works_when_flat_with_nothing_working(make_run: MakeRun) -> None:
    run = await make_run()
    done = await run.engine.kill("end of day")
    assert done.ok and steps(run) == ["requested", "verifying", "halted"]
    assert run.broker.placed == [] and run.broker.cancelled == []
    assert run.engine.snapshot().trading_state == "HALTED"


async def test_disconnect_policy_keep_sends_nothing(make_run: MakeRun) -> None:
    run = await make_run(held=1)
    run.broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    await settle()
    run.broker.set_state(ConnectionState.OK, "connected")
    await settle()
    assert steps(run) == [] and run.broker.placed == []
    assert run.engine.snapshot().trading_state == "ACTIVE"


async def test_disconnect_policy_halt_runs_the_kill_switch_on_reconnection(
    make_run: MakeRun,
) -> None:
    run = await make_run(RiskConfig(on_disconnect="halt"), held=1)
    run.broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    await settle()
    assert steps(run) == ["requested", "waiting"] and run.broker.placed == []
    refused = await run.engine.submit(PlaceOrder(Side.SELL, 1))
    assert not refused.ok and "kill switch" in refused.reason
    run.broker.set_state(ConnectionState.OK, "connected")
    await _fill_flatten(run)
    assert run.engine.snapshot().trading_state == "HALTED"


async def test_disconnect_policy_flatten_closes_on_reconnection_and_keeps_trading(
    make_run: MakeRun,
) -> None:
    run = await make_run(RiskConfig(on_disconnect="flatten"), held=1)
    run.broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    await settle()
    assert run.engine.snapshot().trading_state == "ACTIVE"  # flatten, not halt
    run.broker.set_state(ConnectionState.OK, "connected")
    last = await _fill_flatten(run)
    assert last.step == "done" and run.engine.snapshot().trading_state == "ACTIVE"


async def test_a_kill_pressed_during_flatten_on_reconnect_still_halts(
    make_run: MakeRun,
) -> None:
    run = await make_run(RiskConfig(on_disconnect="flatten"), held=1)
    run.broker.set_state(ConnectionState.RECONNECTING, "socket closed")
    await settle()
    run.engine.request_kill("pressed")
    assert run.engine.kill_switch.runs == 1  # joined the run under way...
    run.broker.set_state(ConnectionState.OK, "connected")
    last = await _fill_flatten(run)
    assert last.step == "halted"  # ...and made it halt
    assert run.engine.snapshot().trading_state == "HALTED"


async def _fill_flatten(run: Run) -> KillProgress:
    """Fill the kill switch's market order at the broker; returns the run's last step."""
    engine, broker = run.engine, run.broker
    for _ in range(200):
        if broker.placed:
            break
        await asyncio.sleep(0.005)
    (sent,) = broker.placed
    order = engine.orders.get(sent.order_ref)  # type: ignore[union-attr]
    assert order is not None and sent.side is Side.SELL and sent.quantity == 1
    broker.position_reports = []
    broker.push(execution(order, 1, PX_5000, "kill-fill"))
    done = await engine.kill_switch.join()
    assert done is not None and done.ok, done
    return done


async def test_a_close_that_cannot_be_sent_is_sent_again_not_given_up(
    make_run: MakeRun,
) -> None:
    """The connection drops as the close is about to go (no order id: not connected): the
    run tries again instead of ending "failed" with the position left at IB."""
    run = await make_run(held=1)
    run.broker.fail("reserve_order_id", "not connected to IB: no order id")
    kill = asyncio.create_task(run.engine.kill("drop at the close"))
    last = await _fill_flatten(run)
    assert kill.done() and last.step == "halted"
    assert "retrying" in steps(run) and "failed" not in steps(run)
    assert run.engine.snapshot().trading_state == "HALTED"


async def test_a_modification_through_the_price_band_is_refused(make_run: MakeRun) -> None:
    """The fat-finger band applies to a modified price as to a new one (ask 5000.00, band 20
    ticks = 5.00)."""
    run = await make_run()
    placed = await run.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990.00"))
    assert placed.ok
    (oid,) = placed.order_ids
    order = run.engine.orders.get(oid)
    assert order is not None
    run.broker.push(report(order, OrderStatus.SUBMITTED, perm_id=5100))
    await settle()
    through = await run.engine.submit(ModifyOrder(oid, limit="5005.25"))
    assert not through.ok and "fat-finger" in through.reason
    assert run.broker.modified == []
    edge = await run.engine.submit(ModifyOrder(oid, limit="5005.00"))
    assert edge.ok and run.broker.modified[-1].change.limit == PX_5000 + 20


async def test_the_kill_drops_queued_orders_as_never_sent_and_goes_first(
    make_run: MakeRun, tmp_path: Path
) -> None:
    """Orders of ours still queued behind IB's message rate when the kill starts never leave:
    a new one is rejected as never sent (its journal intent closed so), a modification is
    refused; the kill's own cancels, flatten and reads are all sent urgent."""
    journal = Journal(tmp_path / "ES.sqlite", flush_interval_ms=10)
    await journal.open()
    await journal.start_session("ES", "sim", "0.1.0")
    run = await make_run(
        RiskConfig(max_position=5, max_order_qty=5), held=1, before_send=journal.commit_intent
    )
    engine, broker = run.engine, run.broker
    follow = journal.attach(engine)
    try:
        sent = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4990.00"))
        queued = await engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, "4989.00"))
        assert sent.ok and queued.ok
        working, unsent = (run.om().get(r.order_ids[0]) for r in (sent, queued))
        assert working is not None and unsent is not None and unsent.broker_id is not None
        broker.push(report(working, OrderStatus.SUBMITTED, perm_id=5100))
        await settle()
        assert (await engine.submit(ModifyOrder(working.client_id, limit="4991.00"))).ok
        assert working.broker_id is not None and working.pending_change is not None
        broker.queued = Unsent(orders=(unsent.broker_id,), changes=(working.broker_id,))
        broker.urgent.clear()

        kill = asyncio.create_task(engine.kill("right after a burst"))
        for _ in range(200):
            if broker.cancelled:
                break
            await asyncio.sleep(0.005)
        broker.push(report(working, OrderStatus.CANCELLED))
        for _ in range(400):  # the flatten: IB fills it (a silent IB would leave it unverified)
            closes = [p for p in broker.placed if p.side is Side.SELL]
            if closes:
                break
            await asyncio.sleep(0.005)
        close = run.om().get(closes[0].client_order_id)
        assert close is not None
        broker.position_reports = []
        broker.push(execution(close, 1, PX_5000, "close-1"))
        broker.push(report(close, OrderStatus.FILLED, filled=1, remaining=0))
        await asyncio.wait_for(kill, 10)

        assert unsent.status is OrderStatus.REJECTED
        assert unsent.reject_reason == "never sent: dropped by the kill switch"
        assert working.pending_change is None and working.limit == PX_5000 - 40
        assert working.reject_reason == "modification never sent: dropped by the kill switch"
        assert broker.cancelled[0] == working.broker_id  # nothing to cancel of the unsent one
        assert unsent.broker_id not in broker.cancelled
        assert {"cancel", "place", "open_orders", "positions"} <= set(broker.urgent)
        intent = await _intent(journal.path, unsent.client_id)
        assert intent == ("done", "REJECTED", "never sent: dropped by the kill switch")
    finally:
        await engine.stop()
        await follow
        await journal.close()


async def _intent(path: Path, order_id: str) -> tuple[Any, ...]:
    """The journal's intent of ``order_id`` once closed: (state, status, note)."""
    async with asyncio.timeout(5):
        while True:
            conn = sqlite3.connect(path)
            try:
                found = conn.execute(
                    "SELECT state, status, note FROM order_intents WHERE order_id = ?", (order_id,)
                ).fetchall()
            finally:
                conn.close()
            if found and found[0][0] == "done":
                return tuple(found[0])
            await asyncio.sleep(0.01)


# ---- the kill switch on its own protocol -----------------------------------------------------


class BareOrders:
    """A book with no working order whose close flattens at once (KillOrders)."""

    def __init__(self, desk: BareDesk) -> None:
        self._desk = desk
        self.closes: list[str] = []
        self.of_others: list[tuple[int | None, str]] = []  # other clients' orders here

    def working(self) -> list[Order]:
        return []

    def others(self) -> list[tuple[int | None, str]]:
        return self.of_others

    def unconfirmed(self) -> list[tuple[Order, str]]:
        return []

    def is_close(self, order: Order) -> bool:
        return False

    def cancel_sent(self, order: Order) -> bool:
        return False

    def drop_unsent(self, why: str) -> list[Order]:
        return []

    async def cancel_all(
        self, at_price: int | None = None, *, keep_closes: bool = False, by: str = "cancel all"
    ) -> tuple[str, ...]:
        return ()

    async def send_close(self, command_id: str, role: str) -> Order | None:
        self.closes.append(f"{command_id} {role}")
        self._desk.held = 0
        return None


class BareDesk:
    """A KillTarget without an engine: what the kill switch needs and nothing else."""

    def __init__(self, held: int) -> None:
        self.held = held
        self.orders = BareOrders(self)
        self.connected = True
        self.published: list[KillProgress] = []
        self.reduced: list[str] = []
        self.halted: list[str] = []

    @property
    def position(self) -> int:
        return self.held

    def now(self) -> int:
        return T0

    def publish(self, progress: KillProgress) -> None:
        self.published.append(progress)

    def priority(self) -> AbstractContextManager[None]:
        return contextlib.nullcontext()

    async def wait_connected(self) -> None:
        return None

    async def wait_started(self) -> None:
        return None

    async def wait_order_change(self, timeout_s: float) -> None:
        await asyncio.sleep(0)

    async def sync(self) -> None:
        return None

    async def broker_truth(self) -> int:
        return self.held

    def reduce(self, reason: str) -> None:
        self.reduced.append(reason)

    def halt(self, reason: str) -> bool:
        self.halted.append(reason)
        return True


async def test_the_kill_switch_runs_on_its_narrow_protocol_without_an_engine() -> None:
    desk = BareDesk(held=2)
    switch = KillSwitch(desk, FAST)
    last = await switch.request("test")
    assert [p.step for p in desk.published] == ["requested", "verifying", "halted"]
    assert last.ok and last.done and last.position == 0
    assert desk.orders.closes == ["kill-1.1 kill"]
    assert desk.reduced == ["kill switch: test"] and desk.halted == ["kill switch: test"]


async def test_another_clients_order_neither_blocks_the_flatten_nor_goes_unsaid() -> None:
    """An order in this contract that only another API client can cancel (IB: 10147 for this
    one): the kill switch flattens and halts without waiting for it, and its end says that
    the order still works, whose it is, and that it could open a position again."""
    desk = BareDesk(held=1)
    desk.orders.of_others = [(125, "BUY 1 LMT @ 4995.00 in ESZ6")]
    last = await KillSwitch(desk, FAST).request("test")
    assert last.ok and last.step is KillStep.HALTED and last.others == 1
    assert desk.orders.closes == ["kill-1.1 kill"]  # flattened all the same
    assert last.detail == (
        "flat at IB; 1 order of client 125 still works at IB: BUY 1 LMT @ 4995.00 in ESZ6; "
        "this instance cannot cancel it (cancel it from TWS or the client that placed it); "
        "should it fill, it opens a position again that nothing here closes"
    )
