"""Structured logging: JSON lines in a size-rotated file, never the terminal.

A full-screen UI owns the terminal, so :func:`setup_logging` removes every other handler from the
root logger and sends all records (tradeterm's, ib_async's, asyncio's, Python warnings) to one
JSON-lines file per process kind and market. Each line is one object with ``ts`` (UTC ISO-8601),
``level``, ``logger``, ``msg`` and any ``extra=`` fields the caller attached.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
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
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(config.level)
    logging.captureWarnings(True)
    return path
