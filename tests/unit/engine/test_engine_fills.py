"""Fills the engine already knows, on the in-memory broker: the journal's fills restored at
start (only the others count as recovered; today's count in today's P&L), and one execution
id reported with other facts (shown, HALTED, never booked)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tests.support.clock import TUESDAY_10 as T0
from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tests.unit.engine.test_orders import Run, settle
from tradeterm.broker.port import ExecutionReport, PositionReport
from tradeterm.domain import Fill, Instrument, Side
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice, FillBooked, Reconciled

YESTERDAY = T0 - 24 * 3600 * NS  # the Monday: another trading day
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


async def start(journaled: Sequence[tuple[Fill, Decimal | None]],
                at_ib: Sequence[ExecutionReport], held: int = 0) -> Run:  # fmt: skip
    """A started engine whose journal holds ``journaled`` and whose broker has the executions
    ``at_ib`` and a position of ``held`` at 5000.00."""
    clock = Clock(T0 + 3600 * NS)
    broker = FakeBroker(ES)
    broker.execution_reports = list(at_ib)
    if held:
        broker.position_reports = [
            PositionReport(ES, ES.con_id or 0, "DU1234567", held, Decimal(250000), T0)
        ]
    engine = Engine(broker, "ES", clock=clock, calendar=CME, session=2, timer_s=3600)

    async def journal(instrument: Instrument) -> Sequence[tuple[Fill, Decimal | None]]:
        assert instrument == ES
        return journaled

    engine.journaled_fills = journal
    run = Run(engine, broker, clock)
    await engine.start()
    return run


async def test_journaled_fills_are_known_at_start_and_only_new_ones_are_recovered() -> None:
    old_buy = fill("e0", Side.BUY, PX_5000, YESTERDAY)
    buy = fill("e1", Side.BUY, PX_5000, T0)
    sell = fill("e2", Side.SELL, PX_5000 + 4, T0 + 60 * NS)  # filled while tradeterm was down
    two = Decimal("2.25")
    run = await start([(old_buy, two), (buy, two)], [reported(f) for f in (old_buy, buy, sell)])
    try:
        (rec,) = run.of(Reconciled)
        assert rec.fills_recovered == 1, rec.detail
        assert [e.fill.exec_id for e in run.of(FillBooked)] == ["e2"]  # journaled: only it
        pnl = run.engine.snapshot().pnl
        assert pnl is not None
        # today's round trip (yesterday's buy is in the position IB carries in: none here)
        assert pnl.quantity == 0 and pnl.realized == Decimal("50.00")
        assert pnl.commissions == two  # today's buy; the sell's arrives from IB with it
        assert run.engine.snapshot().trading_state == "ACTIVE"
    finally:
        await run.engine.stop()


async def test_a_journaled_fill_reported_with_other_facts_at_start_halts() -> None:
    buy = fill("e1", Side.BUY, PX_5000, T0)
    run = await start([(buy, None)], [reported(buy, price=PX_5000 + 1)], held=1)
    try:
        snap = run.engine.snapshot()
        assert snap.trading_state == "HALTED" and "e1 reported again" in snap.trading_reason
        errors = [n.text for n in run.of(EngineNotice) if n.level == "ERROR"]
        assert errors == [snap.trading_reason]
        assert snap.pnl is not None and snap.pnl.quantity == 1 and snap.pnl.avg_price == PX_5000
        (rec,) = run.of(Reconciled)
        assert rec.fills_recovered == 0
    finally:
        await run.engine.stop()


async def test_a_live_fill_reported_again_is_a_no_op_and_with_other_facts_halts() -> None:
    run = await start([], [])
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
