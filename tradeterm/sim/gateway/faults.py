"""Fault injection for the fake gateway: the ``--faults`` spec and its schedule.

A spec is a comma-separated list of faults, each ``KIND[@AT][:ARG[:ARG]]``. ``AT`` is when the
fault fires, counted from the gateway's start (omit it to fire at once, or to arm it at once for
the "next order" kinds); durations and times take ``ms``, ``s`` (default) or ``m``.

======================  =========================================================================
``drop@T``               close every client socket at T (clients see the peer close)
``lost@T:D[:1101|1102]`` error 1100 at T, then after D seconds 1101 (data lost: market-data
                         subscriptions are dropped and must be renewed) or 1102 (data kept;
                         the default)
``farm@T:D``             2103 "market data farm broken" at T, 2104 "OK" after D (socket stays up)
``hmds@T:D``             2105 / 2106 for the historical data farm
``stall@T:D``            market data stops for D seconds while the socket stays up
``reject@T``             the next order after T is rejected (error 201)
``delay@T:D[:FOR]``      acknowledgements (order status, cancels) are delayed by D, for FOR
                         seconds (default: for the rest of the run)
``offline-fill@T[:D]``   at T drop the clients that have working orders, fill those orders while
                         they are away, and accept them back after D (default 2 s); they must
                         recover the fills with reqExecutions
``restart@T[:D]``        the gateway restarts: every socket closes and it listens again after D
                         (default 2 s) with positions, working orders and executions kept
``pacing@T``             the next request after T is answered with error 100 (pacing violation)
``malformed@T``          a malformed frame is sent to every client at T
======================  =========================================================================

Example: ``--faults "farm@20:5,lost@40:3:1101,reject@60,restart@90:4"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS: dict[str, tuple[int, int]] = {  # kind -> (min args, max args)
    "drop": (0, 0),
    "lost": (1, 2),
    "farm": (1, 1),
    "hmds": (1, 1),
    "stall": (1, 1),
    "reject": (0, 0),
    "delay": (1, 2),
    "offline-fill": (0, 1),
    "restart": (0, 1),
    "pacing": (0, 0),
    "malformed": (0, 0),
}

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


class FaultSpecError(ValueError):
    """A ``--faults`` spec that cannot be read; the message says which part and why."""


@dataclass(slots=True, frozen=True)
class Fault:
    kind: str
    at_s: float  # seconds after the gateway started
    duration_s: float | None = None  # for kinds with a duration
    option: str | None = None  # "1101"/"1102" for lost; the span of delay as text
    span_s: float | None = None  # delay: how long the delay lasts


def parse_duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None:
        raise FaultSpecError(f"'{text}' is not a duration (examples: 5, 2.5s, 300ms, 1m)")
    value = float(match.group(1))
    unit = match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def parse_faults(spec: str) -> list[Fault]:
    """Parse a ``--faults`` spec into faults ordered by time."""
    faults: list[Fault] = []
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            continue
        head, *args = item.split(":")
        kind, _, at = head.partition("@")
        kind = kind.strip().lower()
        if kind not in KINDS:
            known = ", ".join(KINDS)
            raise FaultSpecError(f"unknown fault '{kind}' in '{item}' (known: {known})")
        low, high = KINDS[kind]
        if not low <= len(args) <= high:
            want = f"{low}" if low == high else f"{low} to {high}"
            raise FaultSpecError(f"'{item}': {kind} takes {want} argument(s) after ':'")
        at_s = parse_duration(at) if at else 0.0
        fault = Fault(kind, at_s)
        if kind == "lost":
            option = args[1] if len(args) > 1 else "1102"
            if option not in ("1101", "1102"):
                raise FaultSpecError(f"'{item}': lost ends with 1101 or 1102, not '{option}'")
            fault = Fault(kind, at_s, parse_duration(args[0]), option)
        elif kind == "delay":
            span = parse_duration(args[1]) if len(args) > 1 else None
            fault = Fault(kind, at_s, parse_duration(args[0]), span_s=span)
        elif args:
            fault = Fault(kind, at_s, parse_duration(args[0]))
        elif kind in ("offline-fill", "restart"):
            fault = Fault(kind, at_s, 2.0)
        faults.append(fault)
    return sorted(faults, key=lambda f: f.at_s)
