"""TWS API wire format: framing, field encoding, handshake and version negotiation.

Framing
    After the client's ``API\\0`` magic every message in both directions is a big-endian
    ``uint32`` payload length followed by the payload: UTF-8 text in which every field,
    the last one included, is terminated by ``\\0``.

Handshake
    The client opens with ``API\\0`` + one length-prefixed string ``v<min>..<max>`` (or
    ``v<n>``), optionally followed by a space and connect options such as ``+PACEAPI``.
    The server answers with a normal frame of exactly two fields: the negotiated server
    version and a connection-time string. The simulator speaks the versions in
    :data:`SUPPORTED_VERSIONS` and picks the highest one inside the client's range.

Refusing a client with no common version
    A real client cannot be told "no" inside the handshake itself: clients only check the
    server version against their *minimum*, and ib_async 2.1.0 in particular waits for its
    connect timeout whenever the socket closes before the API is "ready" (it needs
    ``nextValidId`` and a non-empty ``managedAccounts``), no matter what arrived before.
    Answering with our own version and carrying on is not a refusal either: the client
    would then speak a layout we do not encode. So the simulator refuses like this
    (see :func:`refusal_version` and ``GatewayServer``):

    1. handshake reply carrying :func:`refusal_version`, a version inside the client's own
       range (its maximum when it is older than us, its minimum when it is newer) so it
       accepts the reply and can parse what follows;
    2. at once an error message (code :data:`VERSION_REFUSAL_CODE`, reqId -1) whose text
       names both version ranges, in that version's error layout;
    3. after the client's ``startApi`` (or ``GatewayServer.refusal_wait``, 1 s, for a client
       that sends none): ``managedAccounts "REFUSED"`` and ``nextValidId``. They are
       version-independent and exactly what makes ib_async declare the API ready, so it
       notices
    4. the socket closing right after: ``IB.connectAsync`` raises ``ConnectionError`` at
       once instead of waiting out its timeout (or forever with ``timeout=None``), and the
       refusal text has been logged by ib_async ("Error 503, reqId -1: ...") and delivered
       through ``IB.errorEvent``.

    A client whose versions all start at :data:`ERROR_TIME_VERSION` (194, a different error
    layout; 201+ is protobuf) gets our maximum instead, like a real older TWS would send,
    and refuses by itself. No trading message is ever sent on a refused connection.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

SUPPORTED_VERSIONS: Final = (176, 177, 178)
MIN_VERSION: Final = min(SUPPORTED_VERSIONS)
MAX_VERSION: Final = max(SUPPORTED_VERSIONS)

API_MAGIC: Final = b"API\0"
#: IB's "no value" sentinels (ib_async sends them as empty fields).
UNSET_INTEGER: Final = 2**31 - 1
UNSET_DOUBLE: Final = sys.float_info.max
#: Frames larger than this are treated as a protocol violation (real messages are < 64 KiB).
MAX_FRAME_SIZE: Final = 16 * 1024 * 1024
#: Error code used to refuse a client whose version range does not overlap ours
#: (IB: "The TWS is out of date and must be upgraded").
VERSION_REFUSAL_CODE: Final = 503
#: First server version whose error message layout this module cannot write (errorTime).
ERROR_TIME_VERSION: Final = 194
#: The account list sent on a refused connection (never a real account).
REFUSED_ACCOUNT: Final = "REFUSED"

_LENGTH = struct.Struct(">I")
_HANDSHAKE_RE = re.compile(r"v(\d+)(?:\.\.(\d+))?(?: (.*))?", re.DOTALL)


class ProtocolError(Exception):
    """The peer broke the wire protocol (bad magic, bad frame, bad handshake)."""


# --------------------------------------------------------------------------- fields


def format_float(value: float) -> str:
    """Shortest faithful decimal text for a double, as TWS clients parse it.

    Binary noise from arithmetic is dropped (``4900.250000000001`` -> ``"4900.25"``),
    integral values lose the ``.0`` (``2.0`` -> ``"2"``), IB's unset double and NaN become
    ``""`` and infinity becomes ``"Infinite"``.
    """
    if value == UNSET_DOUBLE or math.isnan(value):
        return ""
    if math.isinf(value):
        return "Infinite" if value > 0 else "-Infinite"
    cleaned = float(f"{value:.15g}")
    if cleaned.is_integer() and abs(cleaned) < 1e15:
        return str(int(cleaned))
    return repr(cleaned)


def encode_field(value: object) -> str:
    """Encode one field: None -> "", bool -> "1"/"0", int -> digits (unset -> ""),
    float -> :func:`format_float`, str unchanged (must not contain NUL)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        return "1" if value else "0"
    elif isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    elif isinstance(value, float):
        return format_float(value)
    elif isinstance(value, Decimal):
        return format_float(float(value))
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as a TWS field: {value!r}")
    if "\0" in text:
        raise ValueError(f"field contains NUL: {text!r}")
    return text


def encode_fields(values: Iterable[object]) -> list[str]:
    """Encode every value with :func:`encode_field`."""
    return [encode_field(v) for v in values]


def encode_payload(fields: Iterable[object]) -> bytes:
    """The NUL-terminated payload of one message, without the length prefix."""
    return "".join(encode_field(f) + "\0" for f in fields).encode()


def encode_frame(fields: Iterable[object]) -> bytes:
    """One length-prefixed message."""
    payload = encode_payload(fields)
    return _LENGTH.pack(len(payload)) + payload


def split_payload(payload: bytes) -> list[str]:
    """Fields of one payload (the inverse of :func:`encode_payload`)."""
    text = payload.decode(errors="backslashreplace")
    fields = text.split("\0")
    if fields[-1] != "":
        raise ProtocolError(f"payload not NUL-terminated: {text[-40:]!r}")
    fields.pop()
    return fields


class FrameDecoder:
    """Incremental frame decoder: feed it byte chunks of any size, get whole messages."""

    __slots__ = ("_buffer", "_max_size")

    def __init__(self, max_size: int = MAX_FRAME_SIZE) -> None:
        self._buffer = bytearray()
        self._max_size = max_size

    @property
    def pending(self) -> int:
        """Bytes received that do not yet form a whole frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[list[str]]:
        """Add ``data``; return the field lists of every frame completed by it."""
        self._buffer += data
        frames: list[list[str]] = []
        while len(self._buffer) >= 4:
            (size,) = _LENGTH.unpack_from(self._buffer)
            if size > self._max_size:
                raise ProtocolError(f"frame of {size} bytes exceeds {self._max_size}")
            end = 4 + size
            if len(self._buffer) < end:
                break
            payload = bytes(self._buffer[4:end])
            del self._buffer[:end]
            frames.append(split_payload(payload))
        return frames


# ------------------------------------------------------------------------ handshake


@dataclass(slots=True, frozen=True)
class Handshake:
    """The client's opening: its version range and connect options."""

    min_version: int
    max_version: int
    options: str = ""


def parse_handshake_text(text: str) -> Handshake:
    """Parse ``v157..178``, ``v176`` or ``v157..178 +PACEAPI``."""
    match = _HANDSHAKE_RE.fullmatch(text)
    if match is None:
        raise ProtocolError(f"bad handshake version string: {text!r}")
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) is not None else low
    if low > high:
        raise ProtocolError(f"bad handshake version range: {text!r}")
    return Handshake(low, high, (match.group(3) or "").strip())


def parse_handshake(data: bytes | bytearray) -> tuple[Handshake, int] | None:
    """Parse the client's opening bytes incrementally.

    Returns ``None`` while ``data`` is still incomplete, else the handshake and the
    number of bytes it used (anything after belongs to the first frame).
    Raises :class:`ProtocolError` on a wrong magic or a malformed version string.
    """
    head = bytes(data[: len(API_MAGIC)])
    if head != API_MAGIC[: len(head)]:
        raise ProtocolError(f"not a TWS API client (magic {head!r})")
    if len(data) < len(API_MAGIC) + 4:
        return None
    (size,) = _LENGTH.unpack_from(data, len(API_MAGIC))
    if size > 1024:
        raise ProtocolError(f"handshake of {size} bytes is implausible")
    end = len(API_MAGIC) + 4 + size
    if len(data) < end:
        return None
    text = bytes(data[len(API_MAGIC) + 4 : end]).decode(errors="backslashreplace")
    return parse_handshake_text(text.rstrip("\0")), end


def encode_handshake(min_version: int, max_version: int, options: str = "") -> bytes:
    """The client's opening bytes (what ib_async sends; used by tests and tools)."""
    text = f"v{min_version}..{max_version}" if min_version != max_version else f"v{min_version}"
    if options:
        text += " " + options
    payload = text.encode()
    return API_MAGIC + _LENGTH.pack(len(payload)) + payload


def negotiate(handshake: Handshake, supported: Sequence[int] = SUPPORTED_VERSIONS) -> int | None:
    """Highest version we support inside the client's range, or None if none is."""
    common = [v for v in supported if handshake.min_version <= v <= handshake.max_version]
    return max(common) if common else None


def refusal_version(handshake: Handshake, supported: Sequence[int] = SUPPORTED_VERSIONS) -> int:
    """Version to announce on a refused connection (see the module docstring)."""
    if handshake.max_version < min(supported):
        return handshake.max_version
    if handshake.min_version < ERROR_TIME_VERSION:
        return handshake.min_version
    return max(supported)


def refusal_message(handshake: Handshake, supported: Sequence[int] = SUPPORTED_VERSIONS) -> str:
    """Human-readable reason for a version refusal."""
    return (
        f"No common API version: the client speaks v{handshake.min_version}.."
        f"v{handshake.max_version}, the simulated gateway only v{min(supported)}.."
        f"v{max(supported)} (ib_async 2.1.0 works). Connection refused."
    )


def connection_time(now: datetime | None = None) -> str:
    """Connection-time text of the handshake reply, as TWS writes it."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y%m%d %H:%M:%S") + " Greenwich Mean Time"


def handshake_reply(version: int, now: datetime | None = None) -> bytes:
    """The server's handshake frame: exactly ``[version, connectionTime]``."""
    return encode_frame([version, connection_time(now)])
