"""``tradeterm kill SYMBOL|--all --reason TEXT [--timeout S]``: press the kill switch of one
market's instances (every mode) or of all, at once, and say each one's outcome: flat at IB and
HALTED, or what is left (position, working orders, the kill switch's step and detail). An
instance disconnected from IB is named as such: its kill switch has made trading REDUCING and
waits to run first thing on reconnection; nothing there is called flat, and its answer comes
at once (only the connected ones are waited for). An order in the market that only another
API client can cancel (the market's console's, TWS's) is never waited for: the instance ends
flat and HALTED, "but" that order still works (named, with its client). Exit status 0 only
when every instance was proved flat and HALTED with no such order; 1 otherwise.
``--all --shared``: every instance on every host, through the shared database
(:mod:`tradeterm.cli.shared_plane`)."""

from __future__ import annotations

import argparse
import asyncio

from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, UserError
from tradeterm.cli.options import number_arg
from tradeterm.cli.status import NO_INSTANCE, brief, problem, running, status_in
from tradeterm.control.client import Unreachable, ask_all
from tradeterm.control.place import display
from tradeterm.control.protocol import Message

DEFAULT_TIMEOUT_S = 40.0  # the kill switch's own gives up after 30 s of connected time
ANSWER_MARGIN_S = 10.0  # for the instance to answer once its wait is over


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("symbol", nargs="?", metavar="SYMBOL", help="the market to kill")
    parser.add_argument("--all", action="store_true", help="every running instance")
    parser.add_argument("--reason", required=True, help="why (journaled, shown on its screen)")
    parser.add_argument(
        "--timeout", type=number_arg, default=None, metavar="S",
        help=f"wait this long for each kill switch to end (default {DEFAULT_TIMEOUT_S:g})",
    )  # fmt: skip


def checked(args: argparse.Namespace) -> tuple[str, float]:
    """The kill's reason and timeout, checked (a :class:`UserError` for bad input)."""
    if bool(args.symbol) == bool(args.all):
        raise UserError("give one SYMBOL or --all")
    reason = args.reason.strip()
    if not reason:
        raise UserError("--reason must say why")
    timeout = float(args.timeout) if args.timeout is not None else DEFAULT_TIMEOUT_S
    if timeout <= 0:
        raise UserError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    return reason, timeout


def command(args: argparse.Namespace) -> int:
    reason, timeout = checked(args)
    found = running()
    if not found:
        raise UserError(f"{NO_INSTANCE}: nothing to kill", EXIT_ERROR)
    targets = found
    if not args.all:
        targets = [i for i in found if i.symbol == args.symbol.upper()]
        if not targets:
            names = ", ".join(str(i) for i in found)
            raise UserError(f"no instance of {args.symbol} is running (running: {names})",
                            EXIT_ERROR)  # fmt: skip
    request = {"op": "kill", "reason": reason, "timeout_s": timeout}
    answers = asyncio.run(ask_all(targets, request, timeout + ANSWER_MARGIN_S))
    flat = 0
    disconnected = []
    others = []  # flat, but another client's order still works in the market
    for answer in answers:
        line, ok, offline = outcome(answer)
        print(line)
        flat += ok
        if offline:
            disconnected.append(line.partition(":")[0])
        if ok and others_working(answer):
            others.append(line.partition(":")[0])
    summary = f"{flat} of {len(answers)} flat and HALTED"
    if others:
        summary += f"; another client's order still works in: {', '.join(others)}"
    if disconnected:
        summary += f"; disconnected from IB: {', '.join(disconnected)}"
    print(summary)
    return EXIT_OK if flat == len(answers) and not others else EXIT_ERROR


def others_working(answer: Message | Unreachable) -> int:
    """How many working orders of other API clients the instance's kill switch left in its
    market (it cannot cancel them)."""
    kill = answer.get("kill") if isinstance(answer, dict) else None
    progress = kill.get("progress") if isinstance(kill, dict) else None
    return int(progress.get("others", 0)) if isinstance(progress, dict) else 0


def outcome(answer: Message | Unreachable) -> tuple[str, bool, bool]:
    """One instance's line, whether it is proved flat and HALTED, and whether it is
    disconnected from IB."""
    status = status_in(answer)
    kill = answer.get("kill") if isinstance(answer, dict) else None
    if status is None or not isinstance(kill, dict):
        who = answer.instance if isinstance(answer, Unreachable) else "?"
        return f"{who}: NOT CONFIRMED FLAT: {problem(answer)}", False, False
    name = display(f"{status['market']}.{status['mode']}")
    progress = kill.get("progress")
    state = status["trading_state"]
    if kill["flat"] and state == "HALTED" and progress is not None:
        but = ", but another client's order still works" if others_working(answer) else ""
        return f"{name}: flat and HALTED{but} ({progress['detail']})", True, False
    parts = ["NOT FLAT" if kill["finished"] else "NOT CONFIRMED FLAT"]
    offline = not kill["connected"]
    if offline:
        parts.append(
            f"disconnected from IB ({brief(status['connection_reason'])}): the kill switch "
            "waits and runs first thing on reconnection"
        )
    if progress is not None:
        if not (offline and progress["step"] == "waiting"):  # just said
            parts.append(f"kill switch {progress['step']}: {progress['detail']}")
    else:
        parts.append("the engine had not started: nothing at IB verified")
    position = status.get("position")
    parts.append(f"position {position:+d} as booked" if position is not None
                 else "position unknown")  # fmt: skip
    parts.append(f"{status['working_orders']} working order(s); trading {state}")
    return f"{name}: " + "; ".join(parts), False, offline
