"""IB's message codes as the port's events: the one translation (tradeterm.broker.ib.codes),
table by table. The engine acts on the event's type only, so a code that lands in the wrong
row changes what trading does."""

from __future__ import annotations

import pytest

from tradeterm.broker.ib import codes
from tradeterm.broker.port import (
    CancelRefusal,
    CancelRejected,
    LinkLost,
    LinkRestored,
    ModificationRefused,
    Notice,
    NoticeLevel,
    OrderCancelled,
    OrderNotice,
    OrderRejected,
    RequestDropped,
)

TS = 1_700_000_000_000_000_000
INFO, WARNING = NoticeLevel.INFO, NoticeLevel.WARNING


@pytest.mark.parametrize(
    ("code", "req_id", "kind", "level"),
    [
        # IB's link to the exchange: about no request
        (1100, -1, LinkLost, WARNING),
        (1101, -1, LinkRestored, WARNING),
        (1102, -1, LinkRestored, WARNING),
        # farm and data messages: shown only (the farm state travels as FarmChanged)
        (2103, -1, Notice, INFO),
        (2104, -1, Notice, INFO),
        (2105, -1, Notice, INFO),
        (2158, -1, Notice, INFO),
        (326, -1, Notice, WARNING),  # client id in use
        (0, -1, Notice, WARNING),  # the adapter's own message
        # about an order id
        (105, 7, ModificationRefused, WARNING),
        (110, 7, ModificationRefused, WARNING),
        (321, 7, ModificationRefused, WARNING),
        (329, 7, ModificationRefused, WARNING),
        (399, 7, ModificationRefused, WARNING),
        (404, 7, ModificationRefused, WARNING),
        (434, 7, ModificationRefused, WARNING),
        (10224, 7, ModificationRefused, WARNING),
        (10147, 7, CancelRejected, WARNING),
        (10148, 7, CancelRejected, WARNING),
        (161, 7, CancelRejected, WARNING),
        (100, 7, RequestDropped, WARNING),
        (202, 7, OrderCancelled, INFO),
        (201, 7, OrderRejected, WARNING),
        (203, 7, OrderRejected, WARNING),
        (10190, 7, OrderRejected, WARNING),  # a request of that id (the engine has no order)
        (2109, 7, OrderRejected, INFO),  # IB's warning about an order: its reason, as before
        # an order code without an order id is only shown
        (201, -1, Notice, WARNING),
        (10147, -1, Notice, WARNING),
        (100, 0, Notice, WARNING),
    ],
)
def test_each_code_becomes_its_event(
    code: int, req_id: int, kind: type[Notice], level: NoticeLevel
) -> None:
    event = codes.translate(code, "the text", TS, req_id)
    assert type(event) is kind
    assert event.level is level and event.ts_ns == TS and event.code == code
    assert event.text == (f"IB {code}: the text" if code else "the text")
    if isinstance(event, OrderNotice):
        reason = "" if code == codes.ORDER_CANCELLED else f"the text ({code})"  # IB's reason
        assert event.broker_id == req_id and event.reason == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Order Canceled - reason:", ""),  # IB's answer to a cancel we asked for
        ("Order Canceled - reason:day order expired", "day order expired"),
        ("Error 202, reqId 15: Order Canceled - reason: OCA group", "OCA group"),  # ib_async's
    ],
)
def test_a_cancel_carries_ibs_reason_alone(text: str, reason: str) -> None:
    assert codes.cancel_reason(text) == reason
    event = codes.translate(codes.ORDER_CANCELLED, text, TS, 7)
    assert isinstance(event, OrderCancelled) and event.reason == reason


@pytest.mark.parametrize(
    ("code", "refusal"),
    [
        (10147, CancelRefusal.NOT_FOUND),
        (10148, CancelRefusal.ALREADY_DONE),
        (161, CancelRefusal.ALREADY_DONE),
    ],
)
def test_a_refused_cancel_says_whether_ib_has_the_order(code: int, refusal: CancelRefusal) -> None:
    event = codes.translate(code, "cannot cancel", TS, 47)
    assert isinstance(event, CancelRejected) and event.kind is refusal


@pytest.mark.parametrize(("code", "kept"), [(1101, False), (1102, True)])
def test_a_restored_link_says_whether_the_data_was_kept(code: int, kept: bool) -> None:
    event = codes.translate(code, "restored", TS)
    assert isinstance(event, LinkRestored) and event.data_kept is kept


def test_the_adapters_own_notice_is_shown_as_worded() -> None:
    assert codes.notice(0, "internal error in x", TS) == Notice(WARNING, "internal error in x", TS)
    assert codes.notice(326, "client id 3 is in use", TS) == Notice(
        WARNING, "IB 326: client id 3 is in use", TS, 326
    )


def test_farm_status() -> None:
    broken = codes.farm_status(2103, "Market data farm connection is broken:usfarm")
    assert broken == codes.FarmStatus("market:usfarm", True)
    ok = codes.farm_status(2104, "Market data farm connection is OK:usfarm")
    assert ok == codes.FarmStatus("market:usfarm", False)
    assert codes.farm_status(2106, "HMDS data farm connection is OK") == codes.FarmStatus(
        "hmds:", False
    )
    assert codes.farm_status(1100, "x") is None
    assert codes.market_farms(["market:usfarm", "hmds:ushmds", "market:"]) == ["usfarm", "unnamed"]
