"""The trading screen: the panels laid out for the terminal's width (``layout.plan``), and
its keys, each turned into one action of the app (one place decides what a key does)."""

from __future__ import annotations

from functools import partial
from typing import ClassVar, Protocol, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from tradeterm.domain import Side
from tradeterm.engine.commands import CancelAll, Command, Flatten, Reverse
from tradeterm.engine.types import OrderRole
from tradeterm.ui import layout
from tradeterm.ui.dialogs import HelpScreen
from tradeterm.ui.keys import footer_text, screen_bindings, strategy_hint
from tradeterm.ui.widgets.account_panel import AccountPanel
from tradeterm.ui.widgets.chart import ChartPanel
from tradeterm.ui.widgets.ladder import Ladder
from tradeterm.ui.widgets.log import LogPanel
from tradeterm.ui.widgets.orders_table import OrdersTable
from tradeterm.ui.widgets.position_panel import PositionPanel
from tradeterm.ui.widgets.risk_panel import RiskPanel
from tradeterm.ui.widgets.status import StatusPanel
from tradeterm.ui.widgets.strategy_panel import StrategyPanel
from tradeterm.ui.widgets.tape import TapePanel

SIDE_CHART_MIN_HEIGHT = 30  # rows: a shorter screen leaves the side column to the tape
WIDEST_ASKED = 400  # columns: the widest terminal the volume views name as the room they need


class ScreenApp(Protocol):
    """What the trading screen asks of its app (``TradingApp``): the keymap in force, the
    quantity presets, the mode, and one method per trading key."""

    keymap: dict[str, str]
    presets: list[int]
    mode: str
    watch_only: bool
    exit_choice: str | None  # the exit strategy for the next entry (a reverse's too)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None: ...
    def toggle_arm(self) -> None: ...
    def market(self, side: Side) -> None: ...
    def join(self, side: Side) -> None: ...
    def at_cursor(self, side: Side, *, stop: bool) -> None: ...
    def cancel_at_cursor(self) -> None: ...
    def move_order(self, ticks: int) -> None: ...
    def carry(self) -> None: ...
    def leave_carried(self) -> None: ...
    def exit_to(self, role: OrderRole) -> None: ...
    def resize(self, step: int) -> None: ...
    def trade(self, command: Command, what: str) -> None: ...
    def control_strategy(self, verb: str) -> None: ...
    def step_qty(self, step: int) -> None: ...
    def cycle_exits(self) -> None: ...
    def breakeven(self) -> None: ...
    def preset_qty(self, n: int) -> None: ...
    def dirty_all(self) -> None: ...
    def toggle_alert(self) -> None: ...
    def clear_alerts(self) -> None: ...
    def ask_quit(self) -> None: ...
    def replay_key(self, verb: str) -> None: ...


class TradingScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = screen_bindings()  # type: ignore[assignment]

    def compose(self) -> ComposeResult:
        yield StatusPanel(id="status")
        with Horizontal(id="body"):
            yield Ladder(id="ladder")
            with Vertical(id="middle"):
                yield ChartPanel(id="chart")
                yield LogPanel(id="log")
            with Vertical(id="side"):
                yield PositionPanel(id="position")
                yield RiskPanel(id="risk")
                yield AccountPanel(id="account")
                yield StrategyPanel(strategy_hint(self._app.keymap), id="strategy")
                yield OrdersTable(id="orders")
                yield ChartPanel(id="side-chart")  # the compact chart (layout.COMPACT_FROM)
                yield TapePanel(id="tape")
        yield Static(footer_text(self._app.keymap, watch_only=self._app.watch_only),
                     id="keys-hint", markup=False)  # fmt: skip

    def on_mount(self) -> None:
        for ladder in self.query(Ladder):  # none when the app is already exiting
            ladder.focus()
        self.set_class(self._app.mode == "live", "live")
        self.set_class(self._app.mode == "shadow", "shadow")

    def on_resize(self) -> None:
        h = self.size.height
        self.set_class(h < 34, "short")
        self.set_class(h < 20, "tiny")
        self.fit_panels()

    def on_ladder_widths_changed(self) -> None:
        self.fit_panels()

    def _plan(self, width: int) -> layout.Plan:
        ladder = self.query_one(Ladder)
        return layout.plan(width, ladder.fit_width, partial(ladder.fit_width, extras=False))

    def fit_panels(self) -> None:
        """The panels shown and their widths for this terminal width (``layout.plan``)."""
        ladder = self.query_one(Ladder)
        plan = self._plan(self.size.width)
        ladder.styles.width = plan.ladder
        self.query_one("#side").styles.width = plan.side
        self.set_class(not plan.middle, "narrow")
        self.set_class(bool(plan.middle) and not plan.chart, "log-only")
        tall = self.size.height >= SIDE_CHART_MIN_HEIGHT
        self.set_class(plan.side_chart and tall, "side-chart")
        self._app.dirty_all()

    # every action is the app's (one place decides what a key does)
    def action_arm(self) -> None:
        self._app.toggle_arm()

    @property
    def _app(self) -> ScreenApp:
        return cast(ScreenApp, self.app)

    def action_market(self, side: str) -> None:
        self._app.market(Side(side))

    def action_join(self, side: str) -> None:
        self._app.join(Side(side))

    def action_at_cursor(self, side: str, stop: bool) -> None:
        self._app.at_cursor(Side(side), stop=stop)

    def action_cancel_at_cursor(self) -> None:
        self._app.cancel_at_cursor()

    def action_move_order(self, ticks: int) -> None:
        self._app.move_order(ticks)

    def action_carry(self) -> None:
        self._app.carry()

    def action_exit_to(self, role: str) -> None:
        self._app.exit_to(OrderRole(role))

    def action_resize(self, step: int) -> None:
        self._app.resize(step)

    def action_cancel_all(self) -> None:
        self._app.trade(CancelAll(), "cancel all")

    def action_flatten(self) -> None:
        self._app.trade(Flatten(), "flatten")

    def action_reverse(self) -> None:
        self._app.trade(Reverse(exits=self._app.exit_choice), "reverse")

    def action_strategy(self, verb: str) -> None:
        self._app.control_strategy(verb)

    def action_cycle_exits(self) -> None:
        self._app.cycle_exits()

    def action_breakeven(self) -> None:
        self._app.breakeven()

    def action_qty(self, step: int) -> None:
        self._app.step_qty(step)

    def action_qty_preset(self, n: int) -> None:
        self._app.preset_qty(n)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A digit key past the last quantity preset is not bound (the key does nothing and
        is not listed); a watch-only screen's trading keys do nothing (the app decides)."""
        if not self._app.check_action(action, parameters):
            return False
        if action == "qty_preset":
            (n,) = parameters
            return isinstance(n, int) and n <= len(self._app.presets)
        return True

    def action_cursor(self, ticks: int) -> None:
        self.query_one(Ladder).move_cursor(ticks)

    def action_page(self, pages: int) -> None:
        self.query_one(Ladder).page(pages)

    def action_recentre(self) -> None:
        self.query_one(Ladder).recentre()

    def action_pnl_units(self) -> None:
        self.query_one(Ladder).toggle_pnl()

    def action_volume_view(self) -> None:
        ladder = self.query_one(Ladder)
        view = ladder.next_volume_view()
        wanted = ladder.view_columns()
        if wanted and not self._shown_at(self.size.width, wanted):
            # the view's columns are the first the ladder gives up: say so, not a change
            # that shows nowhere
            need = next((w for w in range(self.size.width + 1, WIDEST_ASKED)
                         if self._shown_at(w, wanted)), None)  # fmt: skip
            room = f"at {need} columns or wider" if need else "in a wider terminal"
            self.app.notify(f"traded volume: {view}: no room at this width; it shows {room}",
                            severity="warning", timeout=4)  # fmt: skip
            return
        self.app.notify(f"traded volume: {view}", timeout=2)

    def _shown_at(self, width: int, columns: frozenset[str]) -> bool:
        """Whether any of the ladder's ``columns`` shows in a terminal ``width`` wide."""
        ladder = self.query_one(Ladder)
        inside = self._plan(width).ladder - ladder.styles.gutter.width
        return bool(columns & ladder.columns_at(inside))

    def action_queue_figures(self) -> None:
        shown = self.query_one(Ladder).toggle_queue()
        self.query_one(OrdersTable).show_queue = shown
        self._app.dirty_all()
        self.app.notify(f"queue figures {'shown' if shown else 'hidden'}", timeout=2)

    def action_price_alert(self) -> None:
        self._app.toggle_alert()

    def action_clear_alerts(self) -> None:
        self._app.clear_alerts()

    def action_focus_orders(self) -> None:
        self.query_one(OrdersTable).focus()

    def action_focus_ladder(self) -> None:
        self._app.leave_carried()  # escape: an order picked up stays where it is
        self.query_one(Ladder).focus()

    def action_chart_period(self) -> None:
        """The next candle period (1, 5, 15 minutes) on every chart, drawn at the next paint."""
        for chart in self.query(ChartPanel):
            chart.next_period()
        self._app.dirty_all()

    def action_account(self) -> None:
        """Show or hide the account panel."""
        panel = self.query_one(AccountPanel)
        panel.display = not panel.display
        self._app.dirty_all()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self._app.keymap, self._app.presets))

    def action_quit_app(self) -> None:
        self._app.ask_quit()

    def action_replay(self, verb: str) -> None:
        self._app.replay_key(verb)
