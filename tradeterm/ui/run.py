"""``tradeterm [SYMBOL]``: check what the screen needs, run it, and turn every way it can
end into an exit status and at most one line for the user."""

from __future__ import annotations

from tradeterm.config import Settings
from tradeterm.ui.keys import KeymapError, check_keymap
from tradeterm.ui.themes import ThemeError, select_theme


class ScreenUsageError(Exception):
    """Bad input for the screen (theme, keymap): exit status 2."""


class ScreenStartError(Exception):
    """The screen could not start trading (connection, mode): exit status 1."""


def build_app(settings: Settings, *, seed: int = 1) -> object:
    from tradeterm.ui.app import TradingApp

    try:
        theme, themes = select_theme(settings.ui.theme)
        check_keymap(settings.ui.keymap)
    except (ThemeError, KeymapError) as exc:
        raise ScreenUsageError(str(exc)) from None
    return TradingApp(settings, theme=theme, themes=themes, seed=seed)


def run(settings: Settings, *, seed: int = 1) -> int:
    from tradeterm.ui.app import TradingApp

    app = build_app(settings, seed=seed)
    assert isinstance(app, TradingApp)
    code = app.run()
    if app.startup_error:
        raise ScreenStartError(app.startup_error)
    if app.unwritten:
        from tradeterm.runtime import UnwrittenError

        raise UnwrittenError(app.unwritten)
    return app.return_code or (code if isinstance(code, int) else 0)
