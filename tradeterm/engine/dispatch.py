"""Carrying out a command: refused while the kill switch runs or before the engine has
started, handed to the order manager, and its result published as ``CommandDone``.

A flatten cut short by the connection (its close could not be sent; IB may have carried out
some of its cancels, leaving the position without its stop) finishes once IB is back: the
kill switch's sequence without the halt, as the disconnect policy "flatten" runs it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from tradeterm.broker.port import Broker, BrokerError
from tradeterm.domain import Order
from tradeterm.engine.calendar import NS
from tradeterm.engine.commands import (
    CancelAll,
    CancelOrder,
    ClearAlerts,
    Command,
    CommandResult,
    Flatten,
    GlobalCancel,
    ModifyOrder,
    NotSent,
    PlaceBracket,
    PlaceOrder,
    Refused,
    Reverse,
    StopsToBreakeven,
    ToggleAlert,
)
from tradeterm.engine.core import TradingCore
from tradeterm.engine.events import CommandDone, EngineEvent
from tradeterm.engine.exits import ExitManager
from tradeterm.engine.kill import KillSwitch

log = logging.getLogger(__name__)

REFUSAL_SHOWN_S = 30  # how long the last refusal stays the word on the risk panel
KILL_RUNNING = "the kill switch is running: nothing else is sent until it ends"
NOT_STARTED = "the engine has not started"


class CommandDispatcher:
    """The engine's commands (see the module notes); ``last_refusal``: why the last refused
    one was, and ``refused_at_ns`` when (``clock``); :meth:`refusal_now` is what of it still
    stands. ``core``: None before the contract is known; ``notice``, ``publish``: the
    engine's."""

    def __init__(
        self,
        broker: Broker,
        kill_switch: KillSwitch,
        *,
        core: Callable[[], TradingCore | None],
        notice: Callable[[str, str], None],
        publish: Callable[[EngineEvent], None],
        exits: ExitManager | None = None,
        alerts: Callable[[ToggleAlert | ClearAlerts], None] = lambda _command: None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._broker = broker
        self._exits = exits
        self._alerts = alerts
        self._kill_switch = kill_switch
        self._core = core
        self._notice = notice
        self._publish = publish
        self._count = 0
        self.last_refusal = ""
        self.refused_at_ns = 0
        self._clock = clock

    async def submit(self, command: Command) -> CommandResult:
        """Carry out ``command``; the result (also published as ``CommandDone``) says what
        was sent, or why nothing was."""
        self._count += 1
        command_id = f"cmd-{self._count}"
        try:
            if self._kill_switch.running and not isinstance(command, ToggleAlert | ClearAlerts):
                raise Refused(KILL_RUNNING)
            order_ids = await self._run(command, command_id)
            result = CommandResult(command_id, command, True, order_ids=order_ids)
        except Refused as exc:
            result = CommandResult(command_id, command, False, reason=str(exc))
        except BrokerError as exc:
            result = CommandResult(command_id, command, False, reason=str(exc))
        if not result.ok:
            self.last_refusal, self.refused_at_ns = result.reason, self._clock()
        log.info("command %s %s: %s", command_id, command, "ok" if result.ok else result.reason)
        self._publish(CommandDone(result))
        return result

    def refusal_now(self) -> str:
        """The last refusal while it is still news: for ``REFUSAL_SHOWN_S`` seconds, until
        :meth:`forget_refusal` (a newer trading state); else empty."""
        if self._clock() - self.refused_at_ns >= REFUSAL_SHOWN_S * NS:
            return ""
        return self.last_refusal

    def forget_refusal(self) -> None:
        """A newer word replaces the last refusal (the trading state changed since)."""
        self.last_refusal = ""

    def refusal(self, command: PlaceOrder, without: Collection[str] = ()) -> str | None:
        """Why :meth:`submit` would refuse ``command`` now, the orders ``without`` names
        counted as gone (``TradingCore.refusal``); None: it would go."""
        core = self._core()
        if self._kill_switch.running:
            return KILL_RUNNING
        return NOT_STARTED if core is None else core.refusal(command, without)

    async def _run(self, command: Command, command_id: str) -> tuple[str, ...]:
        core = self._core()
        if core is None:
            raise Refused(NOT_STARTED)
        if isinstance(command, ToggleAlert | ClearAlerts):  # no order: the price alerts
            self._alerts(command)
            return ()
        orders = core.orders
        match command:
            case PlaceOrder(exits=str(name)):
                exits = self._exit_strategy(name)

                def attach(order: Order, entry: bool) -> None:
                    if not entry:
                        raise Refused(f"exit strategy {name}: the order is not an entry")
                    exits.attach(order, name)

                return await orders.place(command, command_id, attach)
            case PlaceOrder():
                return await orders.place(command, command_id)
            case PlaceBracket():
                return await orders.place_bracket(command, command_id, core.reference(command.side))
            case ModifyOrder():
                return await orders.modify(command)
            case CancelOrder():
                return await orders.cancel(command.order_id)
            case CancelAll():
                if command.at_price is None:  # every order: the exits of fills too
                    self._closing()
                return await orders.cancel_all(command.at_price)
            case Flatten():
                try:
                    return await orders.close_position(
                        command_id, reverse=False, closing=self._closing
                    )
                except NotSent as exc:  # the connection dropped after its cancels went
                    return self.finish_flatten(command_id, str(exc))
            case Reverse(exits=str(name)):
                exits = self._exit_strategy(name)
                return await orders.close_position(
                    command_id, reverse=True, closing=self._closing,
                    on_order=lambda order: exits.attach(order, name, opens=order.quantity // 2),
                )  # fmt: skip
            case Reverse():
                return await orders.close_position(command_id, reverse=True, closing=self._closing)
            case GlobalCancel():
                await self._broker.cancel_all_account_orders()
                return ()
            case StopsToBreakeven():
                if self._exits is None:
                    raise Refused("exit strategies are not available here")
                last = core.market.last
                return await self._exits.breakeven_now(last.price if last is not None else None)
        raise Refused(f"unknown command {command!r}")

    def _exit_strategy(self, name: str) -> ExitManager:
        """The exit manager, once it knows strategy ``name``; refused otherwise."""
        if self._exits is None:
            raise Refused("exit strategies are not available here")
        self._exits.check(name)
        return self._exits

    def _closing(self) -> None:
        """A close starts: no exit of an earlier fill is sent after it (``exits.py``)."""
        if self._exits is not None:
            self._exits.closing()

    def finish_flatten(self, command_id: str, why: str) -> tuple[str, ...]:
        """A flatten cut short by the connection (its close refused as not sent, or found at
        the reconciliation never to have reached IB) finishes once IB is back (cancel, close,
        checked at IB; no halt): see the module notes."""
        self._notice("WARNING", f"flatten {command_id} cut short ({why}): it finishes once IB "
                     "is back (cancel, close, checked at IB; no halt)")  # fmt: skip
        self._kill_switch.request(f"flatten {command_id} cut short by the connection", halt=False)
        return ()
