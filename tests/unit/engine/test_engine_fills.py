"""Fills the engine already knows, on the in-memory broker: one execution id reported with
other facts (shown, HALTED, never booked)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tests.unit.engine.fake_broker import FakeBroker
from tests.unit.engine.test_orders import ES, PX_5000, T0, Clock, Run, settle
from tradeterm.broker.base import ExecutionReport, PositionReport
from tradeterm.domain import Fill, Side
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice, FillBooked
from tradeterm.engine.session import CME, NS

REF = "tt.ES.1.1"  # an order of this instance from an earlier run


def fill(exec_id: str, side: Side, price: int, ts_ns: int, qty: int = 1) -> Fill:
    return Fill(exec_id, REF, ES, side, qty, price, ts_ns, perm_id=7)


def reported(f: Fill, **changed: object) -> ExecutionReport:
    """IB's report of ``f`` (again, from reqExecutions), with ``changed`` facts."""
    fields: dict[str, object] = dict(
        exec_id=f.exec_id, broker_id=3, perm_id=f.perm_id or 0, client_id=1, order_ref=REF,
        instrument=ES, side=f.side, quantity=f.quantity, price=f.price, ts_ns=f.ts_ns,
        historical=True,
    )  # fmt: skip
    fields.update(changed)
    return ExecutionReport(**fields)  # type: ignore[arg-type]


async def start(at_ib: Sequence[ExecutionReport], held: int = 0) -> Run:
    """A started engine whose broker has the executions ``at_ib`` and a position of ``held``
    at 5000.00."""
    clock = Clock(T0 + 3600 * NS)
    broker = FakeBroker(ES)
    broker.execution_reports = list(at_ib)
    if held:
        broker.position_reports = [
            PositionReport(ES, ES.con_id or 0, "DU1234567", held, Decimal(250000), T0)
        ]
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)
    run = Run(engine, broker, clock)
    await engine.start()
    return run


async def test_a_live_fill_reported_again_is_a_no_op_and_with_other_facts_halts() -> None:
    run = await start([])
    try:
        buy = fill("e1", Side.BUY, PX_5000, T0 + 3600 * NS)
        run.broker.push(reported(buy, historical=False), reported(buy))
        await settle()
        assert len(run.of(FillBooked)) == 1
        assert run.engine.snapshot().trading_state == "ACTIVE"
        run.broker.push(reported(buy, side=Side.SELL))
        await settle()
        snap = run.engine.snapshot()
        assert snap.trading_state == "HALTED" and "reported again" in snap.trading_reason
        # shown as an error, then as the HALTED transition it caused
        assert [n.level for n in run.of(EngineNotice) if "e1" in n.text] == ["ERROR", "WARNING"]
        assert len(run.of(FillBooked)) == 1 and snap.pnl is not None and snap.pnl.quantity == 1
    finally:
        await run.engine.stop()
