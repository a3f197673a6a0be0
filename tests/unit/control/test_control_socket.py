"""The control socket of an instance (``tradeterm/control``): owner-only directory and socket,
other users refused, one instance per market and mode, a dead instance's socket cleaned, and
the status it answers (on the test clock)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.clock import TUESDAY_10 as T0
from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker
from tests.support.instruments import ES
from tests.support.waiting import until
from tradeterm.broker.port import ConnectionState
from tradeterm.cli.status import table
from tradeterm.control.client import Instance, Unreachable, ask, instances
from tradeterm.control.endpoint import ControlServer
from tradeterm.control.place import (
    Claim,
    ControlError,
    InstanceRunning,
    MarketTaken,
    control_dir,
    gateway_key,
)
from tradeterm.domain import ContractMonth, Fill, Instrument, Side
from tradeterm.engine.calendar import CME, NS
from tradeterm.engine.engine import Engine


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
async def engine() -> AsyncIterator[Engine]:
    engine = Engine(FakeBroker(ES), "ES", clock=Clock(), calendar=CME, timer_s=3600)
    yield engine
    await engine.stop()


@pytest.fixture
async def server(engine: Engine) -> AsyncIterator[ControlServer]:
    control = ControlServer("ES", "sim")
    control.claim_instance()
    await control.serve(engine)
    yield control
    await control.close()


def instance(control: ControlServer) -> Instance:
    assert control.claim is not None
    return Instance(control.claim.name, control.claim.socket_path)


async def test_the_directory_is_0700_and_the_socket_0600_and_gone_after(
    server: ControlServer,
) -> None:
    assert server.claim is not None
    path = server.claim.socket_path
    assert path.parent == Path(os.environ["XDG_RUNTIME_DIR"]) / "tradeterm"
    assert mode_of(path.parent) == 0o700
    assert stat.S_ISSOCK(path.lstat().st_mode) and mode_of(path) == 0o600
    assert path.name == "ES.sim.sock"
    await server.close()
    assert not path.exists()


def test_a_directory_of_ours_with_a_loose_mode_is_made_owner_only() -> None:
    where = Path(os.environ["XDG_RUNTIME_DIR"]) / "tradeterm"
    where.mkdir(mode=0o755)
    where.chmod(0o755)
    assert control_dir() == where
    assert mode_of(where) == 0o700


def test_a_directory_of_another_user_is_never_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fallback's place
    monkeypatch.setattr(os, "getuid", lambda: os.geteuid() + 4242)  # we are someone else
    with pytest.raises(ControlError, match="belongs to another user"):
        control_dir()


@pytest.fixture
def short_tmp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The temporary directory the fallback goes to: short enough for a socket's path."""
    short = Path(tempfile.mkdtemp(prefix="tt-"))
    monkeypatch.setattr(tempfile, "tempdir", str(short))
    yield short
    shutil.rmtree(short)


def test_a_symlinked_or_too_long_runtime_dir_falls_back_to_a_private_tmp_dir(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    short = short_tmp
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    elsewhere = runtime / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (runtime / "tradeterm").symlink_to(elsewhere)
    fallback = short / f"tradeterm-{os.getuid()}"
    assert control_dir() == fallback
    assert mode_of(fallback) == 0o700
    (runtime / "tradeterm").unlink()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime / ("x" * 100)))
    assert control_dir() == fallback


async def test_a_peer_of_another_user_is_refused_and_nothing_is_done(engine: Engine) -> None:
    control = ControlServer("ES", "sim", peer_uid=lambda sock: os.getuid() + 1)
    control.claim_instance()
    await control.serve(engine)
    try:
        for request in ({"op": "status"}, {"op": "kill", "reason": "x"}):
            answer = await ask(instance(control), request, 5)
            assert answer == {
                "ok": False,
                "error": "refused: this instance answers only its own user",
            }
        assert engine.kill_switch.runs == 0
    finally:
        await control.close()


async def test_a_peer_of_this_user_gets_the_status_on_the_test_clock(
    engine: Engine, server: ControlServer
) -> None:
    answer = await ask(instance(server), {"op": "status"}, 5)
    assert not isinstance(answer, Unreachable) and answer["ok"], answer
    status = answer["status"]
    assert (status["market"], status["mode"], status["pid"]) == ("ES", "sim", os.getpid())
    # not started: nothing known is made up
    assert status["connected"] is False and status["connection_for_s"] == 0
    assert (status["position"], status["pnl_today"], status["strategy"]) == (None, None, None)
    await engine.start()
    assert isinstance(engine.clock, Clock)
    engine.clock.advance(90)
    answer = await ask(instance(server), {"op": "status"}, 5)
    assert not isinstance(answer, Unreachable)
    status = answer["status"]
    assert status["connected"] is True and status["connection_for_s"] == 90.0
    assert (status["position"], status["working_orders"], status["pnl_today"]) == (0, 0, "0.00")
    assert status["trading_state"] == "ACTIVE"


async def test_a_bad_request_gets_one_error_line(server: ControlServer) -> None:
    answer = await ask(instance(server), {"op": "launch"}, 5)
    assert answer == {"ok": False, "error": "unknown request 'launch'"}
    answer = await ask(instance(server), {"op": "kill", "reason": " "}, 5)
    assert answer == {"ok": False, "error": "a kill needs a reason"}


async def test_a_second_instance_of_the_market_and_mode_is_refused_naming_the_first(
    server: ControlServer,
) -> None:
    second = ControlServer("es", "sim")
    with pytest.raises(InstanceRunning, match=rf"^ES SIM is already running \(pid {os.getpid()}\)"):
        second.claim_instance()
    other_mode = ControlServer("ES", "paper")
    other_mode.claim_instance()  # another mode is another instance
    await other_mode.close()
    assert server.claim is not None and server.claim.socket_path.exists()  # untouched


DEAD_INSTANCE = """
import socket, sys, time
from pathlib import Path
from tradeterm.control.place import Claim
claim = Claim(Path(sys.argv[1]), "NQ.sim")
claim.acquire()
socket.socket(socket.AF_UNIX).bind(str(claim.socket_path))
print("ready", flush=True)
time.sleep(120)
"""


def dead_instance() -> Path:
    """The socket an NQ instance left when it was killed (SIGKILL: nothing cleaned)."""
    where = control_dir()
    proc = subprocess.Popen([sys.executable, "-c", DEAD_INSTANCE, str(where)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    proc.kill()
    proc.wait(30)
    path = where / "NQ.sim.sock"
    assert stat.S_ISSOCK(path.lstat().st_mode)
    return path


def test_status_removes_a_dead_instance_socket() -> None:
    path = dead_instance()
    assert instances() == []
    assert not path.exists()


async def test_a_new_instance_takes_over_a_dead_one_socket(engine: Engine) -> None:
    path = dead_instance()
    control = ControlServer("NQ", "sim")
    control.claim_instance()  # not refused: nobody holds the lock
    assert not path.exists()  # the stale socket went at once
    await control.serve(engine)
    try:
        answer = await ask(instance(control), {"op": "status"}, 5)
        assert not isinstance(answer, Unreachable) and answer["ok"]
    finally:
        await control.close()


async def test_a_live_instance_socket_is_never_removed(server: ControlServer) -> None:
    assert [i.name for i in instances()] == ["ES.sim"]
    assert server.claim is not None and server.claim.socket_path.exists()


def test_a_claim_holds_until_released() -> None:
    where = control_dir()
    first = Claim(where, "CL.live")
    first.acquire()
    with pytest.raises(InstanceRunning):
        Claim(where, "CL.live").acquire()
    first.release()
    again = Claim(where, "CL.live")
    again.acquire()
    again.release()


def test_one_instance_per_market_per_gateway_whatever_its_mode_or_host_spelling() -> None:
    sim = ControlServer("ES", "sim")
    sim.claim_instance(("localhost", 4002))
    try:
        paper = ControlServer("es", "paper")
        with pytest.raises(MarketTaken) as refused:
            paper.claim_instance(("127.0.0.1", 4002))
        assert str(refused.value) == (
            f"ES SIM (pid {os.getpid()}) already trades ES through 127.0.0.1:4002: "
            "one instance per market per gateway"
        )
        assert paper.claim is None  # refused whole: its market and mode are free again
        elsewhere = ControlServer("ES", "paper")
        elsewhere.claim_instance(("127.0.0.1", 4003))  # another gateway
        elsewhere.release()
        nq = ControlServer("NQ", "paper")
        nq.claim_instance(("::1", 4002))  # another market at the same gateway
        nq.release()
    finally:
        sim.release()
    again = ControlServer("ES", "paper")
    again.claim_instance(("127.0.0.1", 4002))  # the first one has stopped
    again.release()


def test_one_instance_per_market_per_ib_account() -> None:
    sim = ControlServer("ES", "sim")
    sim.claim_instance(("127.0.0.1", 4002))
    sim.claim_account("DU0000001")
    sim.claim_account("DU0000001")  # connected again: its own, not another instance's
    paper = ControlServer("ES", "paper")
    paper.claim_instance(("10.0.0.5", 4002))  # the same gateway by another address
    try:
        with pytest.raises(
            MarketTaken,
            match=rf"^ES SIM \(pid {os.getpid()}\) already trades ES "
            r"in IB account DU0000001: one instance per market per IB account$",
        ):
            paper.claim_account("DU0000001")
        paper.claim_account("DU7654321")  # another account
    finally:
        paper.release()
        sim.release()


def test_the_gateway_is_named_one_way_per_host() -> None:
    assert {gateway_key(h, 4002) for h in ("localhost", "127.0.0.1", "::1", "LOCALHOST", "")} == {
        "127.0.0.1:4002"
    }
    assert gateway_key("GW.example.com", 4001) == "gw.example.com:4001"
    assert gateway_key("fe80:0:0::1", 7497) == "[fe80::1]:7497"


async def test_money_is_said_to_the_cent_whatever_the_tick() -> None:
    """GC ticks in 0.1 as IB gives it (minTick 0.1, so 10.0 a tick): its P&L was said like a
    price (``-64.5``, ``-60.0``)."""
    spec = Instrument.from_spec("GC", ContractMonth(2026, 12), con_id=7)
    gc = dataclasses.replace(spec, tick=Decimal("0.1"))
    buy = Fill("e1", "tt.GC.1.1", gc, Side.BUY, 1, 26_000, T0, perm_id=7)
    sell = Fill("e2", "tt.GC.1.2", gc, Side.SELL, 1, 26_000 - 6, T0 + 60 * NS, perm_id=8)

    async def journaled(instrument: Instrument) -> list[tuple[Fill, Decimal | None]]:
        return [(buy, None), (sell, None)]  # the commissions not known yet

    engine = Engine(FakeBroker(gc), "GC", clock=Clock(T0 + 3600 * NS), calendar=CME,
                    timer_s=3600, journaled_fills=journaled)  # fmt: skip
    control = ControlServer("GC", "sim")
    control.claim_instance()
    await control.serve(engine)
    try:
        await engine.start()
        answer = await ask(instance(control), {"op": "status"}, 5)
        assert not isinstance(answer, Unreachable) and answer["ok"], answer
        assert answer["status"]["pnl_today"] == "-60.00"  # 6 ticks of 10.0
        assert table([answer])[1].split()[8] == "-60.00"  # P&L TODAY
    finally:
        await control.close()
        await engine.stop()


async def test_a_kill_waiting_for_a_lost_connection_is_answered_at_once_never_flat(
    engine: Engine, server: ControlServer
) -> None:
    """Nothing can change before IB is back: the answer does not hold ``tradeterm kill`` for
    the whole timeout (600 s asked here; the answer is awaited 20 s at most)."""
    await engine.start()
    broker = engine.broker
    assert isinstance(broker, FakeBroker)
    broker.set_state(ConnectionState.RECONNECTING, "connection to 127.0.0.1:4002 lost")
    await until(lambda: not engine.connected, "the engine sees the connection lost")
    for press in ("first", "again"):  # pressed again: the run already waiting
        answer = await ask(instance(server), {"op": "kill", "reason": press, "timeout_s": 600}, 20)
        assert not isinstance(answer, Unreachable), answer
        kill = answer["kill"]
        assert (kill["flat"], kill["finished"], kill["connected"]) == (False, False, False)
        assert kill["progress"]["step"] == "waiting"
        assert answer["status"]["trading_state"] == "REDUCING"
