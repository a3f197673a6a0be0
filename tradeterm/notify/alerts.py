"""Which engine events notify, and in what words (the market and mode are put in front by
the notifier: ``ES SIM: BUY 1 @ 5012.25 filled``).

fill         an execution as it happens (not one recovered at start)
refusal      an order refused by the engine or its risk checks, or rejected by the broker
risk         a trading-state change (ACTIVE -> REDUCING, -> HALTED)
kill         the kill switch pressed, and its outcome
disconnect   no connection for ``disconnect_after_s`` seconds, and the reconnect after it
strategy     a strategy faulted (it raised, or overran its time budget)
price        a price alert set on the screen (key n) traded: ``price alert 5012.25 traded``
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from tradeterm.broker.port import CONNECTED
from tradeterm.domain import Instrument, OrderStatus
from tradeterm.engine.commands import Command, PlaceBracket, PlaceOrder
from tradeterm.engine.events import (
    CommandDone,
    EngineEvent,
    FillBooked,
    HealthChanged,
    KillProgress,
    OrderUpdated,
    PriceAlertHit,
    RiskUpdate,
    StrategyStateChanged,
)
from tradeterm.engine.types import KillStep, RiskEventKind, StrategyState


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification: ``event`` is its kind (``config.NOTIFY_EVENTS``), ``level`` one of
    apprise's types (info, success, warning, failure)."""

    event: str
    text: str
    level: str = "info"


class Watcher:
    """Turns engine events into :class:`Alert` s for ``post``. A disconnect is posted once it
    has lasted ``disconnect_after_s`` (a timer on the running loop), its reconnect only
    after such a disconnect; the start's first connection is no reconnect."""

    def __init__(
        self, post: Callable[[Alert], None], disconnect_after_s: float,
        instrument: Callable[[], Instrument | None] = lambda: None,
    ) -> None:  # fmt: skip
        self._post = post
        self._after = disconnect_after_s
        self._instrument = instrument
        self._connected_once = False
        self._down_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._reported = False
        self._rejected: set[str] = set()

    def see(self, event: EngineEvent) -> None:
        match event:
            case FillBooked(fill=f) if not event.historical:
                whose = "" if event.own else " (another client's order)"
                price = f.instrument.format_price(f.price)
                self._post(Alert("fill", f"{f.side} {f.quantity} @ {price} filled{whose}"))
            case CommandDone(result=r) if not r.ok:
                text = f"{self._command(r.command)} refused: {r.reason}"
                self._post(Alert("refusal", text, "warning"))
            case OrderUpdated(order=o) if o.own and o.status is OrderStatus.REJECTED:
                if o.order_id not in self._rejected:
                    self._rejected.add(o.order_id)
                    what = f"{o.side} {o.quantity} {o.order_type}{self._at(o.limit, o.stop)}"
                    self._post(Alert("refusal", f"{what} rejected: {o.reason}", "warning"))
            case RiskUpdate(kind=RiskEventKind.TRANSITION):
                states = f"{event.previous} -> {event.state}" if event.previous else event.state
                self._post(Alert("risk", f"trading {states}: {event.reason}", "warning"))
            case KillProgress(step=KillStep.REQUESTED):
                self._post(Alert("kill", f"kill switch pressed: {event.reason}", "warning"))
            case KillProgress(done=True):
                level = "success" if event.ok else "failure"
                self._post(Alert("kill", f"kill switch {event.step}: {event.detail}", level))
            case StrategyStateChanged(state=StrategyState.FAULTED):
                text = f"strategy {event.strategy} faulted: {event.reason}"
                self._post(Alert("strategy", text, "failure"))
            case PriceAlertHit(instrument=inst):
                text = f"price alert {inst.format_price(event.price)} traded"
                if event.traded != event.price:
                    text += f" (through it, at {inst.format_price(event.traded)})"
                self._post(Alert("price", text, "warning"))
            case HealthChanged():
                self._health(event)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _health(self, event: HealthChanged) -> None:
        loop = asyncio.get_running_loop()
        if event.state in CONNECTED:
            self._connected_once = True
            if self._down_since is not None and self._reported:
                down = loop.time() - self._down_since
                self._post(Alert("disconnect", f"reconnected after {down:.0f}s", "success"))
            self.close()
            self._down_since, self._reported = None, False
        elif self._connected_once and self._down_since is None:
            self._down_since = loop.time()
            self._timer = loop.call_later(self._after, self._report_down, event.reason)

    def _report_down(self, reason: str) -> None:
        self._timer, self._reported = None, True
        text = f"disconnected for {self._after:g}s: {reason}"
        self._post(Alert("disconnect", text, "failure"))

    def _command(self, command: Command) -> str:
        match command:
            case PlaceOrder(limit=limit, stop=stop):
                prices = [
                    f"{name} {v}" for name, v in (("stop", stop), ("limit", limit)) if v is not None
                ]
                return " ".join([str(command.side), str(command.quantity),
                                 str(command.order_type), *prices])  # fmt: skip
            case PlaceBracket():
                return f"{command.side} {command.quantity} bracket"
        return type(command).__name__

    def _at(self, limit: int | None, stop: int | None) -> str:
        inst = self._instrument()
        px = inst.format_price if inst is not None else str
        if stop is not None and limit is not None:
            return f" stop {px(stop)} limit {px(limit)}"
        price = limit if limit is not None else stop
        return f" @ {px(price)}" if price is not None else ""
