"""``tradeterm console``: the typed command language, and the command run as a user runs it
(a real process on the embedded fake gateway)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tradeterm.console import parse_command
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import (
    CancelAll,
    CancelOrder,
    Flatten,
    ModifyOrder,
    PlaceBracket,
    PlaceOrder,
    Reverse,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("buy", PlaceOrder(Side.BUY, 3)),
        ("BUY 2", PlaceOrder(Side.BUY, 2)),
        ("sell 1 limit 5001.25", PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit="5001.25")),
        ("buy stop 5010", PlaceOrder(Side.BUY, 3, OrderType.STOP, stop="5010")),
        (
            "sell 1 stop 4990 limit 4989.75",
            PlaceOrder(Side.SELL, 1, OrderType.STOP_LIMIT, limit="4989.75", stop="4990"),
        ),
        (
            "bracket buy 2 stop 8 target 16 limit 5000",
            PlaceBracket(Side.BUY, 2, stop_ticks=8, target_ticks=16, entry_limit="5000"),
        ),
        ("bracket sell stop 6", PlaceBracket(Side.SELL, 3, stop_ticks=6)),
        ("modify tt.ES.1.2 qty 2 limit 5000.5", ModifyOrder("tt.ES.1.2", 2, limit="5000.5")),
        ("MODIFY tt.ES.1.2 QTY 2", ModifyOrder("tt.ES.1.2", 2)),
        ("cancel all", CancelAll()),
        ("Cancel ALL", CancelAll()),
        ("cancel tt.ES.123.4", CancelOrder("tt.ES.123.4")),
        ("CANCEL tt.ES.1.2", CancelOrder("tt.ES.1.2")),
        ("Sell 2 LIMIT 5001.25", PlaceOrder(Side.SELL, 2, OrderType.LIMIT, limit="5001.25")),
        ("BRACKET SELL 1 STOP 8", PlaceBracket(Side.SELL, 1, stop_ticks=8)),
        ("flatten", Flatten()),
        ("reverse", Reverse()),
        ("  ", ""),
        ("status", "status"),
        ("?", "help"),
        ("exit", "quit"),
    ],
)
def test_parse(line: str, expected: object) -> None:
    assert parse_command(line, 3) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hold 1", "unknown command"),
        ("buy 1 limit", "pairs"),
        ("buy 1 price 5000", "unknown option"),
        ("bracket buy 1 target 8", "needs 'stop"),
        ("bracket 1 stop 8", "bracket buy|sell"),
        ("bracket buy stop x", "whole number"),
        ("cancel", "cancel ORDER_ID"),
        ("modify", "modify ORDER_ID"),
    ],
)
def test_bad_lines_say_why(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_command(line, 1)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("buy 1 limit 0", "limit must be a price above zero, got '0'"),
        ("sell 1 stop -5", "stop must be a price above zero, got '-5'"),
        ("buy 1 limit 0.00", "limit must be a price above zero"),
        ("buy 1 limit nan", "limit must be a price above zero, got 'nan'"),
        ("buy 1 limit inf", "limit must be a price above zero, got 'inf'"),
        ("buy 1 limit 1e3", "limit must be a price above zero"),
        ("buy 1 limit \uff15\uff10\uff10\uff10", "limit must be a price above zero"),  # full width
        ("buy 1 limit \u0665\u0660\u0660\u0660", "limit must be a price above zero"),  # Arabic
        ("buy \u0663", "quantity must be a whole number above zero, got '\u0663'"),
        ("buy \uff13", "quantity must be a whole number above zero"),  # full-width 3
        ("buy \u00b3", "quantity must be a whole number above zero"),  # superscript: int() fails
        ("buy 0", "quantity must be a whole number above zero, got '0'"),
        ("sell -2", "quantity must be a whole number above zero"),
        ("buy 1_0", "quantity must be a whole number above zero"),
        ("bracket buy 1 stop 0", "stop ticks must be a whole number above zero"),
        ("bracket buy 1 stop \u0668", "stop ticks must be a whole number above zero"),
        ("bracket sell 1 stop 8 target -16", "target ticks must be a whole number above zero"),
        ("bracket buy 1 stop 8 limit -1", "limit must be a price above zero"),
        ("modify tt.ES.1.2 qty 0", "qty must be a whole number above zero"),
        ("modify tt.ES.1.2 limit 0", "limit must be a price above zero"),
    ],
)
def test_numbers_are_ascii_and_above_zero_in_our_own_words(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        parse_command(line, 1)
    assert "invalid literal" not in str(raised.value)


def _console(*args: str, stdin: str = "", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "console", *args],
        input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_console_trades_on_the_embedded_gateway() -> None:
    done = _console("--for", "3", stdin="buy 3\nrearm\nbuy 2\nsell 1 limit 9999\nstatus\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "SIM mode" in out and "CONNECTION OK" in out and "RECONCILED (start)" in out
    assert "REFUSED cmd-1: order quantity 3 is above the maximum of 2" in out
    assert "REARM refused: trading is already active" in out
    assert "FILL BUY 2 @" in out
    assert "SELL 1 LMT @ 9999.00 SUBMITTED" in out
    final = out.rsplit("stopping after", 1)[1]
    assert "position 2" in final and "commissions 4.50" in final
    assert "Traceback" not in out + done.stderr


def test_console_kill_switch_flattens_and_halts() -> None:
    done = _console("--for", "4", stdin="buy 2\nsell 1 limit 9999\nkill end of test\nbuy 1\n")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "KILL requested: end of test" in out
    # the sell limit rests; the market buy may still be on its way when the kill arrives
    assert re.search(r"KILL cancelling: cancelling [12] working order\(s\)", out)
    bought = "FILL BUY 2" in out
    assert ("KILL flattening: market SELL 2" in out) == bought
    assert "KILL halted: flat at IB, no working orders" in out
    assert "the kill switch is running" in out or "trading is HALTED" in out  # buy 1 refused
    final = out.rsplit("stopping after", 1)[1]
    assert "position 0" in final and "trading HALTED: kill switch: end of test" in final


def test_halted_survives_a_restart() -> None:
    """The second process reads the latched HALTED from the market's journal."""
    first = _console("--for", "2", stdin="kill going home\n")
    assert first.returncode == 0 and "KILL halted" in first.stdout, first.stderr
    second = _console("--for", "2", stdin="buy 1\nrearm too soon\n")
    assert second.returncode == 0, second.stderr
    out = second.stdout
    assert "trading HALTED: kill switch: going home" in out.split("RECONCILED (start)", 1)[1]
    assert "REFUSED cmd-1: trading is HALTED (kill switch: going home)" in out
    assert "REARM refused: re-arm refused: cooling down after the halt" in out
    assert "FILL" not in out


def test_console_refuses_live_and_bad_input() -> None:
    live = _console("--live", stdin="")
    assert live.returncode == 2 and "LIVE trading is refused" in live.stderr
    assert "Traceback" not in live.stderr
    bad = _console("--for", "0")
    assert bad.returncode == 2 and "--for must be a positive" in bad.stderr
    nothing = _console("--paper", "--port", "1", "--for", "2")
    assert nothing.returncode == 1 and "127.0.0.1:1" in nothing.stderr


def test_an_order_line_shows_a_stop_limits_trigger_and_no_price_for_market() -> None:
    """A stop-limit showed only its limit: the trader could not see where it triggers."""
    from tradeterm.console import _prices
    from tradeterm.domain import Instrument, Order, OrderType, Side
    from tradeterm.engine.events import OrderView

    es = Instrument.from_spec("ES", con_id=1)
    px = es.format_price

    def view(order_type: OrderType, limit: int | None, stop: int | None) -> OrderView:
        return OrderView.of(
            Order("tt.ES.1.1", es, Side.SELL, 1, order_type, limit=limit, stop=stop)
        )

    assert _prices(view(OrderType.STOP_LIMIT, 24040, 23996), px) == " stop 5999.00 limit 6010.00"
    assert _prices(view(OrderType.STOP, None, 23996), px) == " @ 5999.00"
    assert _prices(view(OrderType.LIMIT, 24040, None), px) == " @ 6010.00"
    assert _prices(view(OrderType.MARKET, None, None), px) == ""


def test_console_runs_a_strategy_shows_it_and_stops_it() -> None:
    done = _console("--for", "4", "--strategy", "tests.support.strategies:LongAtStart",
                    stdin="strategy\nstrategy stop\nstrategy stop\nstrategy\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    name = "tests.support.strategies:LongAtStart"
    assert f"STRATEGY {name} running: started" in out
    assert f"SIGNAL {name} TargetPosition quantity=1 (long from the start): sent cmd-1" in out
    assert "FILL BUY 1 @" in out
    assert f"STRATEGY {name} stopped: stopped in the console" in out
    assert f"strategy {name} is already stopped" in out
    assert "Traceback" not in out + done.stderr


def test_a_faulty_strategy_is_stopped_and_manual_trading_goes_on() -> None:
    done = _console("--for", "3", "--strategy", "tests.support.strategies:FailsAtStart",
                    stdin="buy 1\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "faulted: on_start raised RuntimeError: broken on purpose" in out
    assert "FILL BUY 1 @" in out
    assert "Traceback" not in out + done.stderr


def test_console_refuses_an_unknown_strategy_or_parameter_in_one_line() -> None:
    unknown = _console("--strategy", "nope")
    assert unknown.returncode == 2 and "unknown strategy 'nope'" in unknown.stderr
    bad = _console("--strategy", "sma_cross", "--param", "fast=50")
    assert bad.returncode == 2 and "fast (50) must be fewer bars than slow" in bad.stderr
    orphan = _console("--param", "fast=5")
    assert orphan.returncode == 2 and "--param needs --strategy" in orphan.stderr
    for done in (unknown, bad, orphan):
        assert "Traceback" not in done.stderr


def test_console_pauses_resumes_and_starts_the_strategy_again() -> None:
    done = _console("--for", "4", "--strategy", "tests.support.strategies:LongAtStart",
                    stdin="strategy pause\nstrategy pause\nstrategy resume\nstrategy stop\n"
                          "strategy start\nstrategy\nstrategy halt\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    name = "tests.support.strategies:LongAtStart"
    assert f"STRATEGY {name} paused: paused in the console" in out
    assert f"strategy {name} is already paused" in out
    assert f"STRATEGY {name} running: resumed in the console" in out
    assert f"STRATEGY {name} stopped: stopped in the console" in out
    assert f"STRATEGY {name} running: started in the console" in out
    assert f"strategy {name} running: started in the console" in out  # `strategy` shows it
    assert "? strategy takes nothing, start, pause, resume, stop, not 'halt'" in out
    assert "Traceback" not in out + done.stderr


def test_a_signal_that_sent_nothing_is_not_said_to_be_sent() -> None:
    """A CANARY intent not picked, already at its target at IB, printed ``): sent already at
    the target at IB: nothing sent``."""
    from tests.support.fake_broker import FakeBroker
    from tests.support.instruments import ES
    from tradeterm.console import describe
    from tradeterm.engine.engine import Engine
    from tradeterm.engine.events import StrategySignal

    signal = StrategySignal("sma_cross", "TargetPosition", "quantity=-1", "SMA(2) < SMA(3)",
                            True, "already at the target at IB: nothing sent", 0)  # fmt: skip
    line = describe(signal, Engine(FakeBroker(ES), "ES"))
    assert line is not None and "sent already" not in line
    assert line.endswith("(SMA(2) < SMA(3)): already at the target at IB: nothing sent")
