"""``tradeterm [SYMBOL]``: check what the screen needs, run it, and turn every way it can
end into an exit status and at most one line for the user."""

from __future__ import annotations

from textual.theme import Theme

from tradeterm.config import Settings
from tradeterm.ui.keys import KeymapError, check_keymap
from tradeterm.ui.themes import ThemeError, select_theme


class ScreenUsageError(Exception):
    """Bad input for the screen (theme, keymap): exit status 2."""


class ScreenStartError(Exception):
    """The screen could not start trading (connection, mode): exit status 1."""


def check_screen(settings: Settings) -> tuple[Theme, dict[str, Theme]]:
    """What the screen needs from the settings beyond their types: the theme (and every
    available one) and a keymap it can honour. :class:`ScreenUsageError` otherwise; ``config
    show`` runs it too, so it refuses what the screen would."""
    try:
        check_keymap(settings.ui.keymap)
        return select_theme(settings.ui.theme)
    except (ThemeError, KeymapError) as exc:
        raise ScreenUsageError(str(exc)) from None


def build_app(settings: Settings, *, seed: int = 1) -> object:
    from tradeterm.ui.app import TradingApp

    theme, themes = check_screen(settings)
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
