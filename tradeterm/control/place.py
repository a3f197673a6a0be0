"""Where the control sockets live, and the claim of one market and mode by one instance.

The directory is the user runtime dir (``paths.runtime_dir``, from ``XDG_RUNTIME_DIR``); when
that cannot be used (platformdirs refuses it, it cannot be made, or its path is too long for
a Unix socket), ``<tmp>/tradeterm-<uid>``. Either is used only once checked: a real directory
(not a symlink) owned by this user with mode 0700; one of ours with a looser mode is put back
to 0700, anything else is refused (:class:`ControlError`), never written into.

An instance claims ``<SYMBOL>.<mode>`` with an exclusive ``flock`` on ``<SYMBOL>.<mode>.lock``
(its pid and name written inside), held until it stops and released by the kernel when it
dies: the lock says who runs, the socket is how to reach it. A socket whose lock nobody holds
belongs to a dead instance (:func:`stale`) and is removed.

One IB account has one position per market, so two instances of a market trading it would
each take the other's fills for their own (and two kill switches would chase one position).
An instance that trades at a gateway therefore also locks its market there,
``<SYMBOL>@<host>:<port>.lock`` (:func:`gateway_key`: the loopback names are one host), and
once connected its market in the account, ``<SYMBOL>@<account>.lock``: a second instance of
the market, in any mode, is refused naming the first (:class:`MarketTaken`).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import stat
import tempfile
import time
import warnings
from pathlib import Path

from tradeterm.paths import runtime_dir

SUN_PATH_MAX = 107  # a Unix socket path's bytes, with room for its NUL (Linux: 108)
CLAIM_TRIES = 4  # a status or kill run holds a lock shared for a moment: look again
CLAIM_PAUSE_S = 0.05
LONGEST_NAME = "XXXXXXXX.shadow.sock"  # a root symbol's socket name at its longest


class ControlError(Exception):
    """The control socket cannot be used (worded for the user)."""


class InstanceRunning(ControlError):
    """Another instance holds this market and mode (``pid`` when it said)."""

    def __init__(self, name: str, pid: int | None) -> None:
        who = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(
            f"{display(name)} is already running ({who}): one instance per market and mode"
        )
        self.pid = pid


class MarketTaken(ControlError):
    """Another instance trades this market through the same gateway or in the same account."""

    def __init__(self, holder: str | None, pid: int | None, symbol: str, where: str,
                 rule: str) -> None:  # fmt: skip
        who = display(holder) if holder else "another instance"
        pid_said = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(f"{who} ({pid_said}) already trades {symbol} {where}: {rule}")
        self.pid = pid


def instance_name(symbol: str, mode: str) -> str:
    return f"{symbol.upper()}.{mode.lower()}"


def display(name: str) -> str:
    """``ES.paper`` as the user reads it: ``ES PAPER``."""
    symbol, _, mode = name.partition(".")
    return f"{symbol} {mode.upper()}"


def control_dir() -> Path:
    """The checked directory of the control sockets, made if missing (see the module notes).
    Raises :class:`ControlError` when no safe one can be had."""
    problems = []
    for candidate in _candidates():
        problem = _usable(candidate)
        if problem is None:
            return candidate
        problems.append(problem)
    raise ControlError(
        "no private directory for the control socket: " + "; ".join(problems)
        + " (set XDG_RUNTIME_DIR to a directory of yours with mode 0700)"
    )  # fmt: skip


def _candidates() -> list[Path]:
    found = []
    with warnings.catch_warnings():  # platformdirs warns of its own fallback: not the user's
        warnings.simplefilter("ignore")
        with contextlib.suppress(OSError):
            found.append(runtime_dir())
    found.append(Path(tempfile.gettempdir()) / f"tradeterm-{os.getuid()}")
    return found


def _usable(path: Path) -> str | None:
    """Why ``path`` cannot hold the sockets, or None (made, owned by us, 0700)."""
    if len(os.fsencode(path / LONGEST_NAME)) > SUN_PATH_MAX:
        return f"{path} is too long a path for a socket"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
        st = path.lstat()
    except OSError as exc:
        return f"cannot make {path}: {exc.strerror or exc}"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != os.getuid():
        return f"{path} belongs to another user (uid {st.st_uid})"
    if stat.S_IMODE(st.st_mode) != 0o700:
        try:
            path.chmod(0o700)  # ours (an older run's, or a umask): owner-only again
        except OSError as exc:
            return f"cannot make {path} owner-only: {exc.strerror or exc}"
    return None


class Claim:
    """This instance's hold on ``name`` (see the module notes): :meth:`acquire` raises
    :class:`InstanceRunning` when another one holds it."""

    def __init__(self, directory: Path, name: str) -> None:
        self.name = name
        self.lock_path = directory / f"{name}.lock"
        self.socket_path = directory / f"{name}.sock"
        self._lock = Lock(self.lock_path, name)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except Held as held:
            raise InstanceRunning(self.name, held.pid) from None
        remove_socket(self.socket_path)  # a dead instance's: nobody held the lock

    def release(self) -> None:
        if self._lock.held:
            remove_socket(self.socket_path)  # before the lock: a new instance never loses its own
        self._lock.release()


class Held(Exception):
    """Another process holds the lock: ``pid`` and ``holder`` as it wrote them (None: unsaid)."""

    def __init__(self, pid: int | None, holder: str | None) -> None:
        super().__init__(f"held by pid {pid}")
        self.pid = pid
        self.holder = holder


class Lock:
    """An exclusive ``flock`` on ``path`` with ``<pid> <holder>`` written in it, for this
    process's life (the kernel releases it when the process dies). :meth:`acquire` raises
    :class:`Held` when another process has it."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        fd = _open_lock(self.path)
        for attempt in range(CLAIM_TRIES):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt + 1 < CLAIM_TRIES:  # maybe only a status run looking at it
                    time.sleep(CLAIM_PAUSE_S)
        else:
            pid, holder = _read_holder(fd)
            os.close(fd)
            raise Held(pid, holder)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.holder}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # the lock goes with it
            self._fd = None


def gateway_key(host: str, port: int) -> str:
    """Where an instance trades, one name per gateway: ``127.0.0.1:4002`` for ``localhost``,
    ``127.0.0.1``, ``::1`` and the like; an IPv6 address in brackets; any other name in
    lower case."""
    name = host.strip().lower()
    if name in ("", "localhost", "localhost.localdomain", "ip6-localhost"):
        name = "127.0.0.1"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return f"{name}:{port}"
    if address.is_loopback:
        return f"127.0.0.1:{port}"
    return f"[{address.compressed}]:{port}" if address.version == 6 else f"{address}:{port}"


def _lock_safe(text: str) -> str:
    """``text`` as part of a lock file's name: no path separator, nothing unprintable."""
    return re.sub(r"[^A-Za-z0-9.:_\[\]-]", "_", text)[:200]


def market_lock(directory: Path, symbol: str, key: str, holder: str) -> Lock:
    """The lock of ``symbol`` at ``key`` (a :func:`gateway_key` or an IB account)."""
    return Lock(directory / f"{symbol.upper()}@{_lock_safe(key)}.lock", holder)


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ControlError(f"cannot open {path}: {exc.strerror or exc}") from None


def _read_holder(fd: int) -> tuple[int | None, str | None]:
    """The pid and holder a lock's file says (None for what it does not say)."""
    pid, _, holder = os.pread(fd, 256, 0).decode(errors="replace").strip().partition(" ")
    return (int(pid) if pid.isdigit() else None), (holder or None)


def lock_pid(lock_path: Path) -> int | None:
    """The pid the instance holding ``lock_path`` wrote in it (None: unreadable)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _read_holder(fd)[0]
    finally:
        os.close(fd)


def clean_if_stale(lock_path: Path, socket_path: Path) -> bool:
    """Remove ``socket_path`` when no instance holds ``lock_path`` (its own is dead); whether
    it was stale. The lock is held (shared) while removing, so an instance starting meanwhile
    never loses the socket it binds (its claim waits a moment for it: :meth:`Claim.acquire`)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:  # every instance makes its lock before its socket
        remove_socket(socket_path)
        return True
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    try:
        remove_socket(socket_path)
        return True
    finally:
        os.close(fd)


def remove_socket(path: Path) -> bool:
    """Remove a socket file (never anything else); whether one was removed."""
    with contextlib.suppress(OSError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
            return True
    return False
