"""``tradeterm tmux``: the real command on a private tmux server (``TMUX_TMPDIR`` in a
directory of the test's own, never the user's server), read back with list-windows and
capture-pane: one window per market on one fake gateway, nothing started twice, a stopped
instance's window left showing why, and the session attached or switched to."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
GUARD_S = 90.0  # only reached when something hangs (three instances start on a busy box)
PRICES = re.compile(r"\d+\.\d{2}\s+\d+\s")  # a ladder row: a price and a size beside it


class Server:
    """The private tmux server the command under test finds through ``TMUX_TMPDIR``."""

    def __init__(self, directory: Path) -> None:
        self.socket = directory / f"tmux-{os.getuid()}" / "default"

    def run(self, *args: str) -> str:
        proc = subprocess.run(["tmux", "-S", str(self.socket), *args], capture_output=True,
                              text=True, check=False, timeout=30)  # fmt: skip
        return proc.stdout

    def windows(self, session: str = "tradeterm") -> list[tuple[str, str]]:
        """``(role, window id)`` of each window, in order."""
        out = self.run("list-windows", "-t", f"={session}", "-F", "#{@tradeterm}\t#{window_id}")
        return [tuple(line.split("\t")) for line in out.splitlines()]  # type: ignore[misc]

    def screen(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-t", target)

    def wait_for(self, target: str, predicate: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + GUARD_S
        while time.monotonic() < deadline:
            text = self.screen(target)
            if predicate(text):
                return text
            time.sleep(0.2)
        pytest.fail(f"timed out waiting for {what}; {target} shows:\n{self.screen(target)}")

    def ended(self, target: str, what: str) -> str:
        """The screen once the window's program has ended and tmux says so. Debian's tmux
        (built with libutempter) now and then misses a SIGCHLD (tmux/tmux#311, #4559): the
        pane is dead but its status unknown and the "Pane is dead" line never comes; another
        SIGCHLD makes the server reap it, as ``pkill -CHLD tmux`` would."""

        def said(text: str) -> bool:
            if "Pane is dead" in text:
                return True
            if self.run("display-message", "-p", "-t", target, "#{pane_dead}").strip() == "1":
                os.kill(int(self.run("display-message", "-p", "#{pid}")), signal.SIGCHLD)
            return False

        return self.wait_for(target, said, what)

    def pids(self) -> list[int]:
        out = self.run("list-panes", "-a", "-F", "#{pane_pid}")
        return [int(pid) for pid in out.split()]


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    """A private tmux server (a short directory: a socket path has ~100 characters), its own
    runtime dir, and no ``TMUX`` (which would point the command at the server it runs in).
    Every process it ran is stopped at the end."""
    directory = Path(tempfile.mkdtemp(prefix="tt-tmux-"))
    runtime = directory / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("TMUX_TMPDIR", str(directory))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("TMUX", raising=False)
    tmux = Server(directory)
    try:
        yield tmux
    finally:
        pids = tmux.pids()
        tmux.run("kill-server")  # this socket only: the instances stop as on SIGHUP
        deadline = time.monotonic() + GUARD_S
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(directory, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tradeterm(*argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tradeterm.cli", *argv], capture_output=True,
                          text=True, check=False, timeout=GUARD_S, **kwargs)  # type: ignore[call-overload]  # fmt: skip


def ladder_up(server: Server, market: str) -> str:
    return server.wait_for(
        f"=tradeterm:{market}",
        lambda s: "IB OK" in s and f"SIM  {market}" in s and len(PRICES.findall(s)) >= 5,
        f"{market}'s ladder with prices, connected",
    )


def test_sim_markets_share_one_gateway_and_none_starts_twice(server: Server) -> None:
    done = tradeterm("tmux", "ES", "NQ", "--sim", "--detach")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "session tradeterm: started ES NQ\n"
    windows = server.windows()
    assert [role for role, _ in windows] == ["gateway", "ES", "NQ"]
    port = server.run("show-options", "-w", "-v", "-t", "=tradeterm:gateway", "@tradeterm_port")
    assert re.search(r"listening on 127\.0\.0\.1:" + port.strip(), server.screen("=tradeterm:0"))
    for market in ("ES", "NQ"):
        ladder_up(server, market)
        command = server.run("display-message", "-p", "-t", f"=tradeterm:{market}",
                             "#{pane_start_command}")  # fmt: skip
        assert (
            f"tradeterm.cli {market} --sim --host 127.0.0.1 --port {port.strip()} "
            "--wait-for-gateway" in command
        )
    pids = server.pids()

    again = tradeterm("tmux", "ES", "NQ", "--sim", "--detach")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "session tradeterm: already there ES NQ\n"
    assert server.windows() == windows and server.pids() == pids

    more = tradeterm("tmux", "NQ", "CL", "ES", "--sim", "--detach")
    assert more.returncode == 0, more.stderr
    assert more.stdout == "session tradeterm: started CL; already there NQ ES\n"
    assert server.windows()[:3] == windows
    assert [role for role, _ in server.windows()] == ["gateway", "ES", "NQ", "CL"]
    assert server.pids()[:3] == pids
    ladder_up(server, "CL")  # the same gateway serves a market it was not started with


def test_a_stopped_instance_keeps_its_window_showing_why(server: Server) -> None:
    done = tradeterm(
        "tmux", "ES", "--paper", "--port", "1", "--no-wait", "--detach"
    )  # nothing listens
    assert done.returncode == 0, done.stderr
    shown = server.ended("=tradeterm:ES", "the instance's end")
    assert "Pane is dead (status 1," in shown
    assert "tradeterm: cannot start ES in PAPER mode" in shown  # its first line, still in view
    assert "Traceback" not in shown

    again = tradeterm("tmux", "ES", "--paper", "--port", "1", "--no-wait", "--detach")
    assert again.returncode == 0
    assert [role for role, _ in server.windows()] == ["ES"]  # not started a second time
    assert again.stderr == (
        "tradeterm: ES has stopped (exit status 1), its window shows why; "
        "`tmux respawn-window -t tradeterm:ES` starts it again\n"
    )


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (("ES",), "not in a terminal: nothing to attach to (use --detach to create the "
                  "session in the background)"),
        (("ES", "NQ", "--client-id", "7", "--detach"), "client id 7 is set for every market: "
         "IB would close all but one (326); leave it unset, each market takes its own"),
        (("ES", "XX", "--detach"), "invalid configuration:"),
        (("ES", "--session", "a:b", "--detach"), "--session: letters, digits, '-' and '_' only"),
    ],
    ids=["no-terminal", "one-client-id", "unknown-market", "session-name"],
)  # fmt: skip
def test_bad_input_is_one_line_and_opens_nothing(
    server: Server, argv: tuple[str, ...], line: str
) -> None:
    done = tradeterm("tmux", *argv, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert line in done.stderr and "Traceback" not in done.stderr
    assert not server.socket.exists() or server.windows() == []


def test_without_tmux_it_names_the_package(server: Server, tmp_path: Path) -> None:
    done = tradeterm("tmux", "ES", "--detach", env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 1
    assert done.stderr == "tradeterm: tmux is not installed (Debian package: tmux)\n"


class Terminal:
    """A program on a pseudo-terminal of its own, its output drained (a tmux client draws
    to it)."""

    def __init__(self, argv: list[str]) -> None:
        main, child = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=child, stdout=child, stderr=child,
                                     start_new_session=True)  # fmt: skip
        os.close(child)
        self._main = main
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._main, 65536):
                pass

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        os.close(self._main)


def clients(server: Server) -> list[str]:
    return server.run("list-clients", "-F", "#{client_session}").split()


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_in_a_terminal_it_attaches_and_inside_tmux_it_switches(server: Server) -> None:
    terminal = Terminal([sys.executable, "-m", "tradeterm.cli", "tmux", "ES", "--sim"])
    try:
        wait_until(lambda: clients(server) == ["tradeterm"], "a client on session tradeterm")
        ladder_up(server, "ES")
        # from inside tmux (TMUX names the server): the client switches, no tmux in tmux
        inside = f"{server.socket},{server.run('display-message', '-p', '#{pid}').strip()},0"
        done = tradeterm("tmux", "NQ", "--sim", "--session", "other",
                         env={**os.environ, "TMUX": inside})  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_until(lambda: clients(server) == ["other"], "the client switched to session other")
        assert [role for role, _ in server.windows("other")] == ["gateway", "NQ"]
    finally:
        terminal.close()


def test_a_stopped_gateway_starts_again_on_its_port(server: Server) -> None:
    """The markets that were connected to it reconnect there; a market added connects too."""
    assert tradeterm("tmux", "ES", "--sim", "--detach").returncode == 0
    ladder_up(server, "ES")
    gateway = "=tradeterm:gateway"
    port = server.run("show-options", "-w", "-v", "-t", gateway, "@tradeterm_port").strip()
    os.kill(int(server.run("display-message", "-p", "-t", gateway, "#{pane_pid}")), signal.SIGTERM)
    server.ended(gateway, "the gateway's end")
    server.wait_for("=tradeterm:ES", lambda s: "IB OK" not in s, "ES without its gateway")

    done = tradeterm("tmux", "ES", "CL", "--sim", "--detach")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (  # the simulated account lived in the process that stopped
        f"started the fake gateway again on 127.0.0.1:{port}: a new market, the old one's "
        "positions and orders are gone\nsession tradeterm: started CL; already there ES\n"
    )
    assert [role for role, _ in server.windows()] == ["gateway", "ES", "CL"]
    assert f"listening on 127.0.0.1:{port}" in server.screen(gateway)
    ladder_up(server, "CL")
    ladder_up(server, "ES")


def _free_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_market_running_in_another_mode_or_on_another_gateway_is_refused(
    server: Server,
) -> None:
    """Matched by market name alone, ``--sim`` said "already there" of a LIVE window (and
    attached the trader to it) and opened a gateway window nothing used: refused instead,
    nothing opened, the window left as it was."""
    port = _free_port()  # the LIVE window waits there (nothing listens)
    done = tradeterm("tmux", "YM", "--live", "--port", str(port), "--session", "lv", "--detach")
    assert done.returncode == 0, done.stderr
    windows, pids = server.windows("lv"), server.pids()
    assert [role for role, _ in windows] == ["YM"]

    sim = tradeterm("tmux", "YM", "--sim", "--session", "lv", "--detach")
    assert (sim.returncode, sim.stdout) == (2, "")
    assert sim.stderr == (
        f"tradeterm: YM runs LIVE on 127.0.0.1:{port} in session lv, you asked for SIM on a "
        "new fake gateway: give it another session (--session NAME)\n"
    )
    other = _free_port()
    elsewhere = tradeterm("tmux", "YM", "ES", "--live", "--port", str(other), "--session", "lv",
                          "--detach")  # fmt: skip
    assert elsewhere.returncode == 2
    asked = f"you asked for LIVE on 127.0.0.1:{other}: give it another session"
    assert f"YM runs LIVE on 127.0.0.1:{port} in session lv, {asked}" in elsewhere.stderr
    assert server.windows("lv") == windows and server.pids() == pids  # no gateway, no ES

    same = tradeterm("tmux", "YM", "--live", "--port", str(port), "--session", "lv", "--detach")
    assert (same.returncode, same.stdout) == (0, "session lv: already there YM\n")


def test_a_gateway_that_cannot_start_is_one_line_with_its_reason(server: Server) -> None:
    assert tradeterm("tmux", "ES", "--sim", "--detach").returncode == 0
    gateway = "=tradeterm:gateway"
    port = int(server.run("show-options", "-w", "-v", "-t", gateway, "@tradeterm_port"))
    os.kill(int(server.run("display-message", "-p", "-t", gateway, "#{pane_pid}")), signal.SIGTERM)
    server.ended(gateway, "the gateway's end")
    with socket.create_server(("127.0.0.1", port)):  # its port, taken meanwhile
        done = tradeterm("tmux", "NQ", "--sim", "--detach")
    assert done.returncode == 1
    assert done.stderr.startswith(
        "tradeterm: the fake gateway did not start in tradeterm:gateway: "
        f"tradeterm: cannot listen on 127.0.0.1:{port}: "
    )
    assert len(done.stderr.splitlines()) == 1
    assert [role for role, _ in server.windows()] == ["gateway", "ES"]  # no NQ without it


def at_gateway(port: int) -> tuple[dict[str, int], int]:
    """What the gateway itself holds, asked by a client of its own as any API tool would:
    the account's position per market and how many orders are working (every client's)."""
    import asyncio

    from ib_async import IB

    async def ask() -> tuple[dict[str, int], int]:
        ib = IB()
        await ib.connectAsync("127.0.0.1", port, clientId=901, timeout=GUARD_S)
        try:
            positions = {p.contract.symbol: int(p.position) for p in await ib.reqPositionsAsync()}
            working = [t for t in await ib.reqAllOpenOrdersAsync() if not t.isDone()]
            return positions, len(working)
        finally:
            ib.disconnect()

    return asyncio.run(ask())


def status() -> dict[str, dict[str, object]]:
    listed = tradeterm("status", "--json")
    assert listed.returncode == 0, listed.stderr
    return {row["market"]: row for row in json.loads(listed.stdout)}


def buy_one_and_rest_a_bid(server: Server, market: str, rest: bool) -> None:
    """Arm (pressed again until ARMED: a press before the start's reconciliation is refused),
    buy one at market and, with ``rest``, leave a buy limit working two pages below."""
    target = f"=tradeterm:{market}"
    deadline = time.monotonic() + GUARD_S
    while " ARMED " not in server.screen(target):
        assert time.monotonic() < deadline, server.screen(target)
        server.run("send-keys", "-t", target, "a")
        time.sleep(1.0)
    server.run("send-keys", "-t", target, "b")
    server.wait_for(target, lambda s: "LONG 1" in s, f"{market} long 1")
    if rest:
        server.run("send-keys", "-t", target, "PageDown", "PageDown", "[")
        wait_until(lambda: status()[market]["working_orders"] == 1, f"{market}'s bid working")


def test_tmux_then_status_then_kill_all_leaves_every_market_flat_and_halted(
    server: Server,
) -> None:
    """The trader's evening: two markets opened by ``tradeterm tmux --sim``, listed by
    ``tradeterm status``, and stopped by one ``tradeterm kill --all``: flat and HALTED, as the
    gateway itself says (a client of its own) and as every screen shows."""
    assert tradeterm("tmux", "ES", "NQ", "--sim", "--detach").returncode == 0
    port = int(server.run("show-options", "-w", "-v", "-t", "=tradeterm:gateway",
                          "@tradeterm_port"))  # fmt: skip
    for market in ("ES", "NQ"):
        ladder_up(server, market)
        buy_one_and_rest_a_bid(server, market, rest=market == "ES")
    positions, working = at_gateway(port)
    assert (positions.get("ES"), positions.get("NQ"), working) == (1, 1, 1)

    rows = status()
    assert sorted(rows) == ["ES", "NQ"]
    assert {m: (r["mode"], r["position"], r["working_orders"], r["trading_state"])
            for m, r in rows.items()} == {"ES": ("sim", 1, 1, "ACTIVE"),
                                          "NQ": ("sim", 1, 0, "ACTIVE")}  # fmt: skip

    killed = tradeterm("kill", "--all", "--reason", "test")
    assert killed.returncode == 0, killed.stdout + killed.stderr
    assert "ES SIM: flat and HALTED" in killed.stdout
    assert "NQ SIM: flat and HALTED" in killed.stdout
    positions, working = at_gateway(port)
    assert (positions.get("ES", 0), positions.get("NQ", 0), working) == (0, 0, 0)
    for market in ("ES", "NQ"):
        server.wait_for(f"=tradeterm:{market}", lambda s: "HALTED" in s and "FLAT" in s,
                        f"{market}'s screen HALTED and flat")  # fmt: skip
    after = {m: (r["trading_state"], r["position"], r["working_orders"])
             for m, r in status().items()}  # fmt: skip
    assert after == {"ES": ("HALTED", 0, 0), "NQ": ("HALTED", 0, 0)}


def test_a_window_waits_for_a_gateway_that_is_not_there_yet(server: Server) -> None:
    """systemd starts the windows at boot, maybe before IB Gateway is logged in, and IBC
    restarts the gateway every day: each window waits for it (--wait-for-gateway) and trades
    once it listens, where ``--no-wait`` (above) stops with the reason."""
    port = _free_port()  # nothing listens there yet
    assert tradeterm("tmux", "ES", "--sim", "--port", str(port), "--detach").returncode == 0
    server.wait_for("=tradeterm:ES", lambda s: "RECONNECTING" in s or "waiting" in s,
                    "ES waiting for its gateway")  # fmt: skip
    gateway = subprocess.Popen([sys.executable, "-m", "tradeterm.cli", "gateway", "--port",
                                str(port), "--symbols", "ES"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        ladder_up(server, "ES")
    finally:
        gateway.terminate()
        gateway.wait(GUARD_S)


def _environ(server: Server, target: str) -> dict[str, str]:
    """The environment of the program a window runs (its pane's process, exec'd into)."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        pid = server.run("display-message", "-p", "-t", target, "#{pane_pid}").strip()
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        if b"tradeterm.cli" in Path(f"/proc/{pid}/cmdline").read_bytes():  # past sh's exec
            pairs = (item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
            return dict(pairs)
        time.sleep(0.1)
    pytest.fail(f"{target} never ran tradeterm")


def test_only_a_market_on_the_sessions_gateway_is_told_it_is_the_sessions(server: Server) -> None:
    """A market window on the session's fake gateway knows it (its lost-gateway advice names
    ``tradeterm tmux --sim``, which restarts that window); one on a gateway given by port
    does not (``tmux --sim`` never starts one there)."""
    done = tradeterm("tmux", "ES", "--sim", "--detach")
    assert done.returncode == 0, done.stderr
    assert _environ(server, "=tradeterm:ES").get("TT_TMUX_SESSION") == "tradeterm"
    given = tradeterm("tmux", "NQ", "--sim", "--port", "1", "--session", "given", "--detach")
    assert given.returncode == 0, given.stderr
    assert "TT_TMUX_SESSION" not in _environ(server, "=given:NQ")
