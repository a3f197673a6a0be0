"""``tradeterm status`` and ``tradeterm kill`` against real ``tradeterm console`` processes
trading at the fake gateway: status lists both, ``kill --all`` leaves both flat (checked at the
gateway) and HALTED, and with one of them cut off from its gateway ``kill --all`` says which
one is disconnected, never calls it flat, and exits 1. (Dates do not matter here: the gateway's
catalog day is fixed, ``TODAY``, and nothing asserted depends on the session.)"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.engine_helpers import TODAY, always_open, working_at_gateway
from tests.integration.journal_helpers import query, settings_for
from tests.support.waiting import until
from tradeterm.runtime import ModeError, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration
GUARD_S = 60.0  # only reached when something hangs


class Console:
    """A ``tradeterm console`` process trading ``symbol`` at ``gateway``, its output kept."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.out = ""
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            self.out += line.decode()

    async def wait_for(self, text: str) -> None:
        async def seen() -> None:
            while text not in self.out:
                if self.proc.returncode is not None:
                    break
                await asyncio.sleep(0.05)

        await asyncio.wait_for(seen(), GUARD_S)
        assert text in self.out, f"no {text!r} from the console; it said:\n{self.out}"

    async def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


async def start_console(started: list[Console], gateway: FakeGateway, symbol: str,
                        env: dict[str, str] | None = None) -> Console:  # fmt: skip
    """A ``tradeterm console`` of ``symbol`` at ``gateway`` once reconciled, added to
    ``started`` (to be stopped); ``env``: its environment, else this process's."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeterm.cli", "console", symbol, "--sim",
        "--port", str(gateway.config.port), env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    started.append(console := Console(proc))
    await console.wait_for("RECONCILED (start)")
    return console


@pytest.fixture
async def console() -> AsyncIterator[Callable[[FakeGateway, str], Awaitable[Console]]]:
    started: list[Console] = []
    yield lambda gateway, symbol: start_console(started, gateway, symbol)
    for c in started:
        await c.stop()


async def tradeterm(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """A ``tradeterm`` command's exit status, stdout and stderr (``env``: its environment)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeterm.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), GUARD_S)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def position(gateway: FakeGateway, symbol: str) -> int:
    con_id = gateway.market.feed_for_symbol(symbol).con_id
    return gateway.books.account(gateway.config.account).position(con_id).qty


async def bought(console: Console) -> None:
    await console.type("buy 1")
    await console.wait_for("FILL BUY 1")


async def test_status_lists_both_and_kill_all_leaves_both_flat_and_halted(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
    console: Callable[[FakeGateway, str], Awaitable[Console]],
) -> None:
    gw = await start_gateway(rate=0.0, today=TODAY, symbols=("ES", "NQ"))
    es, nq = await console(gw, "ES"), await console(gw, "NQ")
    await bought(es)
    await bought(nq)
    await es.type("buy 1 limit 4000")  # a working order, far below the market
    await until(lambda: len(working_at_gateway(gw)) == 1, "ES's limit order working at IB")
    assert (position(gw, "ES"), position(gw, "NQ"), len(working_at_gateway(gw))) == (1, 1, 1)

    code, out, err = await tradeterm("status")
    assert (code, err) == (0, ""), out
    rows = out.splitlines()
    assert rows[0].split()[:3] == ["MKT", "MODE", "CONNECTION"]
    assert all(len(row) <= 80 for row in rows), out
    by_market = {row.split()[0]: row.split() for row in rows[1:] if not row.startswith(" ")}
    assert by_market["ES"][:6] == [
        "ES",
        "SIM",
        "connected",
        by_market["ES"][3],
        by_market["ES"][4],
        "ACTIVE",
    ]
    assert by_market["ES"][6:8] == ["+1", "1"] and by_market["NQ"][6:8] == ["+1", "0"]

    code, out, err = await tradeterm("kill", "--all", "--reason", "test")
    assert (code, err) == (0, ""), out
    assert "ES SIM: flat and HALTED (flat at IB, no working orders)" in out
    assert "NQ SIM: flat and HALTED (flat at IB, no working orders)" in out
    assert out.splitlines()[-1] == "2 of 2 flat and HALTED"
    # at the gateway itself: flat, nothing working
    assert (position(gw, "ES"), position(gw, "NQ"), working_at_gateway(gw)) == (0, 0, [])

    code, out, _ = await tradeterm("status", "--json")
    states = {s["market"]: (s["trading_state"], s["position"], s["working_orders"])
              for s in json.loads(out)}  # fmt: skip
    assert code == 0 and states == {"ES": ("HALTED", 0, 0), "NQ": ("HALTED", 0, 0)}


async def test_kill_all_says_which_instance_is_disconnected_and_never_calls_it_flat(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
    console: Callable[[FakeGateway, str], Awaitable[Console]],
) -> None:
    gw_es = await start_gateway(rate=0.0, today=TODAY, symbols=("ES",))
    gw_nq = await start_gateway(rate=0.0, today=TODAY, symbols=("NQ",))
    es, nq = await console(gw_es, "ES"), await console(gw_nq, "NQ")
    await bought(es)
    await bought(nq)
    await gw_nq.stop()  # NQ's gateway is gone: its instance is cut off from IB
    await until(lambda: "CONNECTION RECONNECTING" in nq.out or "CONNECTION DISCONNECTED" in nq.out,
                "NQ disconnected", GUARD_S)  # fmt: skip

    # a kill switch waiting for a lost connection is said at once: never the whole timeout
    code, out, err = await tradeterm("kill", "--all", "--reason", "test", "--timeout", "600")
    assert (code, err) == (1, ""), out
    lines = out.splitlines()
    assert "ES SIM: flat and HALTED (flat at IB, no working orders)" in lines
    (nq_line,) = [line for line in lines if line.startswith("NQ SIM: ")]
    assert nq_line.startswith("NQ SIM: NOT CONFIRMED FLAT; disconnected from IB (")
    assert "the kill switch waits and runs first thing on reconnection" in nq_line
    assert "Check that" not in nq_line  # the connection hint is not repeated per instance
    assert "position +1 as booked" in nq_line and "trading REDUCING" in nq_line
    assert lines[-1] == "1 of 2 flat and HALTED; disconnected from IB: NQ SIM"
    assert position(gw_es, "ES") == 0 and working_at_gateway(gw_es) == []


async def test_kill_of_a_market_not_running_is_one_line_and_fails(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
    console: Callable[[FakeGateway, str], Awaitable[Console]],
) -> None:
    code, out, err = await tradeterm("kill", "ES", "--reason", "test")
    assert (code, out, err) == (
        1,
        "",
        "tradeterm: no tradeterm instance is running: nothing to kill\n",
    )
    code, out, err = await tradeterm("status")
    assert (code, out, err) == (0, "no tradeterm instance is running\n", "")
    gw = await start_gateway(rate=0.0, today=TODAY, symbols=("ES",))
    await console(gw, "ES")
    code, out, err = await tradeterm("kill", "CL", "--reason", "test")
    assert (code, out) == (1, "")
    assert err == "tradeterm: no instance of CL is running (running: ES SIM)\n"
    code, _, err = await tradeterm(
        "console", "ES", "--sim", "--port", str(gw.config.port), "--for", "5"
    )
    assert code == 1 and err.startswith("tradeterm: ES SIM is already running (pid ")


async def test_a_market_trades_through_one_gateway_in_one_instance_whatever_its_mode(
    start_gateway: Callable[..., Awaitable[FakeGateway]],
    console: Callable[[FakeGateway, str], Awaitable[Console]],
) -> None:
    """The trial's two kill switches chasing one position: ES SIM and ES PAPER consoles on one
    gateway (one account) each took the other's fills. The second is refused at start."""
    gw = await start_gateway(rate=0.0, today=TODAY, symbols=("ES", "NQ"))
    es = await console(gw, "ES")
    port = str(gw.config.port)
    code, out, err = await tradeterm(
        "console", "ES", "--paper", "--host", "localhost", "--port", port, "--for", "5"
    )
    assert (code, out) == (1, "")
    assert err == (
        f"tradeterm: ES SIM (pid {es.proc.pid}) already trades ES through 127.0.0.1:{port}: "
        "one instance per market per gateway\n"
    )
    assert [s.client_id for s in gw.server.sessions] == [115]  # it never connected
    code, _, err = await tradeterm("status", "--json")
    assert code == 0 and err == ""
    await console(gw, "NQ")  # another market at the same gateway starts


async def test_a_market_trades_in_one_instance_per_ib_account_whatever_the_gateway(
    start_gateway: Callable[..., Awaitable[FakeGateway]], tmp_path: Path
) -> None:
    """Two gateway addresses logged into one account (here: two gateways that both say
    DU0000001): the second instance of ES learns the account on connecting and is refused
    before anything of it is applied or sent."""
    first = await start_gateway(rate=0.0, symbols=("ES",))
    second = await start_gateway(rate=0.0, symbols=("ES",))
    sim = settings_for(first.config.port, tmp_path)
    paper = settings_for(second.config.port, tmp_path).model_copy(update={"mode": "paper"})
    async with open_runtime(sim, calendar=always_open()) as rt:
        await rt.engine.start()
        async with open_runtime(paper, calendar=always_open()) as other:
            with pytest.raises(ModeError) as refused:
                await other.engine.start()
            assert str(refused.value) == (
                f"ES SIM (pid {os.getpid()}) already trades ES in IB account DU0000001: "
                "one instance per market per IB account"
            )
        # nothing of DU0000001 was written beside the PAPER journal's state
        assert query(tmp_path, "SELECT account FROM sessions", mode="paper") == [(None,)]
    async with open_runtime(paper, calendar=always_open()) as rt:  # the first has stopped
        await rt.engine.start()
        assert rt.engine.connected
