"""Each market's screen and console connect with their own API client id by default, so that
several markets' screens and consoles share one gateway with no client-id flag: a second
connection with an id in use would be closed by IB (error 326)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeterm.config import Settings
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig

pytestmark = pytest.mark.integration


async def test_two_markets_and_a_console_share_one_gateway_with_no_client_id_set(
    tmp_path: Path,
) -> None:
    gw = FakeGateway(GatewayConfig(port=0, rate=0.0, symbols=("ES", "NQ", "CL")))
    await gw.start()

    def paper(symbol: str, journals: str, mode: str = "paper") -> Settings:
        return Settings(
            mode=mode, symbol=symbol,
            connection={"port": gw.config.port, "connect_timeout_s": 3},
            journal={"dir": tmp_path / journals},
        )  # fmt: skip

    try:
        async with (
            open_runtime(paper("ES", "screens")) as es,
            open_runtime(paper("NQ", "screens")) as nq,
            # one instance per market per gateway: a console trades another market here
            open_runtime(paper("CL", "console", "sim"), process="console") as cl_console,
        ):
            runtimes = (es, nq, cl_console)
            for rt in runtimes:
                await rt.engine.start()
            assert all(rt.engine.connected for rt in runtimes)
            assert [rt.engine.broker.client_id for rt in runtimes] == [110, 130, 175]
            assert sorted(s.client_id or 0 for s in gw.server.sessions) == [110, 130, 175]
    finally:
        await gw.stop()
