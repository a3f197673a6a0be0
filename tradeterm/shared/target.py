"""From ``[shared]`` settings to a PostgreSQL connection, its password kept out of every log.

The password comes from the URL given in the environment (``TRADETERM_SHARED__URL``), from
``shared.password_file`` (refused unless only its owner can read it: checked when the settings
load and again at each connect, since the file may change), or from libpq's own ``PGPASSWORD``
and ``~/.pgpass`` (which libpq itself refuses unless 0600). A config file may hold a password
in ``shared.url`` only when it is itself private (``tradeterm.config`` checks that).

:meth:`Target.hide` gives the log filter (``tradeterm.logs.hide``: the one Redact filter) the
password and the URL as written, before anything connects, so that neither reaches the log
file whatever logs them (psycopg, a traceback); :attr:`Target.shown` is the URL as it may be
shown or logged: scheme, user, host, port and database, no password.
"""

from __future__ import annotations

import contextlib
import math
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg

from tradeterm import logs
from tradeterm.config import Settings, SharedConfig, postgres_url_shown, private_file


class SharedError(Exception):
    """The shared database cannot be used as configured; worded for the user."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how to connect: the URL, a password read from a file, the timeout."""

    url: str
    password_file: Path | None = None
    connect_timeout_s: float = 5.0

    @classmethod
    def of(cls, config: SharedConfig) -> Target | None:
        """The target ``config`` names; None when no ``url`` is set (no shipping)."""
        if config.url is None:
            return None
        return cls(config.url, config.password_file, config.connect_timeout_s)

    @property
    def shown(self) -> str:
        """The URL without its password (``config.postgres_url_shown``)."""
        return postgres_url_shown(self.url)

    def password(self) -> str | None:
        """The password of ``password_file`` (its first line), checked private again now."""
        if self.password_file is None:
            return None
        try:
            private_file(self.password_file)
            text = self.password_file.read_text(encoding="utf-8")
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise SharedError(
                f"shared.password_file {self.password_file}: expected {exc}"
            ) from None
        return text.splitlines()[0] if text.strip() else None

    def secrets(self) -> set[str]:
        """What must never reach a log: the URL as written, its password, the file's."""
        found = {self.url}
        # a URL or password file that cannot be read yields no secret here (connect says why)
        with contextlib.suppress(ValueError):
            password = urlsplit(self.url).password or ""
            found |= {password, unquote(password)}
        with contextlib.suppress(SharedError):
            found.add(self.password() or "")
        return {s for s in found if s}

    def hide(self) -> None:
        """Tell the log file's filter every secret of this target (before connecting)."""
        logs.hide(self.secrets())

    async def connect(
        self, *, autocommit: bool = True
    ) -> psycopg.AsyncConnection[tuple[object, ...]]:
        """A new connection. Raises ``psycopg.OperationalError`` when the server is away
        (the caller's backoff handles it) and :class:`SharedError` for a bad password file."""
        password = self.password()
        extra: dict[str, Any] = {"password": password} if password is not None else {}
        return await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=autocommit,
            connect_timeout=max(1, math.ceil(self.connect_timeout_s)),
            application_name="tradeterm",
            **extra,
        )


def instance_name(settings: Settings) -> str:
    """This instance's name in the shared database: ``shared.instance``, else
    ``host/SYMBOL/mode`` (one journal per market and mode on a host)."""
    if settings.shared.instance:
        return settings.shared.instance
    return f"{socket.gethostname()}/{settings.symbol}/{settings.mode}"
