"""The domain model: instruments, ticks, orders, fills, positions, bars, market data.

Plain data and pure logic: no I/O, no asyncio, no Textual, no ib_async. Prices are integer
ticks of their instrument, quantities whole contracts, times UTC nanoseconds, money exact
``Decimal``.
"""

from tradeterm.domain.bars import Bar, Timeframe
from tradeterm.domain.bracket import Bracket, make_bracket
from tradeterm.domain.contracts import CME_ROOTS, ContractMonth, RootSpec, parse_local_symbol
from tradeterm.domain.errors import (
    DomainError,
    InvalidOrderError,
    InvalidTransitionError,
    OffTickError,
)
from tradeterm.domain.fills import Fill, FillLedger
from tradeterm.domain.ids import ClientOrderId, ClientOrderIds
from tradeterm.domain.instrument import Instrument, Rounding
from tradeterm.domain.market import BookSide, DepthDelta, DepthReset, MarketData, Quote, Trade
from tradeterm.domain.money import decimal_from, from_cents, to_cents
from tradeterm.domain.order_status import OrderStatus, after_report
from tradeterm.domain.orders import Order, OrderChange, OrderType, TimeInForce
from tradeterm.domain.position import Position
from tradeterm.domain.side import Side

__all__ = [
    "CME_ROOTS",
    "Bar",
    "BookSide",
    "Bracket",
    "ClientOrderId",
    "ClientOrderIds",
    "ContractMonth",
    "DepthDelta",
    "DepthReset",
    "DomainError",
    "Fill",
    "FillLedger",
    "Instrument",
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
    "RootSpec",
    "Rounding",
    "Side",
    "TimeInForce",
    "Timeframe",
    "Trade",
    "after_report",
    "decimal_from",
    "from_cents",
    "make_bracket",
    "parse_local_symbol",
    "to_cents",
]
