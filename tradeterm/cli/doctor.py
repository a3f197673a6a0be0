"""``tradeterm doctor [SYMBOL]``: is this box ready to trade SYMBOL? One line per check, OK /
WARN / FAIL (SKIP: not checked, something it needs failed), each WARN and FAIL followed by
how to fix it; exit status 1 when anything FAILs.

Checked: the gateway at the mode's port (or ``--host``/``--port``) accepts a connection, the
API handshake and its server version, the managed accounts, whether another program holds
the market's client id (the market's own running instance holding it is OK: the control
sockets say which client id each instance holds), the clock against the gateway's, the market-data permissions of
SYMBOL's front month (quotes L1, depth L2, tick-by-tick trades), the journal's directory and
its free disk, the terminal's size and colours, and tmux. In ``--sim`` mode without a port
there is no gateway to check (the instance runs its own).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tradeterm import paths
from tradeterm.broker.ib import codes
from tradeterm.broker.ib.checkup import FeedCheck, GatewayReport, check_gateway
from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, UserError
from tradeterm.cli.options import load, number_arg
from tradeterm.config import ConfigError, Settings
from tradeterm.embedded import sim_gateway_help

log = logging.getLogger(__name__)

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
DOCTOR_CLIENT_ID = 999
"""The client id the gateway checks run with when the market's own is taken (outside every
market's block of ten)."""
SKEW_WARN_S, SKEW_FAIL_S = 2.0, 60.0
LOW_DISK_WARN, LOW_DISK_FAIL = 1_000_000_000, 100_000_000  # bytes free under the journal
MIN_COLUMNS, MIN_LINES = 80, 24
MAX_TIMEOUT_S = 300
INSTANCE_TIMEOUT_S = 2.0  # a running instance's answer to "status"
FEED_NAMES = {codes.QUOTES: "quotes (L1)", codes.DEPTH: "depth (L2)", codes.TRADES: "trades"}
LOST_FIX = (
    "is the gateway restarting (IB's nightly reset), or was the same user logged in "
    "elsewhere? see the gateway's log, then run doctor again"
)
ColourSystem = Literal["auto", "standard", "256", "truecolor", "windows"]
FORCED_COLOURS: dict[str, ColourSystem] = {
    "standard": "standard", "256": "256", "truecolor": "truecolor", "windows": "windows",
}  # fmt: skip
"""TEXTUAL_COLOR_SYSTEM's values (anything else: Textual's default, auto)."""
API_SETTINGS = (
    "in IB Gateway/TWS: Configure > Settings > API > Settings: tick 'Enable ActiveX and "
    "Socket Clients', add this host to 'Trusted IPs', and make sure it is logged in"
)


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # OK, WARN, FAIL or SKIP
    name: str
    detail: str
    fix: str = ""


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path).free


async def _running_instances() -> list[dict[str, Any]]:
    """The status of every tradeterm instance of this user that answers on its control
    socket (``tradeterm status``'s answers); none when the control directory is unusable."""
    from tradeterm.cli.status import status_in
    from tradeterm.control.client import ask_all, instances
    from tradeterm.control.place import ControlError

    try:
        found = instances()
    except ControlError:
        return []
    answers = await ask_all(found, {"op": "status"}, INSTANCE_TIMEOUT_S) if found else []
    return [status for answer in answers if (status := status_in(answer)) is not None]


@dataclass(frozen=True, slots=True)
class Machine:
    """What the local checks read from this machine (tests give their own)."""

    free_bytes: Callable[[Path], int] = _disk_free
    terminal_size: Callable[[], os.terminal_size] = lambda: shutil.get_terminal_size((0, 0))
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    which: Callable[[str], str | None] = shutil.which
    instances: Callable[[], Awaitable[list[dict[str, Any]]]] = _running_instances


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="root symbol (default ES)")
    parser.add_argument("--timeout", type=number_arg, default=5, metavar="SECONDS",
                        help="longest wait of each network step (default 5)")  # fmt: skip


def command(args: argparse.Namespace) -> int:
    timeout = float(args.timeout)
    if not 0 < timeout <= MAX_TIMEOUT_S:
        raise UserError(f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S} seconds, "
                        f"got {args.timeout}")  # fmt: skip
    from tradeterm.cli import screen  # Textual is imported only where it is needed

    settings = load(args).settings
    screen.check_screen(settings)  # what the screen would refuse, refused here too (exit 2)
    logged = _log_to_file(settings)
    findings = asyncio.run(run(settings, timeout_s=timeout, machine=Machine()))
    if logged is not None:
        findings.append(logged)
    return report(findings, _heading(settings))


def _log_to_file(settings: Settings) -> Finding | None:
    """Log to the doctor's file (ib_async logs IB's errors: never on the terminal); a FAIL
    when the log directory is unusable (then nothing is logged)."""
    from tradeterm.logs import setup_logging

    try:
        setup_logging(settings.logging, "doctor")
    except ConfigError as exc:
        logging.getLogger().addHandler(logging.NullHandler())
        return Finding(FAIL, "log file", str(exc).split("; ")[0],
                       "set logging.dir to a writable directory")  # fmt: skip
    return None


def _heading(settings: Settings) -> str:
    port = settings.port()
    where = f"gateway {settings.connection.host}:{port}" if port else "embedded gateway"
    return f"tradeterm doctor: {settings.symbol}, {settings.mode} mode, {where}"


def report(findings: list[Finding], heading: str) -> int:
    """Print the findings; the exit status (1 when any FAILs)."""
    print(heading)
    width = max(len(f.name) for f in findings) + 2
    for f in findings:
        print(f"{f.level:<5} {f.name:<{width}}{f.detail}")
        if f.fix and f.level in (WARN, FAIL):
            print(f"{'':<6}{'fix:':<{width}}{f.fix}")
    failed = sum(f.level == FAIL for f in findings)
    warned = sum(f.level == WARN for f in findings)
    print(f"{failed} FAIL, {warned} WARN" if failed or warned else "all checks passed")
    return EXIT_ERROR if failed else EXIT_OK


async def run(settings: Settings, *, timeout_s: float, machine: Machine) -> list[Finding]:
    """Every check, gateway first, in the order printed."""
    findings = await gateway_findings(settings, timeout_s, machine.instances)
    findings.append(journal_finding(settings, machine.free_bytes))
    findings += terminal_findings(machine)
    findings.append(tmux_finding(machine.which))
    return findings


# ---- the gateway ------------------------------------------------------------------------------


async def gateway_findings(
    settings: Settings, timeout_s: float,
    instances: Callable[[], Awaitable[list[dict[str, Any]]]] = _running_instances,
) -> list[Finding]:  # fmt: skip
    """The gateway checks; ``instances``: the running instances' status, asked only when the
    market's client id is in use (is it the market's own instance?)."""
    port = settings.port()
    if port is None:
        return [Finding(SKIP, "gateway", "sim mode runs its own gateway: nothing to check "
                        "(use --paper, --live or --port to check IB's)")]  # fmt: skip
    config = settings.connection.model_copy(update={"client_id": settings.client_id()})
    try:
        checked = await check_gateway(
            config, port, settings.symbol, spare_client_id=DOCTOR_CLIENT_ID,
            roll_days=settings.market().roll_days, timeout_s=timeout_s,
        )  # fmt: skip
    except Exception as exc:  # the check-up reports its failures; anything else is a bug
        log.exception("the gateway check-up failed")
        return [Finding(FAIL, "gateway", f"the check failed: {type(exc).__name__}: {exc}",
                        "see the log file (tradeterm locate logs)")]  # fmt: skip
    holder = _holder(await instances(), settings.symbol, checked.client_id) \
        if checked.client_id_in_use else None  # fmt: skip
    return list(_gateway(checked, settings, holder))


def _holder(running: list[dict[str, Any]], symbol: str, client_id: int) -> str | None:
    """The running tradeterm instance of ``symbol`` that holds ``client_id`` (``ES PAPER
    (pid 4242)``), None when none does."""
    for status in running:
        if status.get("market") == symbol.upper() and status.get("client_id") == client_id:
            return f"{status['market']} {str(status.get('mode', '')).upper()} " \
                   f"(pid {status.get('pid')})"  # fmt: skip
    return None


GATEWAY_CHECKS = ("client id", "API", "accounts", "clock", "contract", *FEED_NAMES.values())
"""The checks that need the gateway, in the order printed."""


def _skipped(after: str, why: str) -> Iterator[Finding]:
    """SKIP for every gateway check printed after ``after`` (a check that could not run is
    never OK)."""
    rest = GATEWAY_CHECKS[GATEWAY_CHECKS.index(after) + 1 :] if after else GATEWAY_CHECKS
    yield from (Finding(SKIP, name, why) for name in rest)


def _gateway(r: GatewayReport, settings: Settings, holder: str | None = None) -> Iterator[Finding]:
    if r.tcp_error is not None:
        yield Finding(FAIL, "gateway", r.tcp_error, _start_gateway(settings))
        yield from _skipped("", "needs the gateway")
        return
    yield Finding(OK, "gateway", f"{r.address} accepts connections")
    yield _client_id(r, settings, holder)
    if r.connect_error is not None:
        yield Finding(FAIL, "API", r.connect_error, API_SETTINGS)
        yield from _skipped("API", "needs the API")
        return
    yield Finding(OK, "API", f"handshake done, server version {r.server_version}")
    yield _accounts(r.accounts, settings.connection.account)
    told = False
    for name, found in _after_handshake(r):
        if found is None and not told:  # the first check the connection did not last for
            yield Finding(FAIL, "connection", r.lost or "the checks stopped early", LOST_FIX)
            told = True
        yield found or Finding(SKIP, name, "needs the connection")


def _start_gateway(settings: Settings) -> str:
    """How to get the gateway listening: in SIM it is tradeterm's own."""
    port = settings.port()
    if settings.mode == "sim" and port is not None:
        return sim_gateway_help(port)
    return ("start IB Gateway or TWS and log in, or pass the right --host/--port (IB Gateway "
            "4002 paper / 4001 live, TWS 7497 / 7496)")  # fmt: skip


def _after_handshake(r: GatewayReport) -> Iterator[tuple[str, Finding | None]]:
    """The clock, contract and market-data checks, each with its finding, or None when it
    got no answer before the gateway closed the connection."""
    measured = r.skew_s is not None or r.skew_error is not None
    yield "clock", _skew(r) if measured else None
    if r.contract_error is not None:
        yield "contract", Finding(FAIL, "contract", r.contract_error, "check the symbol, or "
                                  "set market.contract (e.g. ESZ6)")  # fmt: skip
        yield from ((f.name, f) for f in _skipped("contract", "needs the contract"))
        return
    yield "contract", Finding(OK, "contract", r.contract) if r.contract else None
    checks = {check.feed: check for check in r.feeds}
    for feed, name in FEED_NAMES.items():
        check = checks.get(feed)
        if check is None or (r.lost and check.seen is None and check.refusal is None):
            yield name, None  # the connection closed before it answered
        else:
            yield name, _feed(check, r.timeout_s)


def _client_id(r: GatewayReport, settings: Settings, holder: str | None) -> Finding:
    """Whether the market's client id is free; in use by the market's own running instance
    (``holder``) is as it should be."""
    cid = r.client_id
    if r.client_id_in_use is None:  # the handshake never finished: IB did not say
        return Finding(SKIP, "client id", "needs the API")
    if not r.client_id_in_use:
        return Finding(OK, "client id", f"{cid} is free")
    others = f" (checked the rest as {r.connected_as})" if r.connected_as is not None else ""
    if holder is not None:
        return Finding(OK, "client id", f"{cid} is tradeterm {holder}, running{others}")
    return Finding(FAIL, "client id", f"{cid} is in use by another API connection: IB "
                   f"would refuse {settings.symbol}'s instance (error 326){others}",
                   f"no running tradeterm {settings.symbol} holds it (tradeterm status): "
                   f"close the other program, or start with --client-id N (or set "
                   "connection.client_id / connection.auto_client_id = true)")  # fmt: skip


def _accounts(accounts: list[str], wanted: str | None) -> Finding:
    shown = ", ".join(accounts) or "none"
    if not accounts:
        return Finding(FAIL, "accounts", "the gateway manages no account", "log the gateway in")
    if wanted and wanted not in accounts:
        return Finding(FAIL, "accounts", f"connection.account {wanted} is not managed by this "
                       f"login (managed: {shown})", "set connection.account to one of them, "
                       "or log in with the right user")  # fmt: skip
    if not wanted and len(accounts) > 1:
        return Finding(WARN, "accounts", f"{shown}: several, and no connection.account set",
                       "set connection.account to the one to trade")  # fmt: skip
    return Finding(OK, "accounts", shown)


def _skew(r: GatewayReport) -> Finding:
    if r.skew_s is None:
        return Finding(WARN, "clock", r.skew_error or "not measured", "run doctor again")
    ahead = "ahead of" if r.skew_s < 0 else "behind"
    detail = f"this machine is {abs(r.skew_s):.1f}s {ahead} the gateway"
    fix = ("turn on time sync: timedatectl set-ntp true (or chrony); check both machines "
           "if the gateway runs elsewhere")  # fmt: skip
    if abs(r.skew_s) > SKEW_FAIL_S:
        return Finding(FAIL, "clock", f"{detail}: bar times and session breaks would be off", fix)
    if abs(r.skew_s) > SKEW_WARN_S:
        return Finding(WARN, "clock", detail, fix)
    return Finding(OK, "clock", f"within {SKEW_WARN_S:g}s of the gateway ({r.skew_s:+.1f}s)")


def _feed(check: FeedCheck, timeout_s: float) -> Finding:
    name = FEED_NAMES[check.feed]
    if check.refusal is not None:
        level = WARN if check.refusal.usable else FAIL
        return Finding(level, name, f"{check.refusal.meaning} ({check.refused})",
                       check.refusal.fix)  # fmt: skip
    if check.seen is None:
        return Finding(WARN, name, f"IB refused nothing, but sent nothing in {timeout_s:g}s",
                       "market closed or quiet? run doctor again while it trades")  # fmt: skip
    return Finding(OK, name, check.seen)


# ---- this machine -----------------------------------------------------------------------------


def journal_finding(settings: Settings, free_bytes: Callable[[Path], int]) -> Finding:
    directory = settings.journal_path().parent
    fix = "set journal.dir to a writable directory on a disk with room"
    try:
        paths.ensure_dir(directory)
        with tempfile.TemporaryFile(dir=directory):
            pass
        free = free_bytes(directory)
    except OSError as exc:
        return Finding(FAIL, "journal", f"{directory} is not writable: {exc.strerror or exc}", fix)
    detail = f"{directory} is writable, {_size(free)} free"
    if free < LOW_DISK_FAIL:
        return Finding(FAIL, "journal", f"{detail}: the journal would soon stop writing", fix)
    if free < LOW_DISK_WARN:
        return Finding(WARN, "journal", f"{detail} (under {_size(LOW_DISK_WARN)})", fix)
    return Finding(OK, "journal", detail)


def _size(count: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def terminal_findings(machine: Machine) -> list[Finding]:
    size = machine.terminal_size()
    columns, lines = size.columns, size.lines
    fix = f"make the window at least {MIN_COLUMNS}x{MIN_LINES} (or the tmux pane)"
    if not columns or not lines:
        found = Finding(WARN, "terminal", "size unknown: not a terminal", fix)
    elif columns < MIN_COLUMNS or lines < MIN_LINES:
        found = Finding(WARN, "terminal", f"{columns}x{lines}: the screen needs "
                        f"{MIN_COLUMNS}x{MIN_LINES}", fix)  # fmt: skip
    else:
        found = Finding(OK, "terminal", f"{columns}x{lines}")
    return [found, _colours(machine.environ)]


def _colours(env: Mapping[str, str]) -> Finding:
    term, colorterm = env.get("TERM", ""), env.get("COLORTERM", "")
    fix = ("set TERM=xterm-256color (in tmux: set -g default-terminal tmux-256color) and "
           "COLORTERM=truecolor if the terminal has it")  # fmt: skip
    if "NO_COLOR" in env:
        return Finding(WARN, "colours", "NO_COLOR is set: the screen is monochrome (bid and "
                       "ask, profit and loss look alike)", "unset NO_COLOR")  # fmt: skip
    chosen = _colour_system(env)
    forced = env.get("TEXTUAL_COLOR_SYSTEM", "auto") in FORCED_COLOURS
    said = f"TEXTUAL_COLOR_SYSTEM={chosen}" if forced else f"TERM={term or 'unset'}"
    if chosen == "truecolor":
        why = said if forced else f"COLORTERM={colorterm}, TERM={term}"
        return Finding(OK, "colours", f"24-bit ({why})")
    if chosen == "256":
        return Finding(OK, "colours", f"256 ({said}); themes are shown approximated")
    if chosen is None:
        return Finding(FAIL, "colours", f"{said}: no colours", fix)
    return Finding(WARN, "colours", f"{said}: only 8 colours", fix)


def _colour_system(env: Mapping[str, str]) -> str | None:
    """The colours the screen will use: Rich's choice from the environment, as Textual makes
    it ("truecolor", "256", "standard", or None for none)."""
    from rich.console import Console

    forced = env.get("TEXTUAL_COLOR_SYSTEM", "auto")
    console = Console(color_system=FORCED_COLOURS.get(forced, "auto"), file=io.StringIO(),
                      force_terminal=True, _environ=dict(env))  # fmt: skip
    return console.color_system


def tmux_finding(which: Callable[[str], str | None]) -> Finding:
    found = which("tmux")
    if found is None:
        return Finding(WARN, "tmux", "not installed: tradeterm tmux needs it (one window per "
                       "market, kept when SSH drops)", "sudo apt install tmux")  # fmt: skip
    try:
        out = subprocess.run([found, "-V"], capture_output=True, text=True, timeout=3)
        version = out.stdout.strip() or found
    except (OSError, subprocess.TimeoutExpired):
        version = found
    return Finding(OK, "tmux", version)
