"""The risk manager's pure core: trading states and transitions, every pre-trade rule at its
boundary, sizing, the loss limits with their session resets, and the account-wide guard."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.clock import TUESDAY_10 as TUE_10
from tests.support.clock import Clock, ct
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import CL, ES
from tradeterm.broker.port import ConnectionState
from tradeterm.config import ConfigError, RiskConfig, load_settings
from tradeterm.domain import (
    CME_ROOTS,
    ClientOrderIds,
    Fill,
    Instrument,
    OrderType,
    Side,
)
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.commands import PlaceBracket, PlaceOrder, Refused
from tradeterm.engine.order_manager import OrderIntent, OrderManager, PreTradeCheck
from tradeterm.engine.portfolio import PnL, Portfolio
from tradeterm.engine.pre_trade import RiskContext
from tradeterm.engine.risk import RiskEvent, RiskManager, RiskTransition
from tradeterm.engine.types import RiskEventKind, TradingState

ASK, BID = 20000, 19999  # 5000.00 / 4999.75 in ES ticks

# 2026-11-17 is a Tuesday; 2026-11-20 a Friday, 2026-11-22 a Sunday.


def config(**overrides: Any) -> RiskConfig:
    base: dict[str, Any] = {
        "max_position": 2,
        "max_order_qty": 2,
        "daily_loss_limit": Decimal(1000),
        "max_drawdown": Decimal(1500),
        "warn_fraction": 0.8,
        "fat_finger_ticks": 20,
        "max_orders_per_s": 10,
        "no_entry_before_break_min": 5,
        "rearm_cooldown_s": 300,
    }
    base.update(overrides)
    return RiskConfig(**base)


def manager(**overrides: Any) -> tuple[RiskManager, Clock, list[RiskTransition]]:
    clock = Clock()
    seen: list[RiskTransition] = []
    rm = RiskManager(config(**overrides), clock=clock, calendar=CME, on_transition=seen.append)
    return rm, clock, seen


def intent(
    side: Side = Side.BUY,
    qty: int = 1,
    order_type: OrderType = OrderType.MARKET,
    *,
    limit: int | None = None,
    stop: int | None = None,
    entry: bool = True,
) -> OrderIntent:
    return OrderIntent(side, qty, order_type, limit, stop, entry, "manual")


def ctx(now: int = TUE_10, **kw: Any) -> RiskContext:
    kw.setdefault("bid", BID)
    kw.setdefault("ask", ASK)
    return RiskContext(now_ns=now, **kw)


def buy_limit(price: int, qty: int = 1) -> OrderIntent:
    return intent(Side.BUY, qty, OrderType.LIMIT, limit=price)


def sell_limit(price: int, qty: int = 1, entry: bool = True) -> OrderIntent:
    return intent(Side.SELL, qty, OrderType.LIMIT, limit=price, entry=entry)


def pnl(daily: Decimal | int | str, session_open_ns: int | None = None) -> PnL:
    d = Decimal(daily)
    return PnL(
        quantity=0, avg_price=None, mark=None, realized=d, unrealized=Decimal(0),
        realized_ticks=0, unrealized_ticks=0, open_ticks=None, commissions=Decimal(0),
        daily=d, day_commissions=Decimal(0), session_open_ns=session_open_ns,
    )  # fmt: skip


def kinds(events: list[RiskEvent]) -> list[tuple[RiskEventKind, str]]:
    return [(e.kind, e.rule) for e in events]


# ---- trading states and transitions ----------------------------------------------------------


def test_starts_active_and_halt_records_one_transition() -> None:
    rm, _, seen = manager()
    assert rm.state is TradingState.ACTIVE
    t = rm.halt("kill switch: flat", TUE_10 + 5)
    assert t == RiskTransition(
        TradingState.ACTIVE, TradingState.HALTED, "kill switch: flat", TUE_10 + 5
    )
    assert rm.state is TradingState.HALTED and rm.state_reason == "kill switch: flat"
    assert rm.state_since_ns == TUE_10 + 5
    assert rm.transitions == [t] and seen == [t]
    # idempotent: the first halt stands, nothing new is recorded
    assert rm.halt("again", TUE_10 + 99) is None
    assert rm.transitions == [t] and rm.state_reason == "kill switch: flat"
    ev = t.event()
    assert ev.kind is RiskEventKind.TRANSITION and ev.ts_ns == TUE_10 + 5
    assert ev.reason == "ACTIVE -> HALTED: kill switch: flat"


def test_halt_reads_the_clock_when_no_time_is_given() -> None:
    rm, clock, _ = manager()
    clock.now = TUE_10 + 42
    t = rm.halt("x")
    assert t is not None and t.ts_ns == TUE_10 + 42


def test_reduce_from_active_only_and_halted_stays_halted() -> None:
    rm, _, seen = manager()
    t = rm.reduce("disconnect policy", TUE_10)
    assert t is not None and (t.from_state, t.to_state) == (
        TradingState.ACTIVE,
        TradingState.REDUCING,
    )
    assert rm.reduce("again", TUE_10 + 1) is None
    t2 = rm.halt("kill", TUE_10 + 2)
    assert t2 is not None and t2.from_state is TradingState.REDUCING
    assert rm.reduce("looser", TUE_10 + 3) is None
    assert rm.state is TradingState.HALTED
    assert [(x.from_state, x.to_state) for x in seen] == [
        (TradingState.ACTIVE, TradingState.REDUCING),
        (TradingState.REDUCING, TradingState.HALTED),
    ]


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
def test_rearm_without_a_reason_is_refused(reason: str) -> None:
    rm, _, seen = manager(rearm_cooldown_s=0)
    rm.halt("kill", TUE_10)
    with pytest.raises(Refused, match="re-arming needs a reason"):
        rm.rearm(reason, TUE_10 + 10 * NS)
    assert rm.state is TradingState.HALTED and len(seen) == 1


def test_rearm_waits_for_the_cooldown_exactly() -> None:
    rm, _, seen = manager(rearm_cooldown_s=300)
    rm.halt("kill", TUE_10)
    with pytest.raises(Refused, match=r"cooling down after the halt, 1 s left \(cooldown 300 s\)"):
        rm.rearm("checked the book", TUE_10 + 300 * NS - 1)
    with pytest.raises(Refused, match="5 min 0 s left"):
        rm.rearm("checked the book", TUE_10)
    assert rm.state is TradingState.HALTED
    t = rm.rearm("  checked the book  ", TUE_10 + 300 * NS)
    assert t == RiskTransition(
        TradingState.HALTED, TradingState.ACTIVE, "checked the book", TUE_10 + 300 * NS
    )
    assert rm.state is TradingState.ACTIVE and seen[-1] == t


def test_rearm_from_reducing_needs_a_reason_but_no_cooldown() -> None:
    rm, _, _ = manager(rearm_cooldown_s=300)
    rm.reduce("manual reduce-only", TUE_10)
    with pytest.raises(Refused, match="needs a reason"):
        rm.rearm("", TUE_10 + 1)
    t = rm.rearm("done reducing", TUE_10 + 1)
    assert t.from_state is TradingState.REDUCING and rm.state is TradingState.ACTIVE


def test_rearm_when_active_is_refused() -> None:
    rm, _, seen = manager()
    with pytest.raises(Refused, match="already active"):
        rm.rearm("why not", TUE_10)
    assert seen == []


def test_restored_halted_stays_halted_and_keeps_the_original_cooldown() -> None:
    halted_at = TUE_10 - 100 * NS  # before the restart
    last = RiskTransition(TradingState.ACTIVE, TradingState.HALTED, "daily loss", halted_at)
    clock = Clock(TUE_10)
    rm = RiskManager(config(rearm_cooldown_s=300), clock=clock, restored=last)
    assert rm.state is TradingState.HALTED and rm.state_reason == "daily loss"
    assert rm.state_since_ns == halted_at
    assert rm.transitions == []  # restoring is not a change
    # nothing passes, not even an order that would reduce the position
    exit_order = intent(Side.SELL, 1, entry=False)
    assert rm.check(exit_order, ctx(position=1)) == (
        "trading is HALTED (daily loss): no orders until re-armed"
    )
    assert rm.reduce("disconnect", TUE_10) is None
    with pytest.raises(Refused, match="3 min 20 s left"):
        rm.rearm("reviewed", TUE_10)
    rm.rearm("reviewed", halted_at + 300 * NS)
    assert rm.state is TradingState.ACTIVE


def test_restored_reducing() -> None:
    last = RiskTransition(TradingState.ACTIVE, TradingState.REDUCING, "disconnect", TUE_10)
    rm = RiskManager(config(), clock=Clock(), restored=last)
    assert rm.state is TradingState.REDUCING
    assert rm.check(intent(Side.BUY), ctx()) is not None
    assert rm.check(intent(Side.SELL, entry=False), ctx(position=1)) is None


# ---- pre-trade checks: states ----------------------------------------------------------------


def test_reducing_allows_only_orders_that_reduce() -> None:
    rm, _, _ = manager(max_order_qty=5)
    rm.reduce("limit close", TUE_10)
    long2 = ctx(position=2)
    assert rm.check(intent(Side.SELL, 2, entry=False), long2) is None
    refused = rm.check(intent(Side.BUY, 1), long2)
    assert refused == (
        "trading is REDUCING (limit close): only orders that reduce the position are allowed"
    )
    # a sell of 3 flips the position: an entry even if the intent was mislabelled
    assert rm.check(intent(Side.SELL, 3, entry=False), long2) is not None
    # working sells count: 2 already working, one more would flip
    assert rm.check(intent(Side.SELL, 1, entry=False), ctx(position=2, working_sell=2)) is not None
    assert rm.check(intent(Side.SELL, 1, entry=False), ctx(position=2, working_sell=1)) is None
    # flat: anything is an entry
    assert rm.check(intent(Side.SELL, 1, entry=False), ctx(position=0)) is not None


# ---- pre-trade checks: quantities ------------------------------------------------------------


def test_max_order_quantity_on_every_order() -> None:
    rm, _, _ = manager(max_order_qty=2, max_position=10)
    assert rm.check(intent(Side.BUY, 2), ctx()) is None
    assert rm.check(intent(Side.BUY, 3), ctx()) == "order quantity 3 is above the maximum of 2"
    # an exit too (a fat finger on an exit is still a fat finger)
    assert rm.check(intent(Side.SELL, 3, entry=False), ctx(position=5)) is not None
    assert rm.check(intent(Side.BUY, 0), ctx()) == "quantity must be positive, got 0"


def test_max_position_counts_working_orders_on_the_same_side() -> None:
    rm, _, _ = manager(max_position=2, max_order_qty=5)
    assert rm.check(intent(Side.BUY, 1), ctx(position=1)) is None  # 2
    assert rm.check(intent(Side.BUY, 2), ctx(position=1)) == (
        "maximum position is 2: position 1, 0 working BUY and this 2 would make 3 long"
    )
    assert rm.check(intent(Side.BUY, 1), ctx(position=1, working_buy=1)) == (
        "maximum position is 2: position 1, 1 working BUY and this 1 would make 3 long"
    )
    # working orders on the other side do not offset
    assert rm.check(intent(Side.BUY, 1), ctx(position=1, working_buy=1, working_sell=2)) is not None
    assert rm.check(intent(Side.SELL, 1), ctx(position=-1)) is None  # -2
    assert "would make 3 short" in (
        rm.check(intent(Side.SELL, 1), ctx(position=-1, working_sell=1)) or ""
    )
    assert rm.check(intent(Side.BUY, 2), ctx(position=0, working_buy=0)) is None
    # an exit from a position beyond the maximum (e.g. taken from IB) is allowed
    assert rm.check(intent(Side.SELL, 1, entry=False), ctx(position=4)) is None
    # a flip through zero is an entry and counts what it opens on the other side
    assert rm.check(intent(Side.SELL, 5), ctx(position=2)) is not None  # -3
    assert rm.check(intent(Side.SELL, 4), ctx(position=2)) is None  # -2


def test_the_position_limit_names_a_changed_order_as_it_would_be() -> None:
    """A modification (the resized order is not among the working ones) is said as the order
    after the change, not as if it were a new order beside a working one."""
    rm = RiskManager(config(max_position=2, max_order_qty=5), clock=Clock(), calendar=CME,
                     instrument=ES)  # fmt: skip
    resized = OrderIntent(Side.BUY, 2, OrderType.STOP, None, ES.to_ticks(Decimal("6001.50")),
                          True, "manual", resting=True, modifies="tt.ES.1.2")  # fmt: skip
    assert rm.check(resized, ctx(position=1)) == (
        "maximum position is 2: position 1, 0 other working BUY and this order changed to "
        "BUY 2 STP 6001.50 would make 3 long"
    )


# ---- pre-trade checks: fat-finger band -------------------------------------------------------


def test_limits_through_the_touch() -> None:
    rm, _, _ = manager()
    assert rm.check(buy_limit(ASK + 20), ctx()) is None
    assert rm.check(buy_limit(ASK + 21), ctx()) == (
        "buy limit is 21 ticks above the ask: more than the fat-finger band of 20 ticks"
    )
    assert rm.check(buy_limit(ASK - 500), ctx()) is None  # a resting bid far below
    assert rm.check(sell_limit(BID - 20), ctx()) is None
    assert rm.check(sell_limit(BID - 21), ctx()) == (
        "sell limit is 21 ticks below the bid: more than the fat-finger band of 20 ticks"
    )
    assert rm.check(sell_limit(BID + 500), ctx()) is None
    # exits are checked too
    assert rm.check(sell_limit(BID - 21, entry=False), ctx(position=1)) is not None


def test_stops_through_the_touch_are_on_the_triggered_side() -> None:
    rm, _, _ = manager()
    buy_stop = lambda p: intent(Side.BUY, 1, OrderType.STOP, stop=p)  # noqa: E731
    sell_stop = lambda p: intent(Side.SELL, 1, OrderType.STOP, stop=p, entry=False)  # noqa: E731
    assert rm.check(buy_stop(ASK - 20), ctx()) is None
    assert rm.check(buy_stop(ASK - 21), ctx()) == (
        "buy stop is 21 ticks below the ask: more than the fat-finger band of 20 ticks "
        "(it would trigger at once)"
    )
    assert rm.check(buy_stop(ASK + 400), ctx()) is None  # a far protective stop is fine
    long1 = ctx(position=1)
    assert rm.check(sell_stop(BID + 20), long1) is None
    assert rm.check(sell_stop(BID + 21), long1) == (
        "sell stop is 21 ticks above the bid: more than the fat-finger band of 20 ticks "
        "(it would trigger at once)"
    )
    assert rm.check(sell_stop(BID - 400), long1) is None


def test_stop_limit_limit_is_checked_against_where_it_becomes_active() -> None:
    rm, _, _ = manager()

    def stp_lmt(side: Side, stop: int, limit: int) -> OrderIntent:
        return intent(side, 1, OrderType.STOP_LIMIT, stop=stop, limit=limit)

    # buy stop above the market: the limit is measured from the stop
    assert rm.check(stp_lmt(Side.BUY, ASK + 40, ASK + 60), ctx()) is None
    assert rm.check(stp_lmt(Side.BUY, ASK + 40, ASK + 61), ctx()) == (
        "buy limit is 21 ticks above the stop: more than the fat-finger band of 20 ticks"
    )
    # buy stop already below the ask (triggers at once): the limit is measured from the ask
    assert rm.check(stp_lmt(Side.BUY, ASK - 5, ASK + 20), ctx()) is None
    assert "21 ticks above the ask" in (rm.check(stp_lmt(Side.BUY, ASK - 5, ASK + 21), ctx()) or "")
    # the stop itself is still checked
    assert "buy stop is 21 ticks below" in (rm.check(stp_lmt(Side.BUY, ASK - 21, ASK), ctx()) or "")
    # sell side mirrors it
    assert rm.check(stp_lmt(Side.SELL, BID - 40, BID - 60), ctx()) is None
    assert "sell limit is 21 ticks below the stop" in (
        rm.check(stp_lmt(Side.SELL, BID - 40, BID - 61), ctx()) or ""
    )


def test_fat_finger_falls_back_to_the_last_trade_and_never_blocks_unchecked_exits() -> None:
    rm, _, _ = manager()
    last_only = ctx(bid=None, ask=None, last=ASK)
    assert rm.check(buy_limit(ASK + 20), last_only) is None
    assert rm.check(buy_limit(ASK + 21), last_only) == (
        "buy limit is 21 ticks above the last trade: more than the fat-finger band of 20 ticks"
    )
    nothing = ctx(bid=None, ask=None, last=None, position=1)
    assert rm.check(buy_limit(ASK), nothing) == (
        "no market price yet to check the order's price against"
    )
    stop_out = intent(Side.SELL, 1, OrderType.STOP, stop=BID - 8, entry=False)
    assert rm.check(stop_out, nothing) is None
    assert rm.check(intent(Side.BUY, 1), ctx(bid=None, ask=None)) is None  # market: no price


# ---- pre-trade checks: orders sent to rest --------------------------------------------------


def resting(side: Side, *, limit: int | None = None, stop: int | None = None,
            entry: bool = True) -> OrderIntent:  # fmt: skip
    order_type = {(True, False): OrderType.LIMIT, (False, True): OrderType.STOP,
                  (True, True): OrderType.STOP_LIMIT}.get((limit is not None, stop is not None),
                                                           OrderType.MARKET)  # fmt: skip
    return OrderIntent(side, 1, order_type, limit, stop, entry, "manual", resting=True)


def flat_order_manager(broker: FakeBroker, check: PreTradeCheck) -> OrderManager:
    """An order manager trading ES through ``broker`` with no position, nothing blocked,
    ``check`` its pre-trade check."""
    flat = Portfolio(ES, clock=Clock(), calendar=CME)
    return OrderManager(
        broker, ES, ClientOrderIds("ES", 1),
        position=lambda: flat.position, fills_of=flat.ledger.for_order,
        emit=lambda e: None, clock=Clock(), checks=(check,), blocked=None,
    )  # fmt: skip


def test_a_resting_limit_at_or_through_the_touch_is_refused_naming_price_and_touch() -> None:
    rm = RiskManager(config(), clock=Clock(), calendar=CME, instrument=ES)
    assert rm.check(resting(Side.BUY, limit=ASK - 1), ctx()) is None
    assert rm.check(resting(Side.BUY, limit=ASK), ctx()) == (
        "buy limit 5000.00 is at or above the ask 5000.00: it would trade at once, not rest"
    )
    assert "buy limit 5000.25 is at or above the ask" in (
        rm.check(resting(Side.BUY, limit=ASK + 1), ctx()) or ""
    )
    assert rm.check(resting(Side.SELL, limit=BID + 1), ctx()) is None
    assert rm.check(resting(Side.SELL, limit=BID), ctx()) == (
        "sell limit 4999.75 is at or below the bid 4999.75: it would trade at once, not rest"
    )
    # an exit is held to it too: a sell limit at the cursor to take profit must rest
    assert rm.check(resting(Side.SELL, limit=BID - 3, entry=False), ctx(position=1)) == (
        "sell limit 4999.00 is at or below the bid 4999.75: it would trade at once, not rest"
    )
    # the same prices typed in full (not resting) may cross
    assert rm.check(buy_limit(ASK + 1), ctx()) is None
    assert rm.check(sell_limit(BID), ctx()) is None


def test_a_resting_limit_falls_back_to_the_last_trade_when_its_side_is_empty() -> None:
    rm, _, _ = manager()
    assert rm.check(resting(Side.BUY, limit=ASK - 1), ctx(ask=None, last=ASK)) is None
    assert rm.check(resting(Side.BUY, limit=ASK), ctx(ask=None, last=ASK)) == (
        "buy limit 20000 ticks is at or above the last trade 20000 ticks: it would trade at "
        "once, not rest"
    )


def test_a_resting_stop_must_lie_beyond_the_far_touch_and_the_last_trade() -> None:
    rm = RiskManager(config(), clock=Clock(), calendar=CME, instrument=ES)
    # buy stops: above the higher of the ask and the last trade
    assert rm.check(resting(Side.BUY, stop=ASK + 1), ctx(last=BID)) is None
    assert rm.check(resting(Side.BUY, stop=ASK), ctx(last=BID)) == (
        "buy stop 5000.00 is at or below the ask 5000.00: it would trigger at once, not rest"
    )
    assert rm.check(resting(Side.BUY, stop=ASK + 2), ctx(last=ASK + 2)) == (
        "buy stop 5000.50 is at or below the last trade 5000.50: it would trigger at once, not rest"
    )
    assert rm.check(resting(Side.BUY, stop=ASK + 3), ctx(last=ASK + 2)) is None
    # sell stops: below the lower of the bid and the last trade
    long1 = ctx(position=1, last=ASK)
    assert rm.check(resting(Side.SELL, stop=BID - 1, entry=False), long1) is None
    assert rm.check(resting(Side.SELL, stop=BID, entry=False), long1) == (
        "sell stop 4999.75 is at or above the bid 4999.75: it would trigger at once, not rest"
    )
    assert "sell stop 4999.25 is at or above the last trade 4999.25" in (
        rm.check(resting(Side.SELL, stop=BID - 2, entry=False), ctx(position=1, last=BID - 2)) or ""
    )
    # a stop-limit rests by its stop: its limit may lie through the market once triggered
    assert rm.check(resting(Side.BUY, stop=ASK + 1, limit=ASK + 3), ctx()) is None
    assert "buy stop" in (rm.check(resting(Side.BUY, stop=ASK, limit=ASK + 3), ctx()) or "")
    # typed in full, a stop through the market is only held to the fat-finger band
    assert rm.check(intent(Side.BUY, 1, OrderType.STOP, stop=ASK - 5), ctx()) is None


def test_a_resting_market_order_or_one_without_a_market_is_refused() -> None:
    rm, _, _ = manager()
    assert rm.check(resting(Side.BUY), ctx()) == "a buy market order cannot rest on the book"
    nothing = ctx(bid=None, ask=None, last=None, position=-1)
    assert rm.check(resting(Side.BUY, limit=ASK, entry=False), nothing) == (
        "buy limit: no bid, ask or last trade yet to check that it rests"
    )


async def test_resting_orders_are_checked_through_the_order_manager() -> None:
    """The flag on the command reaches the check: a marketable resting limit (and a bracket
    whose entry limit is marketable) sends nothing; the same limit typed is sent."""
    broker = FakeBroker(ES)
    rm = RiskManager(config(), clock=Clock(), calendar=CME, instrument=ES)
    om = flat_order_manager(broker, rm.as_check(lambda _: ctx()))
    at_ask = ES.to_price(ASK)
    with pytest.raises(Refused, match=r"buy limit 5000\.00 is at or above the ask 5000\.00"):
        await om.place(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=at_ask, resting=True), "c1")
    with pytest.raises(Refused, match=r"buy limit 5000\.00 is at or above the ask"):
        await om.place_bracket(
            PlaceBracket(Side.BUY, 1, stop_ticks=8, entry_limit=at_ask, resting=True), "c2", ASK
        )
    assert broker.placed == []
    await om.place(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit=at_ask), "c3")
    assert len(broker.placed) == 1


# ---- pre-trade checks: connection, data, session break ---------------------------------------


@pytest.mark.parametrize(
    "state",
    [s for s in ConnectionState if s is not ConnectionState.OK],
)
def test_entries_need_a_live_connection(state: ConnectionState) -> None:
    rm, _, _ = manager()
    assert rm.check(intent(Side.BUY), ctx(connection=state)) == (
        f"no new entries while the connection is {state}"
    )
    assert rm.check(intent(Side.SELL, entry=False), ctx(connection=state, position=1)) is None


def test_entries_need_fresh_data() -> None:
    rm, _, _ = manager()
    stale = ctx(stale=("quotes", "depth"))
    assert rm.check(intent(Side.BUY), stale) == (
        "no new entries while market data is stale (quotes, depth)"
    )
    assert rm.check(intent(Side.SELL, entry=False), ctx(stale=("quotes",), position=1)) is None


def test_no_entries_within_n_minutes_of_the_daily_break() -> None:
    rm, _, _ = manager(no_entry_before_break_min=5)
    exactly_5_min = ct(2026, 11, 17, 15, 55)
    assert rm.check(intent(Side.BUY), ctx(exactly_5_min)) is None
    one_second_later = exactly_5_min + NS
    assert rm.check(intent(Side.BUY), ctx(one_second_later)) == (
        "no new entries within 5 min of the session break at Tue 16:00 CST (4 min 59 s left)"
    )
    assert rm.check(intent(Side.BUY), ctx(exactly_5_min + 1)) is not None  # 1 ns later
    assert (
        rm.check(intent(Side.SELL, entry=False), ctx(ct(2026, 11, 17, 15, 59), position=1)) is None
    )


def test_no_entries_before_the_weekend_close_and_zero_disables() -> None:
    rm, _, _ = manager(no_entry_before_break_min=10)
    fri = ct(2026, 11, 20, 15, 50)
    assert rm.check(intent(Side.BUY), ctx(fri)) is None
    assert "break at Fri 16:00" in (rm.check(intent(Side.BUY), ctx(fri + NS)) or "")
    off, _, _ = manager(no_entry_before_break_min=0)
    assert off.check(intent(Side.BUY), ctx(ct(2026, 11, 17, 15, 59, 59))) is None


# ---- pre-trade checks: order rate and efficiency ---------------------------------------------


def test_rate_limit_over_a_sliding_second() -> None:
    rm, _, _ = manager(max_orders_per_s=10)
    t0 = TUE_10
    for i in range(9):
        rm.record_send(t0 + i * 100_000_000)  # 9 sends over 0.8 s
    assert rm.check(intent(Side.BUY), ctx(t0 + 900_000_000)) is None  # the 10th may go
    rm.record_send(t0 + 900_000_000)
    assert rm.orders_in_last_second(t0 + 950_000_000) == 10
    assert rm.check(intent(Side.BUY), ctx(t0 + 950_000_000)) == (
        "order rate limit: 10 orders sent in the last second (at most 10/s); try again in a moment"
    )
    # exits count too: the limit protects IB's message rate
    assert rm.check(intent(Side.SELL, entry=False), ctx(t0 + 950_000_000, position=1)) is not None
    # the first send leaves the window exactly one second after it was made
    assert rm.check(intent(Side.BUY), ctx(t0 + NS - 1)) is not None
    assert rm.check(intent(Side.BUY), ctx(t0 + NS)) is None
    assert rm.orders_in_last_second(t0 + NS) == 9


def test_rate_limit_with_a_fractional_maximum() -> None:
    rm, _, _ = manager(max_orders_per_s=2.5)
    rm.record_send(TUE_10)
    rm.record_send(TUE_10)
    assert "at most 2.5/s" in (rm.check(intent(Side.BUY), ctx(TUE_10)) or "")


def test_order_efficiency_ratio() -> None:
    rm, _, _ = manager(max_orders_per_s=45)
    assert rm.efficiency_ratio == 0 and not rm.efficiency_warning
    for _ in range(20):
        rm.record_send(TUE_10)
    assert rm.efficiency_ratio == 20 and not rm.efficiency_warning  # no fill yet: 20 actions
    rm.record_send(TUE_10)
    assert rm.efficiency_warning  # 21 actions, no execution
    rm.record_execution(TUE_10)
    assert rm.efficiency_ratio == 21 and rm.efficiency_warning
    for _ in range(19):
        rm.record_send(TUE_10)
    rm.record_execution(TUE_10)
    assert (rm.order_actions, rm.executions) == (40, 2)
    assert rm.efficiency_ratio == 20 and not rm.efficiency_warning
    # a new session starts a new count
    rm.record_send(ct(2026, 11, 17, 17))
    assert (rm.order_actions, rm.executions) == (1, 0)


# ---- the adapter into the order manager ------------------------------------------------------


async def test_as_check_refuses_through_the_order_manager() -> None:
    broker = FakeBroker(ES)
    rm, _, _ = manager()
    om = flat_order_manager(broker, rm.as_check(lambda _: ctx(connection=ConnectionState.DEGRADED)))
    with pytest.raises(Refused, match="no new entries while the connection is DEGRADED"):
        await om.place(PlaceOrder(Side.BUY, 1), "cmd-1")
    assert broker.placed == []


# ---- sizing ----------------------------------------------------------------------------------


def test_sizing_by_hand() -> None:
    rm, _, _ = manager(max_position=100)
    # ES: 8 ticks x 12.50 = 100 per contract; 1% of 100,000 = 1,000 -> 10
    assert rm.size(Decimal(100_000), Decimal(1), 8, ES) == 10
    # 9 ticks = 112.50 per contract -> 8.88 -> 8
    assert rm.size(Decimal(100_000), Decimal(1), 9, ES) == 8
    # CL: 0.01 x 1000 = 10 per tick; 0.5% of 50,000 = 250 over 20 ticks = 200 -> 1
    assert rm.size(Decimal(50_000), 0.5, 20, CL) == 1
    # float arithmetic would floor 48.999... to 48; the exact answer is 49
    assert rm.size(Decimal(87_500), 0.7, 1, ES) == 49
    # the configured percentage by default
    assert rm.size(Decimal(100_000), None, 8, ES) == 10
    capped, _, _ = manager(max_position=2)
    assert capped.size(Decimal(100_000), Decimal(1), 8, ES) == 2


@pytest.mark.parametrize("stop_ticks", [0, -1, -8])
def test_sizing_without_a_positive_stop_distance_is_zero(stop_ticks: int) -> None:
    rm, _, _ = manager(max_position=100)
    assert rm.size(Decimal(100_000), Decimal(1), stop_ticks, ES) == 0


def test_sizing_without_equity_is_zero() -> None:
    rm, _, _ = manager(max_position=100)
    assert rm.size(Decimal(0), Decimal(1), 8, ES) == 0
    assert rm.size(Decimal(-5000), Decimal(1), 8, ES) == 0
    assert rm.size(Decimal(99), Decimal(1), 8, ES) == 0  # 0.99 of 100 needed


@given(
    equity=st.decimals(min_value=0, max_value=10_000_000, places=2),
    pct=st.decimals(min_value="0.01", max_value=100, places=2),
    stop_ticks=st.integers(min_value=1, max_value=2000),
    root=st.sampled_from(sorted(CME_ROOTS)),
    max_position=st.integers(min_value=1, max_value=500),
)
def test_sizing_properties(
    equity: Decimal, pct: Decimal, stop_ticks: int, root: str, max_position: int
) -> None:
    rm = RiskManager(config(max_position=max_position), clock=Clock())
    inst = Instrument.from_spec(root)
    qty = rm.size(equity, pct, stop_ticks, inst)
    per_contract = stop_ticks * inst.tick * inst.multiplier
    budget = equity * pct / 100
    assert 0 <= qty <= max_position
    assert qty * per_contract <= budget  # never risks more than equity x risk%
    if qty < max_position:  # and no more would fit
        assert (qty + 1) * per_contract > budget


# ---- loss limits -----------------------------------------------------------------------------


def test_daily_loss_fires_from_unrealized_loss_alone_at_exactly_the_limit() -> None:
    clock = Clock()
    pf = Portfolio(ES, clock=clock, calendar=CME)
    rm = RiskManager(config(), clock=clock)
    pf.add_fill(Fill("e1", None, ES, Side.BUY, 1, ASK, TUE_10))
    pf.on_mark(ASK - 79)  # -987.50 unrealized, nothing realized, no commission
    p = pf.pnl()
    assert p.realized == 0 and p.daily == Decimal("-987.50")
    events = rm.on_pnl(p)
    assert kinds(events) == [(RiskEventKind.WARNING, "daily_loss")]
    assert rm.state is TradingState.ACTIVE
    pf.on_mark(ASK - 80)  # one tick more: -1,000.00
    events = rm.on_pnl(pf.pnl())
    assert events == [
        RiskEvent(
            RiskEventKind.KILL,
            "daily loss limit: today's P&L -1,000.00 reached the limit of 1,000.00",
            TUE_10,
            "daily_loss",
        )
    ]
    # entries stop at once while the kill switch runs
    assert rm.state is TradingState.REDUCING
    assert rm.transitions[-1].reason.startswith("kill: daily loss limit")
    assert rm.on_pnl(pf.pnl()) == []  # reported once
    pf.on_mark(ASK - 100)  # -1,250: also 83% of the drawdown limit, but killed already
    assert rm.on_pnl(pf.pnl()) == []


def test_daily_loss_counts_commissions() -> None:
    clock = Clock()
    pf = Portfolio(ES, clock=clock, calendar=CME)
    rm = RiskManager(config(), clock=clock)
    pf.add_fill(Fill("e1", None, ES, Side.BUY, 1, ASK, TUE_10))
    pf.on_mark(ASK - 79)
    pf.add_commission("e1", Decimal("12.49"))
    assert pf.pnl().daily == Decimal("-999.99")
    assert all(e.kind is not RiskEventKind.KILL for e in rm.on_pnl(pf.pnl()))
    pf.add_commission("e1", Decimal("12.50"))
    assert kinds(rm.on_pnl(pf.pnl())) == [(RiskEventKind.KILL, "daily_loss")]


def test_warning_once_at_the_fraction() -> None:
    rm, _, _ = manager()
    assert rm.on_pnl(pnl("-799.99")) == []
    warned = rm.on_pnl(pnl(-800))
    assert warned == [
        RiskEvent(
            RiskEventKind.WARNING,
            "daily loss limit: today's P&L -800.00 is 80% of the limit of 1,000.00",
            TUE_10,
            "daily_loss",
        )
    ]
    assert rm.on_pnl(pnl(-850)) == []
    assert rm.on_pnl(pnl(-100)) == []
    assert rm.on_pnl(pnl(-900)) == []  # crossing again in the same session: no repeat
    assert rm.state is TradingState.ACTIVE


def test_a_jump_past_the_limit_kills_without_a_late_warning() -> None:
    rm, _, _ = manager()
    assert kinds(rm.on_pnl(pnl(-1200))) == [(RiskEventKind.KILL, "daily_loss")]
    assert rm.on_pnl(pnl(-900)) == []


def test_drawdown_from_the_session_peak() -> None:
    rm, _, _ = manager(daily_loss_limit=Decimal(5000), max_drawdown=Decimal(1500))
    assert rm.on_pnl(pnl(1000)) == []
    assert rm.peak == 1000
    assert rm.on_pnl(pnl(-199)) == []  # 1,199 below the peak
    assert kinds(rm.on_pnl(pnl(-200))) == [(RiskEventKind.WARNING, "drawdown")]  # 1,200 = 80%
    assert rm.on_pnl(pnl("-499.99")) == []  # 1,499.99
    events = rm.on_pnl(pnl(-500))  # 1,500
    assert [e.reason for e in events] == [
        "drawdown limit: 1,500.00 below the session's peak 1,000.00 reached the limit of 1,500.00"
    ]
    assert events[0].kind is RiskEventKind.KILL and rm.drawdown == 1500
    assert rm.state is TradingState.REDUCING


def test_the_peak_starts_at_zero() -> None:
    rm, _, _ = manager(daily_loss_limit=Decimal(5000), max_drawdown=Decimal(1500))
    assert kinds(rm.on_pnl(pnl(-1500))) == [(RiskEventKind.KILL, "drawdown")]
    assert rm.peak == 0


def test_rearm_is_refused_while_a_limit_hit_this_session_stands() -> None:
    rm, _, _ = manager(rearm_cooldown_s=300)
    rm.on_pnl(pnl(-1000), TUE_10)
    rm.halt("kill switch: flat", TUE_10 + NS)
    later = TUE_10 + 3600 * NS  # cooldown long passed
    expected = r"daily loss limit.*this session; the limits reset at the session open Tue 17:00 CST"
    with pytest.raises(Refused, match=expected):
        rm.rearm("I feel lucky", later)
    # the next session: limits reset, re-arm allowed
    opening = ct(2026, 11, 17, 17)
    assert rm.on_pnl(pnl(0, opening), opening) == []
    rm.rearm("new day", opening)
    assert rm.state is TradingState.ACTIVE


def test_limits_and_peak_reset_at_17_ct() -> None:
    rm, _, _ = manager(daily_loss_limit=Decimal(5000), max_drawdown=Decimal(1500))
    rm.on_pnl(pnl(1000), ct(2026, 11, 17, 10))
    assert kinds(rm.on_pnl(pnl(-250), ct(2026, 11, 17, 15, 59))) == [
        (RiskEventKind.WARNING, "drawdown")
    ]
    # during the break it is still the same session
    assert rm.on_pnl(pnl(-250), ct(2026, 11, 17, 16, 59, 59)) == []
    assert rm.peak == 1000
    # 17:00 CT: a new session, a new peak, warnings armed again
    opening = ct(2026, 11, 17, 17)
    assert rm.on_pnl(pnl(0, opening), opening) == []
    assert rm.peak == 0 and rm.drawdown == 0
    assert kinds(rm.on_pnl(pnl(-1200, opening), opening + NS)) == [
        (RiskEventKind.WARNING, "drawdown")
    ]


def test_friday_to_sunday_reset() -> None:
    rm, _, _ = manager(daily_loss_limit=Decimal(5000), max_drawdown=Decimal(1500))
    thu_open = ct(2026, 11, 19, 17)
    rm.on_pnl(pnl(1200, thu_open), ct(2026, 11, 20, 10))  # Friday morning
    for quiet in (ct(2026, 11, 20, 16, 30), ct(2026, 11, 21, 12), ct(2026, 11, 22, 16, 59, 59)):
        assert rm.on_pnl(pnl(1200, thu_open), quiet) == []
        assert rm.peak == 1200  # Friday's session until Sunday 17:00
    # still Friday's session: a 1,500 drawdown from Friday's peak kills
    assert kinds(rm.on_pnl(pnl(-300, thu_open), ct(2026, 11, 22, 16, 59, 59))) == [
        (RiskEventKind.KILL, "drawdown")
    ]
    sun_open = ct(2026, 11, 22, 17)
    assert rm.on_pnl(pnl(0, sun_open), sun_open) == []
    assert rm.peak == 0
    assert rm.rearm_refusal("new week", sun_open) is None  # the breach was last week's


def test_a_pnl_of_the_previous_session_is_ignored_after_the_open() -> None:
    rm, _, _ = manager()
    opening = ct(2026, 11, 17, 17)
    yesterday = ct(2026, 11, 16, 17)
    assert rm.on_pnl(pnl(-5000, yesterday), opening + NS) == []
    assert rm.peak == 0 and rm.state is TradingState.ACTIVE


# ---- the account-wide guard ------------------------------------------------------------------


def test_account_guard_is_off_by_default() -> None:
    rm, _, _ = manager()
    assert rm.config.account_daily_loss_limit is None
    assert rm.on_account_pnl(Decimal(-1_000_000)) == []


def test_account_guard_halts_every_instance_on_the_account() -> None:
    clock = Clock()
    cfg = config(account_daily_loss_limit=Decimal(3000))
    es = RiskManager(cfg, clock=clock)
    nq = RiskManager(cfg, clock=clock)
    for rm in (es, nq):
        assert rm.on_account_pnl(Decimal("-2399.99")) == []
        assert kinds(rm.on_account_pnl(Decimal(-2400))) == [
            (RiskEventKind.WARNING, "account_daily_loss")
        ]
        events = rm.on_account_pnl(Decimal(-3000))
        assert [e.reason for e in events] == [
            "account daily loss limit: the account's P&L today -3,000.00 reached the limit "
            "of 3,000.00"
        ]
        assert events[0].kind is RiskEventKind.KILL
        assert rm.state is TradingState.REDUCING
        assert rm.on_account_pnl(Decimal(-3100)) == []
    # this instance's own P&L is fine; re-arming is still refused this session
    with pytest.raises(Refused, match="account daily loss limit"):
        es.rearm("my market is fine", TUE_10 + 3600 * NS)


# ---- configuration ---------------------------------------------------------------------------


def test_account_limit_setting(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text("[markets.ES.risk]\naccount_daily_loss_limit = 3000.50\n", encoding="utf-8")
    assert load_settings(path).settings.market("ES").risk.account_daily_loss_limit == Decimal(
        "3000.50"
    )
    path.write_text("[markets.ES.risk]\naccount_daily_loss_limit = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="account_daily_loss_limit = 0"):
        load_settings(path)
