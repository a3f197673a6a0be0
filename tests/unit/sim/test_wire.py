"""Framing, field encoding, handshake parsing and version negotiation."""

from __future__ import annotations

import math
import struct

import pytest
from ib_async import IB
from ib_async.client import Client

from tradeterm.sim.gateway.protocol import wire
from tradeterm.sim.gateway.protocol.wire import (
    UNSET_DOUBLE,
    UNSET_INTEGER,
    FrameDecoder,
    Handshake,
    ProtocolError,
    encode_field,
    encode_frame,
    encode_handshake,
    handshake_reply,
    negotiate,
    parse_handshake,
    parse_handshake_text,
    refusal_version,
)

# ------------------------------------------------------------------------- fields


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "1"),
        (False, "0"),
        (0, "0"),
        (-1, "-1"),
        (2147483646, "2147483646"),
        (UNSET_INTEGER, ""),
        (4900.25, "4900.25"),
        (4900.250000000001, "4900.25"),
        (0.1 + 0.2, "0.3"),
        (2.0, "2"),
        (0.0, "0"),
        (-3.5, "-3.5"),
        (1e-7, "1e-07"),
        (123456789.125, "123456789.125"),
        (UNSET_DOUBLE, ""),
        (math.nan, ""),
        (math.inf, "Infinite"),
        ("ES", "ES"),
        ("", ""),
    ],
)
def test_encode_field(value: object, text: str) -> None:
    assert encode_field(value) == text


def test_encoded_floats_parse_back_exactly() -> None:
    for value in (4900.25, 0.25, 5000.0, 1.5e-5, 98765.4321, 12.3456789012):
        assert float(encode_field(value)) == value


def test_encode_field_rejects_nul_and_unknown_types() -> None:
    with pytest.raises(ValueError):
        encode_field("a\0b")
    with pytest.raises(TypeError):
        encode_field(object())


def test_frame_layout_matches_ib_async() -> None:
    frame = encode_frame([15, 1, "DU1"])
    assert frame == Client._prefix(None, b"15\x001\x00DU1\x00")  # type: ignore[arg-type]
    assert frame == struct.pack(">I", 9) + b"15\x001\x00DU1\x00"


# ------------------------------------------------------------------------ framing


def test_decoder_whole_and_multiple_frames() -> None:
    decoder = FrameDecoder()
    data = encode_frame([9, 1, 5]) + encode_frame([49, 1, 1700000000]) + encode_frame([102])
    assert decoder.feed(data) == [["9", "1", "5"], ["49", "1", "1700000000"], ["102"]]
    assert decoder.pending == 0


def test_decoder_byte_by_byte() -> None:
    decoder = FrameDecoder()
    data = encode_frame([4, 2, -1, 2104, "farm OK", ""]) + encode_frame([62, 1])
    frames: list[list[str]] = []
    for i in range(len(data)):
        frames += decoder.feed(data[i : i + 1])
    assert frames == [["4", "2", "-1", "2104", "farm OK", ""], ["62", "1"]]


@pytest.mark.parametrize("cut", [1, 3, 4, 5, 9, 14, 15])
def test_decoder_split_chunks(cut: int) -> None:
    decoder = FrameDecoder()
    data = encode_frame([1, 6, 3, 1, 4900.25, 7, 0]) + encode_frame([53, 1])
    first = decoder.feed(data[:cut])
    assert first == []
    assert decoder.pending == cut
    assert decoder.feed(data[cut:]) == [["1", "6", "3", "1", "4900.25", "7", "0"], ["53", "1"]]


def test_decoder_keeps_empty_fields_and_unicode() -> None:
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(["", "é", ""])) == [["", "é", ""]]


def test_decoder_rejects_oversized_and_unterminated_frames() -> None:
    with pytest.raises(ProtocolError):
        FrameDecoder(max_size=10).feed(struct.pack(">I", 11))
    with pytest.raises(ProtocolError):
        FrameDecoder().feed(struct.pack(">I", 2) + b"ab")


# ---------------------------------------------------------------------- handshake


def _ib_async_opening(options: bytes = b"") -> bytes:
    text = b"v%d..%d" % (Client.MinClientVersion, Client.MaxClientVersion)
    if options:
        text += b" " + options
    return b"API\0" + Client._prefix(None, text)  # type: ignore[arg-type]


def test_parse_ib_async_handshake() -> None:
    data = _ib_async_opening()
    assert parse_handshake(data) == (Handshake(157, 178, ""), len(data))
    assert encode_handshake(157, 178) == data


def test_parse_handshake_with_options_and_trailing_frame() -> None:
    data = _ib_async_opening(b"+PACEAPI")
    start_api = encode_frame([71, 2, 7, ""])
    parsed = parse_handshake(data + start_api)
    assert parsed == (Handshake(157, 178, "+PACEAPI"), len(data))


def test_parse_handshake_incrementally() -> None:
    data = _ib_async_opening()
    for end in range(len(data)):
        assert parse_handshake(data[:end]) is None
    assert parse_handshake(data) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("v176", Handshake(176, 176)),
        ("v100..176", Handshake(100, 176)),
        ("v157..178 +PACEAPI", Handshake(157, 178, "+PACEAPI")),
    ],
)
def test_parse_handshake_text(text: str, expected: Handshake) -> None:
    assert parse_handshake_text(text) == expected


@pytest.mark.parametrize("text", ["", "157..178", "v", "vabc", "v178..157", "v1..2..3"])
def test_parse_handshake_text_rejects_garbage(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse_handshake_text(text)


def test_parse_handshake_rejects_wrong_magic() -> None:
    with pytest.raises(ProtocolError):
        parse_handshake(b"GET / HTTP/1.1\r\n")
    with pytest.raises(ProtocolError):
        parse_handshake(b"AP!")
    assert parse_handshake(b"AP") is None


# -------------------------------------------------------------------- negotiation


@pytest.mark.parametrize(
    ("low", "high", "version"),
    [
        (157, 178, 178),
        (157, 177, 177),
        (176, 176, 176),
        (150, 176, 176),
        (177, 200, 178),
        (100, 175, None),
        (179, 200, None),
        (157, 157, None),
    ],
)
def test_negotiate(low: int, high: int, version: int | None) -> None:
    assert negotiate(Handshake(low, high)) == version


def test_supported_versions_include_ib_async_maximum() -> None:
    assert wire.SUPPORTED_VERSIONS == (176, 177, 178)
    assert negotiate(Handshake(Client.MinClientVersion, Client.MaxClientVersion)) == 178


def test_refusal_version() -> None:
    assert refusal_version(Handshake(157, 175)) == 175  # older client: its own maximum
    assert refusal_version(Handshake(179, 200)) == 179  # newer client: its own minimum
    assert refusal_version(Handshake(194, 230)) == 178  # unknown error layout: ours


async def test_handshake_reply_is_accepted_by_ib_async() -> None:
    reply = handshake_reply(178)
    assert FrameDecoder().feed(reply)[0][0] == "178"
    assert len(FrameDecoder().feed(reply)[0]) == 2
    ib = IB()
    ib.client.connState = Client.CONNECTING
    ib.client._onSocketHasData(reply)
    assert ib.client.serverVersion() == 178
    ib.client.reset()
