"""What ``tradeterm status`` and ``tradeterm kill`` print of the instances' answers: unknown
figures said as unknown, 80 columns, and a disconnected instance never called flat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradeterm.cli.kill import outcome
from tradeterm.cli.status import table
from tradeterm.control.client import Instance, Unreachable


def status(**changes: Any) -> dict[str, Any]:
    base = {
        "market": "ES", "mode": "paper", "pid": 1, "connected": True, "connection": "OK",
        "connection_reason": "connected", "connection_for_s": 3720.0, "data_age_s": 0.1,
        "stale": [], "trading_state": "ACTIVE", "trading_reason": "", "position": 2,
        "working_orders": 1, "pnl_today": "-125.00", "currency": "USD",
        "strategy": {"name": "sma_cross", "state": "running", "reason": ""}, "kill": None,
    }  # fmt: skip
    return base | changes


def test_the_table_says_unknown_and_fits_80_columns() -> None:
    lines = table([
        {"ok": True, "status": status()},
        {"ok": True, "status": status(market="MNQ", position=None, pnl_today=None,
                                      connected=False, connection="RECONNECTING",
                                      connection_reason="connection lost", strategy=None)},
        Unreachable(Instance("CL.live", Path("/x/CL.live.sock")), "no answer within 5 s"),
    ])  # fmt: skip
    assert lines[1].split() == ["ES", "PAPER", "connected", "1h02m", "0.1s", "ACTIVE", "+2",
                                "1", "-125.00", "sma_cross"]  # fmt: skip
    assert lines[2].split()[:3] == ["MNQ", "PAPER", "disconnected"]
    assert lines[2].split()[-4:] == ["unknown", "1", "unknown", "-"]
    assert lines[3] == "    connection RECONNECTING: connection lost"
    assert lines[4] == "CL LIVE: no answer within 5 s"
    assert all(len(line) <= 80 for line in lines)


def test_a_disconnected_instance_waiting_to_kill_is_never_flat() -> None:
    waiting = {"step": "waiting", "detail": "not connected: runs first thing on reconnection",
               "reason": "x", "position": 2, "working": 0, "done": False, "ok": False}  # fmt: skip
    answer = {
        "ok": True,
        "status": status(connected=False, connection="RECONNECTING", trading_state="REDUCING",
                         connection_reason="connection lost"),
        "kill": {"flat": False, "finished": False, "connected": False, "progress": waiting},
    }  # fmt: skip
    line, flat, offline = outcome(answer)
    assert (flat, offline) == (False, True)
    assert line == (
        "ES PAPER: NOT CONFIRMED FLAT; disconnected from IB (connection lost): the kill switch "
        "waits and runs first thing on reconnection; position +2 as booked; 1 working order(s); "
        "trading REDUCING"
    )


HINT = (  # what the IB adapter says when a gateway cannot be reached (~400 characters)
    "cannot connect to IB at 127.0.0.1:4002: nothing is listening there. Check that IB Gateway "
    "or TWS is running and logged in, that the API is enabled in its settings (Configure > "
    "Settings > API > Settings: 'Enable ActiveX and Socket Clients', and this host among the "
    "trusted IPs), and the port: IB Gateway 4001 live / 4002 paper, TWS 7496 live / 7497 paper."
)


def test_the_connection_hint_is_not_repeated_under_every_instance() -> None:
    down = status(connected=False, connection="RECONNECTING", connection_reason=HINT,
                  trading_state="REDUCING")  # fmt: skip
    short = "cannot connect to IB at 127.0.0.1:4002: nothing is listening there"
    lines = table([{"ok": True, "status": down}, {"ok": True, "status": down | {"market": "NQ"}}])
    assert lines[2] == lines[4] == f"    connection RECONNECTING: {short}"
    waiting = {"step": "waiting", "detail": "not connected: runs first thing on reconnection",
               "reason": "x", "position": 2, "working": 0, "done": False, "ok": False}  # fmt: skip
    line, _, _ = outcome({
        "ok": True, "status": down,
        "kill": {"flat": False, "finished": False, "connected": False, "progress": waiting},
    })  # fmt: skip
    assert line == (
        f"ES PAPER: NOT CONFIRMED FLAT; disconnected from IB ({short}): the kill switch waits "
        "and runs first thing on reconnection; position +2 as booked; 1 working order(s); "
        "trading REDUCING"
    )


def test_a_kill_proved_flat_and_halted_is_flat() -> None:
    halted = {"step": "halted", "detail": "flat at IB, no working orders", "reason": "x",
              "position": 0, "working": 0, "done": True, "ok": True}  # fmt: skip
    answer = {
        "ok": True,
        "status": status(trading_state="HALTED", position=0, working_orders=0),
        "kill": {"flat": True, "finished": True, "connected": True, "progress": halted},
    }
    assert outcome(answer) == ("ES PAPER: flat and HALTED (flat at IB, no working orders)",
                               True, False)  # fmt: skip


def test_flat_with_another_clients_order_left_says_but() -> None:
    """The market's console left a limit its screen cannot cancel (IB lets only the client
    that placed it): flat and HALTED, but never the plain 'no working orders' line."""
    detail = (
        "flat at IB; 1 order of client 125 still works at IB: BUY 1 LMT @ 4995.00 in ESZ6; this "
        "instance cannot cancel it (cancel it from TWS or the client that placed it); should it "
        "fill, it opens a position again that nothing here closes"
    )
    halted = {"step": "halted", "detail": detail, "reason": "x", "position": 0, "working": 0,
              "done": True, "ok": True, "others": 1}  # fmt: skip
    answer = {
        "ok": True,
        "status": status(trading_state="HALTED", position=0, working_orders=0),
        "kill": {"flat": True, "finished": True, "connected": True, "progress": halted},
    }
    line, flat, _ = outcome(answer)
    assert flat and line == (
        f"ES PAPER: flat and HALTED, but another client's order still works ({detail})"
    )
