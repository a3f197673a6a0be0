"""The shared control plane against a real PostgreSQL server and two real ``tradeterm console``
processes trading at the fake gateway: ``status --shared`` lists both, ``kill --all --shared``
leaves both flat (checked at the gateway) and HALTED, and an instance whose link to the
database was cut when the command was written runs it when the link returns. (Dates do not
matter here: the gateway's catalog day is fixed, ``TODAY``; heartbeat ages are the database
server's clock.)"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.integration.engine_helpers import TODAY, working_at_gateway
from tests.integration.test_instance_control import (
    Console,
    bought,
    position,
    start_console,
    tradeterm,
)
from tests.support.postgres import SharedDb
from tests.support.tcp_proxy import Relay
from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration
GUARD_S = 60.0
BEAT_S = "0.5"  # heartbeats and link retries, fast for the test


def plane_env(url: str) -> dict[str, str]:
    return {**os.environ, "TRADETERM_SHARED__URL": url, "TRADETERM_SHARED__HEARTBEAT_S": BEAT_S,
            "TRADETERM_SHARED__RETRY_MIN_S": "0.1"}  # fmt: skip


StartConsole = Callable[[FakeGateway, str, str], Awaitable[Console]]


@pytest.fixture
async def console() -> AsyncIterator[StartConsole]:
    """``await console(gateway, symbol, url)``: a console in the control plane at ``url``."""
    started: list[Console] = []
    yield lambda gateway, symbol, url: start_console(started, gateway, symbol, plane_env(url))
    for c in started:
        await c.stop()


async def cli(url: str, *args: str) -> tuple[int, str, str]:
    """A ``tradeterm`` command with the shared database at ``url``."""
    return await tradeterm(*args, env=plane_env(url))


def live(db: SharedDb) -> dict[str, tuple[str, object]]:
    """The registered live instances: their market and trading state as they last beat."""
    rows = db.query("SELECT name, status FROM tradeterm.heartbeats WHERE stopped_at IS NULL")
    return {str(s["market"]): (str(name), s["trading_state"]) for name, s in rows}


async def test_kill_all_shared_leaves_both_instances_flat_and_halted(
    start_gateway: Callable[..., Awaitable[FakeGateway]], console: StartConsole,
    shared_db: SharedDb,
) -> None:  # fmt: skip
    gw = await start_gateway(rate=0.0, today=TODAY, symbols=("ES", "NQ"))
    url = shared_db.writer_url
    es, nq = await console(gw, "ES", url), await console(gw, "NQ", url)
    await bought(es)
    await bought(nq)
    await es.type("buy 1 limit 4000")  # a working order, far below the market
    await until(lambda: len(working_at_gateway(gw)) == 1, "ES's limit order working at IB")
    await until(lambda: len(live(shared_db)) == 2, "both registered", GUARD_S)

    code, out, err = await cli(url, "status", "--shared")
    assert (code, err) == (0, ""), out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["INSTANCE", "HOST", "MKT", "MODE"]
    rows = {line.split()[2]: line.split() for line in lines[2:] if not line.startswith(" ")}
    assert set(rows) == {"ES", "NQ"}
    assert rows["ES"][3:6] == ["SIM", "connected", "ACTIVE"] and rows["NQ"][6] == "+1"

    code, out, err = await cli(url, "kill", "--all", "--shared", "--reason", "desk stop")
    assert (code, err) == (0, ""), out
    names = {market: name for market, (name, _) in live(shared_db).items()}
    lines = out.splitlines()
    assert lines[0].startswith("kill command 1 written for 2 instance(s)")
    for market in ("ES", "NQ"):
        assert f"{names[market]}: flat and HALTED (flat at IB, no working orders)" in lines, out
    assert lines[-1] == "2 of 2 flat and HALTED"
    assert (position(gw, "ES"), position(gw, "NQ"), working_at_gateway(gw)) == (0, 0, [])
    flat = shared_db.query("SELECT name, flat FROM tradeterm.outcomes WHERE command_id = 1")
    assert sorted(flat) == sorted((name, True) for name in names.values())

    await until(lambda: {s for _, s in live(shared_db).values()} == {"HALTED"},
                "both beat HALTED", GUARD_S)  # fmt: skip
    code, out, _ = await cli(url, "status", "--shared", "--json")
    states = {s["status"]["market"]: (s["status"]["trading_state"], s["status"]["position"],
                                      s["stale"]) for s in json.loads(out)}  # fmt: skip
    assert code == 0 and states == {"ES": ("HALTED", 0, False), "NQ": ("HALTED", 0, False)}

    # each bought 1 and the kill sold it: one round trip each, shipped, reported across both
    await until(lambda: shared_db.query("SELECT count(*) FROM tradeterm.fills") == [(4,)],
                "the four fills shipped", GUARD_S)  # fmt: skip
    code, out, err = await cli(shared_db.admin_url, "report", "--shared", "--format", "json")
    doc = json.loads(out)
    trades = {g: {k: v["trades"] for k, v in doc[f"by_{g}"].items()}
              for g in ("instance", "market", "strategy")}  # fmt: skip
    assert (code, err) == (0, "") and trades == {
        "instance": {names["ES"]: 1, names["NQ"]: 1}, "market": {"ES": 1, "NQ": 1},
        "strategy": {"manual": 2},
    }  # fmt: skip
    assert doc["total"]["trades"] == 2 and doc["open_positions"] == {}


async def test_an_instance_away_from_the_database_runs_the_kill_when_its_link_returns(
    start_gateway: Callable[..., Awaitable[FakeGateway]], console: StartConsole,
    shared_db: SharedDb,
) -> None:  # fmt: skip
    gw = await start_gateway(rate=0.0, today=TODAY, symbols=("ES", "NQ"))
    server = shared_db.server
    relay = Relay("127.0.0.1", server.port)  # NQ reaches the database only through it
    await relay.start()
    try:
        url = shared_db.writer_url
        es = await console(gw, "ES", url)
        nq = await console(gw, "NQ", url.replace(f":{server.port}/", f":{relay.port}/"))
        await bought(es)
        await bought(nq)
        await until(lambda: len(live(shared_db)) == 2, "both registered", GUARD_S)
        nq_name = live(shared_db)["NQ"][0]

        relay.cut()  # NQ's link to the database is down; it trades on
        await nq.type("buy 1")  # a database that is down never stops an order
        await until(lambda: nq.out.count("FILL BUY 1") == 2, "NQ's second fill", GUARD_S)
        code, out, err = await cli(
            url, "kill", "--all", "--shared", "--reason", "desk stop", "--timeout", "3"
        )
        assert (code, err) == (1, ""), out
        lines = out.splitlines()
        assert any(line.endswith(": flat and HALTED (flat at IB, no working orders)")
                   and line.startswith(live(shared_db)["ES"][0]) for line in lines), out  # fmt: skip
        assert lines[-1].startswith(f"1 of 2 flat and HALTED; not answered: {nq_name} (last "
                                    "heartbeat ")  # fmt: skip
        assert position(gw, "ES") == 0 and position(gw, "NQ") == 2  # NQ untouched meanwhile

        relay.restore()  # back: NQ registers again and runs the command written meanwhile
        await until(lambda: shared_db.query(
            "SELECT flat FROM tradeterm.outcomes WHERE command_id = 1 AND name = %s", (nq_name,)
        ) == [(True,)], "NQ's outcome: flat and HALTED", GUARD_S)  # fmt: skip
        assert position(gw, "NQ") == 0 and working_at_gateway(gw) == []
        await until(lambda: live(shared_db)["NQ"][1] == "HALTED", "NQ beats HALTED", GUARD_S)
        code, out, _ = await cli(url, "status", "--shared")
        assert code == 0 and out.count(" HALTED ") == 2, out
    finally:
        await relay.stop()
