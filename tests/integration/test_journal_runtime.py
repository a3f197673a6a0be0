"""The journal inside a running instance (open_runtime): every order's intent is in the file
before the gateway sees the order, a journal that cannot write halts trading and refuses the
order, a HALTED state survives a restart, and a journal that cannot be opened stops the
instance with one clear line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.integration.desk_helpers import session_gone
from tests.integration.journal_helpers import query, settings_for
from tests.support.waiting import until
from tradeterm import console
from tradeterm.domain import Side
from tradeterm.engine.commands import PlaceBracket, PlaceOrder
from tradeterm.paths import journal_file
from tradeterm.runtime import ModeError, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


def refs_at_gateway(gateway: FakeGateway) -> list[str]:
    return [o.req.order_ref for o in gateway.oms.orders.values()]


async def test_every_order_at_the_gateway_has_its_intent_and_fills_are_journaled(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path)
    seen_before_send: list[int] = []
    async with open_runtime(settings) as rt:
        hook = rt.engine.before_send
        assert hook is not None

        async def spy(order, command_id, role):
            await hook(order, command_id, role)
            # the gateway has not seen the order yet, and the intent is already in the file
            assert order.client_id not in refs_at_gateway(still)
            found = query(tmp_path, "SELECT count(*) FROM order_intents WHERE order_id = ?",
                          (order.client_id,))  # fmt: skip
            seen_before_send.append(found[0][0])

        rt.engine.before_send = spy
        await rt.engine.start()
        assert (await rt.engine.submit(PlaceOrder(Side.BUY, 1))).ok
        # a buy bracket: a sell one would meet the long 1 and leave its exits on a flat book
        placed = await rt.engine.submit(PlaceBracket(Side.BUY, 1, stop_ticks=8, target_ticks=8))
        assert placed.ok, placed.reason
        await until(lambda: len(query(tmp_path, "SELECT * FROM fills")) == 2, "two fills")
    assert seen_before_send == [1, 1, 1, 1]
    refs = refs_at_gateway(still)
    intents = {r[0] for r in query(tmp_path, "SELECT order_id FROM order_intents")}
    assert set(refs) == intents and len(refs) == 4
    assert query(tmp_path, "SELECT count(*) FROM commissions") == [(2,)]
    assert query(tmp_path, "SELECT stop_reason FROM sessions") == [("stopped",)]


async def test_a_journal_that_cannot_write_halts_and_the_order_is_not_sent(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        assert rt.journal is not None
        await rt.journal._conn().execute("PRAGMA query_only = ON")  # the file turned read-only
        result = await rt.engine.submit(PlaceOrder(Side.BUY, 1))
        assert not result.ok and "journal" in result.reason
        snap = rt.engine.snapshot()
        assert snap.trading_state == "HALTED" and "read-only" in snap.trading_reason
        assert refs_at_gateway(still) == []
        await rt.journal._conn().execute("PRAGMA query_only = OFF")  # writes again
    # the HALTED transition was kept while the file could not be written, then written
    assert query(tmp_path, "SELECT state FROM risk_events WHERE kind = 'transition'") == [
        ("HALTED",)
    ]


async def test_halted_survives_a_restart(still: FakeGateway, tmp_path: Path) -> None:
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        rt.engine.halt("stopped by the test")
    await session_gone(still, 1)
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        snap = rt.engine.snapshot()
        assert snap.trading_state == "HALTED" and snap.trading_reason == "stopped by the test"
        assert not (await rt.engine.submit(PlaceOrder(Side.BUY, 1))).ok
    assert refs_at_gateway(still) == []


async def test_a_journal_that_cannot_open_stops_the_instance_with_one_line(
    still: FakeGateway, tmp_path: Path
) -> None:
    path = journal_file("ES", "sim", tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"not a journal" * 100)
    settings = settings_for(still.config.port, tmp_path)
    with pytest.raises(ModeError, match="not an SQLite database"):
        async with open_runtime(settings):
            pass
    with pytest.raises(console.ConsoleError, match="left untouched"):
        await console.run(settings, seconds=0.1, seed=1, stdin=io.StringIO(""),
                          out=io.StringIO())  # fmt: skip
    assert path.read_bytes() == b"not a journal" * 100
