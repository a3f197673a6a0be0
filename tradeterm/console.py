"""``tradeterm console``: the engine without a screen, driven by typed commands.

It runs the same ``Engine`` the trading screen will run, prints one line per engine event
(order updates, fills, positions, connection changes, reconciliations, notices) and reads one
command per line from stdin::

    buy 2                     market order          sell 1 limit 5001.25
    buy 1 stop 5010           stop order            sell 1 stop 4990 limit 4989.75
    bracket buy 1 stop 8 target 16 [limit 5000]    (stop/target in ticks from the entry)
    modify ID [qty N] [limit P] [stop P]           cancel ID | cancel all
    flatten | reverse | status | help | quit
    kill [REASON]             the kill switch: cancel all, flatten, check IB, HALTED
    rearm REASON              back to ACTIVE (after the cooldown; not after a loss limit)
    strategy [start|pause|resume|stop]   the strategy of --strategy: its state, or control it

Typed commands are explicit, so there is no arming step here (the trading screen's keys are
inert until armed). LIVE mode is refused: it needs the screen's typed account confirmation.

Kept as one module because the typed language (``parse_command``), what each command and
event prints (``describe``, ``status``) and the loop that reads and runs them are one console:
a verb is parsed, run and echoed here, and split it would live in three files.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, TextIO

from tradeterm.broker.port import BrokerError, ConnectError, UnknownContract
from tradeterm.config import Settings
from tradeterm.domain import DomainError, OrderType, Side, decimal_from, whole_from
from tradeterm.engine.calendar import CHICAGO
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
from tradeterm.engine.events import (
    CommandDone,
    EngineEvent,
    EngineNotice,
    FillBooked,
    HealthChanged,
    KillProgress,
    OrderUpdated,
    OrderView,
    OtherMarketOrders,
    PositionChanged,
    PositionDivergence,
    Reconciled,
    RiskUpdate,
    StrategySignal,
    StrategyStateChanged,
    StrategyView,
    other_markets_text,
)
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.engine.types import TradingState
from tradeterm.text import printable

if TYPE_CHECKING:
    from tradeterm.runtime import Runtime
    from tradeterm.strategies import Loaded

log = logging.getLogger(__name__)

HELP = __doc__.split("::", 1)[1].split("Typed commands", 1)[0].rstrip() if __doc__ else ""


class ConsoleError(Exception):
    """A problem the user must fix (mode, connection), worded for them."""


class UnknownMarketError(ConsoleError):
    """The broker knows no contract by the market's name: bad input."""


LIVE_REFUSED = (
    "LIVE trading is refused in the console: it needs the trading screen, where you type the "
    "account id to confirm"
)


CONTROLS = ("status", "help", "quit", "exit", "?")  # the words that send nothing


def parse_command(text: str, default_qty: int) -> Command | str:
    """A typed line as an engine ``Command``, or one of "status", "help", "quit", "" (blank).
    Raises ``ValueError`` with a message for a line that is not a command.

    Command words and option names are case-insensitive; order ids keep their case (IB's
    orderRef ``tt.ES.…`` is matched exactly). Numbers are plain ASCII: quantities and tick
    distances whole and above zero, prices above zero."""
    words = text.split()
    if not words:
        return ""
    verb, rest = words[0].lower(), words[1:]
    keywords = [w.lower() for w in rest]
    if verb in CONTROLS:
        return {"exit": "quit", "?": "help"}.get(verb, verb)
    if verb in ("buy", "sell"):
        return _order(Side(verb.upper()), rest, default_qty)
    if verb == "bracket":
        if not rest or keywords[0] not in ("buy", "sell"):
            raise ValueError("bracket buy|sell [QTY] stop TICKS [target TICKS] [limit PRICE]")
        qty, opts = _qty(rest[1:], default_qty, BRACKET_OPTIONS)
        if "stop" not in opts:
            raise ValueError("a bracket needs 'stop TICKS'")
        return PlaceBracket(
            Side(keywords[0].upper()), qty, stop_ticks=_count(opts["stop"], "stop ticks"),
            target_ticks=_count(opts["target"], "target ticks") if "target" in opts else None,
            entry_limit=_price(opts, "limit"),
        )  # fmt: skip
    if verb == "modify":
        if not rest:
            raise ValueError("modify ORDER_ID [qty N] [limit PRICE] [stop PRICE]")
        opts = _options(rest[1:], MODIFY_OPTIONS)
        return ModifyOrder(
            rest[0], quantity=_count(opts["qty"], "qty") if "qty" in opts else None,
            limit=_price(opts, "limit"), stop=_price(opts, "stop"),
        )  # fmt: skip
    if verb == "cancel":
        if keywords == ["all"]:
            return CancelAll()
        if len(rest) == 1:
            return CancelOrder(rest[0])
        raise ValueError("cancel ORDER_ID | cancel all")
    if verb == "flatten" and not rest:
        return Flatten()
    if verb == "reverse" and not rest:
        return Reverse()
    raise ValueError(f"unknown command {text.strip()!r} (type 'help')")


# The options each command takes; any other is refused, never ignored (``buy stop 5010 qty 2``
# must not send the default quantity).
ORDER_OPTIONS = ("limit", "stop")
BRACKET_OPTIONS = ("stop", "target", "limit")
MODIFY_OPTIONS = ("qty", "limit", "stop")
OPTIONS = frozenset(ORDER_OPTIONS + BRACKET_OPTIONS + MODIFY_OPTIONS)


def _order(side: Side, words: list[str], default_qty: int) -> PlaceOrder:
    qty, opts = _qty(words, default_qty, ORDER_OPTIONS)
    limit, stop = _price(opts, "limit"), _price(opts, "stop")
    order_type = {
        (False, False): OrderType.MARKET,
        (True, False): OrderType.LIMIT,
        (False, True): OrderType.STOP,
        (True, True): OrderType.STOP_LIMIT,
    }[(limit is not None, stop is not None)]
    return PlaceOrder(side, qty, order_type, limit=limit, stop=stop)


def _qty(
    words: list[str], default_qty: int, allowed: tuple[str, ...]
) -> tuple[int, dict[str, str]]:
    """The leading quantity (when the first word is not an option name) and the options."""
    if words and words[0].lower() not in OPTIONS:
        return _count(words[0], "quantity"), _options(words[1:], allowed)
    return default_qty, _options(words, allowed)


def _options(words: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    if len(words) % 2:
        raise ValueError(f"expected 'name value' pairs, got {' '.join(words)!r}")
    opts = {name.lower(): value for name, value in zip(words[::2], words[1::2], strict=True)}
    unknown = [name for name in words[::2] if name.lower() not in allowed]
    if unknown:  # named as typed: lower case would change what a user looks for
        raise ValueError(
            f"unknown option(s): {', '.join(map(repr, unknown))} (this command takes "
            f"{', '.join(allowed)})"
        )
    return opts


def _count(text: str, what: str) -> int:
    """A whole number above zero, in ASCII digits."""
    try:
        value = whole_from(text)
    except DomainError:
        value = 0
    if value <= 0:
        raise ValueError(f"{what} must be a whole number above zero, got {text!r}")
    return value


def _price(opts: dict[str, str], name: str) -> str | None:
    """The option ``name`` as a price above zero (ASCII digits, a point, no sign), or None."""
    text = opts.get(name)
    if text is None:
        return None
    try:
        value = decimal_from(text)
    except DomainError:
        value = Decimal(0)
    if value <= 0:
        raise ValueError(f"{name} must be a price above zero, got {text!r}")
    return text


# ---- output ---------------------------------------------------------------------------------


def describe(event: EngineEvent, engine: Engine) -> str | None:
    """One line for an event worth a line (market data and bars are not)."""
    inst = engine.instrument
    px: Callable[[int | None], str] = (
        (lambda t: "-" if t is None else inst.format_price(t)) if inst else str
    )
    match event:
        case HealthChanged():
            retry = f" (retry in {event.retry_in_s:.1f}s)" if event.retry_in_s else ""
            return f"CONNECTION {event.state}: {event.reason}{retry}"
        case OrderUpdated(order=o):
            who = "" if o.own else " [other client, read-only]"
            price = _prices(o, px)
            why = f" ({o.reason})" if o.reason else ""
            return (
                f"ORDER {o.order_id} {o.side} {o.quantity} {o.order_type}{price} {o.status}"
                f" filled {o.filled}{why}{who}"
            )
        case OtherMarketOrders(markets=m):
            return f"OTHER MARKETS: {other_markets_text(m) or 'no order working'}"
        case FillBooked(fill=f):
            late = " (recovered)" if event.historical else ""
            return f"FILL {f.side} {f.quantity} @ {px(f.price)} exec {f.exec_id}{late}"
        case PositionChanged(pnl=p):
            avg = "-"
            if p.avg_price is not None and inst is not None:
                avg = f"{float(p.avg_price) * float(inst.tick):.{inst.price_decimals + 2}f}"
            return (
                f"POSITION {p.quantity} avg {avg} realized {_m(p.realized)} unrealized "
                f"{_m(p.unrealized)} commissions {_m(p.commissions)} today {_m(p.daily)}"
            )
        case PositionDivergence():
            return f"POSITION at IB is {event.broker}, fills said {event.ours}: using IB's"
        case CommandDone(result=r):
            if r.ok:
                return f"DONE {r.command_id} {', '.join(r.order_ids) or 'nothing to do'}"
            return f"REFUSED {r.command_id}: {r.reason}"
        case RiskUpdate():
            return f"RISK {event.kind} ({event.state}): {event.reason}"
        case KillProgress():
            return f"KILL {event.step}: {event.detail}"
        case Reconciled():
            return f"RECONCILED ({event.reason}): {event.detail}"
        case EngineNotice():
            return f"{event.level} {event.text}"
        case StrategyStateChanged():
            return f"STRATEGY {event.strategy} {event.state}: {event.reason}"
        case StrategySignal():
            what = "refused" if not event.ok else "sent" if event.command_id else ""
            fate = " ".join(part for part in (what, event.command_id, event.outcome) if part)
            return f"SIGNAL {event.strategy} {event.kind} {event.detail} ({event.reason}): {fate}"
    return None


def _prices(o: OrderView, px: Callable[[int], str]) -> str:
    """`` @ 5000.25`` for a limit or a stop, `` stop 4990.00 limit 4989.75`` for a stop-limit
    (the trigger must show), nothing for a market order."""
    if o.stop is not None and o.limit is not None:
        return f" stop {px(o.stop)} limit {px(o.limit)}"
    return f" @ {px(o.price)}" if o.price is not None else ""


def _m(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def status(engine: Engine) -> str:
    snap = engine.snapshot()
    inst = snap.instrument
    lines = [
        f"connection {snap.health.state}: {snap.health.reason}; account {snap.account}, client {snap.client_id}"
    ]
    if inst is not None and snap.market is not None:
        q, last = snap.market.quote, snap.market.last
        bid = inst.format_price(q.bid) if q and q.bid is not None else "-"
        ask = inst.format_price(q.ask) if q and q.ask is not None else "-"
        lp = f"{inst.format_price(last.price)} x{last.size}" if last else "-"
        lines.append(
            f"{inst.local_symbol}: bid {bid} ask {ask} last {lp} volume {snap.market.volume}"
        )
    if snap.pnl is not None:
        p = snap.pnl
        lines.append(
            f"position {p.quantity}, realized {_m(p.realized)}, unrealized "
            f"{_m(p.unrealized)}, commissions {_m(p.commissions)}, today {_m(p.daily)}"
        )
    for o in snap.orders + snap.foreign_orders:
        price = _prices(o, inst.format_price if inst else str)
        lines.append(
            f"  {o.order_id} {o.side} {o.remaining}/{o.quantity} {o.order_type}{price} {o.status}"
        )
    if snap.other_markets:
        lines.append(f"  ({other_markets_text(snap.other_markets)}: not listed here)")
    if snap.trading_state is not TradingState.ACTIVE:
        lines.append(f"trading {snap.trading_state}: {snap.trading_reason}")
    if snap.entries_blocked:
        lines.append(f"new entries blocked: {snap.entries_blocked}")
    return "\n".join(lines)


def strategy_status(view: StrategyView | None) -> str:
    """The strategy's name, state, parameters, position and last signals."""
    if view is None:
        return "no strategy: start the console with --strategy NAME [--param KEY=VALUE ...]"
    params = " ".join(f"{k}={v}" for k, v in view.params) or "no parameters"
    lines = [
        f"strategy {view.name}{f' ({view.target})' if view.target != view.name else ''} "
        f"{view.state}: {view.reason}",
        f"  parameters {params}; position owned {view.position:+d}",
    ]
    for s in view.signals[-5:]:
        lines.append(f"  {s.kind} {s.detail} ({s.reason}): {'sent' if s.ok else 'refused'} "
                     f"{s.outcome}")  # fmt: skip
    return "\n".join(lines)


# ---- running --------------------------------------------------------------------------------


STRATEGY_CONTROLS = ("start", "pause", "resume", "stop")


class Console:
    def __init__(self, engine: Engine, out: TextIO) -> None:
        self.engine = engine
        self.out = out
        self._stop = asyncio.Event()
        self.started = False  # the engine has started: typed lines are carried out
        self.stopped_by: str | None = None  # the signal that asked the console to stop
        self.runner: StrategyRunner | None = None  # the strategy started with --strategy

    def stop_on_signal(self, name: str) -> None:
        """SIGTERM or SIGHUP: stop as ``quit`` does (the first one names the stop)."""
        self.stopped_by = self.stopped_by or name
        self._stop.set()

    def say(self, text: str) -> None:
        """Print ``text``, a line per ``\n``, each stamped. What a line quotes (an order id
        or a reason typed, a message from IB) can hold control characters or other line
        breaks: they are shown escaped, so that nothing printed acts on the terminal and an
        event stays one line."""
        stamp = dt.datetime.now(CHICAGO).strftime("%H:%M:%S.%f")[:-3]
        try:
            for line in text.split("\n"):
                print(f"{stamp} {printable(line)}", file=self.out, flush=True)
        except (OSError, ValueError):  # the terminal is gone (SIGHUP): keep shutting down
            log.warning("console output lost: %s", text)

    def bell(self) -> None:
        """The terminal bell (notifications, ``notify.bell``)."""
        try:
            self.out.write("\a")
            self.out.flush()
        except (OSError, ValueError):  # the terminal is gone
            pass

    async def printer(self) -> None:
        async for event in self.engine.listen():
            try:
                line = describe(event, self.engine)
            except Exception as exc:  # a display bug must not stop the console
                log.exception("cannot describe %r", event)
                line = f"ERROR cannot show {type(event).__name__}: {exc!r}"
            if line:
                self.say(line)

    async def handle(self, line: str) -> None:
        market = self.engine.config
        words = line.split(maxsplit=1)  # at any space, as parse_command splits: "kill\tnow"
        verb, reason = [*words, "", ""][:2]
        if verb.lower() == "rearm":
            refusal = self.engine.rearm(reason.strip())
            self.say(f"REARM refused: {refusal}" if refusal else "REARMED")
            return
        if verb.lower() == "strategy":
            await self._strategy(reason.strip().lower())
            return
        if verb.lower() == "kill":  # its steps print as they come; typing goes on meanwhile
            self.engine.request_kill(reason.strip() or "typed in the console")
            return
        try:
            command = parse_command(line, market.default_qty)
        except ValueError as exc:
            self.say(f"? {exc}")
            return
        if command == "quit":
            self._stop.set()
        elif command == "help":
            self.say(HELP)
        elif command == "status":
            self.say(status(self.engine))
        elif command:
            assert not isinstance(command, str)
            await self.engine.submit(command)

    async def _strategy(self, what: str) -> None:
        runner = self.runner
        if what not in ("", *STRATEGY_CONTROLS):
            self.say(f"? strategy takes nothing, {', '.join(STRATEGY_CONTROLS)}, not {what!r}")
        elif runner is None or what == "":
            self.say(strategy_status(runner.view() if runner is not None else None))
        elif (refusal := await runner.control(what, "in the console")) is not None:
            self.say(refusal)

    async def reader(self, stdin: TextIO, quit_on_eof: bool) -> None:
        # a daemon thread: a blocked readline must never keep the process alive at exit
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read() -> None:
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        while True:
            line = await lines.get()
            if not line:  # EOF
                if quit_on_eof:
                    self._stop.set()
                return
            words = line.split()
            if self.started or not words or words[0].lower() in CONTROLS:
                await self.handle(line)
            else:  # an order kept until the gateway answers would go at a price nobody chose
                self.say(f"? {line.strip()!r} not done: waiting for the gateway (quit to stop)")

    async def wait(self, seconds: float | None) -> None:
        if seconds is None:
            await self._stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), seconds)


async def run(settings: Settings, *, seconds: float | None, seed: int,
              stdin: TextIO = sys.stdin, out: TextIO = sys.stdout,
              strategy: Loaded | None = None, canary: float | None = None) -> int:  # fmt: skip
    """Run the console until ``quit``, end of input (without ``seconds``), ``seconds``, or
    SIGTERM / SIGHUP (the same orderly stop), with ``strategy`` running once the engine has
    started (stopped before the engine stops), in CANARY mode with ``canary``'s fraction of
    its intents going to IB. Raises ``UnwrittenError`` when the journal
    could not write critical rows by the end."""
    from tradeterm.runtime import ModeError, UnwrittenError, open_runtime

    if settings.mode == "live":  # `tradeterm console` refuses it first, as bad input
        raise ConsoleError(LIVE_REFUSED)
    try:
        async with open_runtime(settings, seed=seed, process="console") as rt:
            code = await _run(rt, seconds, stdin, out, strategy, canary)
    except ModeError as exc:
        raise ConsoleError(str(exc)) from None
    if rt.unwritten:
        raise UnwrittenError(rt.unwritten)
    return code


async def _run(rt: Runtime, seconds: float | None, stdin: TextIO, out: TextIO,
               strategy: Loaded | None, canary: float | None = None) -> int:  # fmt: skip
    from tradeterm.stop_signals import on_stop_signals

    engine = rt.engine
    console = Console(engine, out)
    if rt.notifier is not None:
        rt.notifier.bell = console.bell
    printer = asyncio.create_task(console.printer())
    try:
        with on_stop_signals(console.stop_on_signal):
            console.say(f"tradeterm console: {rt.describe()} (times are US/Central, CT)")
            # waiting for the gateway (maybe long): read at once, quit ends it; else once started
            read = lambda: asyncio.create_task(console.reader(stdin, seconds is None))  # noqa: E731
            reader = read() if rt.settings.connection.wait_at_start else None
            started = time.monotonic()
            try:
                console.started = await rt.start(console._stop)
            except UnknownContract as exc:
                raise UnknownMarketError(f"cannot start: {exc}") from None
            except (ConnectError, BrokerError) as exc:
                raise ConsoleError(f"cannot start: {exc}") from None
            if console.started:
                await asyncio.sleep(0)  # let the printer show the start-up events first
                console.say(status(engine))
                if strategy is not None:
                    console.runner = await rt.strategy_runner(strategy, canary=canary)
                    await console.runner.start()
                    if canary is not None:
                        console.say(
                            f"CANARY: {canary:g} of {strategy.name}'s intents go to IB, every "
                            "one is filled on its paper track (tradeterm report --compare)"
                        )
                reader = reader or read()  # piped commands run once started
                await console.wait(seconds)
            if reader is not None:
                reader.cancel()
            if console.stopped_by:
                rt.stop_reason = f"stopped by {console.stopped_by}"
            why = f" ({console.stopped_by})" if console.stopped_by else ""
            console.say(f"stopping after {time.monotonic() - started:.1f}s{why}")
            console.say(status(engine))
            return 0
    finally:
        if console.runner is not None:
            await console.runner.close()
        await engine.stop()
        printer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await printer
