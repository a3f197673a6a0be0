"""Fills across runs: three demo-like runs (each a fresh gateway, as every demo start is) trade
into one journal; every execution the gateways reported is in the journal once, and
``tradeterm report`` agrees with a hand computation from those executions. A restart against
the same gateway counts as recovered only the fills the journal did not have."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.desk_helpers import Market, session_gone
from tests.integration.engine_helpers import TODAY
from tests.integration.journal_helpers import settings_for
from tests.support.waiting import until
from tradeterm.cli.main import main
from tradeterm.domain import OrderType, Side
from tradeterm.engine.commands import PlaceOrder
from tradeterm.engine.events import Reconciled
from tradeterm.runtime import Runtime, open_runtime
from tradeterm.sim.gateway.accounts import Execution
from tradeterm.sim.gateway.fake_gateway import FakeGateway

pytestmark = pytest.mark.integration

StartGateway = Callable[..., Awaitable[FakeGateway]]


async def trade(rt: Runtime, gateway: FakeGateway, *orders: tuple[Side, int]) -> None:
    """Market orders one after the other, each filled (and its commission booked) before the
    next is sent."""
    account = gateway.books.account(gateway.config.account)

    def more_than(count: int) -> Callable[[], bool]:
        return lambda: len(account.executions) > count

    for side, qty in orders:
        before = len(account.executions)
        result = await rt.engine.submit(PlaceOrder(side, qty))
        assert result.ok, result.reason
        await until(more_than(before), f"{side} {qty} filled")
    portfolio = rt.engine.portfolio
    assert portfolio is not None
    await until(
        lambda: all(portfolio.ledger.commission(e.exec_id) is not None
                    for e in account.executions),
        "every commission booked",
    )  # fmt: skip


def cli_json(*argv: str) -> object:
    """``tradeterm ARGV`` in this process, its stdout read as JSON."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(list(argv)) == 0
    return json.loads(out.getvalue())


async def test_three_runs_on_fresh_gateways_journal_every_fill_and_report_adds_up(
    start_gateway: StartGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRADETERM_JOURNAL__DIR", str(tmp_path))  # for the report commands
    runs = [
        [(Side.BUY, 1), (Side.SELL, 1)],
        [(Side.BUY, 2), (Side.SELL, 1), (Side.SELL, 1)],
        [(Side.SELL, 1), (Side.BUY, 1)],
    ]
    executions: list[Execution] = []
    for orders in runs:
        gateway = await start_gateway(rate=0.0, today=TODAY)  # a new demo: a new gateway
        async with open_runtime(settings_for(gateway.config.port, tmp_path)) as rt:
            await rt.engine.start()
            await trade(rt, gateway, *orders)
            executions += gateway.books.account(gateway.config.account).executions
        await gateway.stop()

    # every execution any gateway reported is journaled, once, as reported
    fills = cli_json("journal", "export", "--what", "fills", "--format", "json")
    assert isinstance(fills, list)
    tick = Decimal("0.25")
    journaled = sorted(
        (f["exec_id"], f["side"], f["quantity"], Decimal(f["price"]), Decimal(f["commission"]))
        for f in fills
    )  # fmt: skip
    reported = sorted(
        (e.exec_id, "BUY" if e.side == "BOT" else "SELL", e.qty, e.price_ticks * tick,
         e.commission)
        for e in executions
    )  # fmt: skip
    assert len(executions) == 7
    assert journaled == reported

    # the report, by hand: every run ends flat, so gross is what was sold less what was bought
    report = cli_json("report", "--format", "json")
    assert isinstance(report, dict)
    sold_less_bought = sum(
        (e.qty * e.price_ticks * (1 if e.side == "SLD" else -1) for e in executions), 0
    )
    gross = sold_less_bought * Decimal("12.50")  # ES: 12.50 a tick
    commissions = sum((e.commission for e in executions), Decimal(0))
    assert commissions == Decimal("2.25") * 8  # contracts bought and sold
    total = report["total"]
    assert report["open_position"] == 0
    assert total["trades"] == 4  # one round trip in runs 1 and 3, two closing sells in run 2
    assert Decimal(total["gross"]) == gross
    assert Decimal(total["commissions"]) == commissions
    assert Decimal(total["net"]) == gross - commissions


async def test_a_restart_recovers_only_the_fills_the_journal_did_not_have(
    still: FakeGateway, tmp_path: Path
) -> None:
    settings = settings_for(still.config.port, tmp_path)
    async with open_runtime(settings) as rt:
        await rt.engine.start()
        await trade(rt, still, (Side.BUY, 1))
        # a resting sell that fills while tradeterm is not running
        market = Market(still)
        ask = market.ask
        resting = await rt.engine.submit(
            PlaceOrder(Side.SELL, 1, OrderType.LIMIT, limit=market.px(ask + 4))
        )
        assert resting.ok, resting.reason
    await session_gone(still, 1)
    market.trade(ask + 8, 50)
    account = still.books.account(still.config.account)
    await until(lambda: len(account.executions) == 2, "the resting sell filled")

    async with open_runtime(settings) as rt:
        stream = rt.engine.listen()
        await rt.engine.start()
        (reconciled,) = [e for e in stream.drain() if isinstance(e, Reconciled)]
        assert reconciled.fills_recovered == 1, reconciled.detail
        assert rt.engine.snapshot().pnl.quantity == 0  # type: ignore[union-attr]
