"""The fake gateway's writer stops at a client that has gone: the frames queued for it are
dropped, not written one by one into a closed transport (asyncio logs a bare
"socket.send() raised exception." for each such write, by the hundred in the benchmarks)."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct

import pytest

from tradeterm.sim.gateway.protocol.client_session import ClientSession


def test_frames_queued_for_a_client_that_has_gone_are_not_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def run() -> None:
        accepted: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

        async def handle(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await accepted.put(writer)

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        writer = await asyncio.wait_for(accepted.get(), 10)
        session = ClientSession(writer)
        # the client goes at once, with a reset (as a killed process's socket may)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        await asyncio.sleep(0.2)
        for _ in range(200):  # a market's worth of frames, queued before the writer runs
            session.send_raw(b"\x00\x00\x00\x0412345678")
        await asyncio.wait_for(session.shutdown(), 10)
        server.close()
        await server.wait_closed()

    with caplog.at_level(logging.WARNING, logger="asyncio"):
        asyncio.run(run())
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
