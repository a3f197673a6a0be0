"""CANARY mode (issue 15) against the fake IB Gateway through the real IbBroker: a strategy's
entry signals under CANARY 0.5, every one filled on its paper track, exactly the picked ones
reaching the gateway (its wire probe sees each placeOrder), both sides journaled, and
``tradeterm report --compare`` (the CLI entry) showing both with the figures this test works
out from the gateway's own fills and the book it set; the kill switch flattens the live leg."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from statistics import fmean
from typing import ClassVar

import pytest

from tests.integration.desk_helpers import Market, session_gone
from tests.integration.engine_helpers import always_open, gateway_position
from tests.integration.journal_helpers import query, settings_for
from tests.support.waiting import until
from tradeterm.cli.main import main
from tradeterm.config import Settings
from tradeterm.domain import Side, Trade
from tradeterm.engine.canary import CanarySelector
from tradeterm.engine.strategy_runner import StrategyRunner
from tradeterm.paths import journal_file
from tradeterm.runtime import open_runtime
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.gateway.probe import WireProbe
from tradeterm.strategies import Entry, EntrySignal, Intents, Params, Strategy, StrategyContext
from tradeterm.strategies.loader import Loaded

pytestmark = pytest.mark.integration

MARKER = 7  # a trade of this size makes the strategy emit an entry signal
INTENTS = 4
TICK_VALUE = 12.5  # ES


class OnMarker(Strategy[Params]):
    """Buys at market, 40 ticks stop and target, on each trade of ``MARKER`` lots."""

    wants_trades: ClassVar[bool] = True

    def on_trade(self, ctx: StrategyContext, trade: Trade) -> Intents:
        if trade.size != MARKER:
            return ()
        return (EntrySignal(Side.BUY, Entry.market(), 40, 40, "marker"),)


@pytest.fixture
def probe(still: FakeGateway) -> WireProbe:
    wire = WireProbe()
    wire.install(still.server)
    return wire


def gateway_fill(gateway: FakeGateway, order_id: int) -> tuple[int, int]:
    """The gateway's own record of an order: (filled, sum of quantity x price in ticks)."""
    (order,) = [o for o in gateway.oms.orders.values() if o.req.order_id == order_id]
    return order.filled, order.fill_value_ticks


async def test_canary_half_sends_exactly_the_picked_intents_and_compare_shows_both_sides(
    still: FakeGateway, probe: WireProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    market = Market(still)
    limits = {"max_position": 10, "max_order_qty": 10}
    settings = settings_for(still.config.port, tmp_path, risk=limits)
    loaded = Loaded("marker", "test:OnMarker", OnMarker(OnMarker.parameters()))
    asks: list[int] = []
    async with open_runtime(settings, calendar=always_open()) as rt:
        engine = rt.engine
        await engine.start()
        await until(lambda: engine.market is not None and engine.market.quote is not None
                    and engine.market.quote.ask == market.ask, "the book through IB")  # fmt: skip
        # 1% of 50000 over a 40-tick ES stop (500 USD a contract): one contract an entry
        runner = StrategyRunner(engine, loaded, canary=0.5, equity=Decimal(50000))
        await runner.start()
        for n in range(INTENTS):
            asks.append(market.ask)  # what a market buy of 1 pays on paper
            market.trade(market.bid, MARKER)
            await until(lambda: len(runner.signals) == n + 1, f"intent {n}")  # noqa: B023
            live_so_far = (n + 1) // 2
            await until(lambda: runner.position == live_so_far, "IB's entry filled")  # noqa: B023
        assert runner.track is not None and runner.track.position == INTENTS
        assert [s.ok for s in runner.signals] == [True] * INTENTS
        assert [("live and paper" in s.detail) for s in runner.signals] == [False, True] * 2

        # exactly the picked intents' orders reached the gateway: two brackets of three
        live_commands = [s.command_id for s in runner.signals if s.command_id]
        sent = query(tmp_path, "SELECT command_id, broker_id, role FROM order_intents")
        assert sorted(c for c, _, _ in sent) == sorted(live_commands * 3)
        assert sorted(oid for oid, _ in probe.orders) == sorted(b for _, b, _ in sent)
        entries = [b for c, b, role in sorted(sent) if role == "entry"]
        assert gateway_position(still, market) == 2 == engine.snapshot().pnl.quantity  # type: ignore[union-attr]

        # the kill switch flattens the live leg, as without CANARY
        engine.request_kill("test")
        await engine.kill_switch.join()
        assert gateway_position(still, market) == 0
        await runner.close()
    await session_gone(still, 1)

    journaled = query(
        tmp_path, "SELECT live, paper_qty, live_qty FROM canary_intents ORDER BY ts_ns"
    )
    assert journaled == [(0, 1, 0), (1, 1, 1), (0, 1, 0), (1, 1, 1)]
    modes = query(tmp_path, "SELECT mode, leg, count(*) FROM intent_fills GROUP BY mode, leg")
    assert sorted(modes) == [("live", "entry", 2), ("paper", "entry", 4)]

    # report --compare through the CLI entry, against the gateway's fills and the book
    live_prices = [gateway_fill(still, oid) for oid in entries]
    paper_prices = [asks[1], asks[3]]  # the picked ones
    slippage = [
        value / filled - paper
        for (filled, value), paper in zip(live_prices, paper_prices, strict=True)
    ]
    path = journal_file("ES", "sim", tmp_path)
    assert main(["report", "--compare", "--format", "json", "--journal", str(path)]) == 0
    (day,) = json.loads(capsys.readouterr().out)["days"]
    assert (day["strategy"], day["intents"], day["live_intents"]) == ("marker", INTENTS, 2)
    assert (day["paper_sent"], day["paper_filled"], day["paper_fill_rate"]) == (4, 4, 1.0)
    assert (day["live_sent"], day["live_filled"], day["live_fill_rate"]) == (2, 2, 1.0)
    assert day["compared"] == 2
    assert day["slippage_ticks"] == pytest.approx(fmean(slippage))
    assert float(day["pnl_diff"]) == pytest.approx(-sum(slippage) * TICK_VALUE)
    # the paper buys fill against the book the track holds, IB's over the wire, later
    assert 0 <= day["paper_fill_ms_median"] < day["live_fill_ms_median"]


async def canary_run(gateway: FakeGateway, settings: Settings, intents: int) -> list[bool]:
    """One run of ``marker`` at CANARY 0.5, built as the console builds it (the journal
    consulted): ``intents`` entry signals, each paper-filled and the picked ones at IB. Which
    of them went live; the paper track must have started where the journal left it."""
    market = Market(gateway)
    loaded = Loaded("marker", "test:OnMarker", OnMarker(OnMarker.parameters()))
    async with open_runtime(settings, calendar=always_open()) as rt:
        engine = rt.engine
        await engine.start()
        await until(lambda: engine.market is not None and engine.market.quote is not None
                    and engine.market.quote.ask == market.ask, "the book through IB")  # fmt: skip
        runner = await rt.strategy_runner(loaded, canary=0.5, equity=Decimal(50000))
        assert runner.track is not None and runner.selector is not None
        before = runner.selector.count
        assert runner.track.position == before  # each earlier intent bought 1 on paper
        await runner.start()
        for n in range(intents):
            market.trade(market.bid, MARKER)
            await until(lambda: len(runner.signals) == n + 1, f"intent {n}")  # noqa: B023
        live = ["live and paper" in s.detail for s in runner.signals]
        assert [s.ok for s in runner.signals] == [True] * intents, [
            s.outcome for s in runner.signals
        ]
        await until(lambda: runner.position == sum(live), "IB's entries filled")
        await until(lambda: runner.track.position == before + intents,  # type: ignore[union-attr]
                    "every intent paper-filled")  # fmt: skip
        # IB flat, its exits gone: the next run starts clean (a restart takes the exits back
        # as orders of their own, and the engine refuses a new bracket beside them)
        engine.request_kill("test")
        await engine.kill_switch.join()
        assert engine.rearm("test") is None
        await runner.close()
    await session_gone(gateway, 1)
    return live


async def test_a_second_run_on_the_same_journal_continues_the_count_and_the_paper_position(
    still: FakeGateway, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run's three intents leave the selector at an odd count: at 0.5 the second
    run's first intent goes live (a new count would keep it paper, every run)."""
    settings = settings_for(still.config.port, tmp_path,
                            risk={"max_position": 10, "max_order_qty": 10, "rearm_cooldown_s": 0})  # fmt: skip
    selector = CanarySelector(0.5)
    expected = [selector.pick() for _ in range(5)]
    assert await canary_run(still, settings, 3) == expected[:3]
    assert await canary_run(still, settings, 2) == expected[3:] == [True, False]
    journaled = query(tmp_path, "SELECT live, paper_qty FROM canary_intents ORDER BY ts_ns")
    assert journaled == [(int(live), 1) for live in expected]
    path = journal_file("ES", "sim", tmp_path)
    assert main(["report", "--compare", "--format", "json", "--journal", str(path)]) == 0
    (day,) = json.loads(capsys.readouterr().out)["days"]
    assert (day["strategy"], day["intents"], day["live_intents"]) == ("marker", 5, 2)
    assert (day["paper_sent"], day["paper_filled"]) == (5, 5)
    assert (day["live_sent"], day["live_filled"]) == (2, 2)
