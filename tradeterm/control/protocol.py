"""The control protocol: one JSON object per line each way, one request per connection.

Requests: ``{"op": "status"}`` and ``{"op": "kill", "reason": TEXT, "timeout_s": S}``.
Answers: ``{"ok": true, "status": STATUS}`` (and ``"kill": OUTCOME`` for a kill), or
``{"ok": false, "error": TEXT}``. A STATUS (:func:`status_of`) is what ``tradeterm status``
shows of one instance, from ``engine.snapshot()``; an OUTCOME (:func:`kill_outcome`) is the
kill switch's last step and whether it proved the instance flat. What is unknown is null,
never a guess: the position before the contract is known, today's P&L with a position and no
price to mark it at. Money is a string with two decimals (``"-64.50"``, whatever the
instrument's tick), as ``tradeterm report --format json`` prints it. A STATUS carries the API
client id the instance connects with (``tradeterm doctor`` tells its own id in use from
another program's).
"""

from __future__ import annotations

import asyncio
import json
import os
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tradeterm.broker.port import CONNECTED
from tradeterm.engine.calendar import NS
from tradeterm.engine.types import KillStep

if TYPE_CHECKING:
    from tradeterm.engine.engine import Engine
    from tradeterm.engine.events import KillProgress

MAX_LINE = 64 * 1024  # an answer is a few hundred bytes; a request far less
CENT = Decimal("0.01")  # money is said to the cent, a string as in ``tradeterm report``'s JSON

Message = dict[str, Any]


class ProtocolError(Exception):
    """A line that is not a JSON object, or no line at all."""


def encode(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


async def read_message(reader: asyncio.StreamReader) -> Message:
    """The next line as a JSON object. Raises :class:`ProtocolError`."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError:
        raise ProtocolError("the connection closed before a whole line") from None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"a line longer than {MAX_LINE} bytes") from None
    try:
        message = json.loads(line)
    except ValueError:
        raise ProtocolError("not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("not a JSON object")
    return message


def status_of(
    engine: Engine, symbol: str, mode: str, connection_since_ns: int | None,
    shipping: Message | None = None,
) -> Message:  # fmt: skip
    """What ``tradeterm status`` shows of this instance. ``connection_since_ns``: when the
    connection last went up or down (None: not since this instance began). ``shipping``: the
    journal's shipping to the shared database (``Lag.as_status``: rows and seconds behind,
    connected, the problem), None when no ``[shared] url`` is set."""
    snap = engine.snapshot(tape=0)
    now = engine.clock()
    health = snap.health
    pnl = snap.pnl
    ages = [age for _, age in snap.feed_ages]
    unmarked = pnl is not None and pnl.quantity != 0 and pnl.mark is None
    strategy = snap.strategy
    return {
        "market": symbol.upper(),
        "mode": mode,
        "pid": os.getpid(),
        "client_id": engine.broker.client_id,  # the API client id it holds at the gateway
        "connected": health.state in CONNECTED,
        "connection": str(health.state),
        "connection_reason": health.reason,
        "connection_for_s": (now - connection_since_ns) / NS
        if connection_since_ns is not None
        else None,
        "data_age_s": min(ages) if ages else None,
        "stale": [str(feed) for feed in health.stale],
        "trading_state": str(snap.trading_state),
        "trading_reason": snap.trading_reason,
        "position": pnl.quantity if pnl is not None else None,
        "working_orders": len(snap.orders),
        "pnl_today": str(pnl.daily.quantize(CENT)) if pnl is not None and not unmarked else None,
        "currency": snap.instrument.currency if snap.instrument is not None else None,
        "strategy": None
        if strategy is None
        else {"name": strategy.name, "state": str(strategy.state), "reason": strategy.reason},
        "kill": _progress(snap.kill) if snap.kill is not None else None,
        "shipping": shipping,
    }


def kill_outcome(progress: KillProgress | None, engine: Engine) -> Message:
    """What a kill request ended with: ``flat`` only when the kill switch proved it at the
    broker (its ``halted`` end); otherwise the step it is at, and what is left."""
    flat = progress is not None and progress.done and progress.ok
    return {
        "flat": flat and progress is not None and progress.step is KillStep.HALTED,
        "finished": progress is not None and progress.done,
        "connected": engine.connected,
        "progress": _progress(progress) if progress is not None else None,
    }


def _progress(progress: KillProgress) -> Message:
    return {
        "step": str(progress.step),
        "detail": progress.detail,
        "reason": progress.reason,
        "position": progress.position,
        "working": progress.working,
        "done": progress.done,
        "ok": progress.ok,
        "others": progress.others,
    }
