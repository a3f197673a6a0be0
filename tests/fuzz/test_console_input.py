"""Fuzzed console input: random text and near-valid commands typed into ``tradeterm console``.

A typed line is either carried out as it says (side, quantity, prices on the tick on the safe
side) or refused in one line that names what is wrong; nothing from a refused line reaches
the broker, and no exception escapes. Checked three ways: the parser alone (many examples),
the console on an engine started on a recording in-memory broker (every line printed, every
broker call recorded), and a few real ``tradeterm console`` processes.
"""

from __future__ import annotations

import asyncio
import io
import math
import re
import subprocess
import sys
from decimal import Decimal

from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.fuzz.budget import fuzz
from tests.fuzz.strategies import CHARS, JUNK, LINE_BREAKS, mangled_case, numbers
from tests.support.clock import Clock
from tests.support.fake_broker import FakeBroker, Modified, Placed
from tests.support.instruments import ES, PX_5000
from tests.unit.engine.test_orders import report, settle
from tradeterm.broker.port import QuoteEvent
from tradeterm.console import Console, describe, parse_command
from tradeterm.domain import OrderChange, OrderStatus, OrderType, Quote, Side
from tradeterm.engine.calendar import CME
from tradeterm.engine.commands import (
    CancelAll,
    CancelOrder,
    Command,
    Flatten,
    ModifyOrder,
    PlaceBracket,
    PlaceOrder,
    Reverse,
)
from tradeterm.engine.engine import Engine

DEFAULT_QTY = 1
OURS = "tt.ES.2.1"  # the working order (buy 1 limit 4990.00) every console session starts with
BID, ASK = PX_5000 - 1, PX_5000  # 4999.75 / 5000.00
TICK = Decimal("0.25")
OPTIONS = ("limit", "stop", "target", "qty")
ORDER, BRACKET, MODIFY = ("limit", "stop"), ("stop", "target", "limit"), ("qty", "limit", "stop")
VERBS = ("buy", "sell", "bracket", "modify", "cancel", "flatten", "reverse", "status", "help",
         "quit", "exit", "?", "kill", "rearm")  # fmt: skip
SEPARATORS = st.sampled_from(
    [" ", " ", " ", "  ", "\t", "\u3000", "\xa0", "\x0b", "\x1c", "\u2028"]
)
WHOLE = re.compile(r"[+-]?[0-9]+")
PRICE = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
STAMP = re.compile(r"\d\d:\d\d:\d\d\.\d\d\d ")


def words() -> st.SearchStrategy[str]:
    return st.one_of(
        numbers(),
        st.sampled_from((*OPTIONS, "all", "limt", "price", "buy", "sell")).flatmap(mangled_case),
        st.sampled_from([OURS, OURS.upper(), "tt.ES.1.1", "all"]),
        JUNK,
    )


def prices() -> st.SearchStrategy[str]:
    """Prices near the market (on and off the tick, whole or not), and every kind of
    mistyped one."""
    near = st.one_of(
        st.decimals("4985", "5015", places=4).map(str), st.integers(4985, 5015).map(str)
    )
    return st.one_of(near, near, numbers())


@st.composite
def commands(draw: st.DrawFn) -> str:
    """A command word (any case) followed by words of every kind."""
    tokens = [
        draw(st.sampled_from(VERBS).flatmap(mangled_case)),
        *draw(st.lists(words(), max_size=7)),
    ]
    gaps = draw(st.lists(SEPARATORS, min_size=len(tokens), max_size=len(tokens)))
    return draw(st.sampled_from(["", " ", "\t"])) + "".join(
        map("".join, zip(tokens, gaps, strict=True))
    )


@st.composite
def orders(draw: st.DrawFn) -> str:
    """A well-shaped order, bracket or modification (the options it takes, in any case and
    order) with plausible or mistyped values, now and then a word too many."""
    head, takes = draw(st.sampled_from([
        ("buy", ORDER), ("sell", ORDER), ("bracket buy", BRACKET), ("bracket sell", BRACKET),
        (f"modify {OURS}", MODIFY),
    ]))  # fmt: skip
    parts = [head]
    if head != f"modify {OURS}" and draw(st.booleans()):
        qty = st.sampled_from("1123")
        parts.append(draw(st.one_of(qty, qty, numbers())))
    names = draw(st.lists(st.sampled_from(takes), min_size=head.startswith("bracket"),
                          max_size=len(takes), unique=True))  # fmt: skip
    if head.startswith("bracket") and "stop" not in names:
        names.append("stop")
    for name in names:
        count = st.integers(1, 40).map(str)
        value = prices() if name in ("limit", "stop") else st.one_of(count, count, numbers())
        if head.startswith("bracket") and name == "stop":
            value = st.one_of(count, count, numbers())
        parts += [draw(mangled_case(name)), draw(value)]
    if draw(st.integers(0, 9)) == 7:  # (not 0 nor 9: hypothesis draws those often)
        parts.append(draw(words()))  # one word too many
    return " ".join(parts)


LINES = st.one_of(st.text(CHARS), commands(), orders())
# what a console reads: one line of a text stream (readline splits at \n and \r), more often
# a well-shaped order (most of the others never get past the parser)
TYPED = st.one_of(LINES, orders(), orders()).map(lambda s: re.sub(r"[\r\n]", " ", s) + "\n")


# ---- the parser ------------------------------------------------------------------------------


@fuzz(1.0)
@given(line=LINES)
@example("buy " + "9" * 5000)  # more digits than int() reads: its own ValueError, not ours
@example("BUY STOP 1 QTY 0")  # found: an option the command does not take was ignored
@example("buy limit 5000 qty 2")  # ... and the default quantity sent instead
@example("sell 1 target 5001")
def test_a_line_is_read_as_typed_or_refused_in_one_line_naming_the_problem(line: str) -> None:
    try:
        parsed = parse_command(line, DEFAULT_QTY)
    except ValueError as exc:
        assert_names_the_problem(str(exc), line)
    else:
        assert_read_as_typed(line, parsed)


def assert_names_the_problem(message: str, line: str) -> None:
    """One line that points at what was typed: a word of it, or the command's usage."""
    assert message.strip() and not any(c in message for c in LINE_BREAKS), repr(message)
    typed = line.split()
    shown = [repr(w)[1:-1] for w in typed] + [w.lower() for w in typed]
    assert any(w in message for w in shown), f"{message!r} names nothing of {line!r}"


def assert_read_as_typed(line: str, parsed: Command | str) -> None:
    """What the parser made of ``line`` is what its words say (each number checked again)."""
    words = line.split()
    verb = words[0].lower() if words else ""
    match parsed:
        case "":
            assert not words
        case "status" | "help" | "quit":
            assert {"exit": "quit", "?": "help"}.get(verb, verb) == parsed and len(words) >= 1
        case PlaceOrder(side=side, quantity=qty, order_type=kind, limit=limit, stop=stop):
            assert side == Side(verb.upper())
            opts = _quantity_and_options(words[1:], qty)
            assert (limit, stop) == (opts.pop("limit", None), opts.pop("stop", None)) and not opts
            assert kind == {(False, False): OrderType.MARKET, (True, False): OrderType.LIMIT,
                            (False, True): OrderType.STOP, (True, True): OrderType.STOP_LIMIT,
                            }[(limit is not None, stop is not None)]  # fmt: skip
            _assert_prices(limit, stop)
        case PlaceBracket(side=side, quantity=qty, stop_ticks=stop, target_ticks=target):
            assert verb == "bracket" and side == Side(words[1].upper())
            opts = _quantity_and_options(words[2:], qty)
            assert stop == _whole(opts.pop("stop"))
            assert target == (_whole(opts.pop("target")) if "target" in opts else None)
            assert parsed.entry_limit == opts.pop("limit", None) and not opts
            _assert_prices(parsed.entry_limit)
        case ModifyOrder(order_id=order_id, quantity=qty, limit=limit, stop=stop):
            assert verb == "modify" and order_id == words[1]
            opts = _options(words[2:])
            assert qty == (_whole(opts.pop("qty")) if "qty" in opts else None)
            assert (limit, stop) == (opts.pop("limit", None), opts.pop("stop", None)) and not opts
            _assert_prices(limit, stop)
        case CancelAll():
            assert verb == "cancel" and [w.lower() for w in words[1:]] == ["all"]
        case CancelOrder(order_id=order_id):
            assert verb == "cancel" and words[1:] == [order_id]
        case Flatten() | Reverse():
            assert words == [words[0]] and verb == type(parsed).__name__.lower()
        case _:
            raise AssertionError(f"{line!r} read as {parsed!r}")


def _quantity_and_options(words: list[str], qty: int) -> dict[str, str]:
    if words and words[0].lower() not in OPTIONS:
        assert qty == _whole(words[0])
        words = words[1:]
    else:
        assert qty == DEFAULT_QTY
    return _options(words)


def _options(words: list[str]) -> dict[str, str]:
    assert len(words) % 2 == 0
    opts = {name.lower(): value for name, value in zip(words[::2], words[1::2], strict=True)}
    assert set(opts) <= set(OPTIONS)
    return opts


def _whole(text: str) -> int:
    assert WHOLE.fullmatch(text), text
    assert int(text) > 0
    return int(text)


def _assert_prices(*prices: object) -> None:
    for price in prices:
        if price is not None:
            assert isinstance(price, str) and PRICE.fullmatch(price) and Decimal(price) > 0


# ---- the console on an engine ----------------------------------------------------------------


class Session:
    """``tradeterm console`` without its process: a Console on an Engine started on a
    recording in-memory broker, an ES market at 4999.75 / 5000.00, and one working order of
    ours (OURS, a buy 1 limit at 4990.00, broker id 100)."""

    def __init__(self) -> None:
        self.broker = FakeBroker(ES)
        self.engine = Engine(self.broker, "ES", clock=Clock(), calendar=CME, session=2,
                             timer_s=3600)  # fmt: skip
        self.out = io.StringIO()
        self.console = Console(self.engine, self.out)

    async def start(self) -> None:
        await self.engine.start()
        self.broker.push(QuoteEvent(Quote(Clock()(), BID, 10, ASK, 10)))
        await settle()
        await self.engine.submit(PlaceOrder(Side.BUY, 1, OrderType.LIMIT, limit="4990"))
        order = self.engine.orders.get(OURS) if self.engine.orders else None
        assert order is not None and order.broker_id == 100
        self.broker.push(report(order, OrderStatus.SUBMITTED, perm_id=7000))
        await settle()
        self.seen = len(self.broker.placed), len(self.broker.modified), len(self.broker.cancelled)
        self.events = self.engine.listen()
        self.printer = asyncio.create_task(self.console.printer())
        await settle()

    async def type(self, line: str) -> list[str]:
        """What the console prints for ``line`` (without the time stamps)."""
        await self.console.handle(line)
        await settle()
        return [STAMP.sub("", text, count=1) for text in self.out.getvalue().split("\n")[:-1]]

    def sent(self) -> tuple[list[Placed], list[Modified], list[int], int]:
        """What reached the broker since start: placed, modified, cancelled, global cancels."""
        placed, modified, cancelled = self.seen
        b = self.broker
        return b.placed[placed:], b.modified[modified:], b.cancelled[cancelled:], b.global_cancels

    async def stop(self) -> None:
        self.printer.cancel()
        await self.engine.stop()


async def _typed(line: str) -> tuple[Session, list[str], list[str]]:
    """The session, what the console printed for ``line``, and the engine's events it
    printed, as ``describe`` words them."""
    session = Session()
    await session.start()
    try:
        out = await session.type(line)
        events = [describe(e, session.engine) for e in session.events.drain()]
        return session, out, [text for text in events if text]
    finally:
        await session.stop()


NOTHING_SENT: tuple[list[Placed], list[Modified], list[int], int] = ([], [], [], 0)


@fuzz(0.5)
@given(line=TYPED)
@example("cancel \x1b[2J\n")  # an order id that is a terminal escape: echoed as typed
@example("buy 1 \x1b]0;pwned\x07 2\n")  # an option name that is one
@example("kill a\u2028b\n")  # a kill reason with a line separator: one line per event
@example("kill\tnow\n")  # the kill switch, whatever space follows the word
@example("BUY 1 A\U00032200 1\n")  # found: an unknown option named in lower case, escaped
def test_a_typed_line_reaches_the_broker_as_it_says_or_not_at_all(line: str) -> None:
    with asyncio.Runner() as runner:
        session, out, events = runner.run(_typed(line))
    assert all(text.isprintable() for text in out), out
    verb = (line.split() or [""])[0].lower()
    if verb == "kill":  # the kill switch: cancels and flattens by design
        event("kill")
        assert len(out) == len(events), (out, events)  # one line per step
        return
    if verb == "rearm":
        event("rearm")
        assert len(out) == 1 and (out[0] == "REARMED" or out[0].startswith("REARM refused: "))
        assert session.sent() == NOTHING_SENT
        return
    if out and out[0].startswith("? "):  # refused by the parser
        event("refused by the parser")
        assert len(out) == 1 and not events, out
        assert_names_the_problem(out[0][2:], line)
        assert session.sent() == NOTHING_SENT
        return
    parsed = parse_command(line, DEFAULT_QTY)
    assert_read_as_typed(line, parsed)
    if isinstance(parsed, str):  # status, help (several lines), quit, a blank line
        event(f"{parsed or 'blank'}")
        assert session.sent() == NOTHING_SENT and not events
        return
    assert len(out) == len(events), (out, events)  # one line per event
    refused = [text for text in out if text.startswith("REFUSED ")]
    done = [text for text in out if text.startswith("DONE ")]
    assert len(refused) + len(done) == 1, out
    event(f"{type(parsed).__name__} {'refused' if refused else 'sent'}")
    if refused:
        assert out == refused and len(out[0]) > len("REFUSED cmd-2: "), out
        assert session.sent() == NOTHING_SENT
    else:
        assert_sent_as_typed(parsed, session)


def assert_sent_as_typed(command: Command, session: Session) -> None:
    placed, modified, cancelled, global_cancels = session.sent()
    assert global_cancels == 0
    match command:
        case PlaceOrder(side=side, quantity=qty, order_type=kind):
            (order,) = placed
            assert (order.side, order.quantity, order.order_type) == (side, qty, kind)
            assert order.limit == _on_tick(command.limit, side)
            assert order.stop == _on_tick(command.stop, side)
            assert (modified, cancelled) == ([], [])
        case PlaceBracket(side=side, quantity=qty):
            entry, *target, stop = placed
            limit = _on_tick(command.entry_limit, side)
            basis = limit if limit is not None else (ASK if side is Side.BUY else BID)
            assert (entry.side, entry.quantity, entry.limit) == (side, qty, limit)
            assert (stop.side, stop.quantity, stop.order_type) == (
                side.opposite,
                qty,
                OrderType.STOP,
            )
            assert stop.stop == basis - side.sign * command.stop_ticks
            if command.target_ticks is None:
                assert target == []
            else:
                (take,) = target
                assert (take.side, take.quantity) == (side.opposite, qty)
                assert take.limit == basis + side.sign * command.target_ticks
        case ModifyOrder(quantity=qty):
            (change,) = modified
            ticks = _on_tick(command.limit, Side.BUY), _on_tick(command.stop, Side.BUY)
            assert change.change == OrderChange(qty, *ticks)
            assert (placed, cancelled) == ([], [])
        case CancelOrder() | CancelAll() | Flatten():  # flat: a flatten only cancels
            assert (placed, modified, cancelled) == ([], [], [100])
        case _:
            raise AssertionError(f"{command!r} was carried out (flat, nothing to reverse)")


def _on_tick(price: object, side: Side) -> int | None:
    """A typed price on ES's quarter-point tick: a buy rounds down, a sell up."""
    if price is None:
        return None
    ticks = Decimal(str(price)) / TICK
    return math.floor(ticks) if side is Side.BUY else math.ceil(ticks)


# ---- a real console process ------------------------------------------------------------------


def _refused(line: str) -> bool:
    if (line.split() or [""])[0].lower() in ("kill", "rearm"):
        return False
    try:
        parse_command(line, DEFAULT_QTY)
    except ValueError:
        return True
    return False


@fuzz(0.02, most=40)
@given(lines=st.lists(TYPED.filter(_refused), min_size=1, max_size=40))
def test_a_console_process_answers_each_refused_line_with_one_line_and_sends_nothing(
    lines: list[str],
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradeterm.cli", "console"], input="".join(lines),
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    out = [STAMP.sub("", text, count=1) for text in done.stdout.splitlines()]
    assert len([text for text in out if text.startswith("? ")]) == len(lines), out
    assert not [text for text in out if text.startswith(("ORDER", "FILL", "DONE", "REFUSED"))]
