"""``tradeterm status --shared`` and ``tradeterm kill --all --shared``: every instance on every
host, through the shared database (``[shared] url``; ``tradeterm/control/plane_rows.py``).

``status --shared`` lists each registered instance with what it last said of itself and how
old its heartbeat is; a stale one (no heartbeat for three of its intervals) is marked STALE,
never hidden; one that stopped cleanly, STOPPED. Exit status 1 when a live instance is stale.

``kill --all --shared`` writes a durable kill command for every live instance (registered,
not stopped) and notifies them; it prints each one's outcome as it arrives (the same line
``tradeterm kill`` prints, named by the instance), and at the end which have not answered.
An instance away from the database when the command was written runs it when its link
returns (and its answer is in the database then: ``status --shared`` shows its state). Exit
status 0 only when every one answered flat and HALTED, with no other client's order left.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg

from tradeterm.cli import kill as local
from tradeterm.cli import status as local_status
from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import load
from tradeterm.cli.status import brief, duration, shipping_note
from tradeterm.config import ConfigError
from tradeterm.control import plane_rows as rows
from tradeterm.control.plane import Failure, said
from tradeterm.control.protocol import Message
from tradeterm.shared.migrations import check_version
from tradeterm.shared.target import Target

T = TypeVar("T")
POLL_S = 1.0  # outcomes are read again at least this often (a notification only wakes)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", action="store_true",
                        help="every instance on every host, through the shared database "
                        "([shared] url)")  # fmt: skip
    parser.add_argument("--config", metavar="FILE", help="TOML config (its [shared] url)")


def status_arguments(parser: argparse.ArgumentParser) -> None:
    """``tradeterm status``'s arguments, and ``--shared``."""
    local_status.add_arguments(parser)
    add_arguments(parser)


def status_command(args: argparse.Namespace) -> int:
    return status(args) if args.shared else local_status.command(args)


def kill_arguments(parser: argparse.ArgumentParser) -> None:
    """``tradeterm kill``'s arguments, and ``--shared``."""
    local.add_arguments(parser)
    add_arguments(parser)


def kill_command(args: argparse.Namespace) -> int:
    if not args.shared:
        return local.command(args)
    reason, timeout = local.checked(args)
    if not args.all:
        raise UserError("--shared kills every instance on every host: give --all")
    return kill_all(args, reason, timeout)


def target(args: argparse.Namespace) -> Target:
    """The shared database the configuration names; a :class:`UserError` without one."""
    with reported_as(EXIT_USAGE, ConfigError):
        settings = load(args).settings
    found = Target.of(settings.shared)
    if found is None:
        raise UserError("--shared needs the shared database: set [shared] url or "
                        "TRADETERM_SHARED__URL", EXIT_USAGE)  # fmt: skip
    found.hide()
    return found


async def _with(tgt: Target, work: Callable[[rows.Conn], Awaitable[T]]) -> T:
    async with await tgt.connect() as conn:
        await check_version(conn)
        return await work(conn)


def reach(tgt: Target, work: Callable[[rows.Conn], Awaitable[T]]) -> T:
    """``work`` on a connection to ``tgt``; one line (:class:`UserError`) when it fails."""
    try:
        return asyncio.run(_with(tgt, work))
    except Failure as exc:
        denied = isinstance(exc, psycopg.errors.InsufficientPrivilege)
        hint = " (the reader role may: tradeterm shared roles)" if denied else ""
        raise UserError(
            f"the shared database at {tgt.shown}: {said(exc)}{hint}", EXIT_ERROR
        ) from None


# ---- status --shared ------------------------------------------------------------------------

HEADER = ("INSTANCE", "HOST", "MKT", "MODE", "CONNECTION", "TRADING", "POS", "ORD", "P&L TODAY",
          "LAG", "HEARTBEAT")  # fmt: skip
LEFT = 6  # the first six columns to the left, the figures to the right


def status(args: argparse.Namespace) -> int:
    found = reach(target(args), rows.registered)
    if args.json:
        print(json.dumps([_json(r) for r in found], indent=2))
    elif not found:
        print(NO_INSTANCE)
    else:
        print("\n".join(table(found)))
    return EXIT_ERROR if any(r.stale for r in found) else EXIT_OK


NO_INSTANCE = "no instance is registered in the shared database"


def _json(r: rows.Registered) -> Message:
    return {"instance": r.name, "host": r.host, "heartbeat_age_s": round(r.beat_age_s, 3),
            "stale": r.stale, "stopped": r.stopped, "status": r.status}  # fmt: skip


def table(found: list[rows.Registered]) -> list[str]:
    """One row per instance (what needs saying indented under it), a rule under the header."""
    cells = [HEADER]
    notes: dict[int, list[str]] = {}
    for r in found:
        s = r.status
        connection = "connected" if s.get("connected") else "disconnected"
        position = s.get("position")
        cells.append((
            r.name, r.host, str(s.get("market", "?")), str(s.get("mode", "?")).upper(),
            connection, str(s.get("trading_state", "?")),
            "unknown" if position is None else (f"{position:+d}" if position else "0"),
            str(s.get("working_orders", "?")), s.get("pnl_today") or "unknown", _lag(s),
            _beat(r),
        ))  # fmt: skip
        said: list[str] = []
        notes[len(cells) - 1] = said
        if s.get("trading_reason"):  # HALTED stays latched across a stop: still true
            said.append(f"{s['trading_state']}: {s['trading_reason']}")
        if r.stopped:  # its connection and shipping as they were at its stop: not news now
            continue
        if not s.get("connected") and s.get("connection_reason"):
            said.append(f"connection {s.get('connection')}: {brief(s['connection_reason'])}")
        if s.get("shipping") and not s["shipping"].get("connected"):
            said.append(shipping_note(s["shipping"]))
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) if i < LEFT else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))  # fmt: skip
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
        lines += [f"    {note}" for note in notes.get(n, [])]
    return lines


def _beat(r: rows.Registered) -> str:
    age = duration(r.beat_age_s)
    if r.stopped:
        return f"STOPPED {age} ago"
    return f"STALE {age} ago" if r.stale else f"{age} ago"


def _lag(s: Message) -> str:
    """How far its journal's shipping is behind (``-``: it does not ship)."""
    shipping = s.get("shipping")
    if not isinstance(shipping, dict):
        return "-"
    if shipping["rows_behind"] is None:
        return "?"  # not known: its database not reached yet
    return duration(float(shipping["seconds_behind"])) if shipping["rows_behind"] else "0"


# ---- kill --all --shared --------------------------------------------------------------------


def kill_all(args: argparse.Namespace, reason: str, timeout_s: float) -> int:
    return reach(target(args), lambda conn: _kill(conn, reason, timeout_s))


async def _kill(conn: rows.Conn, reason: str, timeout_s: float) -> int:
    if not any(not r.stopped for r in await rows.registered(conn)):
        raise UserError(f"{NO_INSTANCE} and running: nothing to kill", EXIT_ERROR)
    await conn.execute(f"LISTEN {rows.OUTCOMES}")  # before the command: no answer missed
    by = f"{getpass.getuser()}@{socket.gethostname()}"
    command, targets = await rows.issue_kill(conn, reason, timeout_s, by)
    print(f"kill command {command} written for {len(targets)} instance(s)", flush=True)
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s + local.ANSWER_MARGIN_S
    said: dict[str, str] = {}
    ok: dict[str, bool] = {}
    while True:
        answers = await rows.outcomes(conn, command)
        for name in sorted(answers):
            line, flat, _offline = local.outcome(answers[name])
            line = f"{name}: {line.partition(': ')[2]}"
            if said.get(name) != line:  # as it arrives, and again when it changes
                print(line, flush=True)
                said[name] = line
                ok[name] = flat and not local.others_working(answers[name])
        left = end - loop.time()
        if all(t in answers for t in targets) or left <= 0:
            break
        async for _ in conn.notifies(timeout=min(POLL_S, left), stop_after=1):
            pass
    proved = sum(ok.get(t, False) for t in targets)
    summary = f"{proved} of {len(targets)} flat and HALTED"
    missing = [t for t in targets if t not in said]
    if missing:
        ages = {r.name: r for r in await rows.registered(conn)}
        summary += "; not answered: " + ", ".join(
            f"{t} (last heartbeat {duration(ages[t].beat_age_s)} ago)" if t in ages else t
            for t in missing
        )
    print(summary)
    return EXIT_OK if proved == len(targets) else EXIT_ERROR
