"""The fake gateway's market desk: contract details, market-data requests, and the pump that
drives every instrument's feed from its source.

Sources: the synthetic market (deterministic for ``--seed``, paced at ``--rate`` events per
second, with synthetic 1-minute history before the start so charts can backfill), or a replay
of recorded data (``--replay FILE`` at ``--speed``), played on the replay's one clock (the
desk's :attr:`MarketDesk.replay_clock`, which a trainer pauses, speeds up and jumps) by
:mod:`~tradeterm.sim.gateway.desks.replay_desk`.

Faults act on the desk through its methods (see :mod:`~tradeterm.sim.gateway.faults`): a data
stall or hold (no market data while the socket stays up), "data lost" on 1101 (every market-data
subscription is dropped; clients must subscribe again), a broken historical data farm and
refused feeds (every request for quotes, depth or tick-by-tick trades is answered with an IB
error: 10190 for tick-by-tick, or a missing market-data permission such as 354).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from tradeterm.sim import catalog
from tradeterm.sim.bar_builders import NS, parse_bar_size
from tradeterm.sim.gateway.desks.context import DeskContext
from tradeterm.sim.gateway.desks.feed import InstrumentFeed, Watch
from tradeterm.sim.gateway.desks.replay_desk import ReplayDesk, ReplaySettings
from tradeterm.sim.gateway.protocol import encode
from tradeterm.sim.gateway.protocol.client_session import ClientSession
from tradeterm.sim.gateway.protocol.records import ContractDetailsRecord, ContractRecord
from tradeterm.sim.gateway.protocol.request_types import (
    CancelHistoricalData,
    CancelMktData,
    CancelMktDepth,
    CancelRealTimeBars,
    CancelTickByTickData,
    ReqContractDetails,
    ReqHistoricalData,
    ReqMktData,
    ReqMktDepth,
    ReqRealTimeBars,
    ReqTickByTickData,
)
from tradeterm.sim.gateway.protocol.server import GatewayServer
from tradeterm.sim.replay_clock import MarketClock
from tradeterm.sim.synthetic import SyntheticMarket

if TYPE_CHECKING:
    from tradeterm.sim.matching import SimFill

log = logging.getLogger(__name__)

NO_SECURITY = 200
SYNTHETIC_LEVELS = 10
HMDS_ERROR = 162
TBT_REFUSED = 10190
DEFAULT_REFUSAL = 354
REFUSALS = {  # TWS's wording of its answers to a market-data request it refuses
    354: "Requested market data is not subscribed.Delayed market data is available.",
    10089: "Requested market data requires additional subscription for API. See link in "
    "'Market Data Connections' dialog for more details.Delayed market data is available.",
    10168: "Requested market data is not subscribed. Delayed market data is not enabled.",
    10092: "Deep market data is not supported for this combination of security/exchange",
    309: "Max number (3) of market depth requests has been reached",
    10189: "Failed to request tick-by-tick data:No market data permissions.",
    TBT_REFUSED: "Max number of tick-by-tick requests has been reached.",
}
FEEDS = ("quotes", "depth", "trades")  # reqMktData, reqMktDepth, reqTickByTickData
TBT_KINDS = {"Last": "tbtLast", "AllLast": "tbtAllLast", "BidAsk": "tbtBidAsk",
             "MidPoint": "tbtMidPoint"}  # fmt: skip


class MarketSettings(ReplaySettings, Protocol):
    """The gateway's settings the market desk reads (the replay's too); read live (a new
    ``rate`` applies at once)."""

    seed: int
    rate: float  # synthetic market-data events per second
    history_minutes: int  # synthetic 1-minute history before the start


class MarketDesk:
    def __init__(
        self,
        context: DeskContext,
        settings: MarketSettings,
        on_fills: Callable[[list[SimFill]], None],
    ) -> None:
        self.context = context
        self.settings = settings
        self._on_fills = on_fills  # fills of resting orders caused by the market
        self.feeds: dict[int, InstrumentFeed] = {}
        self.stalled_until = 0.0  # wall-clock seconds; market data is frozen until then
        # a stall began and its end has not been published yet: every stall ends with a thaw,
        # even one too short for the pump to see (a request made in it got no snapshot)
        self._unthawed = False
        self.hmds_down = False  # the historical data farm is broken: no history is served
        self.refused: dict[str, int] = {}  # feed -> the IB error its requests are answered with
        self.replay: ReplayDesk | None = None
        self.replay_clock: MarketClock | None = None
        if settings.replay is not None:
            self.replay = ReplayDesk(settings, self.stalled)
            self.replay_clock = self.replay.clock

    # ---- feeds --------------------------------------------------------------------------------

    def feed(self, con_id: int) -> InstrumentFeed:
        """The feed of a catalog contract, created (with its source) on first use."""
        feed = self.feeds.get(con_id)
        if feed is None:
            entry = self.context.contract(con_id)
            if entry is None:
                raise KeyError(f"no contract with conId {con_id}")
            feed = self._create(entry)
        return feed

    def feed_for_symbol(self, symbol: str) -> InstrumentFeed:
        """The feed of a root's front month (``ES``) or of a local symbol (``ESZ6``)."""
        symbol = symbol.upper()
        today = self.context.today
        entry = catalog.front_month(symbol, today)
        if entry is None:
            found = catalog.lookup(localSymbol=symbol, today=today)
            entry = found[0] if found else None
        if entry is None:
            raise KeyError(f"unknown symbol {symbol!r}")
        return self.feed(entry.conId)

    def _create(self, entry: catalog.ContractEntry) -> InstrumentFeed:
        cfg = self.settings
        now_ns = self.context.now_ns()
        replay = self.replay if entry.symbol in cfg.symbols[:1] else None
        synthetic = None
        if replay is None:
            start = catalog.start_price(entry)
            minute_ns = 60 * NS
            synthetic = SyntheticMarket(
                tick_size=entry.tick,
                start_price_ticks=int(start / entry.tick),
                seed=cfg.seed * 1_000_003 + entry.conId % 1_000_000,
                levels=SYNTHETIC_LEVELS,
                start_ns=now_ns - now_ns % minute_ns,
            )
        now, frozen = self.context.now_ns, self.stalled
        if replay is not None:  # the replayed feed lives on the replay's clock
            now, frozen = replay.now_ns, replay.frozen
        feed = InstrumentFeed(
            entry, on_fills=self._on_fills, synthetic=synthetic, now_ns=now, frozen=frozen,
        )  # fmt: skip
        self.feeds[entry.conId] = feed
        if synthetic is not None:
            history = synthetic.history_bars(cfg.history_minutes, end_ns=synthetic.now_ns)
            feed.history.backfill(history)
            if history:
                feed.close = history[-1].close
            for _ in range(2 * SYNTHETIC_LEVELS):  # the opening snapshot of the book
                feed.push(synthetic.next_event(now_ns))
        elif replay is not None:
            replay.start(feed)
        return feed

    def replay_state(self) -> str:
        """``none`` (no replay started: not replaying, or the gateway not started),
        ``playing``, ``ended`` or ``failed`` (``tradeterm bench`` follows a replayed
        session by it)."""
        return self.replay.state() if self.replay is not None else "none"

    def after_orders(self, con_id: int) -> None:
        """Publish what an order action did to the public market (called by the order desk)."""
        feed = self.feeds.get(con_id)
        if feed is not None:
            feed.after_orders()

    def last_trade(self, con_id: int) -> int | None:
        """The last trade price (ticks) of a contract whose feed exists, else None."""
        feed = self.feeds.get(con_id)
        return feed.engine.last if feed is not None else None

    # ---- the pump -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Drive the synthetic feeds at the configured rate; tick clocks once a second."""
        cfg = self.settings
        interval = 0.01
        budget = 0.0
        clock = self.context.clock
        try:
            while True:
                await asyncio.sleep(interval)
                now = clock()
                now_ns = int(now * 1e9)
                if now < self.stalled_until:
                    continue
                if self._unthawed:  # the data flows again: the book as it is now, to everyone
                    self._unthawed = False
                    for feed in self.feeds.values():
                        feed.thaw()
                budget += cfg.rate * interval
                count = int(budget)
                budget -= count
                synthetic = [f for f in self.feeds.values() if f.synthetic is not None]
                for _ in range(count):
                    for feed in synthetic:
                        assert feed.synthetic is not None
                        feed.push(feed.synthetic.next_event(now_ns))
                for feed in self.feeds.values():
                    feed.clock_tick()
        finally:
            if self.replay is not None:
                await self.replay.stop()

    # ---- faults ---------------------------------------------------------------------------------

    def stall(self, seconds: float) -> None:
        """Market data stops for ``seconds`` while the socket stays up, with no message."""
        self.stalled_until = self.context.clock() + seconds
        self._unthawed = True

    def hold(self) -> float:
        """Stop market data until :meth:`release` (so that no tick can slip out before a
        "restored" message); returns the stall this hold replaced."""
        before = self.stalled_until
        self.stall(math.inf)
        return before

    def release(self, before: float) -> None:
        """End a :meth:`hold`; a stall that was running before it goes on until it ends."""
        self.stall(max(0.0, before - self.context.clock()))

    def stalled(self) -> bool:
        """Market data is frozen: nothing at all goes to clients, not even what our own
        orders do to the book or a snapshot for a new subscription."""
        return self.context.clock() < self.stalled_until

    def set_hmds_down(self, down: bool) -> None:
        """The historical data farm is broken (no history is served) or works again."""
        self.hmds_down = down

    def refuse_tick_by_tick(self, refuse: bool) -> None:
        """Answer every later reqTickByTickData with error 10190 (or serve them again)."""
        self.refuse_data("trades", TBT_REFUSED if refuse else None)

    def refuse_data(self, feed: str, code: int | None) -> None:
        """Answer every later request for ``feed`` (:data:`FEEDS`) with IB's error ``code``
        (:data:`REFUSALS`), or serve them again (None)."""
        if code is None:
            self.refused.pop(feed, None)
        else:
            self.refused[feed] = code

    def _refuses(self, session: ClientSession, req_id: int, feed: str) -> bool:
        """Refuse the request if its feed is refused (error sent); whether it was."""
        code = self.refused.get(feed)
        if code is not None:
            session.send_error(req_id, code, REFUSALS[code])
        return code is not None

    def drop_all_subscriptions(self) -> None:
        """1101 "data lost": every market-data stream ends; clients must subscribe again."""
        for feed in self.feeds.values():
            for w in feed.watches.values():
                w.session.unsubscribe(w.kind, w.req_id)
            feed.watches.clear()

    # ---- handlers -------------------------------------------------------------------------------

    def install(self, server: GatewayServer) -> None:
        server.register(ReqContractDetails, self.on_contract_details)
        server.register(ReqMktData, self.on_mkt_data)
        server.register(CancelMktData, self._canceller("mktData"))
        server.register(ReqTickByTickData, self.on_tick_by_tick)
        server.register(CancelTickByTickData, self._cancel_tbt)
        server.register(ReqMktDepth, self.on_mkt_depth)
        server.register(CancelMktDepth, self._canceller("depth"))
        server.register(ReqRealTimeBars, self.on_realtime_bars)
        server.register(CancelRealTimeBars, self._canceller("rtBars"))
        server.register(ReqHistoricalData, self.on_historical_data)
        server.register(CancelHistoricalData, self._cancel_history)

    def resolve(
        self, session: ClientSession, req_id: int, c: ContractRecord
    ) -> InstrumentFeed | None:
        """The feed of the one contract a request names, or error 200 and None."""
        entries = _lookup(c, self.context.today)
        if len(entries) != 1:
            what = c.localSymbol or f"{c.symbol} {c.secType} {c.lastTradeDateOrContractMonth}"
            session.send_error(req_id, NO_SECURITY,
                               f"No security definition has been found for the request: {what.strip()}")  # fmt: skip
            return None
        return self.feed(entries[0].conId)

    def _watch(self, feed: InstrumentFeed, session: ClientSession, req_id: int, kind: str,
               request: object, **options: Any) -> Watch:  # fmt: skip
        watch = Watch(session, req_id, kind, **options)
        feed.watches[(id(session), req_id, kind)] = watch
        session.subscribe(kind, req_id, request)
        return watch

    def _forget(self, session: ClientSession, req_id: int, kind: str) -> None:
        session.unsubscribe(kind, req_id)
        for feed in self.feeds.values():
            feed.watches.pop((id(session), req_id, kind), None)
            if kind == "history":
                feed.history.unsubscribe((id(session), req_id))

    def _canceller(self, kind: str) -> Any:
        async def cancel(session: ClientSession, req: Any) -> None:
            self._forget(session, req.reqId, kind)

        return cancel

    async def _cancel_tbt(self, session: ClientSession, req: CancelTickByTickData) -> None:
        for kind in TBT_KINDS.values():
            self._forget(session, req.reqId, kind)

    async def _cancel_history(self, session: ClientSession, req: CancelHistoricalData) -> None:
        self._forget(session, req.reqId, "history")

    async def on_contract_details(self, session: ClientSession, req: ReqContractDetails) -> None:
        entries = _lookup(req.contract, self.context.today, req.includeExpired)
        if not entries:
            session.send_error(req.reqId, NO_SECURITY,
                               "No security definition has been found for the request")  # fmt: skip
            return
        for entry in entries:
            record = details_record(entry)
            if req.contract.secType == "CONTFUT":
                record.contract.secType = "CONTFUT"
            session.send(encode.contract_details(session.version, req.reqId, record))
        session.send(encode.contract_details_end(req.reqId))

    async def on_mkt_data(self, session: ClientSession, req: ReqMktData) -> None:
        feed = self.resolve(session, req.reqId, req.contract)
        if feed is None or self._refuses(session, req.reqId, "quotes"):
            return
        generic = {t.strip() for t in req.genericTickList.split(",") if t.strip()}
        session.send(encode.tick_req_params(req.reqId, float(feed.tick), "CME", 3))
        session.send(encode.market_data_type(req.reqId, session.market_data_type))
        watch = Watch(session, req.reqId, "mktData", rt_volume="233" in generic)
        if self.context.clock() >= self.stalled_until:  # no data while it is frozen
            feed.send_quote_snapshot(watch)
        if req.snapshot or req.regulatorySnapshot:
            session.send(encode.tick_snapshot_end(req.reqId))
            return
        self._watch(feed, session, req.reqId, "mktData", req, rt_volume=watch.rt_volume)

    async def on_tick_by_tick(self, session: ClientSession, req: ReqTickByTickData) -> None:
        kind = TBT_KINDS.get(req.tickType)
        if kind is None:
            session.send_validation_error(req, f"unknown tick-by-tick type {req.tickType!r}")
            return
        if self._refuses(session, req.reqId, "trades"):
            return
        feed = self.resolve(session, req.reqId, req.contract)
        if feed is not None:
            self._watch(feed, session, req.reqId, kind, req)

    async def on_mkt_depth(self, session: ClientSession, req: ReqMktDepth) -> None:
        feed = self.resolve(session, req.reqId, req.contract)
        if feed is None or self._refuses(session, req.reqId, "depth"):
            return
        rows = max(1, min(req.numRows or 10, 10))
        watch = self._watch(feed, session, req.reqId, "depth", req, rows=rows,
                            smart=req.isSmartDepth)  # fmt: skip
        feed.send_depth_snapshot(watch)

    async def on_realtime_bars(self, session: ClientSession, req: ReqRealTimeBars) -> None:
        feed = self.resolve(session, req.reqId, req.contract)
        if feed is not None:
            self._watch(feed, session, req.reqId, "rtBars", req)

    async def on_historical_data(self, session: ClientSession, req: ReqHistoricalData) -> None:
        feed = self.resolve(session, req.reqId, req.contract)
        if feed is None:
            return
        if self.hmds_down:
            session.send_error(req.reqId, HMDS_ERROR,
                               "Historical Market Data Service error message:HMDS data farm connection is broken")  # fmt: skip
            return
        if req.keepUpToDate and req.endDateTime.strip():
            session.send_validation_error(req, "keepUpToDate requires an empty endDateTime")
            return
        try:
            size = parse_bar_size(req.barSizeSetting)
            end_ns = _parse_end(req.endDateTime)
            bars = feed.history.request(size, req.durationStr, end_ns)
        except ValueError as exc:
            session.send_validation_error(req, str(exc))
            return
        if not bars and feed.synthetic is not None:
            session.send_error(req.reqId, HMDS_ERROR,
                               "Historical Market Data Service error message:HMDS query returned no data")  # fmt: skip
            return
        # a replay asked before its first trade has no history yet: an empty answer, not an
        # error of the data farm
        watch = Watch(session, req.reqId, "history", format_date=req.formatDate, bar_size=size)
        records = [feed.bar_record(b, watch) for b in bars]
        end = datetime.fromtimestamp((end_ns or feed.history.now * NS) / NS, UTC)
        start = datetime.fromtimestamp(bars[0].time, UTC) if bars else end
        session.send(encode.historical_data(req.reqId, f"{start:%Y%m%d %H:%M:%S}",
                                            f"{end:%Y%m%d %H:%M:%S}", records))  # fmt: skip
        if req.keepUpToDate:
            feed.history.subscribe((id(session), req.reqId), size)
            self._watch(feed, session, req.reqId, "history", req,
                        format_date=req.formatDate, bar_size=size)  # fmt: skip


def _lookup(
    c: ContractRecord, today: Any, include_expired: bool = False
) -> list[catalog.ContractEntry]:
    if c.secType == "CONTFUT":  # IB's continuous future: the front month's contract
        if c.conId:
            return catalog.lookup(conId=c.conId, today=today)
        front = catalog.front_month(c.symbol, today)
        if front is None or (c.exchange and c.exchange != front.exchange):
            return []
        return [front]
    return catalog.lookup(
        symbol=c.symbol,
        secType=c.secType or "FUT",
        exchange=c.exchange,
        lastTradeDateOrContractMonth=c.lastTradeDateOrContractMonth,
        localSymbol=c.localSymbol,
        conId=c.conId,
        today=today,
        currency=c.currency,
        multiplier=c.multiplier,
        tradingClass=c.tradingClass,
        include_expired=include_expired,
    )


def details_record(e: catalog.ContractEntry) -> ContractDetailsRecord:
    contract = ContractRecord(
        conId=e.conId, symbol=e.symbol, secType=e.secType,
        lastTradeDateOrContractMonth=e.lastTradeDateOrContractMonth, strike=e.strike,
        right=e.right, multiplier=e.multiplier, exchange=e.exchange,
        primaryExchange=e.primaryExchange, currency=e.currency, localSymbol=e.localSymbol,
        tradingClass=e.tradingClass,
    )  # fmt: skip
    return ContractDetailsRecord(
        contract=contract, marketName=e.marketName, minTick=e.minTick, orderTypes=e.orderTypes,
        validExchanges=e.validExchanges, priceMagnifier=e.priceMagnifier,
        underConId=e.underConId, longName=e.longName, contractMonth=e.contractMonth,
        industry=e.industry, category=e.category, subcategory=e.subcategory,
        timeZoneId=e.timeZoneId, tradingHours=e.tradingHours, liquidHours=e.liquidHours,
        evRule=e.evRule, evMultiplier=int(e.evMultiplier), aggGroup=e.aggGroup,
        underSymbol=e.underSymbol, underSecType=e.underSecType,
        marketRuleIds=e.marketRuleIds, realExpirationDate=e.realExpirationDate,
        lastTradeTime=e.lastTradeTime, stockType=e.stockType, minSize=float(e.minSize),
        sizeIncrement=float(e.sizeIncrement),
        suggestedSizeIncrement=float(e.suggestedSizeIncrement),
    )  # fmt: skip


def _parse_end(text: str) -> int | None:
    """endDateTime as ib_async sends it: "" (now), "yyyymmdd hh:mm:ss UTC" or with a zone."""
    text = text.strip()
    if not text:
        return None
    parts = text.replace("-", " ").split()
    stamp = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
    zone = parts[2] if len(parts) > 2 else "UTC"
    from zoneinfo import ZoneInfo

    moment = stamp.replace(tzinfo=UTC if zone in ("UTC", "GMT") else ZoneInfo(zone))
    return int(moment.timestamp() * NS)
