"""``tradeterm [SYMBOL]``: check what the screen needs, run it, and turn every way it can
end into an exit status and at most one line for the user (a :class:`UserError`)."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from textual.theme import Theme

from tradeterm.cli import replay_option, strategy_option
from tradeterm.cli.errors import EXIT_ERROR, EXIT_UNWRITTEN, EXIT_USAGE, UserError, reported_as
from tradeterm.cli.options import load
from tradeterm.config import Settings
from tradeterm.strategies import Loaded
from tradeterm.ui.keys import KeymapError, check_keymap
from tradeterm.ui.themes import ThemeError, select_theme

if TYPE_CHECKING:
    from tradeterm.control.endpoint import ControlServer
    from tradeterm.embedded import ReplaySource


def check_screen(settings: Settings) -> tuple[Theme, dict[str, Theme]]:
    """What the screen needs from the settings beyond their types: the theme (and every
    available one) and a keymap it can honour. A :class:`UserError` (exit status 2)
    otherwise; ``config show`` runs it too, so it refuses what the screen would."""
    with reported_as(EXIT_USAGE, ThemeError, KeymapError):
        check_keymap(settings.ui.keymap)
        return select_theme(settings.ui.theme)


def build_app(
    settings: Settings, *, seed: int = 1, strategy: Loaded | None = None,
    canary: float | None = None, watch_only: bool = False, control: ControlServer | None = None,
    replay: ReplaySource | None = None,
) -> object:  # fmt: skip
    from tradeterm.ui.app import TradingApp

    theme, themes = check_screen(settings)
    return TradingApp(settings, theme=theme, themes=themes, seed=seed, strategy=strategy,
                      canary=canary, watch_only=watch_only, control=control,
                      replay=replay)  # fmt: skip


def check_watch_only(settings: Settings, strategy: Loaded | None) -> None:
    """``--watch-only`` with what it cannot watch or run: one line, exit status 2."""
    from tradeterm.runtime import watch_refusal

    refused = watch_refusal(settings)
    if refused is None and strategy is not None:
        refused = "--watch-only runs no strategy: --strategy belongs to the trading instance"
    if refused is not None:
        raise UserError(refused)


def run(
    settings: Settings, *, seed: int = 1, strategy: Loaded | None = None,
    canary: float | None = None, watch_only: bool = False, replay: ReplaySource | None = None,
) -> int:  # fmt: skip
    """Run the screen to its end, with ``strategy`` configured (``--strategy``, in CANARY
    with ``canary``), on ``replay`` (``--replay``: REPLAY mode) when given. A
    :class:`UserError` when it could not start trading (connection, mode: exit status 1; a
    market the broker does not know: 2) or
    stopped with critical journal rows unwritten (3). The market is claimed first
    (``runtime.claim_market``, handed to the runtime), so another instance trading it is
    refused in one line before the terminal is taken over."""
    from tradeterm.runtime import ModeError, claim_market
    from tradeterm.ui.app import TradingApp

    control: ControlServer | None = None
    # a viewer claims nothing; a browser tab (textual-serve) claims inside the app, whose
    # refusal is then shown on the page, where a line on stderr would go unseen
    if not watch_only and not _in_a_browser():
        with reported_as(EXIT_ERROR, ModeError):
            control = claim_market(settings)
    try:
        app = build_app(settings, seed=seed, strategy=strategy, canary=canary,
                        watch_only=watch_only, control=control, replay=replay)  # fmt: skip
        assert isinstance(app, TradingApp)
        code = app.run()
    finally:
        if control is not None:  # the runtime's, once opened: released there already
            control.release()
    if app.startup_error:
        raise UserError(app.startup_error, EXIT_USAGE if app.startup_bad_input else EXIT_ERROR)
    if app.unwritten:
        raise UserError(app.unwritten, EXIT_UNWRITTEN)
    return app.return_code or (code if isinstance(code, int) else 0)


def _in_a_browser() -> bool:
    """Started by ``tradeterm serve`` (textual-serve runs each tab's app on its web driver)."""
    return "web_driver" in os.environ.get("TEXTUAL_DRIVER", "")


def command(args: argparse.Namespace) -> int:
    """``tradeterm [SYMBOL] [options]``: bad input is reported before anything runs."""
    from tradeterm.logs import setup_logging
    from tradeterm.paths import log_name

    replay = replay_option.chosen(args)  # before the settings: it sets the mode
    settings = load(args).settings
    if replay is not None:
        replay_option.check(replay, settings)
    strategy, canary = strategy_option.chosen(args, settings)
    watch_only: bool = getattr(args, "watch_only", False)
    if watch_only:
        check_watch_only(settings, strategy)
    name = log_name("tradeterm", settings.symbol, settings.mode)
    setup_logging(settings.logging, name + ("-watch" if watch_only else ""))
    return run(settings, strategy=strategy, canary=canary, watch_only=watch_only, replay=replay)
