"""Notifications from a running instance to a local HTTP receiver (apprise's json:// and
ntfy:// pointed at 127.0.0.1): a fill's message names the market and mode; a failing channel
is retried with backoff and never gets in the way of an order or the journal; no secret of a
channel's URL reaches the log; a receiver that hangs does not hold the engine up."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.integration.journal_helpers import query, settings_for
from tests.support.receiver import Receiver, receiving
from tests.support.waiting import until
from tradeterm import console
from tradeterm.config import Settings
from tradeterm.domain import Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.logs import setup_logging
from tradeterm.runtime import Runtime, open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

TOKEN = "tk_Zq81SECRETxyz"  # in each URL below; must never reach the log
PASSWORD = "pw_SECRET4471"


def json_url(receiver: Receiver, path: str = "hook") -> str:
    return f"json://trader:{PASSWORD}@127.0.0.1:{receiver.port}/{path}/{TOKEN}"


def ntfy_url(receiver: Receiver) -> str:
    return f"ntfy://127.0.0.1:{receiver.port}/es-fills?token={TOKEN}"


def with_notify(settings: Settings, **notify: Any) -> Settings:
    return settings.model_copy(update={"notify": settings.notify.model_validate(notify)})


def messages(receiver: Receiver) -> list[str]:
    return [json.loads(body)["message"] for body in receiver.bodies()]


async def trade(rt: Runtime, journal_dir: Path, fills: int, side: Side = Side.BUY) -> None:
    placed = await rt.engine.submit(PlaceOrder(side, 1))
    assert placed.ok, placed.reason
    await until(lambda: len(query(journal_dir, "SELECT * FROM fills")) == fills,
                f"{fills} fill(s) journaled")  # fmt: skip


async def test_a_fill_is_sent_to_json_and_ntfy_naming_market_and_mode(
    still: FakeGateway, tmp_path: Path
) -> None:
    with receiving() as hook, receiving() as ntfy:
        settings = with_notify(settings_for(still.config.port, tmp_path),
                               urls=[json_url(hook), ntfy_url(ntfy)])  # fmt: skip
        async with open_runtime(settings) as rt:
            await rt.engine.start()
            await trade(rt, tmp_path, 1)
            await until(lambda: hook.requests and ntfy.requests, "both channels sent")
        price = query(tmp_path, "SELECT price FROM fills")[0][0]
        text = f"ES SIM: BUY 1 @ {price} filled"
        assert messages(hook) == [text]
        assert json.loads(hook.bodies()[0])["title"] == "tradeterm ES SIM"
        assert hook.requests[0].path == f"/hook/{TOKEN}"
        sent = json.loads(ntfy.bodies()[0])
        assert (sent["topic"], sent["message"]) == ("es-fills", text)
        assert ntfy.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_a_failing_channel_is_retried_and_orders_and_the_journal_go_on(
    still: FakeGateway, tmp_path: Path
) -> None:
    log_dir = tmp_path / "logs"
    settings = settings_for(still.config.port, tmp_path)
    log_file = setup_logging(settings.logging.model_copy(update={"dir": log_dir,
                                                                 "level": "DEBUG"}), "notify")  # fmt: skip
    with receiving() as failing, receiving() as closed:
        failing.status = 500
        closed.close()  # nothing listens there any more
        settings = with_notify(settings, urls=[json_url(failing), json_url(closed, "closed")],
                               retries=2, backoff_s=0.05)  # fmt: skip
        async with open_runtime(settings) as rt:
            await rt.engine.start()
            await trade(rt, tmp_path, 1)
            await trade(rt, tmp_path, 2, Side.SELL)  # orders still go while the channels fail
            channels = rt.notifier.channels if rt.notifier else []
            await until(lambda: all(c.given_up == 2 for c in channels), "both given up twice")
        assert len(failing.requests) == 6  # each fill: the first try and two retries
        assert all(m.endswith("filled") for m in messages(failing))
    assert query(tmp_path, "SELECT count(*) FROM fills") == [(2,)]
    logged = log_file.read_text()
    lines = [json.loads(line) for line in logged.splitlines()]
    retries = [x["msg"] for x in lines if "attempt" in x["msg"]]
    assert any("json://127.0.0.1:" in m and "next in 0.1s" in m for m in retries), retries
    assert sum("gave up after 3 attempts" in x["msg"] for x in lines) == 4
    assert TOKEN not in logged and PASSWORD not in logged
    assert any(x["logger"].startswith(("apprise", "urllib3")) for x in lines)  # they did log


async def test_a_hanging_receiver_does_not_hold_the_engine_up(
    still: FakeGateway, tmp_path: Path
) -> None:
    with receiving() as slow:
        slow.hang = threading.Event()
        url = json_url(slow) + "?rto=60"  # apprise's read timeout: the receiver hangs longer
        settings = with_notify(settings_for(still.config.port, tmp_path), urls=[url])
        async with open_runtime(settings) as rt:
            await rt.engine.start()
            await trade(rt, tmp_path, 1)
            await until(slow.holding.is_set, "the first message held by the receiver")
            for n, side in ((2, Side.SELL), (3, Side.BUY), (4, Side.SELL)):
                await trade(rt, tmp_path, n, side)  # filled and journaled while it hangs
            assert slow.holding.is_set() and len(slow.requests) == 1
            slow.hang.set()
            await until(lambda: len(slow.requests) == 4, "the queued messages sent after")
        sides = [m.split(": ")[1].split()[0] for m in messages(slow)]
        assert sides == ["BUY", "SELL", "BUY", "SELL"]  # every fill told, in order


async def test_the_console_rings_the_bell_on_a_fill_it_notifies(
    still: FakeGateway, tmp_path: Path
) -> None:
    with receiving() as hook:
        settings = with_notify(settings_for(still.config.port, tmp_path),
                               urls=[json_url(hook)], bell=True)  # fmt: skip
        read, write = os.pipe()
        typed, out = os.fdopen(write, "w"), io.StringIO()
        with os.fdopen(read) as stdin:
            run = asyncio.create_task(console.run(settings, seconds=None, seed=1, stdin=stdin,
                                                  out=out))  # fmt: skip
            typed.write("buy 1\n")
            typed.flush()
            await until(lambda: "\a" in out.getvalue(), "the bell rung")
            typed.close()  # end of input: the console quits
            assert await run == 0
        await until(lambda: hook.requests, "the fill sent")  # the same event, both ways
    assert out.getvalue().count("\a") == 1
    assert messages(hook)[0].startswith("ES SIM: BUY 1 @ ")
