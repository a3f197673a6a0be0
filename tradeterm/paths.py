"""Where tradeterm keeps its files.

Everything goes through platformdirs, which honours the XDG variables on Linux
(``XDG_CONFIG_HOME``, ``XDG_DATA_HOME``, ``XDG_STATE_HOME``), so users and tests can move all of
it by setting those. Nothing here creates directories as a side effect of asking for a path;
callers that write call :func:`ensure_dir`.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "tradeterm"
CONFIG_FILE_NAME = "tradeterm.toml"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_config_file() -> Path:
    return config_dir() / CONFIG_FILE_NAME


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def user_themes_dir() -> Path:
    """Themes a user copied and edited; they take precedence over the built-in ones."""
    return config_dir() / "themes"


def builtin_themes_dir() -> Path:
    """The themes shipped with tradeterm: package data (``tradeterm/themes``, which the
    repository's top-level ``themes/`` links to), so a wheel install has them too."""
    return Path(__file__).resolve().parent / "themes"


def journal_dir(directory: Path | None = None) -> Path:
    """Where the journals live: ``directory`` (``journal.dir``) or ``<data dir>/journal``."""
    return directory if directory is not None else data_dir() / "journal"


def journal_file(symbol: str, mode: str, directory: Path | None = None) -> Path:
    """One SQLite journal per market and mode, ``<journal dir>/<mode>/<SYMBOL>.sqlite``: what
    the SIM demo does (a kill switch, its fills) never reaches paper or live trading."""
    return journal_dir(directory) / mode / f"{symbol.upper()}.sqlite"


def legacy_journal_file(symbol: str, directory: Path | None = None) -> Path:
    """Where tradeterm 0.1 kept a market's journal for every mode: ``<journal dir>/<SYMBOL>
    .sqlite`` (read by ``journal/legacy.py``, never written)."""
    return journal_dir(directory) / f"{symbol.upper()}.sqlite"


def backtests_dir() -> Path:
    """Where a backtest's journal goes unless told otherwise: ``<data dir>/backtests``, apart
    from the trading journals, so a backtest is never read as a session that traded."""
    return data_dir() / "backtests"


def log_file(name: str, directory: Path | None = None) -> Path:
    """The JSON-lines log called ``name`` (:func:`log_name`, or ``gateway``, ``doctor``)."""
    base = directory if directory is not None else log_dir()
    return base / f"{name}.jsonl"


def log_name(kind: str, symbol: str, mode: str) -> str:
    """The log of a ``kind`` of process (``tradeterm``: the screen, ``console``, ``serve``)
    for ``symbol`` in ``mode``: ``tradeterm-ES-sim``. One file per process kind, market and
    mode, so two processes never rotate one file (ES SIM and ES PAPER run side by side)."""
    return f"{kind}-{symbol.upper()}-{mode}"


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    """Create ``path`` (and parents) if missing; trading data is private to the user."""
    path.mkdir(parents=True, exist_ok=True, mode=mode)
    return path


def runtime_dir() -> Path:
    """Where running instances keep their control sockets: ``$XDG_RUNTIME_DIR/tradeterm``
    (platformdirs' choice when that is unset or unsafe; it may warn or refuse, which the
    caller handles, see ``control/place.py``)."""
    return Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
