"""Structured logging: JSON lines in a size-rotated file, never the terminal.

A full-screen UI owns the terminal, so :func:`setup_logging` removes every other handler from the
root logger and sends all records (tradeterm's, ib_async's, asyncio's, Python warnings) to one
JSON-lines file per process kind, market and mode (``paths.log_name``). Each line is one
object with ``ts`` (UTC ISO-8601), ``level``, ``logger``, ``msg`` and any ``extra=`` fields the
caller attached. A secret the process was told of (:func:`hide`: ``tradeterm serve``'s access token) never reaches the file.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tradeterm import paths
from tradeterm.config import ConfigError, LoggingConfig

# Attributes every LogRecord has; anything else was passed with ``extra=`` and is kept.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class Redact(logging.Filter):
    """Blanks the secrets it was told of (:meth:`hide`) out of a record: its message, arguments,
    traceback and every ``extra=`` field (aiohttp's access log puts the request line and its
    headers there). On a handler it sees every record the handler writes, whatever logger
    made it; on a logger, only that logger's own (not its children's)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: list[str] = []

    def hide(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({*self._secrets, *secrets}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        record.msg, record.args = self._blank(text), ()
        for key, value in list(vars(record).items()):
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                setattr(record, key, self._blank(value))
        return True

    def _blank(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: self._blank(item) for key, item in value.items()}
        text = value if isinstance(value, str) else str(value)
        if not any(secret in text for secret in self._secrets):
            return value
        for secret in self._secrets:  # a longer one first: it may hold a shorter one
            text = text.replace(secret, "***")
        return text


SECRETS = Redact()
"""The log file's filter (:func:`setup_logging`): what :func:`hide` was given never reaches it."""


def hide(secrets: Iterable[str]) -> None:
    """From now on, blank ``secrets`` out of every line the log file gets, from any logger."""
    SECRETS.hide(secrets)


def redact(text: str) -> str:
    """``text`` with every secret :func:`hide` was given blanked out, as the log file gets
    it: for a line shown on the terminal (an error libpq worded may quote a password)."""
    return str(SECRETS._blank(text))


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="microseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class QuietRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A log file that cannot be written (disk full) is never reported on the terminal: the
    standard handler prints a traceback to stderr, over the screen. The lines are lost and
    counted in ``lost``."""

    lost = 0

    def handleError(self, record: logging.LogRecord) -> None:
        self.lost += 1


def setup_logging(config: LoggingConfig, name: str) -> Path:
    """Send all logging to ``<log dir>/<name>.jsonl`` with rotation; return the file's path.
    A log file that cannot be created is a :class:`ConfigError` naming ``logging.dir``
    (nothing is logged yet, so it must be said on the terminal, once)."""
    directory = config.dir if config.dir is not None else paths.log_dir()
    path = paths.log_file(name, directory)
    try:
        paths.ensure_dir(directory)
        handler = QuietRotatingFileHandler(
            path, maxBytes=config.max_bytes, backupCount=config.backup_count, encoding="utf-8"
        )
        path.chmod(0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot write the log file {path}: {exc.strerror or exc}; "
            "set logging.dir to a writable directory"
        ) from None
    handler.setFormatter(JsonLinesFormatter())
    handler.addFilter(SECRETS)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(config.level)
    logging.captureWarnings(True)
    return path
