"""Outbound (gateway -> client) messages, one function per message.

Every function returns the message's fields already encoded as strings (see
:func:`wire.encode_field`); ``wire.encode_frame`` or ``ClientSession.send`` frames them.
Functions whose layout depends on the negotiated server version take ``version`` first.
Layouts follow ib_async 2.1.0's decoder (the ground truth); the message id is field 0 and,
where TWS still sends one, the message version is field 1. Order messages (openOrder,
orderStatus, execDetails, commissionReport, completedOrder) live in :mod:`encode_orders`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tradeterm.sim.gateway.protocol.records import BarRecord, ContractDetailsRecord, ContractRecord
from tradeterm.sim.gateway.protocol.wire import (
    ERROR_TIME_VERSION,
    MAX_VERSION,
    MIN_VERSION,
    encode_fields,
)

Fields = list[str]

# inbound (to the client) message ids
TICK_PRICE = 1
TICK_SIZE = 2
ORDER_STATUS = 3
ERR_MSG = 4
OPEN_ORDER = 5
ACCT_VALUE = 6
PORTFOLIO_VALUE = 7
ACCT_UPDATE_TIME = 8
NEXT_VALID_ID = 9
CONTRACT_DATA = 10
EXECUTION_DATA = 11
MARKET_DEPTH = 12
MARKET_DEPTH_L2 = 13
MANAGED_ACCTS = 15
HISTORICAL_DATA = 17
TICK_GENERIC = 45
TICK_STRING = 46
CURRENT_TIME = 49
REAL_TIME_BARS = 50
CONTRACT_DATA_END = 52
OPEN_ORDER_END = 53
ACCT_DOWNLOAD_END = 54
EXECUTION_DATA_END = 55
TICK_SNAPSHOT_END = 57
MARKET_DATA_TYPE = 58
COMMISSION_REPORT = 59
POSITION_DATA = 61
POSITION_END = 62
ACCOUNT_SUMMARY = 63
ACCOUNT_SUMMARY_END = 64
ACCOUNT_UPDATE_MULTI = 73
ACCOUNT_UPDATE_MULTI_END = 74
TICK_REQ_PARAMS = 81
HISTORICAL_DATA_UPDATE = 90
PNL = 94
PNL_SINGLE = 95
TICK_BY_TICK = 99
COMPLETED_ORDER = 101
COMPLETED_ORDERS_END = 102


def require_version(version: int) -> None:
    """Reject versions whose layouts this module does not know."""
    if not MIN_VERSION <= version <= MAX_VERSION:
        raise ValueError(f"server version {version} is outside {MIN_VERSION}..{MAX_VERSION}")


def c12(c: ContractRecord) -> list[object]:
    """The full 12-field contract (as requests carry it)."""
    return [
        c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth, c.strike, c.right,
        c.multiplier, c.exchange, c.primaryExchange, c.currency, c.localSymbol, c.tradingClass,
    ]  # fmt: skip


def c11(c: ContractRecord) -> list[object]:
    """The 11-field contract without primaryExchange (openOrder, execDetails, position...)."""
    return [
        c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth, c.strike, c.right,
        c.multiplier, c.exchange, c.currency, c.localSymbol, c.tradingClass,
    ]  # fmt: skip


def tws_datetime(moment: datetime) -> str:
    """``"yyyymmdd hh:mm:ss <zone>"`` as ib_async's parseIBDatetime reads it.

    A ZoneInfo zone keeps its name; any other aware time is converted to UTC.
    """
    if moment.tzinfo is None:
        raise ValueError("tws_datetime needs an aware datetime")
    tz = moment.tzinfo
    name = tz.key if isinstance(tz, ZoneInfo) else "UTC"
    if name == "UTC":
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y%m%d %H:%M:%S") + " " + name


# ----------------------------------------------------------------- session / misc


def managed_accounts(accounts: Sequence[str]) -> Fields:
    """15: comma-separated account list (must be non-empty for the client to start)."""
    return encode_fields([MANAGED_ACCTS, 1, ",".join(accounts)])


def next_valid_id(order_id: int) -> Fields:
    """9: next order id the client may use."""
    return encode_fields([NEXT_VALID_ID, 1, order_id])


def error(
    version: int, req_id: int, code: int, message: str, advanced_order_reject_json: str = ""
) -> Fields:
    """4: error/warning/info. 6 fields at 166..193 (advancedOrderRejectJson), 5 below.

    Accepts any version below 194 so a version refusal can be worded in the client's own
    layout. Non-ASCII text is escaped (``\\uXXXX``) like TWS does.
    """
    if version >= ERROR_TIME_VERSION:
        raise ValueError(f"error layout of server version {version} is not supported")
    text = message.encode("ascii", "backslashreplace").decode("ascii")
    values: list[object] = [ERR_MSG, 2, req_id, code, text]
    if version >= 166:
        values.append(advanced_order_reject_json)
    return encode_fields(values)


def current_time(epoch_seconds: int) -> Fields:
    """49: server time in whole seconds since the epoch."""
    return encode_fields([CURRENT_TIME, 1, int(epoch_seconds)])


# -------------------------------------------------------------- contract details


def contract_details(version: int, req_id: int, d: ContractDetailsRecord) -> Fields:
    """10: one match of reqContractDetails (no version field at >= 164; 40 fields when
    secIdList is empty)."""
    require_version(version)
    c = d.contract
    last_times = c.lastTradeDateOrContractMonth
    if d.lastTradeTime:
        last_times += " " + d.lastTradeTime
        if d.timeZoneId:
            last_times += " " + d.timeZoneId
    values: list[object] = [
        CONTRACT_DATA, req_id, c.symbol, c.secType, last_times, c.strike, c.right,
        c.exchange, c.currency, c.localSymbol, d.marketName, c.tradingClass, c.conId,
        d.minTick, c.multiplier, d.orderTypes, d.validExchanges, d.priceMagnifier,
        d.underConId, d.longName.encode("unicode-escape").decode("ascii"),
        c.primaryExchange, d.contractMonth, d.industry, d.category, d.subcategory,
        d.timeZoneId, d.tradingHours, d.liquidHours, d.evRule, d.evMultiplier,
        len(d.secIdList),
    ]  # fmt: skip
    for tag, value in d.secIdList:
        values += [tag, value]
    values += [
        d.aggGroup, d.underSymbol, d.underSecType, d.marketRuleIds, d.realExpirationDate,
        d.stockType, d.minSize, d.sizeIncrement, d.suggestedSizeIncrement,
    ]  # fmt: skip
    return encode_fields(values)


def contract_details_end(req_id: int) -> Fields:
    """52: end of a reqContractDetails answer."""
    return encode_fields([CONTRACT_DATA_END, 1, req_id])


# ------------------------------------------------------------------- market data


def tick_req_params(
    req_id: int, min_tick: float, bbo_exchange: str = "", snapshot_permissions: int = 0
) -> Fields:
    """81: first answer to reqMktData (no version field)."""
    return encode_fields([TICK_REQ_PARAMS, req_id, min_tick, bbo_exchange, snapshot_permissions])


def market_data_type(req_id: int, data_type: int) -> Fields:
    """58: 1 live, 2 frozen, 3 delayed, 4 delayed-frozen."""
    return encode_fields([MARKET_DATA_TYPE, 1, req_id, data_type])


def tick_price(
    req_id: int, tick_type: int, price: float, size: float = 0, attr_mask: int = 0
) -> Fields:
    """1: price (+size) tick — exactly 7 fields. attrMask bit0 canAutoExecute, bit1
    pastLimit, bit2 preOpen. Size 0 on a bid/ask means "no quote" to ib_async."""
    return encode_fields([TICK_PRICE, 6, req_id, tick_type, price, size, attr_mask])


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    """2: size tick (0 bidSize, 3 askSize, 5 lastSize, 8 volume...)."""
    return encode_fields([TICK_SIZE, 6, req_id, tick_type, size])


def tick_string(req_id: int, tick_type: int, value: str) -> Fields:
    """46: string tick (45 lastTimestamp, 48 RTVolume, 77 RT trade volume...)."""
    return encode_fields([TICK_STRING, 6, req_id, tick_type, value])


def rt_volume(
    price: float | None,
    size: float | None,
    epoch_millis: int,
    total_volume: float,
    vwap: float,
    single_trade: bool,
) -> str:
    """Value of an RTVolume (48) / RT trade volume (77) tick:
    ``"price;size;epochMillis;totalVolume;VWAP;singleTradeFlag"``."""
    parts = encode_fields([price, size, epoch_millis, total_volume, vwap])
    return ";".join([*parts, "true" if single_trade else "false"])


def tick_generic(req_id: int, tick_type: int, value: float) -> Fields:
    """45: generic numeric tick (49 halted, 54 tradeCount...)."""
    return encode_fields([TICK_GENERIC, 6, req_id, tick_type, value])


def tick_snapshot_end(req_id: int) -> Fields:
    """57: end of a snapshot reqMktData."""
    return encode_fields([TICK_SNAPSHOT_END, 1, req_id])


def tick_by_tick_last(
    req_id: int,
    time: int,
    price: float,
    size: float,
    *,
    all_last: bool = True,
    past_limit: bool = False,
    unreported: bool = False,
    exchange: str = "",
    special_conditions: str = "",
) -> Fields:
    """99 Last (1) / AllLast (2): a trade. ``time`` in epoch seconds."""
    mask = (1 if past_limit else 0) | (2 if unreported else 0)
    tick_type = 2 if all_last else 1
    return encode_fields(
        [TICK_BY_TICK, req_id, tick_type, time, price, size, mask, exchange, special_conditions]
    )


def tick_by_tick_bid_ask(
    req_id: int,
    time: int,
    bid_price: float,
    ask_price: float,
    bid_size: float,
    ask_size: float,
    *,
    bid_past_low: bool = False,
    ask_past_high: bool = False,
) -> Fields:
    """99 BidAsk (3): top of book."""
    mask = (1 if bid_past_low else 0) | (2 if ask_past_high else 0)
    return encode_fields(
        [TICK_BY_TICK, req_id, 3, time, bid_price, ask_price, bid_size, ask_size, mask]
    )


def tick_by_tick_mid_point(req_id: int, time: int, mid_point: float) -> Fields:
    """99 MidPoint (4)."""
    return encode_fields([TICK_BY_TICK, req_id, 4, time, mid_point])


def update_mkt_depth(
    req_id: int, position: int, operation: int, side: int, price: float, size: float
) -> Fields:
    """12: one book row. operation 0 insert / 1 update / 2 delete; side 0 ask, 1 bid.
    ib_async does not shift rows on insert: keep rows position-stable."""
    return encode_fields([MARKET_DEPTH, 1, req_id, position, operation, side, price, size])


def update_mkt_depth_l2(
    req_id: int,
    position: int,
    market_maker: str,
    operation: int,
    side: int,
    price: float,
    size: float,
    is_smart_depth: bool,
) -> Fields:
    """13: one book row with market maker / exchange."""
    return encode_fields(
        [MARKET_DEPTH_L2, 1, req_id, position, market_maker, operation, side, price, size,
         is_smart_depth]
    )  # fmt: skip


def realtime_bar(
    req_id: int,
    time: int,
    open_: float,
    high: float,
    low: float,
    close: float,
    volume: float,
    wap: float,
    count: int,
) -> Fields:
    """50: a 5-second bar; ``time`` is the bar start in epoch seconds."""
    return encode_fields(
        [REAL_TIME_BARS, 3, req_id, time, open_, high, low, close, volume, wap, count]
    )


def historical_data(req_id: int, start: str, end: str, bars: Sequence[BarRecord]) -> Fields:
    """17: all bars and the end marker in one message (no version field)."""
    values: list[object] = [HISTORICAL_DATA, req_id, start, end, len(bars)]
    for b in bars:
        values += [b.date, b.open, b.high, b.low, b.close, b.volume, b.wap, b.barCount]
    return encode_fields(values)


def historical_data_update(req_id: int, bar: BarRecord) -> Fields:
    """90: keepUpToDate update. Note the order: open, close, high, low."""
    return encode_fields(
        [HISTORICAL_DATA_UPDATE, req_id, bar.barCount, bar.date, bar.open, bar.close,
         bar.high, bar.low, bar.wap, bar.volume]
    )  # fmt: skip


# ------------------------------------------------------------ positions / account


def position(account: str, contract: ContractRecord, pos: float, avg_cost: float) -> Fields:
    """61: one position — exactly 16 fields. avgCost of a future = price x multiplier."""
    return encode_fields([POSITION_DATA, 3, account, *c11(contract), pos, avg_cost])


def position_end() -> Fields:
    """62: end of the initial position list."""
    return encode_fields([POSITION_END, 1])


def update_account_value(key: str, value: str, currency: str, account: str) -> Fields:
    """6: one account value (values are text, e.g. ``"100000.00"``)."""
    return encode_fields([ACCT_VALUE, 2, key, value, currency, account])


def update_portfolio(
    contract: ContractRecord,
    pos: float,
    market_price: float,
    market_value: float,
    average_cost: float,
    unrealized_pnl: float,
    realized_pnl: float,
    account: str,
) -> Fields:
    """7: one portfolio line — exactly 20 fields. The contract carries primaryExchange
    (falling back to exchange), never exchange."""
    c = contract
    return encode_fields(
        [PORTFOLIO_VALUE, 8, c.conId, c.symbol, c.secType, c.lastTradeDateOrContractMonth,
         c.strike, c.right, c.multiplier, c.primaryExchange or c.exchange, c.currency,
         c.localSymbol, c.tradingClass, pos, market_price, market_value, average_cost,
         unrealized_pnl, realized_pnl, account]
    )  # fmt: skip


def update_account_time(hh_mm: str) -> Fields:
    """8: time of the last account update, ``"HH:MM"``."""
    return encode_fields([ACCT_UPDATE_TIME, 1, hh_mm])


def account_download_end(account: str) -> Fields:
    """54: end of the reqAccountUpdates snapshot."""
    return encode_fields([ACCT_DOWNLOAD_END, 1, account])


def account_update_multi(
    req_id: int, account: str, model_code: str, key: str, value: str, currency: str
) -> Fields:
    """73: one value of reqAccountUpdatesMulti."""
    return encode_fields([ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, key, value,
                          currency])  # fmt: skip


def account_update_multi_end(req_id: int) -> Fields:
    """74: end of the reqAccountUpdatesMulti snapshot."""
    return encode_fields([ACCOUNT_UPDATE_MULTI_END, 1, req_id])


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    """63: one value of reqAccountSummary."""
    return encode_fields([ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency])


def account_summary_end(req_id: int) -> Fields:
    """64: end of the reqAccountSummary snapshot."""
    return encode_fields([ACCOUNT_SUMMARY_END, 1, req_id])


def pnl(req_id: int, daily_pnl: float, unrealized_pnl: float, realized_pnl: float) -> Fields:
    """94: account P&L (no version field)."""
    return encode_fields([PNL, req_id, daily_pnl, unrealized_pnl, realized_pnl])


def pnl_single(
    req_id: int,
    pos: float,
    daily_pnl: float,
    unrealized_pnl: float,
    realized_pnl: float,
    value: float,
) -> Fields:
    """95: P&L of one position (no version field)."""
    return encode_fields([PNL_SINGLE, req_id, pos, daily_pnl, unrealized_pnl, realized_pnl,
                          value])  # fmt: skip
