"""The domain model: instruments, ticks, contract months, orders, fills, positions, bars and
market data.

Plain data and pure logic: no I/O, no asyncio, and no imports of Textual, ib_async or other
tradeterm packages. Prices are integer ticks of their instrument, quantities whole contracts,
times UTC nanoseconds, money exact ``Decimal``.
"""

from tradeterm.domain.bars import Bar, Timeframe
from tradeterm.domain.bracket import Bracket, make_bracket, make_exits
from tradeterm.domain.errors import (
    DomainError,
    FillConflict,
    InvalidOrderError,
    InvalidTransitionError,
    OffTickError,
    UnknownInstrumentError,
)
from tradeterm.domain.expiry import (
    expiry_date,
    first_notice_day,
    front_month,
    listed_months,
    roll_date,
    third_friday,
)
from tradeterm.domain.fills import Fill, FillLedger
from tradeterm.domain.ids import ClientOrderId, ClientOrderIds
from tradeterm.domain.instruments import CME_ROOTS, Instrument, InstrumentSpec, spec_for
from tradeterm.domain.market import (
    BookSide,
    DepthDelta,
    DepthLevel,
    DepthReset,
    MarketData,
    Quote,
    Trade,
)
from tradeterm.domain.money import decimal_from, from_cents, to_cents, whole_from
from tradeterm.domain.months import MONTH_CODES, ContractMonth, parse_local_symbol
from tradeterm.domain.order_status import OrderStatus, after_report
from tradeterm.domain.orders import ExitTag, Order, OrderChange, OrderType, TimeInForce
from tradeterm.domain.position import Position
from tradeterm.domain.side import Side
from tradeterm.domain.ticks import (
    Rounding,
    format_ticks,
    nearest_tick,
    price_decimals,
    price_to_ticks,
    round_to_tick,
    ticks_to_float,
    ticks_to_money,
    ticks_to_price,
)

__all__ = [
    "CME_ROOTS",
    "MONTH_CODES",
    "Bar",
    "BookSide",
    "Bracket",
    "ClientOrderId",
    "ClientOrderIds",
    "ContractMonth",
    "DepthDelta",
    "DepthLevel",
    "DepthReset",
    "DomainError",
    "ExitTag",
    "Fill",
    "FillConflict",
    "FillLedger",
    "Instrument",
    "InstrumentSpec",
    "InvalidOrderError",
    "InvalidTransitionError",
    "MarketData",
    "OffTickError",
    "Order",
    "OrderChange",
    "OrderStatus",
    "OrderType",
    "Position",
    "Quote",
    "Rounding",
    "Side",
    "TimeInForce",
    "Timeframe",
    "Trade",
    "UnknownInstrumentError",
    "after_report",
    "decimal_from",
    "expiry_date",
    "first_notice_day",
    "format_ticks",
    "from_cents",
    "front_month",
    "listed_months",
    "make_bracket",
    "make_exits",
    "nearest_tick",
    "parse_local_symbol",
    "price_decimals",
    "price_to_ticks",
    "roll_date",
    "round_to_tick",
    "spec_for",
    "third_friday",
    "ticks_to_float",
    "ticks_to_money",
    "ticks_to_price",
    "to_cents",
    "whole_from",
]
