"""``tradeterm doctor`` against the fake gateway with the real ib_async: every check OK with
the gateway up, a fast FAIL with its fix with it down, and each fault the doctor must explain
(market-data permissions, clock skew, a client id in use) told in a trader's words."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from ib_async import IB

from tests.integration.engine_helpers import always_open
from tests.integration.journal_helpers import settings_for
from tests.support.waiting import until
from tradeterm.cli import doctor
from tradeterm.cli.doctor import FAIL, OK, SKIP, WARN, Finding, Machine
from tradeterm.config import Settings
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

StartGateway = Callable[..., Awaitable[FakeGateway]]
GOOD_MACHINE = Machine(
    free_bytes=lambda _path: 50 * 10**9,
    terminal_size=lambda: os.terminal_size((120, 40)),
    environ={"TERM": "xterm-256color", "COLORTERM": "truecolor"},
    which=lambda _name: shutil.which("true"),  # a "tmux" that exists
)


def paper(port: int, tmp_path: Path, **extra: Any) -> Settings:
    return Settings(mode="paper", symbol="ES", connection={"port": port},
                    journal={"dir": tmp_path / "journal"}, **extra)  # fmt: skip


async def check(gw: FakeGateway, tmp_path: Path, timeout_s: float = 5) -> dict[str, Finding]:
    found = await doctor.run(paper(gw.config.port, tmp_path), timeout_s=timeout_s,
                             machine=GOOD_MACHINE)  # fmt: skip
    return {f.name: f for f in found}


async def test_every_check_passes_against_a_healthy_gateway(
    start_gateway: StartGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = await start_gateway(rate=200.0)
    found = await doctor.run(paper(gw.config.port, tmp_path), timeout_s=5, machine=GOOD_MACHINE)
    assert [(f.name, f.level) for f in found if f.level != OK] == []
    by_name = {f.name: f for f in found}
    assert list(by_name) == ["gateway", "client id", "API", "accounts", "clock", "contract",
                             "quotes (L1)", "depth (L2)", "trades", "journal", "terminal",
                             "colours", "tmux"]  # fmt: skip
    assert by_name["client id"].detail == "110 is free"  # ES's screen
    assert "server version 178" in by_name["API"].detail
    assert by_name["accounts"].detail == "DU0000001"
    assert by_name["quotes (L1)"].detail.startswith("bid ")
    assert by_name["depth (L2)"].detail.endswith(" ask levels")
    assert by_name["trades"].detail.startswith("last trade ")
    assert doctor.report(found, "heading") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "all checks passed"
    await until(lambda: not gw.server.sessions, "the doctor's disconnect")


async def _tradeterm(*args: str) -> tuple[int, str, str]:
    """Run the real ``tradeterm`` in a child process (the test's loop keeps serving the fake
    gateway meanwhile)."""
    env = {**os.environ, "COLUMNS": "100", "LINES": "30", "TERM": "xterm-256color"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradeterm.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_the_command_with_the_gateway_up_exits_0(start_gateway: StartGateway) -> None:
    gw = await start_gateway(rate=200.0)
    code, out, err = await _tradeterm("doctor", "--paper", "--port", str(gw.config.port), "ES")
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"tradeterm doctor: ES, paper mode, gateway 127.0.0.1:{gw.config.port}"
    for name in ("gateway", "API", "accounts", "client id", "clock", "quotes (L1)", "trades"):
        assert any(line.startswith("OK") and f" {name} " in line for line in lines), name
    assert code == 0, out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_command_with_the_gateway_down_fails_with_its_fix() -> None:
    port = _closed_port()
    code, out, err = await _tradeterm("doctor", "--paper", "--port", str(port))
    assert code == 1
    assert err == ""  # no traceback, nothing on stderr
    lines = out.splitlines()
    gateway = lines.index(f"FAIL  gateway      nothing is listening at 127.0.0.1:{port} "
                          "(connection refused)")  # fmt: skip
    assert lines[gateway + 1].split()[:2] == ["fix:", "start"]
    assert "SKIP  quotes (L1)  needs the gateway" in lines
    assert lines[-1].startswith("1 FAIL")


@pytest.mark.parametrize(
    ("fault", "name", "level", "words"),
    [
        ("refuse-data:quotes:354", "quotes (L1)", FAIL, "'CME Real-Time (NP, L1)'"),
        ("refuse-data:quotes:10089", "quotes (L1)", FAIL, "not available to the API"),
        ("refuse-data:quotes:10168", "quotes (L1)", FAIL, "delayed data is not enabled"),
        ("refuse-data:depth:354", "depth (L2)", FAIL, "'CME Real-Time (NP, L2)'"),
        ("refuse-data:depth:10092", "depth (L2)", FAIL, "no depth of book"),
        ("refuse-data:depth:309", "depth (L2)", FAIL, "too many depth-of-book"),
        ("refuse-data:trades:10189", "trades", WARN, "RTVolume"),
        ("no-tbt", "trades", WARN, "limit of tick-by-tick streams"),
    ],
)
async def test_a_missing_market_data_permission_is_explained(
    start_gateway: StartGateway, tmp_path: Path, fault: str, name: str, level: str, words: str
) -> None:
    gw = await start_gateway(rate=200.0, faults=fault)
    found = await check(gw, tmp_path)
    code = fault.rsplit(":", 1)[-1] if fault != "no-tbt" else "10190"
    assert found[name].level == level
    assert words in found[name].detail + found[name].fix
    assert f"(IB {code}: " in found[name].detail  # IB's own message is shown too
    others = [f for n, f in found.items() if n != name and n in doctor.FEED_NAMES.values()]
    assert [f.level for f in others] == [OK, OK]


@pytest.mark.parametrize(("offset", "level"), [(30.0, WARN), (-30.0, WARN), (300.0, FAIL)])
async def test_clock_skew_against_the_gateway(
    start_gateway: StartGateway, tmp_path: Path, offset: float, level: str
) -> None:
    gw = await start_gateway(clock=lambda: time.time() + offset)
    found = await check(gw, tmp_path)
    clock = found["clock"]
    assert clock.level == level
    side = "behind" if offset > 0 else "ahead of"
    match = re.match(rf"this machine is (\d+\.\d)s {side} the gateway", clock.detail)
    assert match is not None, clock.detail
    assert abs(float(match[1]) - abs(offset)) <= 1.0  # IB's time is in whole seconds
    assert "timedatectl set-ntp true" in clock.fix


async def test_a_client_id_in_use_is_named_and_the_rest_still_checked(
    start_gateway: StartGateway, tmp_path: Path,
    connect_to: Callable[..., Awaitable[IB]],
) -> None:  # fmt: skip
    gw = await start_gateway(rate=200.0)
    await connect_to(gw, client_id=110)  # ES's screen id, taken by someone else
    found = await check(gw, tmp_path)
    taken = found["client id"]
    assert taken.level == FAIL
    assert "110 is in use by another API connection" in taken.detail
    assert "error 326" in taken.detail
    assert f"checked the rest as {doctor.DOCTOR_CLIENT_ID}" in taken.detail
    assert "--client-id N" in taken.fix
    assert [found[n].level for n in ("API", "accounts", "quotes (L1)", "trades")] == [OK] * 4


async def test_the_client_id_held_by_the_markets_own_running_instance_is_ok(
    start_gateway: StartGateway, tmp_path: Path,
) -> None:  # fmt: skip
    """The normal state of a trading box: ES's instance runs and holds 110. Its control socket
    says so, and the doctor says it instead of failing (the rest checked as its own id)."""
    gw = await start_gateway(rate=200.0, symbols=("ES",))
    instance = settings_for(gw.config.port, tmp_path / "instance", client_id=110)
    async with open_runtime(instance, calendar=always_open()) as rt:
        await rt.engine.start()
        found = await check(gw, tmp_path)
    taken = found["client id"]
    assert (taken.level, taken.detail) == (
        OK, f"110 is tradeterm ES SIM (pid {os.getpid()}), running (checked the rest as "
        f"{doctor.DOCTOR_CLIENT_ID})",
    )  # fmt: skip
    assert [f.name for f in found.values() if f.level == FAIL] == []


async def test_a_gateway_that_never_answers_the_handshake_fails_within_the_timeout(
    tmp_path: Path,
) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the connection, never answers
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        found = await doctor.run(paper(port, tmp_path), timeout_s=0.5, machine=GOOD_MACHINE)
    finally:
        server.close()
    by_name = {f.name: f for f in found}
    assert by_name["gateway"].level == OK
    # IB never said whether the client id is taken: not checked, so never "free"
    assert (by_name["client id"].level, by_name["client id"].detail) == (SKIP, "needs the API")
    assert by_name["API"].level == FAIL
    assert "did not finish within 0.5s" in by_name["API"].detail
    assert "Enable ActiveX and Socket Clients" in by_name["API"].fix
    assert by_name["quotes (L1)"].level == SKIP


async def test_a_connection_closed_during_the_checks_fails_and_skips_what_it_did_not_answer(
    start_gateway: StartGateway, tmp_path: Path
) -> None:
    gw = await start_gateway(faults="stall@0:600")  # no market data: the feeds wait
    doctoring = asyncio.create_task(check(gw, tmp_path, timeout_s=20))
    await until(lambda: gw.server.subscribers("mktData"), "the doctor's market-data request")
    gw.server.drop()  # the gateway closes the connection (a restart, another login)
    found = await asyncio.wait_for(doctoring, 60)
    assert [found[n].level for n in ("API", "accounts", "clock", "contract")] == [OK] * 4
    lost = found["connection"]
    assert (lost.level, lost.detail) == (
        FAIL,
        "the gateway closed the API connection during the market-data check",
    )
    assert "nightly reset" in lost.fix
    # never "sent nothing in 20s: market closed?" for a feed the connection did not last for
    for name in doctor.FEED_NAMES.values():
        assert (found[name].level, found[name].detail) == (SKIP, "needs the connection")
    names = list(found)
    assert names.index("contract") < names.index("connection") < names.index("quotes (L1)")
