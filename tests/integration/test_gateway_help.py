"""What an instance says to check when its gateway is gone: in SIM the gateway is tradeterm's
own (``tradeterm gateway``, the ``gateway`` window of ``tradeterm tmux --sim``), so IB
Gateway's API settings and ports would send the trader the wrong way; against IB (PAPER) they
are the advice. ``tradeterm status`` keeps to what happened, one short line either way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.integration.engine_helpers import always_open
from tests.integration.journal_helpers import settings_for
from tests.support.waiting import until
from tradeterm.cli.status import brief
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("mode", "said", "never"),
    [("sim", "start it (tradeterm gateway --port {port})", "4002 paper"),
     ("paper", "IB Gateway 4001 live / 4002 paper", "tradeterm gateway")],
)  # fmt: skip
async def test_a_lost_gateway_is_explained_for_the_mode(
    start_gateway: Callable[..., Awaitable[FakeGateway]], tmp_path: Path,
    mode: str, said: str, never: str,
) -> None:  # fmt: skip
    gw = await start_gateway(rate=0.0, symbols=("ES",))
    port = gw.config.port
    settings = settings_for(port, tmp_path).model_copy(update={"mode": mode})
    async with open_runtime(settings, calendar=always_open()) as rt:
        await rt.engine.start()
        await gw.stop()
        reasons: list[str] = []

        def failed_attempt() -> bool:
            reasons.append(rt.engine.health.reason)
            return "cannot connect" in reasons[-1]

        await until(failed_attempt, "a failed reconnect attempt")
    reason = reasons[-1]
    assert said.format(port=port) in reason
    assert never not in reason
    # the line said per instance in tradeterm status and kill: what happened, no advice
    assert brief(reason) == f"cannot connect to IB at 127.0.0.1:{port}: nothing is listening there"
