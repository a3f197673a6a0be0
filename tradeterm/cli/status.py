"""``tradeterm status [--json]``: every running instance (screen or console), from its control
socket: market, mode, connection (and for how long), data age, trading state (and why),
position, working orders (ORD), today's P&L (net of commissions; "unknown" when it is not known),
strategy. No instance running: said, exit status 0; an instance that does not answer is
listed as such, exit status 1."""

from __future__ import annotations

import argparse
import asyncio
import json

from tradeterm.cli.errors import EXIT_ERROR, EXIT_OK, reported_as
from tradeterm.control.client import Instance, Unreachable, ask_all, instances
from tradeterm.control.place import ControlError
from tradeterm.control.protocol import Message

STATUS_TIMEOUT_S = 5.0
NO_INSTANCE = "no tradeterm instance is running"
WIDTH = 80
COLUMNS = (  # title, width (the last one takes what is left of WIDTH)
    ("MKT", 5), ("MODE", 6), ("CONNECTION", 18), ("DATA", 5), ("TRADING", 8),
    ("POS", 7), ("ORD", 3), ("P&L TODAY", 9), ("STRATEGY", 0),
)  # fmt: skip
RIGHT = {"POS", "ORD", "P&L TODAY"}
STRATEGY_WIDTH = WIDTH - sum(width + 1 for _, width in COLUMNS[:-1])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON array, for scripts")


def running() -> list[Instance]:
    """The running instances (stale sockets removed); a :class:`UserError` when the control
    directory cannot be used."""
    with reported_as(EXIT_ERROR, ControlError):
        return instances()


def command(args: argparse.Namespace) -> int:
    found = running()
    answers = asyncio.run(ask_all(found, {"op": "status"}, STATUS_TIMEOUT_S)) if found else []
    if args.json:
        print(json.dumps([_json(a) for a in answers], indent=2))
    elif not answers:
        print(NO_INSTANCE)
    else:
        print("\n".join(table(answers)))
    return EXIT_OK if all(status_in(a) is not None for a in answers) else EXIT_ERROR


def status_in(answer: Message | Unreachable) -> Message | None:
    """The instance's status in its answer; None when it gave none."""
    if isinstance(answer, Unreachable) or not answer.get("ok"):
        return None
    status = answer.get("status")
    return status if isinstance(status, dict) else None


def problem(answer: Message | Unreachable) -> str:
    """Why ``answer`` holds no status."""
    if isinstance(answer, Unreachable):
        return answer.why
    return str(answer.get("error", "an answer without a status"))


def _json(answer: Message | Unreachable) -> Message:
    status = status_in(answer)
    if status is not None:
        return status
    name = answer.instance if isinstance(answer, Unreachable) else None
    return {"instance": str(name) if name else None, "error": problem(answer)}


def table(answers: list[Message | Unreachable]) -> list[str]:
    """The status table: one row per instance, what needs saying indented under it."""
    lines = [_row([title for title, _ in COLUMNS])]
    for answer in answers:
        status = status_in(answer)
        if status is None:
            who = answer.instance if isinstance(answer, Unreachable) else "?"
            lines.append(f"{who}: {problem(answer)}")
            continue
        lines.append(_row(_cells(status)))
        lines += [f"    {line}" for line in _notes(status)]
    return lines


def _row(cells: list[str]) -> str:
    out = []
    for (title, width), cell in zip(COLUMNS, cells, strict=True):
        out.append(cell.rjust(width) if title in RIGHT else cell.ljust(width))
    return " ".join(out).rstrip()


def _cells(s: Message) -> list[str]:
    connected = "connected" if s["connected"] else "disconnected"
    since = s.get("connection_for_s")
    strategy = s.get("strategy")
    pnl = s.get("pnl_today")
    return [
        s["market"],
        s["mode"].upper(),
        f"{connected} {duration(since)}" if since is not None else connected,
        duration(s["data_age_s"]) if s.get("data_age_s") is not None else "-",
        s["trading_state"],
        _signed(s.get("position")),
        str(s["working_orders"]),
        pnl if pnl is not None else "unknown",
        _fit(_strategy(strategy), STRATEGY_WIDTH) if strategy else "-",
    ]


def _strategy(strategy: Message) -> str:
    """Its name when running; else its state first (in capitals), then its name."""
    name, state = strategy["name"], strategy["state"]
    return name if state == "running" else f"{state.upper()} {name}"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _notes(s: Message) -> list[str]:
    notes = []
    if s.get("trading_reason"):
        notes.append(f"{s['trading_state']}: {s['trading_reason']}")
    if not s["connected"] or s["connection"] != "OK":
        notes.append(f"connection {s['connection']}: {brief(s['connection_reason'])}")
    strategy = s.get("strategy")
    if strategy and (strategy["state"] != "running" or len(strategy["name"]) > STRATEGY_WIDTH):
        why = f": {strategy['reason']}" if strategy.get("reason") else ""
        notes.append(f"strategy {strategy['name']} {strategy['state']}{why}")
    kill = s.get("kill")
    if kill and not kill["done"]:
        notes.append(f"kill switch {kill['step']}: {kill['detail']}")
    if s.get("shipping"):
        notes.append(shipping_note(s["shipping"]))
    return notes


def shipping_note(shipping: Message) -> str:
    """The journal's shipping to the shared database, one line."""
    if shipping["rows_behind"] is None:  # the database not reached yet
        behind = "lag unknown"
    else:
        behind = f"{shipping['rows_behind']} rows, {duration(shipping['seconds_behind'])} behind"
    if not shipping["connected"]:
        return f"shared database down ({behind}): {brief(shipping['problem'] or 'not connected')}"
    if shipping["problem"]:  # up, but refusing a row
        return f"shared database: {behind}: {brief(shipping['problem'])}"
    return (
        f"shared database: {behind}" if shipping["rows_behind"] else "shared database: up to date"
    )


def brief(reason: str) -> str:
    """A reason's first sentence: what happened. The advice after it (how to get a gateway
    connection working: ``tradeterm doctor`` and the screen give it) is left out of a line
    said per instance."""
    return reason.split(". ", 1)[0]


def duration(seconds: float) -> str:
    """``0.4s``, ``12s``, ``5m07s``, ``2h05m``: short enough for a column."""
    if seconds < 10:
        return f"{max(seconds, 0):.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _signed(position: int | None) -> str:
    if position is None:
        return "unknown"
    return f"{position:+d}" if position else "0"
