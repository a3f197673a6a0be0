"""A replay of a file of several instruments plays the given market's (``tradeterm NQ
--replay ESU4_NQU4_...``: NQU4); it is refused, in one line, only when the market is not in
the file (naming what is) or when the file has several contracts of it (naming them and how
to choose)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.real_data import data_file
from tradeterm.cli.errors import UserError
from tradeterm.cli.replay_option import check
from tradeterm.config import load_settings
from tradeterm.embedded import ReplaySource, prepare
from tradeterm.sim import replay
from tradeterm.sim.replay_common import ReplayError

BOTH = "ESU4_NQU4_glbx-mdp3_ohlcv-1m_2024-07-01T2340Z_2024-07-02T0010Z.dbn.zst"


def settings(symbol: str) -> object:
    return load_settings(None, {"mode": "replay", "symbol": symbol}).settings


def test_the_given_markets_instrument_is_played_from_a_file_of_several() -> None:
    path = data_file(BOTH)
    for root, contract in (("NQ", "NQU4"), ("ES", "ESU4")):
        cfg = settings(root)
        check(ReplaySource(path, 0.0), cfg)  # type: ignore[arg-type]
        prepared = prepare(ReplaySource(path, 0.0), cfg)  # type: ignore[arg-type]
        assert prepared.market.contract == contract and prepared.instrument == contract


def test_the_gateway_plays_the_first_symbols_instrument() -> None:
    import datetime as dt

    from tradeterm.sim.gateway.fake_gateway import FakeGateway, GatewayConfig
    from tradeterm.sim.replay_clock import ReplayClock

    path = data_file(BOTH)

    async def played() -> tuple[str, int | None]:
        clock = ReplayClock(speed="max")
        gw = FakeGateway(GatewayConfig(port=0, symbols=("NQ",), replay=path, replay_clock=clock,
                                       rate=0.0, today=dt.date(2024, 7, 1)))  # fmt: skip
        await gw.start()
        try:
            feed = gw.market.feed_for_symbol("NQ")
            for _ in range(1000):
                if gw.market.replay_state() == "ended":
                    break
                await asyncio.sleep(0.01)
            return feed.entry.localSymbol, feed.engine.last
        finally:
            await gw.stop()

    local, last = asyncio.run(played())
    assert local == "NQU4" and last is not None
    assert last * 0.25 > 15_000  # NQ's prices (about 20000), not ES's (about 5500)


def test_a_market_the_file_does_not_hold_is_refused_naming_what_it_holds() -> None:
    path = data_file(BOTH)
    with pytest.raises(UserError, match=r"holds ESU4, NQU4, not CL.*tradeterm ES --replay"):
        check(ReplaySource(path, 0.0), settings("CL"))  # type: ignore[arg-type]


def test_several_contracts_of_the_market_are_refused_naming_them_and_the_choice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay, "file_symbols", lambda path: ["ESU4", "ESZ4", "NQU4"])
    with pytest.raises(ReplayError, match=r"several ES contracts \(ESU4, ESZ4\).*contract"):
        replay.instrument_of(Path("x.dbn"), "ES")
    assert replay.instrument_of(Path("x.dbn"), "ES", "esz4") == "ESZ4"  # [markets.ES] contract
    assert replay.instrument_of(Path("x.dbn"), "NQ") == "NQU4"
