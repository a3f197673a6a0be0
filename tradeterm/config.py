"""Configuration: one validated object built from four sources.

Lowest to highest precedence: built-in defaults, the TOML file (``tradeterm.toml`` in the user
config dir, or ``--config FILE``), environment variables (``TRADETERM_`` prefix, nested with
``__``: ``TRADETERM_CONNECTION__PORT=4002``), then command-line flags.

Every problem is a :class:`ConfigError` whose message names the key, the bad value, where it came
from and what is expected; the CLI prints it and exits with status 2. Unknown keys are errors,
never silently ignored: a typo in a risk limit must not fall back to a default.

Kept as one module because the schema and its error messages are one contract: each message
is built from the model's own fields (the key's name, its type and range, the nearest valid
name for a typo) and from where the merge of the four sources took the value.
"""

from __future__ import annotations

import base64
import difflib
import logging
import os
import random
import re
import tomllib
import zlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from tradeterm import paths
from tradeterm.domain import CME_ROOTS
from tradeterm.text import printable

ENV_PREFIX = "TRADETERM_"
ENV_DELIMITER = "__"

Mode = Literal["sim", "shadow", "paper", "live", "replay"]
# Where a mode connects when no port is given. SIM runs the embedded fake gateway (no port).
# SHADOW only reads market data (its orders go to the in-process paper broker): IB Gateway's
# paper port, so that an order could never reach a live account even by mistake.
DEFAULT_PORTS: dict[str, int] = {"paper": 4002, "shadow": 4002, "live": 4001}

Process = Literal["screen", "console", "watch"]
# The API client id of each market's screen when connection.client_id is unset; its console
# takes the next but four (CONSOLE_CLIENT_ID_OFFSET), so that every market's screen and console
# can run side by side on one gateway (IB closes a second connection with the same id: 326),
# and auto_client_id's next ids stay inside the market's block of ten. The ids stay clear of 0
# (TWS's own manual orders), of the small ids API tools and IB's samples use by default (1,
# 2, ...) and so of the ids usually given to the gateway's Master API client.
DEFAULT_CLIENT_IDS: dict[str, int] = {
    "ES": 110, "MES": 120, "NQ": 130, "MNQ": 140, "YM": 150, "RTY": 160, "CL": 170, "GC": 180,
    "MYM": 190, "M2K": 200, "ZN": 210, "ZB": 220, "6E": 230, "MCL": 240, "NG": 250, "MGC": 260,
    "SI": 270,
}  # fmt: skip
CONSOLE_CLIENT_ID_OFFSET = 5
# A watch-only screen (``--watch-only``, each browser tab of ``tradeterm serve --watch-only``)
# connects beside the trading screen and console of its market: the screen's id (configured or
# the market's own) plus this, always with auto_client_id's next four ids (a tab each), clear of
# every market's block of ten (the roots without a row end below 101_000).
WATCH_CLIENT_ID_OFFSET = 200_000
OTHER_CLIENT_IDS = (1_000, 10_000)  # a root without a row: a block of ten by its name's crc32


def default_client_id(symbol: str, process: Process = "screen") -> int:
    """The API client id of ``symbol``'s screen or console when none is configured (see
    :data:`DEFAULT_CLIENT_IDS`): the same on every machine and every run."""
    root = symbol.strip().upper()
    base = DEFAULT_CLIENT_IDS.get(root)
    if base is None:
        first, blocks = OTHER_CLIENT_IDS
        base = first + 10 * (zlib.crc32(root.encode()) % blocks)
    return base + _PROCESS_OFFSETS[process]


_PROCESS_OFFSETS: dict[Process, int] = {
    "screen": 0, "console": CONSOLE_CLIENT_ID_OFFSET, "watch": WATCH_CLIENT_ID_OFFSET,
}  # fmt: skip


def sim_markets() -> tuple[str, ...]:
    """The roots a SIM instance can trade: the built-in table's, then the roots only the
    simulated gateway's catalog lists."""
    from tradeterm.sim import products  # the fake gateway's: a pure table, imports nothing

    return (*CME_ROOTS, *(root for root in products.PRODUCTS if root not in CME_ROOTS))


class ConfigError(Exception):
    """A configuration problem, worded for the user."""


def _os_path(value: Path) -> Path:
    if "\0" in str(value):  # every call that opens it would raise ValueError
        raise ValueError("a path without NUL characters")
    return value


OsPath = Annotated[Path, AfterValidator(_os_path)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ConnectionConfig(_Section):
    host: str = Field("127.0.0.1", min_length=1, description="IB Gateway / TWS host")
    port: int | None = Field(
        None, ge=1, le=65535, description="API port; empty = 4002 paper and shadow, 4001 live"
    )
    client_id: int | None = Field(
        None, ge=0, le=2_147_483_646, description="API client id; empty = the market's own"
    )
    auto_client_id: bool = Field(
        False, description="on error 326 (client id in use) try the next free id"
    )
    account: str | None = Field(None, description="IB account; empty = the only managed one")
    connect_timeout_s: float = Field(10.0, gt=0, le=300)
    request_timeout_s: float = Field(10.0, gt=0, le=300)
    reconnect_min_s: float = Field(1.0, gt=0, le=600)
    reconnect_max_s: float = Field(60.0, gt=0, le=3600)
    wait_at_start: bool = Field(
        False,
        description="a gateway not reachable at start is waited for (tried again with the "
        "reconnect backoff) instead of ending the start; --wait-for-gateway",
    )

    def backoff_s(self, attempt: int) -> float:
        """Seconds to wait before connection attempt ``attempt`` + 1 after ``attempt`` failed
        ones (0: the first retry): ``reconnect_min_s`` doubling up to ``reconnect_max_s``,
        ±20 % so that instances sharing a gateway do not all come back at once. The one
        policy for a reconnect and for a start waiting for the gateway."""
        lo, hi = self.reconnect_min_s, self.reconnect_max_s
        base = min(hi, lo * 2 ** min(attempt, 64))
        return max(lo, min(hi, base * random.uniform(0.8, 1.2)))


class BracketConfig(_Section):
    enabled: bool = Field(False, description="send entries as native brackets")
    stop_ticks: int = Field(8, ge=1, le=10_000)
    target_ticks: int = Field(16, ge=1, le=10_000)


class RiskConfig(_Section):
    max_position: int = Field(2, ge=1, le=10_000, description="contracts, counting working orders")
    max_order_qty: int = Field(2, ge=1, le=10_000)
    daily_loss_limit: Decimal = Field(Decimal("1000"), gt=0, description="money; kills on breach")
    max_drawdown: Decimal = Field(Decimal("1500"), gt=0, description="from session peak equity")
    warn_fraction: float = Field(0.8, gt=0, lt=1)
    fat_finger_ticks: int = Field(20, ge=1, le=100_000)
    max_orders_per_s: float = Field(10.0, gt=0, le=45, description="stays below IB's ~50 msg/s")
    no_entry_before_break_min: int = Field(5, ge=0, le=120)
    rearm_cooldown_s: int = Field(300, ge=0, le=86_400)
    risk_per_trade_pct: float = Field(1.0, gt=0, le=100)
    stale_after_s: float = Field(5.0, gt=0, le=600)
    account_daily_loss_limit: Decimal | None = Field(
        None, gt=0, description="money; IB's account-wide daily P&L, halts every instance"
    )
    kill_timeout_s: float = Field(
        30.0, gt=0, le=3600, description="kill switch: connected time to get flat, then HALTED"
    )
    on_disconnect: Literal["keep", "flatten", "halt"] = Field(
        "keep",
        description="keep: orders and stops rest at IB; flatten: cancel and flatten on "
        "reconnect; halt: the kill switch on reconnect",
    )


DEFAULT_PRESETS = (1, 2, 3, 5, 10)


class FieldProblem(ValueError):
    """A check across a section's fields, reported at ``field`` (its key, value and origin;
    a dotted key reaches into the section's subsections: ``exits.scalp.targets``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class ExitTarget(_Section):
    """One profit target of an exit strategy: ``ticks`` from the entry's fill, for ``qty``
    contracts or a ``fraction`` of the entry's quantity (one of the two)."""

    ticks: int = Field(..., ge=1, le=10_000, description="from the entry's fill price")
    qty: int | None = Field(None, ge=1, le=10_000, description="contracts")
    fraction: float | None = Field(None, gt=0, le=1, description="of the entry's quantity")

    @model_validator(mode="after")
    def _one_size(self) -> ExitTarget:
        if (self.qty is None) == (self.fraction is None):
            raise FieldProblem("qty", "give a target either qty (contracts) or fraction "
                               "(of the entry), one of the two")  # fmt: skip
        return self


class ExitStrategyConfig(_Section):
    """An exit strategy (NinjaTrader's ATM): what protects an entry of the screen once it
    fills (see ``engine/exits.py``)."""

    stop_ticks: int = Field(..., ge=1, le=10_000, description="protective stop from the fill")
    targets: list[ExitTarget] = Field(default_factory=list, max_length=8)
    breakeven_after_ticks: int | None = Field(
        None, ge=1, le=10_000, description="move the stop to the entry after this profit"
    )
    breakeven_offset_ticks: int = Field(0, ge=0, le=10_000, description="beyond the entry")
    trail_ticks: int | None = Field(
        None, ge=1, le=10_000, description="the stop is IB's TRAIL, this far behind the market"
    )

    @model_validator(mode="after")
    def _consistent(self) -> ExitStrategyConfig:
        targets = self.targets
        if len({t.qty is None for t in targets}) > 1:
            raise FieldProblem("targets", "use qty for every target or fraction for every "
                               "target, not both")  # fmt: skip
        share = sum(t.fraction or 0 for t in targets)
        if share > 1 + 1e-9:
            raise FieldProblem("targets", f"the fractions add up to {share:g}: at most 1")
        if self.breakeven_after_ticks is not None and (
            self.breakeven_offset_ticks >= self.breakeven_after_ticks
        ):
            raise FieldProblem("breakeven_offset_ticks", "below breakeven_after_ticks (the stop "
                               "must stay behind the market)")  # fmt: skip
        if self.breakeven_after_ticks is not None and self.trail_ticks is not None:
            raise FieldProblem("trail_ticks", "not with breakeven_after_ticks: a trailing stop "
                               "reaches breakeven by itself (trail_ticks beyond the fill) where "
                               "IB moves it, and a breakeven modify could move it back")  # fmt: skip
        return self

    def summary(self) -> str:
        """The strategy in a few words: ``stop 8, targets 4 12, BE 4+1, trail 6``."""
        words = [f"stop {self.stop_ticks}"]
        if self.targets:
            words.append("targets " + " ".join(str(t.ticks) for t in self.targets))
        if self.breakeven_after_ticks is not None:
            words.append(f"BE {self.breakeven_after_ticks}+{self.breakeven_offset_ticks}")
        if self.trail_ticks is not None:
            words.append(f"trail {self.trail_ticks}")
        return ", ".join(words)

    def target_sizes(self, quantity: int) -> list[int]:
        """Each target's contracts for an entry of ``quantity``: its qty, or its fraction
        rounded down, the contracts left by the rounding going to the first targets when the
        fractions add up to 1; a target without a contract is left out (0), and what the
        targets do not take is held under the stop alone (a runner)."""
        if not self.targets:
            return []
        if self.targets[0].qty is not None:
            sizes, left = [], quantity
            for target in self.targets:
                size = min(target.qty or 0, left)
                sizes.append(size)
                left -= size
            return sizes
        sizes = [int(quantity * (t.fraction or 0) + 1e-9) for t in self.targets]
        if sum(t.fraction or 0 for t in self.targets) > 1 - 1e-9:
            for i in range(quantity - sum(sizes)):
                sizes[i % len(sizes)] += 1
        return sizes


class MarketConfig(_Section):
    default_qty: int = Field(1, ge=1, le=10_000)
    quantities: list[int] | None = Field(
        None,
        min_length=1,
        description="presets on the keys 1-9; empty = 1, 2, 3, 5, 10 up to the largest order "
        "the risk limits allow",
    )
    roll_days: int = Field(
        8, ge=0, le=60, description="days before expiry to roll (GC: before first notice day)"
    )
    contract: str | None = Field(None, description="explicit local symbol, e.g. ESZ6")
    recent_volume_s: float = Field(
        5.0, gt=0, le=600, description="the ladder's RCNT column: trades of the last N seconds"
    )
    bracket: BracketConfig = Field(default_factory=BracketConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    exits: dict[str, ExitStrategyConfig] = Field(
        default_factory=dict, description="exit strategies by name, chosen with X on the screen"
    )

    @field_validator("quantities")
    @classmethod
    def _positive_quantities(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and any(q < 1 for q in value):
            raise ValueError("every quantity must be at least 1")
        return value

    @model_validator(mode="after")
    def _within_the_limits(self) -> MarketConfig:
        """No quantity the risk limits always refuse: an order above ``max_order_qty`` is
        refused, and one above ``max_position`` could only ever open (or grow) a position
        past it."""
        cap, rule = self.largest_order()
        if self.default_qty > cap:
            raise FieldProblem("default_qty", f"at most {rule} = {cap}: every order of "
                               f"{self.default_qty} would be refused")  # fmt: skip
        over = [q for q in self.quantities or () if q > cap]
        if over:
            raise FieldProblem("quantities", f"each at most {rule} = {cap}: "
                               f"{', '.join(map(str, over))} would always be refused")  # fmt: skip
        for name, plan in self.exits.items():
            big = [t.qty for t in plan.targets if t.qty is not None and t.qty > cap]
            if big:
                raise FieldProblem(f"exits.{name}.targets", f"each target's qty at most {rule} "
                                   f"= {cap} (no entry is larger): {', '.join(map(str, big))} "
                                   "could never be filled")  # fmt: skip
        return self

    def largest_order(self) -> tuple[int, str]:
        """The largest quantity the risk limits let through, and the limit that sets it."""
        risk = self.risk
        if risk.max_position < risk.max_order_qty:
            return risk.max_position, "risk.max_position"
        return risk.max_order_qty, "risk.max_order_qty"

    def presets(self) -> list[int]:
        """The quantity presets (keys 1..9 in this order): ``quantities``, or else the
        default presets the risk limits allow."""
        if self.quantities is not None:
            return list(self.quantities)
        cap = self.largest_order()[0]
        return [q for q in DEFAULT_PRESETS if q <= cap]


class UIConfig(_Section):
    theme: str = Field("dark", min_length=1)
    paint_hz: float = Field(15.0, ge=1, le=60, description="screen repaints per second")
    keymap: dict[str, str] = Field(default_factory=dict, description="action = key overrides")


class JournalConfig(_Section):
    dir: OsPath | None = Field(None, description="empty = <data dir>/journal")
    batch_size: int = Field(500, ge=1, le=100_000)
    flush_interval_ms: int = Field(250, ge=10, le=60_000)
    queue_max: int = Field(50_000, ge=100, le=10_000_000)


class SharedConfig(_Section):
    """The shared PostgreSQL database every instance ships its journal to (``tradeterm/shared``).
    The URL is never shown or logged with its password; a password is best given in the
    environment (``TRADETERM_SHARED__URL``, libpq's ``PGPASSWORD``) or in ``password_file``."""

    url: str | None = Field(
        None,
        description="postgresql://USER@HOST:PORT/DB; empty = no shipping; a password in it "
        "only from the environment or a config file of mode 0600",
    )
    password_file: OsPath | None = Field(
        None, description="a file holding the password (one line), refused unless mode 0600"
    )
    instance: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="this instance's name; empty = host/SYMBOL/mode",
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="rows per shipping transaction")
    connect_timeout_s: float = Field(5.0, gt=0, le=300)
    retry_min_s: float = Field(0.5, gt=0, le=600, description="first wait after a failure")
    retry_max_s: float = Field(30.0, gt=0, le=3600, description="longest wait, doubled up to it")
    heartbeat_s: float = Field(
        5.0, gt=0, le=600, description="control plane: how often an instance beats (stale "
        "after three missed), and the longest wait before trying a lost link again"
    )  # fmt: skip

    @field_validator("url", "instance", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """``url = ""`` (``TRADETERM_SHARED__URL=``): no shipping; ``instance = ""``: the
        default name, as their descriptions say."""
        return None if value == "" else value

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        """A URL every part of which can be read (a host in brackets closed, a port a
        number): what connects and what is shown of it can rely on that."""
        from urllib.parse import urlsplit

        expected = "a URL postgresql://USER@HOST:PORT/DATABASE"
        if value is None:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError(expected)
        try:
            parts = urlsplit(value)
            _ = parts.hostname, parts.port, parts.username, parts.password
        except ValueError:  # its words may quote a password taken for a port: not shown
            raise ValueError(f"{expected}: its host or port cannot be read") from None
        from psycopg import Error
        from psycopg.conninfo import conninfo_to_dict

        try:  # libpq's own reading, which connects: refused here, not at every retry
            conninfo_to_dict(value)
        except Error as exc:  # libpq's words quote the part it cannot read: not shown
            words = str(exc)
            why = ("it holds a space (write %20)" if "space" in words else
                   "a % not followed by two hex digits (write %25 for a %)"
                   if "percent" in words else "libpq cannot read it")  # fmt: skip
            raise ValueError(f"{expected}: {why}") from None
        return value

    @field_validator("password_file")
    @classmethod
    def _private_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            private_file(value)
        return value


def private_file(path: Path) -> None:
    """Refuse (``ValueError``, worded for the user) a credentials file that is missing or that
    anyone but its owner may read or write (mode other than 0600 or 0400), as libpq refuses a
    ``.pgpass`` that is."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ValueError(f"a readable file; {exc.strerror or exc}") from None
    if mode & 0o077:
        raise ValueError(f"a file only its owner can read (chmod 600); it is mode {mode & 0o777:o}")


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    dir: OsPath | None = Field(None, description="empty = the user log dir")
    max_bytes: int = Field(100_000_000, ge=10_000, description="rotate at this size")
    backup_count: int = Field(10, ge=1, le=1000)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


NotifyEvent = Literal["fill", "refusal", "risk", "kill", "disconnect", "strategy", "price"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)  # tradeterm/notify/alerts.py


class NotifyConfig(_Section):
    """Notifications (``tradeterm/notify``): apprise URLs, the events that send, the bell.
    A URL holds its channel's secrets (tokens, passwords, a webhook's path): it is checked at
    load and never shown, only its :func:`redacted_url`."""

    urls: list[str] = Field(
        default_factory=list,
        description="apprise URLs (ntfy://, discord://, slack://, tgram://, mailto://, json://); "
        "in the environment: JSON or separated by spaces; never shown",
    )
    events: list[NotifyEvent] = Field(
        default_factory=lambda: list(NOTIFY_EVENTS), description=", ".join(NOTIFY_EVENTS)
    )
    disconnect_after_s: float = Field(
        30.0, gt=0, le=86_400, description="a disconnect this long notifies (and its reconnect)"
    )
    bell: bool = Field(False, description="ring the terminal bell on the same events")
    queue_max: int = Field(100, ge=1, le=10_000, description="per channel; the oldest drops")
    retries: int = Field(5, ge=0, le=20, description="a failed send is tried again this often")
    backoff_s: float = Field(2.0, gt=0, le=600, description="first wait before a retry, doubled")

    @field_validator("urls", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return value.split() if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _known_to_apprise(cls, urls: list[str]) -> list[str]:
        for n, url in enumerate(urls, 1):
            if not _apprise_accepts(url):
                raise ValueError(
                    f"an apprise URL such as ntfy://ntfy.sh/TOPIC; channel {n} "
                    f"({redacted_url(url)}) is not one apprise can send to"
                )
        return urls


def _apprise_accepts(url: str) -> bool:
    """Whether apprise can build a channel from ``url`` (imported only when URLs are set).
    Its logger is silenced meanwhile: it would name the URL, secrets and all."""
    import apprise

    logger = logging.getLogger("apprise")
    disabled, logger.disabled = logger.disabled, True
    try:
        return apprise.Apprise.instantiate(url) is not None
    except Exception:
        return False
    finally:
        logger.disabled = disabled


def redacted_url(url: str) -> str:
    """``url`` as it may be logged or shown: its scheme and host (``json://127.0.0.1:8080``),
    or its scheme alone when the host is no host name (``tgram://…``: Telegram's bot token,
    Discord's webhook id, an ntfy topic stand there). Everything else may be a secret."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "…"
    netloc = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    host = netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
    named = host == "localhost" or "." in host or host.startswith("[")
    return f"{printable(scheme)}://{printable(netloc) if named else '…'}"


def postgres_url_shown(url: str) -> str:
    """A PostgreSQL URL without its password: ``postgresql://user@host:5432/db``; of a URL
    that cannot be read (``--url``: not checked as the configuration is), its scheme alone."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return f"{url.partition(':')[0]}://(a URL that cannot be read)"
    return f"{parts.scheme}://{user}{parts.hostname or ''}{port}{parts.path}"


def url_secrets(url: str) -> set[str]:
    """The parts of ``url`` that may be secret, as written and decoded (the user, password,
    path, query values; the host when it is no host name), for a log filter to blank out."""
    from urllib.parse import unquote

    _, _, rest = url.partition("://")
    netloc, _, tail = rest.partition("/")
    if "?" in netloc:
        netloc, _, query = netloc.partition("?")
        tail = "?" + query
    user, _, host = netloc.rpartition("@")
    parts = [*user.split(":"), *re.split(r"[/?&=#]", tail)]
    if redacted_url(url).endswith("…"):
        parts += [host, *host.split(":")]
    words = {w for part in parts for w in (part, unquote(part), *unquote(part).split())}
    if user:  # as HTTP basic authentication sends it
        words.add(base64.b64encode(unquote(user).encode()).decode())
    return {w for w in words if len(w) >= 3}


_toml_data: ContextVar[dict[str, Any] | None] = ContextVar("tradeterm_toml_data", default=None)


class _TomlDataSource(PydanticBaseSettingsSource):
    """The already-parsed TOML file (parsing is done by :func:`load_settings` so that its
    errors can be worded with the file's name)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole mapping

    def __call__(self) -> dict[str, Any]:
        return dict(_toml_data.get() or {})


class _EnvSource(EnvSettingsSource):
    """The ``TRADETERM_*`` variables. A table or a list is given as JSON; text that is not
    JSON is passed on as typed, so that validation reports it like any other bad value (key,
    value, variable) instead of pydantic-settings' SettingsError, which names neither."""

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        validate_assignment=True,
    )

    mode: Mode = Field(
        "sim",
        description="sim (embedded fake gateway), shadow, paper or live; replay is set by "
        "tradeterm SYMBOL --replay FILE",
    )
    symbol: str = Field("ES", description="root symbol of the market this instance trades")
    connection: ConnectionConfig = Field(default_factory=ConnectionConfig)
    markets: dict[str, MarketConfig] = Field(
        default_factory=dict, description="per-market settings keyed by root symbol"
    )
    ui: UIConfig = Field(default_factory=UIConfig)
    journal: JournalConfig = Field(default_factory=JournalConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    shared: SharedConfig = Field(default_factory=SharedConfig)

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().upper()
        if not value.isalnum() or not 1 <= len(value) <= 10:
            raise ValueError("a root symbol such as ES, NQ or CL (letters and digits)")
        # before anything (a journal, a log file) is named after it. At IB (paper, live) any
        # root IB lists resolves from its contract details; the simulated gateway lists its
        # catalog's
        if info.data.get("mode", "sim") == "sim" and value not in sim_markets():
            raise ValueError(f"one of the known markets: {', '.join(sim_markets())} "
                             "(in paper or live mode, any futures root IB lists)")  # fmt: skip
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("markets", mode="before")
    @classmethod
    def _upper_market_keys(cls, value: Any) -> Any:
        # Sources are merged before validation; the environment spells keys in lower case, so
        # ``markets.es`` (env) and ``markets.ES`` (file) must merge, later source winning.
        if not isinstance(value, Mapping):
            return value
        merged: dict[str, Any] = {}
        for key, section in value.items():
            upper = str(key).upper()
            merged[upper] = _deep_merge(merged.get(upper), section)
        return merged

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: CLI flags (init kwargs) > environment > TOML file > defaults.
        return (init_settings, _EnvSource(settings_cls), _TomlDataSource(settings_cls))

    def market(self, symbol: str | None = None) -> MarketConfig:
        """Settings of ``symbol`` (default: this instance's market)."""
        return self.markets.get((symbol or self.symbol).upper(), MarketConfig())

    def port(self) -> int | None:
        """The port to connect to; None in SIM mode without an explicit port (embedded gateway)."""
        if self.connection.port is not None:
            return self.connection.port
        return DEFAULT_PORTS.get(self.mode)

    def client_id(self, process: Process = "screen") -> int:
        """The API client id to connect with: ``connection.client_id``, else the market's
        own for ``process`` (:func:`default_client_id`). A watch-only screen never takes the
        trading screen's id: it connects as the screen's id plus :data:`WATCH_CLIENT_ID_OFFSET`."""
        configured = self.connection.client_id
        if configured is None:
            return default_client_id(self.symbol, process)
        return configured + (WATCH_CLIENT_ID_OFFSET if process == "watch" else 0)

    def journal_path(self) -> Path:
        return paths.journal_file(self.symbol, self.mode, self.journal.dir)

    def log_directory(self) -> Path:
        return self.logging.dir if self.logging.dir is not None else paths.log_dir()


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        out = dict(base)
        for key, value in override.items():
            out[key] = _deep_merge(out.get(key), value)
        return out
    return override


# ---------------------------------------------------------------------------------------------
# Loading, provenance and error wording


class LoadedSettings:
    """The effective settings plus where each value came from."""

    def __init__(
        self, settings: Settings, config_file: Path, file_found: bool, origins: dict[str, str]
    ) -> None:
        self.settings = settings
        self.config_file = config_file
        self.file_found = file_found
        self._origins = origins

    def origin(self, key: str) -> str:
        """Where the dotted ``key`` came from: a CLI flag, an env var, the file, or default."""
        return _origin_of(self._origins, key)

    def rows(self) -> Iterator[tuple[str, Any, str]]:
        """``(dotted key, value, origin)`` for every leaf of the effective settings."""
        data = self.settings.model_dump(mode="json")
        symbol = self.settings.symbol
        if symbol not in data["markets"]:  # show the defaults this market trades with
            data["markets"][symbol] = self.settings.market().model_dump(mode="json")
        origins = {}
        if data["connection"]["client_id"] is None:  # the market's own
            data["connection"]["client_id"] = self.settings.client_id()
            origins["connection.client_id"] = (
                f"default for {symbol}'s screen (its console: {self.settings.client_id('console')})"
            )
        data["notify"]["urls"] = [redacted_url(url) for url in self.settings.notify.urls]
        if self.settings.shared.url is not None:
            data["shared"]["url"] = postgres_url_shown(self.settings.shared.url)
        for key, value in _flatten(data):
            yield key, value, origins.get(key) or self.origin(key)


def load_settings(
    config_file: Path | str | None = None, cli: Mapping[str, Any] | None = None
) -> LoadedSettings:
    """Build the effective settings from defaults, the TOML file, ``TRADETERM_*`` environment
    variables and ``cli``: dotted keys set by command-line flags (``{"connection.port": 4002}``).

    Raises :class:`ConfigError` with a user-facing message.
    """
    explicit = config_file is not None
    path = (
        Path(config_file).expanduser() if config_file is not None else paths.default_config_file()
    )
    toml_data, found = _read_toml(path, required=explicit)
    toml_data = _upper_markets(toml_data)
    cli_data = _nest(dict(cli or {}))
    env_data = _env_data(os.environ)
    _check_unknown_env(os.environ)

    origins: dict[str, str] = {}
    for key, _ in _flatten(toml_data):
        origins[key] = f"file {path}"
    for key, _ in _flatten(env_data):
        origins[key] = f"env {_env_name(key)}"
    for key in cli or {}:
        origins[key] = "command line"

    token = _toml_data.set(toml_data)
    try:
        settings = Settings(**cli_data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, origins, (cli_data, env_data, toml_data))) from None
    finally:
        _toml_data.reset(token)
    _check_url_password(settings.shared.url, origins.get("shared.url", ""), path)
    return LoadedSettings(settings, path, found, origins)


def _check_url_password(url: str | None, origin: str, path: Path) -> None:
    """A password written into ``shared.url`` in a config file others may read is refused:
    the environment, ``shared.password_file`` or a 0600 config file may hold one."""
    from urllib.parse import urlsplit

    if url is None or not origin.startswith("file"):
        return
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if not password:
        return
    try:
        private_file(path)
    except ValueError as exc:
        raise ConfigError(
            f"shared.url ({origin}) holds a password but the file is not private: expected "
            f"{exc}; or give the password in TRADETERM_SHARED__URL or shared.password_file"
        ) from None


def _read_toml(path: Path, *, required: bool) -> tuple[dict[str, Any], bool]:
    shown = printable(str(path))  # one line, whatever the name holds
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {shown} does not exist") from None
        return {}, False
    except IsADirectoryError:
        raise ConfigError(f"config file {shown} is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {shown}: {exc.strerror or exc}") from None
    except ValueError:  # the OS takes no name with a NUL in it
        raise ConfigError(f"config file {shown} is not a file name") from None
    try:
        return tomllib.loads(raw.decode("utf-8")), True
    except UnicodeDecodeError:
        raise ConfigError(f"config file {shown} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {shown} is not valid TOML: {exc}") from None
    except ValueError:  # tomllib reads integers with int(), whose limit is 4300 digits
        raise ConfigError(f"config file {shown} holds an integer too long to read") from None


def _env_data(env: Mapping[str, str]) -> dict[str, Any]:
    """The environment as pydantic-settings will read it (nested), for provenance."""
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX) :].split(ENV_DELIMITER)]
        if parts and parts[0] == "markets" and len(parts) > 1:
            parts[1] = parts[1].upper()
        node = out
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = value
    return out


def _upper_markets(data: dict[str, Any]) -> dict[str, Any]:
    """Market tables are keyed by root symbol, case-insensitively (``[markets.es]`` is ES)."""
    markets = data.get("markets")
    if isinstance(markets, Mapping):
        data = {**data, "markets": {str(k).upper(): v for k, v in markets.items()}}
    return data


def _env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", ENV_DELIMITER).upper()


def _check_unknown_env(env: Mapping[str, str]) -> None:
    """pydantic-settings ignores ``TRADETERM_*`` variables that match no field; we report them."""
    fields = set(Settings.model_fields)
    for name in env:
        if not name.upper().startswith(ENV_PREFIX):
            continue
        top = name[len(ENV_PREFIX) :].split(ENV_DELIMITER)[0].lower()
        if top not in fields:
            hint = _did_you_mean(top, fields)
            raise ConfigError(f"unknown setting in environment: {printable(name)}{hint}")


def _nest(dotted: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, dotted + ".")
        else:
            yield dotted, value


def _origin_of(origins: Mapping[str, str], key: str) -> str:
    # A value set as a whole table (e.g. keymap = {...}) covers its leaves.
    probe = key
    while True:
        if probe in origins:
            return origins[probe]
        if "." not in probe:
            break
        probe = probe.rsplit(".", 1)[0]
    # a value given below the key (``connection.port.x = 1`` makes ``connection.port`` a table)
    below = (origin for name, origin in origins.items() if name.startswith(key + "."))
    return next(below, "default")


def _lookup(data: Mapping[str, Any], loc: tuple[str | int, ...]) -> tuple[bool, Any]:
    node: Any = data
    for part in loc:
        in_map = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_map or in_list:
            node = node[part]
        else:
            return False, None
    return True, node


def _close_match(name: str, candidates: list[str] | set[str]) -> str | None:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(name: str, candidates: list[str] | set[str]) -> str:
    close = _close_match(name, candidates)
    return f" (did you mean '{close}'?)" if close else ""


def _section_model(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The section valid at ``loc`` (``("markets", "ES", "risk")`` -> RiskConfig)."""
    model: type[BaseModel] = Settings
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if model is Settings and part == "markets":
            if not parts:
                return None
            parts.pop(0)  # the symbol
            model = MarketConfig
            continue
        if model is MarketConfig and part == "exits":
            if not parts:
                return None
            parts.pop(0)  # the strategy's name
            model = ExitStrategyConfig
            continue
        if model is ExitStrategyConfig and part == "targets":
            if parts:
                parts.pop(0)  # the target's index
            model = ExitTarget
            continue
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


_LISTED = (ExitStrategyConfig, ExitTarget)
"""The small sections whose unknown key is told with every key they know."""


def _unknown_key(loc: tuple[str | int, ...], key: str, origin: str) -> tuple[str, str | None]:
    """The line for the unknown key at ``loc``, and the known key it looks like (if any)."""
    model = _section_model(loc[:-1])
    fields = list(model.model_fields) if model is not None else []
    line = f"unknown key '{key}' ({origin}){_did_you_mean(str(loc[-1]), fields)}"
    if model in _LISTED:
        line += f"; known: {', '.join(fields)}"
    return line, _close_match(str(loc[-1]), fields)


def _explain(
    exc: ValidationError, origins: Mapping[str, str], sources: tuple[Mapping[str, Any], ...]
) -> str:
    """One line per problem: the key, its bad value, where it came from, what is expected."""
    lines = []
    meant: set[tuple[str | int, ...]] = set()  # missing keys a misspelt one stands for
    for err in exc.errors():
        if err["type"] == "extra_forbidden":
            loc = tuple(err["loc"])
            key = ".".join(str(p) for p in loc)
            line, close = _unknown_key(loc, key, _origin_of(origins, key))
            lines.append(line)
            if close is not None:
                meant.add((*loc[:-1], close))
    for err in exc.errors():
        loc = tuple(err["loc"])
        problem = (err.get("ctx") or {}).get("error")
        if isinstance(problem, FieldProblem):  # a section's check: at the field it names
            loc = (*loc, *problem.field.split("."))
        if err["type"] == "extra_forbidden" or (err["type"] == "missing" and loc in meant):
            continue  # said above, with the unknown key
        key = ".".join(str(p) for p in loc)
        origin = _origin_of(origins, key)
        shown = "(missing)"
        for source in sources:
            found, value = _lookup(source, loc)
            if found:
                shown = "(not shown: it holds secrets)" if _secret(key) else repr(value)
                break
        lines.append(f"{key} = {shown} ({origin}): {_expected(err)}")
    # keys and origins come from a file or the environment: shown, never acting on a terminal
    return "invalid configuration:\n  " + "\n  ".join(map(printable, lines))


def _secret(key: str) -> bool:
    """A key whose value is never shown (a notification URL holds its channel's token)."""
    return key in ("notify.urls", "shared.url") or key.startswith("notify.urls.")


def _expected(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "value_error":
        return "expected " + str((err.get("ctx") or {}).get("error", msg))
    prefix = "Input should be "
    return "expected " + msg[len(prefix) :] if msg.startswith(prefix) else msg
