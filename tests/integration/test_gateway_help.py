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
from tradeterm.embedded import TMUX_SESSION_ENV
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("mode", "tmux", "said", "never"),
    [("sim", None, "start it again (tradeterm gateway --port {port})", "tmux"),
     ("sim", "desk", "the gateway window of tmux session desk", "4002 paper"),
     ("paper", None, "IB Gateway 4001 live / 4002 paper", "tradeterm gateway")],
)  # fmt: skip
async def test_a_lost_gateway_is_explained_for_the_mode(
    start_gateway: Callable[..., Awaitable[FakeGateway]], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, mode: str, tmux: str | None, said: str, never: str,
) -> None:  # fmt: skip
    """In SIM, only what is true of how the instance was started: by hand on a ``tradeterm
    gateway`` (no tmux, which it never used), or by ``tradeterm tmux --sim`` (its window)."""
    if tmux is None:
        monkeypatch.delenv(TMUX_SESSION_ENV, raising=False)
    else:  # as tradeterm tmux starts a market window on the session's gateway
        monkeypatch.setenv(TMUX_SESSION_ENV, tmux)
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
