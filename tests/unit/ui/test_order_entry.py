"""Order entry without a screen: what each trading key sends, or why it sends nothing
(tradeterm/ui/order_entry.py), as tables of cases."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from tests.support.instruments import CL, ES
from tradeterm.config import BracketConfig
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import CancelAll, CancelOrder, Flatten, PlaceBracket, PlaceOrder
from tradeterm.engine.types import TradingState
from tradeterm.ui import order_entry as oe
from tradeterm.ui.order_entry import Desk, Refusal, Send

PX = 24_000  # 6000.00 in ES ticks

READY = Desk(
    instrument=ES, connected=True, confirmed=True, armed=True, trading_state=TradingState.ACTIVE,
    trading_reason="", qty=2, bracket=BracketConfig(), arm_key="a",
)  # fmt: skip


def desk(**changed: Any) -> Desk:
    return dataclasses.replace(READY, **changed)


HALTED = desk(armed=False, trading_state=TradingState.HALTED, trading_reason="daily loss limit")


@pytest.mark.parametrize(
    ("state", "text", "timeout"),
    [
        (desk(connected=False), "flatten: not connected yet", None),
        (desk(connected=False, armed=False, confirmed=False), "flatten: not connected yet", None),
        (desk(confirmed=False), "flatten: type the LIVE account id first", None),
        (desk(armed=False), "flatten: DISARMED (press a to arm)", 2),
        (
            HALTED,
            "flatten: trading is HALTED (daily loss limit); press a to re-arm with a typed reason",
            None,
        ),
    ],
)
def test_a_key_sends_nothing_until_connected_confirmed_and_armed(
    state: Desk, text: str, timeout: float | None
) -> None:
    assert oe.guarded(state, Flatten(), "flatten") == Refusal(text, timeout)
    assert oe.refusal(state, "flatten") == Refusal(text, timeout)


def test_armed_the_command_goes_as_it_is() -> None:
    assert oe.guarded(READY, Flatten(), "flatten") == Send(Flatten(), "flatten")
    assert oe.refusal(READY, "flatten") is None


@pytest.mark.parametrize(
    ("decision", "command", "what"),
    [
        (oe.market(READY, Side.BUY), PlaceOrder(Side.BUY, 2, OrderType.MARKET), "BUY market"),
        (oe.market(READY, Side.SELL), PlaceOrder(Side.SELL, 2, OrderType.MARKET), "SELL market"),
        # join: a buy joins the bid, a sell the ask, as the ladder shows them
        (oe.join(READY, Side.BUY, PX, PX + 1),
         PlaceOrder(Side.BUY, 2, OrderType.LIMIT, limit=Decimal("6000.00"), resting=True),
         "join bid"),
        (oe.join(READY, Side.SELL, PX, PX + 1),
         PlaceOrder(Side.SELL, 2, OrderType.LIMIT, limit=Decimal("6000.25"), resting=True),
         "join ask"),
        # at the cursor the side is the key's, wherever the market is: a buy above the ask
        # goes as a buy (the engine refuses it if it would trade at once)
        (oe.at_cursor(READY, Side.BUY, PX + 5, stop=False),
         PlaceOrder(Side.BUY, 2, OrderType.LIMIT, limit=Decimal("6001.25"), resting=True),
         "buy limit at cursor"),
        (oe.at_cursor(READY, Side.SELL, PX - 5, stop=False),
         PlaceOrder(Side.SELL, 2, OrderType.LIMIT, limit=Decimal("5998.75"), resting=True),
         "sell limit at cursor"),
        (oe.at_cursor(READY, Side.BUY, PX + 3, stop=True),
         PlaceOrder(Side.BUY, 2, OrderType.STOP, stop=Decimal("6000.75"), resting=True),
         "buy stop at cursor"),
        (oe.at_cursor(READY, Side.SELL, PX - 3, stop=True),
         PlaceOrder(Side.SELL, 2, OrderType.STOP, stop=Decimal("5999.25"), resting=True),
         "sell stop at cursor"),
        # prices come from ladder rows: on the tick of the market's own size (CL: 0.01)
        (oe.at_cursor(desk(instrument=CL), Side.BUY, 7_013, stop=False),
         PlaceOrder(Side.BUY, 2, OrderType.LIMIT, limit=Decimal("70.13"), resting=True),
         "buy limit at cursor"),
        (oe.cancel_at_cursor(READY, PX), CancelAll(at_price=PX), "cancel at cursor"),
        (oe.cancel_order(READY, "tt.ES.1.4"), CancelOrder("tt.ES.1.4"), "cancel order"),
    ],
)  # fmt: skip
def test_what_each_key_sends(decision: oe.Decision, command: object, what: str) -> None:
    assert decision == Send(command, what)  # type: ignore[arg-type]


def test_with_brackets_on_entries_go_as_brackets_and_stops_do_not() -> None:
    on = desk(bracket=BracketConfig(enabled=True, stop_ticks=8, target_ticks=16))
    assert oe.market(on, Side.BUY) == Send(
        PlaceBracket(Side.BUY, 2, stop_ticks=8, target_ticks=16), "BUY market"
    )
    assert oe.at_cursor(on, Side.SELL, PX + 2, stop=False) == Send(
        PlaceBracket(Side.SELL, 2, stop_ticks=8, target_ticks=16,
                     entry_limit=Decimal("6000.50"), resting=True),
        "sell limit at cursor",
    )  # fmt: skip
    assert oe.at_cursor(on, Side.BUY, PX + 2, stop=True) == Send(
        PlaceOrder(Side.BUY, 2, OrderType.STOP, stop=Decimal("6000.50"), resting=True),
        "buy stop at cursor",
    )


@pytest.mark.parametrize(
    ("decision", "refusal"),
    [
        # nothing to join: said before anything else
        (oe.join(desk(armed=False), Side.BUY, None, PX), Refusal("no bid/ask to join")),
        (oe.join(READY, Side.SELL, PX, None), Refusal("no bid/ask to join")),
        # before the instrument or the cursor is known the key is silent
        (oe.market(desk(instrument=None, connected=False), Side.BUY), Refusal("")),
        (oe.at_cursor(READY, Side.BUY, None, stop=False), Refusal("")),
        (oe.at_cursor(desk(instrument=None), Side.BUY, PX, stop=True), Refusal("")),
        (oe.cancel_at_cursor(desk(armed=False), None), Refusal("")),
        # another client's order is read-only, armed or not
        (oe.cancel_order(READY, "ib:123"), Refusal("another client's order: read-only here")),
        # unarmed: every entry is refused with the key's action named
        (oe.market(desk(armed=False), Side.SELL),
         Refusal("SELL market: DISARMED (press a to arm)", 2)),
        (oe.join(desk(armed=False), Side.BUY, PX, PX + 1),
         Refusal("join bid: DISARMED (press a to arm)", 2)),
        (oe.at_cursor(desk(armed=False), Side.BUY, PX, stop=True),
         Refusal("buy stop at cursor: DISARMED (press a to arm)", 2)),
        (oe.cancel_at_cursor(HALTED, PX), Refusal(
            "cancel at cursor: trading is HALTED (daily loss limit); press a to re-arm with a "
            "typed reason")),
        (oe.cancel_order(desk(confirmed=False), "tt.ES.1.4"),
         Refusal("cancel order: type the LIVE account id first")),
    ],
)  # fmt: skip
def test_what_each_key_refuses(decision: oe.Decision, refusal: Refusal) -> None:
    assert decision == refusal
