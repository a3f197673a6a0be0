"""Client order ids and brackets: tradeterm.domain.ids/bracket."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.instruments import ES
from tradeterm.domain import (
    ClientOrderId,
    ClientOrderIds,
    DomainError,
    InvalidOrderError,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    make_bracket,
)


def test_ids_are_sequential_and_name_their_instance() -> None:
    ids = ClientOrderIds("es-main", session=0x65A1B2C3)
    assert ids.instance == "es-main"
    assert [ids.next() for _ in range(3)] == [
        "tt.es-main.65a1b2c3.1",
        "tt.es-main.65a1b2c3.2",
        "tt.es-main.65a1b2c3.3",
    ]
    assert ClientOrderId.parse("tt.es-main.65a1b2c3.10") == ClientOrderId("es-main", 0x65A1B2C3, 16)


def test_ids_differ_between_sessions() -> None:
    first, second = ClientOrderIds("es", 1), ClientOrderIds("es", 2)
    assert {first.next() for _ in range(50)}.isdisjoint({second.next() for _ in range(50)})


def test_an_instance_owns_only_its_own_orders() -> None:
    ids = ClientOrderIds("es", 1)
    assert ids.owns(ids.next())
    assert ids.owns("tt.es.ff.3")  # an earlier session of the same instance
    assert not ids.owns("tt.nq.1.1")  # the NQ instance sharing the account
    assert not ids.owns("tt.esx.1.1")
    assert not ids.owns("")  # a manual TWS order has no orderRef
    assert not ids.owns("my own ref")


@pytest.mark.parametrize(
    "ref", ["", "tt", "tt.es.1", "tt.es.1.x", "tt..1.1", "TT.es.1.1", "x.es.1.1"]
)
def test_foreign_refs_do_not_parse(ref: str) -> None:
    assert ClientOrderId.parse(ref) is None


@pytest.mark.parametrize("instance", ["", "a.b", "a b", "x" * 33])
def test_instance_names_are_restricted(instance: str) -> None:
    with pytest.raises(DomainError):
        ClientOrderIds(instance, 1)


def test_session_must_not_be_negative() -> None:
    with pytest.raises(DomainError):
        ClientOrderIds("es", -1)


@given(
    instance=st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True),
    session=st.integers(0, 2**64),
    seq=st.integers(1, 2**32),
)
def test_ids_round_trip(instance: str, session: int, seq: int) -> None:
    oid = ClientOrderId(instance, session, seq)
    assert ClientOrderId.parse(str(oid)) == oid


def test_limit_entry_bracket_links_its_legs() -> None:
    ids = ClientOrderIds("es", 7)
    b = make_bracket(ids, ES, Side.BUY, 2, entry_limit=22100, stop_loss=22092, take_profit=22116)
    assert b.take_profit is not None
    assert b.orders == (b.entry, b.take_profit, b.stop_loss)  # the stop transmits the group
    e, tp, sl = b.orders
    assert (e.order_type, e.side, e.quantity, e.limit, e.tif) == (
        OrderType.LIMIT,
        Side.BUY,
        2,
        22100,
        TimeInForce.DAY,
    )
    assert (tp.order_type, tp.side, tp.limit, tp.quantity) == (OrderType.LIMIT, Side.SELL, 22116, 2)
    assert (sl.order_type, sl.side, sl.stop, sl.quantity) == (OrderType.STOP, Side.SELL, 22092, 2)
    for child in (tp, sl):
        assert child.parent_id == e.client_id
        assert child.oca_group == f"{e.client_id}.oca"
        assert child.tif is TimeInForce.GTC
        assert ids.owns(child.client_id)
    assert e.parent_id is None and e.oca_group is None
    assert len({o.client_id for o in b.orders}) == 3
    assert all(o.status is OrderStatus.NEW for o in b.orders)


def test_market_entry_short_bracket_without_target() -> None:
    ids = ClientOrderIds("es", 7)
    b = make_bracket(ids, ES, Side.SELL, 1, reference=22100, stop_loss=22108)
    assert b.take_profit is None and len(b.orders) == 2
    assert b.entry.order_type is OrderType.MARKET and b.entry.limit is None
    assert (b.stop_loss.side, b.stop_loss.stop) == (Side.BUY, 22108)


def test_stop_entry_short_bracket_has_its_exits_from_the_stop_price() -> None:
    ids = ClientOrderIds("es", 7)
    b = make_bracket(
        ids, ES, Side.SELL, 2, entry_stop=22096, stop_loss=22104, take_profit=22080,
        reference=22100,
    )  # fmt: skip
    assert (b.entry.order_type, b.entry.stop, b.entry.limit) == (OrderType.STOP, 22096, None)
    assert (b.stop_loss.side, b.stop_loss.stop) == (Side.BUY, 22104)
    assert b.take_profit is not None and b.take_profit.limit == 22080
    with pytest.raises(InvalidOrderError, match="on the losing side of 22096"):
        make_bracket(ids, ES, Side.SELL, 1, entry_stop=22096, stop_loss=22096)
    with pytest.raises(InvalidOrderError, match="not both"):
        make_bracket(ids, ES, Side.SELL, 1, entry_limit=22100, entry_stop=22096, stop_loss=22110)


@pytest.mark.parametrize(
    ("side", "stop", "target"),
    [
        (Side.BUY, 22100, None),  # stop at the entry
        (Side.BUY, 22104, None),  # stop above a long entry
        (Side.BUY, 22090, 22100),  # target at the entry
        (Side.BUY, 22090, 22095),  # target below a long entry
        (Side.SELL, 22095, None),  # stop below a short entry
        (Side.SELL, 22110, 22104),  # target above a short entry
    ],
)
def test_exits_on_the_wrong_side_are_refused(side: Side, stop: int, target: int | None) -> None:
    ids = ClientOrderIds("es", 7)
    with pytest.raises(InvalidOrderError):
        make_bracket(ids, ES, side, 1, entry_limit=22100, stop_loss=stop, take_profit=target)


def test_market_entry_needs_a_reference_price() -> None:
    with pytest.raises(InvalidOrderError, match="reference"):
        make_bracket(ClientOrderIds("es", 7), ES, Side.BUY, 1, stop_loss=22090)


def test_invalid_quantity_is_refused() -> None:
    with pytest.raises(InvalidOrderError):
        make_bracket(ClientOrderIds("es", 7), ES, Side.BUY, 0, entry_limit=10, stop_loss=5)
