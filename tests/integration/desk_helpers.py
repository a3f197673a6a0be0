"""Helpers shared by the order-desk integration tests (real ib_async ``IB`` against
``FakeGateway``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ib_async import IB, Contract, Trade

from tests.support.waiting import until
from tradeterm.sim.gateway.fake_gateway import FakeGateway
from tradeterm.sim.market_events import TradePrint

Connect = Callable[..., Awaitable[IB]]
ES_MULTIPLIER = 50
COMMISSION = 2.25


async def qualified(ib: IB, *contracts: Contract) -> list[Contract]:
    """The contract IB resolves each of these to (ib_async's type also allows a list of
    candidates, or None, for an ambiguous or unknown one: a test expects neither)."""
    got = await ib.qualifyContractsAsync(*contracts)
    assert all(isinstance(c, Contract) for c in got), got
    return [c for c in got if isinstance(c, Contract)]


class Market:
    """The ES feed of the fake gateway: prices in ticks, and a way to print public trades."""

    def __init__(self, gateway: FakeGateway) -> None:
        self.gateway = gateway
        self.feed = gateway.market.feed_for_symbol("ES")
        self.contract = Contract(conId=self.feed.con_id, exchange="CME")

    @property
    def bid(self) -> int:
        bid = self.feed.engine.best_bid
        assert bid is not None
        return bid

    @property
    def ask(self) -> int:
        ask = self.feed.engine.best_ask
        assert ask is not None
        return ask

    def px(self, ticks: int) -> float:
        return float(ticks * self.feed.tick)

    def trade(self, ticks: int, size: int = 1) -> None:
        """A public trade at ``ticks``, as if the market printed it."""
        self.feed.push(TradePrint(self.gateway.now_ns(), ticks, size, None), external=True)


def errors_of(ib: IB) -> list[tuple[int, int, str]]:
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, _contract: seen.append((req_id, code, text))
    return seen


def statuses(trade: Trade) -> list[str]:
    return [entry.status for entry in trade.log]


def status_is(*pairs: tuple[Trade, str]) -> Callable[[], bool]:
    return lambda: all(t.orderStatus.status == s for t, s in pairs)


async def session_gone(gateway: FakeGateway, client_id: int) -> None:
    await until(lambda: gateway.server.session_for(client_id) is None, "the old session to end")
