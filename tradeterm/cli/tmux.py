"""``tradeterm tmux SYMBOL... [--session NAME] [--detach] [mode and connection options]``:
several markets on one box, each in a tmux window of its own, in one tmux session.

Each window runs an ordinary ``tradeterm SYMBOL`` with the mode and connection options
given here, on the market's own API client id. When the session exists, only markets without
a window get one (never a second instance of a market), then the session is attached
(``switch-client`` inside tmux). ``--detach`` creates it without attaching, for scripts and
systemd. In SIM without a port, one fake gateway serves every market: a ``gateway`` window
runs ``tradeterm gateway``, and the markets' windows are opened only once it listens.

A window whose instance stops stays open (tmux's ``remain-on-exit``), showing the instance's
last line and "Pane is dead (status N, ...)"; ``tmux respawn-window -t NAME:SYMBOL`` starts it
again with the same command.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import load
from tradeterm.config import ConfigError, Settings
from tradeterm.embedded import TMUX_SESSION_ENV

SESSION = "tradeterm"
GATEWAY = "gateway"  # the gateway window's role and name
ROLE = "@tradeterm"  # window option: the market (ES) or GATEWAY, whatever the window's name
PORT = "@tradeterm_port"  # the gateway window's option: the port it listens on
RUNS = "@tradeterm_runs"  # a market window's option: its mode and gateway, "SIM on 127.0.0.1:P"
GATEWAY_START_S = 30.0  # how long the gateway has to listen (it prints its line in ~1 s)
_LISTENING = re.compile(r"listening on (\S+):(\d+)")
_SESSION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PASSED_ENV = ("XDG_", "TRADETERM_")  # the caller's dirs and settings, not the tmux server's
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # a variable sh can export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("markets", nargs="+", metavar="SYMBOL", help="root symbols: ES NQ CL")
    parser.add_argument("--session", default=SESSION, type=_session_name,
                        help=f"tmux session name (default {SESSION})")  # fmt: skip
    parser.add_argument("--detach", action="store_true",
                        help="create the session without attaching (scripts, systemd)")  # fmt: skip
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="a market whose gateway is not reachable at start stops (its "
                        "window says why) instead of waiting for it (--wait-for-gateway, "
                        "which every window is given by default)")  # fmt: skip


def _session_name(text: str) -> str:
    if not _SESSION_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"letters, digits, '-' and '_' only: {text!r}")
    return text


def command(args: argparse.Namespace) -> int:
    if shutil.which("tmux") is None:
        raise UserError("tmux is not installed (Debian package: tmux)", EXIT_ERROR)
    markets = list(dict.fromkeys(m.upper() for m in args.markets))
    settings = [_settings(args, market) for market in markets]
    _one_client_id_each(settings)
    inside = bool(os.environ.get("TMUX"))
    if not args.detach and not inside and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UserError("not in a terminal: nothing to attach to (use --detach to create the "
                        "session in the background)")  # fmt: skip
    tmux = Tmux(args.session)
    windows = tmux.windows()
    runs = _runs(settings[0], windows.get(GATEWAY))
    _same_runs_only(args.session, markets, windows, runs, settings[0].mode)
    given = {"mode": args.mode, "host": args.host, "port": args.port}
    env: list[str] = []  # the markets' gateway is the session's window: they are told so
    if settings[0].mode == "sim" and settings[0].port() is None:  # one gateway for them all
        host, port = _gateway(tmux, windows.get(GATEWAY), markets, args)
        given = {"mode": "sim", "host": host, "port": port}
        runs = _runs_on("sim", host, port)
        env = [f"{TMUX_SESSION_ENV}={args.session}"]
    flags = _passed_flags(args, given)
    if args.wait:  # a gateway restarting (IBC's daily restart, Sunday's login) is waited for
        flags.append("--wait-for-gateway")
    started, there = [], []
    for market in markets:
        window = windows.get(market)
        if window is None:
            tmux.open(market, [*_tradeterm(), market, *flags], runs=runs or "", env=env)
            started.append(market)
        elif not window.dead:
            there.append(market)
        else:  # its window shows why; the trader decides whether it runs again
            status = f" (exit status {window.status})" if window.status else ""
            again = f"`tmux respawn-window -t {args.session}:{market}` starts it again"
            print(f"tradeterm: {market} has stopped{status}, its window shows why; {again}",
                  file=sys.stderr)  # fmt: skip
    said = (_listed("started", started), _listed("already there", there))
    print(f"session {args.session}: " + "; ".join(part for part in said if part))
    tmux.select(markets[0])
    if args.detach:
        return EXIT_OK
    return tmux.attach(inside)


def _settings(args: argparse.Namespace, market: str) -> Settings:
    """The settings ``market``'s instance will run with: bad input is refused here, before
    any window opens."""
    with reported_as(EXIT_USAGE, ConfigError):
        return load(argparse.Namespace(**{**vars(args), "symbol": market})).settings


def _runs(settings: Settings, gateway: Window | None) -> str | None:
    """What a market window asked for here runs: its mode and gateway (``RUNS``); None for
    the session's fake gateway when it has no port yet (one started now: a new one)."""
    port = settings.port()
    if port is not None:
        return _runs_on(settings.mode, settings.connection.host, port)
    if gateway is not None and gateway.port:  # started again on its port when it stopped
        return _runs_on(settings.mode, "127.0.0.1", int(gateway.port))
    return None


def _runs_on(mode: str, host: str, port: int) -> str:
    return f"{mode.upper()} on {host}:{port}"


def _same_runs_only(
    session: str, markets: Sequence[str], windows: dict[str, Window], runs: str | None, mode: str
) -> None:
    """A market whose window runs another mode or on another gateway is refused, before
    anything opens: "already there" would attach the trader to, say, the LIVE screen of a
    market asked for in SIM. A window without its mark was opened by an older tradeterm: its
    mode is unknown, refused as well."""
    for market in markets:
        window = windows.get(market)
        if window is None or (runs is not None and window.runs == runs):
            continue
        there = window.runs or "in a mode not recorded (opened by an older tradeterm)"
        asked = runs or f"{mode.upper()} on a new fake gateway"
        raise UserError(
            f"{market} runs {there} in session {session}, you asked for {asked}: "
            f"give it another session (--session NAME)"
        )


def _one_client_id_each(settings: Sequence[Settings]) -> None:
    """IB closes a second connection on the same client id (326): several markets need
    their own ids, which they take unless one is configured for all."""
    connection = settings[0].connection
    if len(settings) > 1 and connection.client_id is not None and not connection.auto_client_id:
        raise UserError(
            f"client id {connection.client_id} is set for every market: IB would "
            "close all but one (326); leave it unset, each market takes its own"
        )


def _passed_flags(args: argparse.Namespace, given: dict[str, object]) -> list[str]:
    """The flags each instance runs with: the mode and connection in ``given``, the others
    as given here."""
    flags = [f"--{given['mode']}"] if given["mode"] else []
    for name in ("host", "port", "client_id", "theme"):
        value = given[name] if name in given else getattr(args, name)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags + _config(args)


def _config(args: argparse.Namespace) -> list[str]:
    """``--config FILE`` as given here, absolute: a window does not start where this
    command ran."""
    return [] if args.config is None else ["--config", str(Path(args.config).absolute())]


def _tradeterm() -> list[str]:
    """This installation's ``tradeterm`` (the tmux server's PATH may not have it)."""
    return [sys.executable, "-m", "tradeterm.cli"]


def _listed(what: str, markets: Sequence[str]) -> str:
    return f"{what} {' '.join(markets)}" if markets else ""


# ---------------------------------------------------------------------------------------------
# the shared fake gateway


def _gateway(
    tmux: Tmux, window: Window | None, markets: Sequence[str], args: argparse.Namespace
) -> tuple[str, int]:
    """Where the session's fake gateway listens: started in its window first (any free port),
    or started again on its port when it stopped (the instances connected to it reconnect
    there). Markets added later are served too: the gateway makes any known market's feed on
    first use."""
    if window is not None and not window.dead and window.port:
        return "127.0.0.1", int(window.port)  # where it was started (on the loopback)
    port = window.port if window is not None and window.port else "0"
    argv = [*_tradeterm(), "gateway", "--port", port, "--symbols", ",".join(markets)]
    argv += _config(args)
    if window is None:
        target = tmux.open(GATEWAY, argv)
    elif window.dead:
        target = window.id
        tmux.respawn(target, argv)
    else:  # still starting (the command that opened it was interrupted): its line says where
        target = window.id
    host, listening = tmux.wait_for_gateway(target)
    tmux.run("set-option", "-w", "-t", target, PORT, str(listening))
    if window is not None and window.dead:  # the simulated account lived in that process
        print(f"started the fake gateway again on {host}:{listening}: a new market, the old "
              "one's positions and orders are gone")  # fmt: skip
    return host, listening


# ---------------------------------------------------------------------------------------------
# tmux, through its command line: a handful of commands, stable across tmux releases, and no
# dependency (libtmux's API changes between its 0.x releases)


@dataclass(frozen=True, slots=True)
class Window:
    id: str  # tmux's window id, @N
    dead: bool  # its program stopped (the window stays: remain-on-exit)
    status: str  # the program's exit status when dead
    port: str  # the gateway window's port
    runs: str  # a market window's mode and gateway (RUNS), "" when not marked


class Tmux:
    """The tmux session ``name`` on the server tmux finds by itself (``TMUX`` inside tmux,
    else the user's default socket under ``TMUX_TMPDIR``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.target = f"={name}"  # the exact name, never a prefix of another session's

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["tmux", *args], capture_output=True, text=True, check=False,
                              timeout=30)  # fmt: skip
        if check and proc.returncode != 0:
            said = proc.stderr.strip().splitlines()
            raise UserError(f"tmux {args[0]}: {said[-1] if said else 'failed'}", EXIT_ERROR)
        return proc

    def windows(self) -> dict[str, Window]:
        """The session's tradeterm windows by role (none when the session does not exist)."""
        if self.run("has-session", "-t", self.target, check=False).returncode != 0:
            return {}
        fields = (ROLE, "window_id", "pane_dead", "pane_dead_status", PORT, RUNS)
        listing = self.run("list-windows", "-t", self.target,
                           "-F", "\t".join(f"#{{{f}}}" for f in fields)).stdout  # fmt: skip
        found = {}
        for line in listing.splitlines():
            role, window, dead, status, port, runs = line.split("\t")
            if role:
                found[role] = Window(window, dead == "1", status, port, runs)
        return found

    def open(self, role: str, argv: Sequence[str], runs: str = "", env: Sequence[str] = ()) -> str:
        """A window named ``role`` running ``argv`` (with ``env``'s ``NAME=VALUE`` too), in
        the session (created by the first window), marked with what it ``runs`` (a market's
        mode and gateway); its id. The window is the session's current one while its options are set,
        in the same tmux command: a program that stops at once still leaves it open."""
        exists = self.run("has-session", "-t", self.target, check=False).returncode == 0
        new = (
            ["new-window", "-t", f"{self.target}:"]
            if exists
            else ["new-session", "-d", "-s", self.name]
        )
        proc = self.run(
            *new, "-P", "-F", "#{window_id}", "-n", role, "-c", os.getcwd(),
            *(arg for pair in env for arg in ("-e", pair)), *_pane_command(argv), ";", "set-option", "-w", "remain-on-exit", "on",
            ";", "set-option", "-w", ROLE, role, ";", "set-option", "-w", RUNS, runs,
        )  # fmt: skip
        return proc.stdout.strip()

    def respawn(self, window: str, argv: Sequence[str]) -> None:
        self.run("respawn-window", "-k", "-t", window, "-c", os.getcwd(), *_pane_command(argv))

    def wait_for_gateway(self, window: str) -> tuple[str, int]:
        """The address in the gateway's one line, once it listens; a :class:`UserError` with
        its last words when it stopped instead."""
        deadline = time.monotonic() + GATEWAY_START_S
        while True:
            screen = self.run("capture-pane", "-p", "-J", "-t", window).stdout  # unwrapped
            found = _LISTENING.search(screen)
            if found:
                return found[1], int(found[2])
            dead = self.run("display-message", "-p", "-t", window, "#{pane_dead}").stdout
            if dead.strip() == "1" or time.monotonic() > deadline:
                said = [s for s in screen.splitlines() if s.strip() and "Pane is dead" not in s]
                last = said[-1] if dead.strip() == "1" and said else "no answer"
                raise UserError(f"the fake gateway did not start in {self.name}:{GATEWAY}: "
                                f"{last}", EXIT_ERROR)  # fmt: skip
            time.sleep(0.1)

    def select(self, role: str) -> None:
        window = self.windows().get(role)
        if window is not None:
            self.run("select-window", "-t", window.id)

    def attach(self, inside: bool) -> int:
        """Attach the session: ``switch-client`` from inside tmux (no nested tmux), else
        tmux takes over this terminal."""
        if inside:
            self.run("switch-client", "-t", self.target)
            return EXIT_OK
        os.execvp("tmux", ["tmux", "attach-session", "-t", self.target])


def _pane_command(argv: Sequence[str]) -> list[str]:
    """``argv`` after a blank line, as itself (``exec``: the pane's process is the
    instance), with the caller's ``XDG_*`` and ``TRADETERM_*`` variables (a window starts
    with the tmux server's environment, which may be another shell's). tmux writes "Pane is
    dead" below the last line, scrolling the screen up by one: the blank line goes, not the
    first of the instance's last words. The variables travel in a file only the user can
    read, removed as soon as it is read: on tmux's command line (``-e``) anyone could read
    them with ps, and ``TRADETERM_SHARED__URL`` may hold a password."""
    names = sorted(n for n in os.environ if n.startswith(_PASSED_ENV) and _NAME.fullmatch(n))
    fd, path = tempfile.mkstemp(prefix="tradeterm-env-", suffix=".sh")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.writelines(f"export {n}={shlex.quote(os.environ[n])}\n" for n in names)
    return ["sh", "-c", 'echo; . "$0"; rm -f "$0"; exec "$@"', path, *argv]
