"""One vocabulary (tradeterm.engine.types, and the port's NoticeLevel): the engine's events
carry its members, and each member is the text the journal has always stored and the screen
compares with."""

from __future__ import annotations

from enum import StrEnum

import pytest

from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES, PX_5000
from tests.unit.engine.test_orders import Desk
from tradeterm.broker.port import NoticeLevel
from tradeterm.domain import Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.commands import PlaceBracket
from tradeterm.engine.engine import Engine
from tradeterm.engine.events import EngineNotice, OrderUpdated, RiskUpdate
from tradeterm.engine.types import KillStep, OrderRole, RiskEventKind, TradingState


@pytest.mark.parametrize(
    ("member", "text"),
    [
        (TradingState.ACTIVE, "ACTIVE"),
        (TradingState.REDUCING, "REDUCING"),
        (TradingState.HALTED, "HALTED"),
        (RiskEventKind.TRANSITION, "transition"),
        (RiskEventKind.WARNING, "warning"),
        (RiskEventKind.KILL, "kill"),
        (RiskEventKind.REFUSAL, "refusal"),
        (KillStep.REQUESTED, "requested"),
        (KillStep.UNVERIFIED, "unverified"),
        (KillStep.HALTED, "halted"),
        (KillStep.DONE, "done"),
        (KillStep.FAILED, "failed"),
        (OrderRole.PLAIN, ""),
        (OrderRole.ENTRY, "entry"),
        (OrderRole.STOP, "stop"),
        (OrderRole.TARGET, "target"),
        (OrderRole.FLATTEN, "flatten"),
        (OrderRole.REVERSE, "reverse"),
        (OrderRole.KILL, "kill"),
        (OrderRole.FOREIGN, "foreign"),
        (NoticeLevel.INFO, "INFO"),
        (NoticeLevel.WARNING, "WARNING"),
        (NoticeLevel.ERROR, "ERROR"),
    ],
)
def test_each_member_is_the_text_the_journal_stores(member: StrEnum, text: str) -> None:
    assert member == text and str(member) == text and f"{member}" == text


async def test_a_brackets_order_views_carry_their_roles() -> None:
    desk = Desk()
    bracket = PlaceBracket(Side.BUY, 1, stop_ticks=4, target_ticks=8, entry_limit="5000.00")
    await desk.om.place_bracket(bracket, desk.cmd(), reference=PX_5000)
    roles = {e.order.role for e in desk.events if isinstance(e, OrderUpdated)}
    assert roles == {OrderRole.ENTRY, OrderRole.STOP, OrderRole.TARGET}
    assert all(type(role) is OrderRole for role in roles)


async def test_a_transition_carries_the_trading_states() -> None:
    engine = Engine(FakeBroker(ES), "ES", clock=Clock(), calendar=CME, session=2, timer_s=3600)
    stream = engine.listen()
    engine.halt("the journal cannot write")  # before start: kept and published
    events = stream.drain()
    [update] = [e for e in events if isinstance(e, RiskUpdate)]
    [notice] = [e for e in events if isinstance(e, EngineNotice)]
    assert notice.level is NoticeLevel.WARNING and "HALTED" in notice.text
    assert update.kind is RiskEventKind.TRANSITION
    assert update.state is TradingState.HALTED and update.previous is TradingState.ACTIVE
    assert engine.snapshot().trading_state is TradingState.HALTED
