"""The simulated broker's order management and books, against a scripted venue."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from tradeterm.sim.gateway.accounts import Books, InstrumentTerms
from tradeterm.sim.gateway.oms import (
    Effect,
    Executed,
    Oms,
    OrderChanged,
    OrderError,
    OrderRequest,
    to_ticks,
)
from tradeterm.sim.market_events import BookSide

ES = InstrumentTerms(
    con_id=1, symbol="ES", local_symbol="ESZ6", tick=Decimal("0.25"), multiplier=Decimal(50)
)
ACCOUNT = "DU0000001"


@dataclass
class Fill:
    key: Hashable
    price: int
    qty: int
    ts_ns: int = 0
    liquidity: int = 2


@dataclass
class ScriptedVenue:
    """Fills market orders at ``market_price``; everything else rests until told to fill."""

    market_price: int = 16_000  # 4000.00
    resting: dict[Hashable, tuple[BookSide, int, str, int | None, int | None]] = field(
        default_factory=dict
    )
    calls: list[tuple[str, object]] = field(default_factory=list)

    def submit(
        self,
        key: Hashable,
        side: BookSide,
        qty: int,
        order_type: str,
        limit: int | None = None,
        stop: int | None = None,
        ts_ns: int | None = None,
        trail: int | None = None,
    ) -> list[Fill]:
        self.calls.append(("submit", key))
        if order_type == "MKT":
            return [Fill(key, self.market_price, qty)]
        self.resting[key] = (side, qty, order_type, limit, stop)
        return []

    def cancel(self, key: Hashable) -> bool:
        self.calls.append(("cancel", key))
        return self.resting.pop(key, None) is not None

    def modify(
        self,
        key: Hashable,
        qty: int | None = None,
        limit: int | None = None,
        stop: int | None = None,
        ts_ns: int | None = None,
        trail: int | None = None,
    ) -> list[Fill]:
        self.calls.append(("modify", key))
        side, old_qty, kind, old_limit, old_stop = self.resting[key]
        self.resting[key] = (side, qty or old_qty, kind, limit or old_limit, stop or old_stop)
        return []

    def stop_of(self, key: Hashable) -> int | None:
        return self.resting[key][4] if key in self.resting else None

    def drain_trail_moves(self) -> list[tuple[Hashable, int]]:
        return []


@pytest.fixture
def venue() -> ScriptedVenue:
    return ScriptedVenue()


@pytest.fixture
def oms(venue: ScriptedVenue) -> Oms:
    books = Books([ACCOUNT])
    books.register(ES)
    return Oms(books, {ES.con_id: venue})


def req(
    order_id: int, action: str = "BUY", qty: int = 1, kind: str = "MKT", **kw: object
) -> OrderRequest:
    return OrderRequest(order_id, 7, ACCOUNT, action, qty, kind, **kw)  # type: ignore[arg-type]


def statuses(effects: list[Effect]) -> list[tuple[int, str]]:
    return [(e.order.order_id, e.status) for e in effects if isinstance(e, OrderChanged)]


def errors(effects: list[Effect]) -> list[tuple[int, int]]:
    return [(e.order_id, e.code) for e in effects if isinstance(e, OrderError)]


def test_market_order_fills_and_books_a_position(oms: Oms) -> None:
    effects = oms.place(req(1, qty=2), ES, 0)
    kinds = [type(e).__name__ for e in effects]
    assert kinds == ["OrderChanged", "Executed", "OrderChanged"]
    order = oms.orders[(7, 1)]
    assert (
        order.status == "Filled" and order.filled == 2 and order.avg_fill_price() == Decimal("4000")
    )
    execution = next(e.execution for e in effects if isinstance(e, Executed))
    assert (
        execution.side == "BOT" and execution.qty == 2 and execution.commission == Decimal("4.50")
    )
    assert execution.realized_pnl is None  # an opening fill realizes nothing
    assert oms.books.account(ACCOUNT).position(1).qty == 2
    assert oms.books.average_cost(ACCOUNT, 1) == Decimal("200000")  # 4000 x 50


def test_pnl_after_a_sequence_of_fills_equals_a_hand_computation(
    oms: Oms, venue: ScriptedVenue
) -> None:
    oms.place(req(1, "BUY", 2), ES, 0)  # long 2 @ 4000.00
    venue.market_price = 16_005  # 4001.25
    e1 = oms.place(req(2, "SELL", 1), ES, 0)
    venue.market_price = 15_998  # 3999.50
    e2 = oms.place(req(3, "SELL", 1), ES, 0)
    # +5 ticks and -2 ticks on one contract each: (5 - 2) x 12.50 = 37.50; 4 x 2.25 commissions
    assert oms.books.realized(ACCOUNT) == Decimal("37.50") - Decimal("9.00")
    first = next(e.execution for e in e1 if isinstance(e, Executed))
    second = next(e.execution for e in e2 if isinstance(e, Executed))
    assert first.realized_pnl == Decimal("62.50") - Decimal("2.25")
    assert second.realized_pnl == Decimal("-25.00") - Decimal("2.25")
    assert oms.books.account(ACCOUNT).position(1).qty == 0
    assert oms.books.account_values(ACCOUNT)["TotalCashValue"] == Decimal("1000028.50")


def test_reversal_and_unrealized(oms: Oms, venue: ScriptedVenue) -> None:
    oms.place(req(1, "BUY", 1), ES, 0)  # long 1 @ 4000
    venue.market_price = 16_004  # 4001.00
    oms.place(req(2, "SELL", 3), ES, 0)  # closes 1 (+4 ticks), opens short 2 @ 4001
    pos = oms.books.account(ACCOUNT).position(1)
    assert pos.qty == -2 and pos.avg_ticks() == 16_004
    oms.books.mark(1, 16_000)  # market back to 4000: short 2 gains 4 ticks each
    assert oms.books.unrealized(ACCOUNT) == Decimal("100.00")
    assert oms.books.realized(ACCOUNT) == Decimal("50.00") - Decimal("9.00")


def test_average_price_of_a_scaled_in_position_is_exact(oms: Oms, venue: ScriptedVenue) -> None:
    for order_id, price in ((1, 16_000), (2, 16_001), (3, 16_001)):
        venue.market_price = price
        oms.place(req(order_id), ES, 0)
    assert oms.books.average_cost(ACCOUNT, 1) == (Decimal(48_002) / 3) * Decimal("0.25") * 50


def test_off_tick_price_is_rejected_with_110(oms: Oms, venue: ScriptedVenue) -> None:
    effects = oms.place(req(1, kind="LMT", lmt_price=4000.1), ES, 0)
    assert errors(effects) == [(1, 110)]
    assert (7, 1) not in oms.orders and venue.calls == []


def test_validation_errors(oms: Oms) -> None:
    assert errors(oms.place(req(1, kind="MIT"), ES, 0)) == [(1, 387)]
    assert errors(oms.place(req(2, qty=0), ES, 0)) == [(2, 321)]
    assert errors(oms.place(req(3, kind="LMT"), ES, 0)) == [(3, 321)]
    assert errors(oms.place(req(4, tif="IOC"), ES, 0)) == [(4, 321)]


def test_reject_next_order_fault(oms: Oms) -> None:
    oms.reject_next = "simulated"
    assert errors(oms.place(req(1), ES, 0)) == [(1, 201)]
    assert statuses(oms.place(req(2), ES, 0))[-1] == (2, "Filled")  # only the next one


def test_limit_rests_then_modify_then_cancel(oms: Oms, venue: ScriptedVenue) -> None:
    effects = oms.place(req(1, kind="LMT", lmt_price=3990.0), ES, 0)
    assert statuses(effects) == [(1, "PreSubmitted"), (1, "Submitted")]
    assert venue.resting[oms.orders[(7, 1)].perm_id][3] == 15_960
    effects = oms.place(req(1, kind="LMT", lmt_price=3991.25, qty=2), ES, 0)
    perm = oms.orders[(7, 1)].perm_id
    assert ("modify", perm) in venue.calls and venue.resting[perm][1:4] == (2, "LMT", 15_965)
    assert statuses(effects) == [(1, "Submitted")]
    effects = oms.cancel(7, 1, 0)
    assert errors(effects) == [(1, 202)] and statuses(effects) == [(1, "Cancelled")]
    assert perm not in venue.resting


def test_cancel_unknown_and_finished(oms: Oms) -> None:
    assert errors(oms.cancel(7, 99, 0)) == [(99, 10147)]
    oms.place(req(1), ES, 0)
    assert errors(oms.cancel(7, 1, 0)) == [(1, 10148)]
    assert errors(oms.place(req(1), ES, 0)) == [(1, 103)]  # a finished id cannot be reused


def place_bracket(oms: Oms) -> list[Effect]:
    effects = oms.place(req(10, "BUY", 1, "LMT", lmt_price=4000.0, transmit=False), ES, 0)
    effects += oms.place(
        req(11, "SELL", 1, "LMT", lmt_price=4002.0, parent_id=10, transmit=False), ES, 0
    )
    effects += oms.place(
        req(12, "SELL", 1, "STP", aux_price=3998.0, parent_id=10, transmit=True), ES, 0
    )
    return effects


def test_bracket_is_held_until_the_last_child_transmits(oms: Oms, venue: ScriptedVenue) -> None:
    assert oms.place(req(10, "BUY", 1, "LMT", lmt_price=4000.0, transmit=False), ES, 0) == []
    assert venue.calls == []
    oms.cancel(7, 10, 0)


def test_bracket_lifecycle_target_fills_and_stop_is_cancelled(
    oms: Oms, venue: ScriptedVenue
) -> None:
    effects = place_bracket(oms)
    parent, target, stop = (oms.orders[(7, i)] for i in (10, 11, 12))
    assert [c for c in venue.calls] == [("submit", parent.perm_id)]  # children wait for the parent
    assert (target.status, stop.status) == ("PreSubmitted", "PreSubmitted")
    assert (10, "Submitted") in statuses(effects)
    effects = oms.on_fills([Fill(parent.perm_id, 16_000, 1)])
    assert parent.status == "Filled"
    assert {("submit", target.perm_id), ("submit", stop.perm_id)} <= set(venue.calls)
    effects = oms.on_fills([Fill(target.perm_id, 16_008, 1)])
    assert target.status == "Filled" and stop.status == "Cancelled"
    assert (12, 202) in errors(effects) and stop.perm_id not in venue.resting
    assert oms.books.account(ACCOUNT).position(1).qty == 0
    assert oms.books.realized(ACCOUNT) == Decimal("100.00") - Decimal("4.50")


def test_cancelling_the_parent_cancels_the_children(oms: Oms) -> None:
    place_bracket(oms)
    effects = oms.cancel(7, 10, 0)
    assert sorted(errors(effects)) == [(10, 202), (11, 202), (12, 202)]
    assert oms.working() == []


def test_explicit_oca_group_type_1_cancels_type_2_reduces(oms: Oms) -> None:
    oms.place(req(1, "SELL", 2, "LMT", lmt_price=4010.0, oca_group="g1", oca_type=1), ES, 0)
    oms.place(req(2, "SELL", 2, "LMT", lmt_price=4020.0, oca_group="g1", oca_type=1), ES, 0)
    oms.on_fills([Fill(oms.orders[(7, 1)].perm_id, 16_040, 1)])  # partial fill
    assert oms.orders[(7, 2)].status == "Cancelled"
    oms.place(req(3, "SELL", 3, "LMT", lmt_price=4010.0, oca_group="g2", oca_type=2), ES, 0)
    oms.place(req(4, "SELL", 3, "LMT", lmt_price=4020.0, oca_group="g2", oca_type=2), ES, 0)
    oms.on_fills([Fill(oms.orders[(7, 3)].perm_id, 16_040, 1)])
    assert oms.orders[(7, 4)].status == "Submitted" and oms.orders[(7, 4)].remaining == 2


def test_changing_the_oca_group_of_a_working_order_is_refused(oms: Oms) -> None:
    oms.place(req(1, "SELL", 1, "LMT", lmt_price=4010.0, oca_group="a"), ES, 0)
    effects = oms.place(req(1, "SELL", 1, "LMT", lmt_price=4010.0, oca_group="b"), ES, 0)
    assert errors(effects) == [(1, 10326)]


def test_partial_fills_then_cancel_keeps_the_filled_part(oms: Oms) -> None:
    oms.place(req(1, "BUY", 5, "LMT", lmt_price=4000.0), ES, 0)
    perm = oms.orders[(7, 1)].perm_id
    oms.on_fills([Fill(perm, 16_000, 2)])
    oms.cancel(7, 1, 0)
    oms.on_fills([Fill(perm, 16_000, 3)])  # a late fill for a cancelled order is not booked twice
    assert oms.orders[(7, 1)].filled == 2
    assert oms.books.account(ACCOUNT).position(1).qty == 2


def test_global_cancel_cancels_every_client(oms: Oms) -> None:
    oms.place(req(1, kind="LMT", lmt_price=3990.0), ES, 0)
    other = OrderRequest(1, 8, ACCOUNT, "SELL", 1, "LMT", lmt_price=4010.0)
    oms.place(other, ES, 0)
    effects = oms.global_cancel(0)
    assert sorted(errors(effects)) == [(1, 202), (1, 202)]
    assert oms.working() == []


def test_day_orders_expire_gtc_orders_stay(oms: Oms) -> None:
    oms.place(req(1, kind="LMT", lmt_price=3990.0, tif="DAY"), ES, 0)
    oms.place(req(2, kind="LMT", lmt_price=3990.0, tif="GTC"), ES, 0)
    oms.expire_day_orders(0)
    assert [o.order_id for o in oms.working()] == [2]


@pytest.mark.parametrize(
    ("price", "ticks"),
    [(4000.0, 16_000), (4000.25, 16_001), (0.25, 1), (4000.1, None), (4000.125, None)],
)
def test_to_ticks(price: float, ticks: int | None) -> None:
    assert to_ticks(price, Decimal("0.25")) == ticks


def test_with_the_real_matching_engine_market_walks_the_book() -> None:
    from tradeterm.sim.market_events import BookDelta
    from tradeterm.sim.matching import MatchingEngine

    engine = MatchingEngine()
    for price, size in ((16_001, 2), (16_002, 3)):
        engine.on_market(BookDelta(0, BookSide.ASK, price, size))
    engine.on_market(BookDelta(0, BookSide.BID, 16_000, 5))
    books = Books([ACCOUNT])
    books.register(ES)
    oms = Oms(books, {ES.con_id: engine})
    oms.place(req(1, "BUY", 4), ES, 0)
    order = oms.orders[(7, 1)]
    assert order.status == "Filled"
    assert order.avg_fill_price() == (2 * Decimal("4000.25") + 2 * Decimal("4000.50")) / 4
    assert books.account(ACCOUNT).position(1).qty == 4


def test_market_order_without_any_price_is_rejected_not_crashed() -> None:
    from tradeterm.sim.matching import MatchingEngine

    books = Books([ACCOUNT])
    books.register(ES)
    oms = Oms(books, {ES.con_id: MatchingEngine()})
    effects = oms.place(req(1), ES, 0)
    assert errors(effects) == [(1, 201)]
    assert oms.working() == []


def test_execution_ids_never_repeat_across_gateway_runs(venue: ScriptedVenue) -> None:
    """Two runs of the gateway (new books each) doing the same trades: IB's execIds are
    unique, so the second run's are new, and each run's are unique too."""

    def one_run() -> list[str]:
        books = Books([ACCOUNT])
        books.register(ES)
        oms = Oms(books, {ES.con_id: venue})
        oms.place(req(1, "BUY", 2), ES, 0)
        oms.place(req(2, "SELL", 2), ES, 0)
        return [e.exec_id for e in books.account(ACCOUNT).executions]

    first, second = one_run(), one_run()
    assert len(first) == len(set(first)) == 2
    assert not set(first) & set(second), (first, second)
    assert all(len(e.split(".")) == 4 for e in first + second)  # IB's shape


def test_a_look_at_a_position_never_held_leaves_the_books_as_they_were() -> None:
    """The books have no terms for a contract nobody traded: a look at its position must not
    leave one behind, or every account figure fails on the missing terms (error 321 to
    reqAccountUpdates, reqAccountUpdatesMulti and reqPnL)."""
    books = Books([ACCOUNT])
    assert books.account(ACCOUNT).position(701_202_612).qty == 0
    assert books.account(ACCOUNT).positions == {}
    assert books.account_values(ACCOUNT)["NetLiquidation"] == Decimal("1000000")
    assert books.daily_pnl(ACCOUNT) == 0


def test_trail_is_trailed_by_the_venue_and_each_move_reported_with_its_stop_price() -> None:
    """IB's TRAIL: auxPrice the trailing amount, trailStopPrice where it starts; the real
    matching engine trails it and the OMS reports every move (an openOrder), then it triggers
    like a stop."""
    from tradeterm.sim.market_events import BookDelta, TradePrint
    from tradeterm.sim.matching import MatchingEngine

    engine = MatchingEngine()
    engine.on_market(BookDelta(0, BookSide.BID, 16_000, 50))
    engine.on_market(BookDelta(0, BookSide.ASK, 16_001, 50))
    engine.on_market(TradePrint(0, 16_000, 1, None))
    books = Books([ACCOUNT])
    books.register(ES)
    oms = Oms(books, {ES.con_id: engine})
    # a sell trailing stop 4 ticks (1.00) behind, starting at 3998.00
    oms.place(req(1, "SELL", 2, "TRAIL", aux_price=1.0, trail_stop_price=3998.0), ES, 0)
    order = oms.orders[(7, 1)]
    assert order.status == "Submitted" and order.trail_stop_ticks == 15_992
    engine.on_market(TradePrint(1, 16_001, 1, None))  # 4000.25: 4 ticks behind is 3999.25
    moved = oms.on_fills([])
    assert statuses(moved) == [(1, "Submitted")] and order.trail_stop_ticks == 15_997
    assert isinstance(moved[0], OrderChanged) and moved[0].open_order
    engine.on_market(TradePrint(2, 15_999, 1, None))  # against us: the stop stays
    assert oms.on_fills([]) == [] and order.trail_stop_ticks == 15_997
    fills = engine.on_market(TradePrint(3, 15_997, 1, None))  # reaches it: a market sell
    oms.on_fills(fills)
    assert order.status == "Filled"


def test_trail_needs_a_trailing_amount(oms: Oms) -> None:
    assert errors(oms.place(req(1, "SELL", 1, "TRAIL"), ES, 0)) == [(1, 321)]
