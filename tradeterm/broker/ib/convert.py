"""Pure conversions between ib_async objects and tradeterm's domain and broker events.

No I/O and no state: everything here is a function of its arguments, so it is unit-tested
without a gateway (tests/unit/broker). Prices become integer ticks of the instrument here,
times become UTC nanoseconds, money becomes ``Decimal``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ib_async import Contract, ContractDetails
from ib_async import Order as IbOrder
from ib_async import Trade as IbTrade
from ib_async.util import UNSET_DOUBLE

from tradeterm.broker.ib import codes
from tradeterm.broker.ib.codes import CANCEL_UNKNOWN, PACING_VIOLATION, REJECT_CODES
from tradeterm.broker.port import (
    AccountValues,
    BrokerError,
    ContractMargin,
    ExecutionReport,
    OrderReport,
)
from tradeterm.domain import (
    CME_ROOTS,
    Bar,
    ContractMonth,
    DepthLevel,
    DomainError,
    Instrument,
    Order,
    OrderChange,
    OrderStatus,
    OrderType,
    Quote,
    Side,
    nearest_tick,
    roll_date,
    ticks_to_float,
)

NS = 1_000_000_000

# ---- scalars --------------------------------------------------------------------------------


def ns_from_datetime(value: dt.datetime | dt.date) -> int:
    """A datetime (naive = UTC) or a date (midnight UTC) as UTC nanoseconds."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000


def valid_price(value: object) -> bool:
    """A real price from IB: a finite float, not IB's ``UNSET_DOUBLE`` nor ``-1`` (no data)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return math.isfinite(value) and value != UNSET_DOUBLE and value != -1


def opt_ticks(value: object, tick: Decimal, *, positive: bool = False) -> int | None:
    """``value`` in ticks (nearest), or None when IB says "no price"."""
    if not valid_price(value):
        return None
    assert isinstance(value, (int, float))
    if positive and value <= 0:
        return None
    return nearest_tick(float(value), tick)


def size_int(value: object) -> int:
    """An IB size (float, maybe nan/UNSET) as whole contracts; unknown -> 0."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return 0
    if not math.isfinite(value) or value == UNSET_DOUBLE or value < 0:
        return 0
    return round(value)


def money(value: object) -> Decimal | None:
    """An IB money float as ``Decimal`` (from its shortest repr), None when unset."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    if not math.isfinite(value) or value == UNSET_DOUBLE:
        return None
    return Decimal(repr(float(value)))


# ---- market data ----------------------------------------------------------------------------


def quote_from(ticker: Any, tick: Decimal, ts_ns: int) -> Quote:
    """Top of book from an ib_async ``Ticker``."""
    bid = opt_ticks(ticker.bid, tick)
    ask = opt_ticks(ticker.ask, tick)
    last = opt_ticks(ticker.last, tick)
    return Quote(
        ts_ns=ts_ns,
        bid=bid,
        bid_size=size_int(ticker.bidSize) if bid is not None else 0,
        ask=ask,
        ask_size=size_int(ticker.askSize) if ask is not None else 0,
        last=last,
        last_size=size_int(ticker.lastSize) if last is not None else None,
    )


def book_side(levels: Iterable[Any], tick: Decimal, *, bids: bool) -> tuple[DepthLevel, ...]:
    """One side of the book from ib_async ``DOMLevel``s: empty/unpriced rows dropped, equal
    prices merged (a shifted row may briefly repeat a price), best first."""
    merged: dict[int, DepthLevel] = {}
    for level in levels:
        row = _depth_level(level.price, level.size, tick)
        if row is not None and row.size > getattr(merged.get(row.price), "size", 0):
            merged[row.price] = row
    return tuple(merged[p] for p in sorted(merged, reverse=bids))


@lru_cache(maxsize=4096)
def _depth_level(price: float, size: float, tick: Decimal) -> DepthLevel | None:
    """One DOM row in ticks and contracts, None when empty or unpriced. Memoized: every depth
    update (hundreds a second) brings the whole book, all of it but one row as it was, and
    converting a row costs more than looking it up."""
    ticks = opt_ticks(price, tick)
    contracts = size_int(size)
    return DepthLevel(ticks, contracts) if ticks is not None and contracts > 0 else None


def bar_from(start: dt.datetime | dt.date, o: float, h: float, lo: float, c: float,
             volume: float, tick: Decimal) -> Bar:  # fmt: skip
    """A domain bar; high/low widened to contain open/close (IB float noise is absorbed by the
    tick rounding, this guards against inconsistent source data)."""
    ot, ht, lt, ct = (nearest_tick(float(x), tick) for x in (o, h, lo, c))
    return Bar(
        start_ns=ns_from_datetime(start),
        open=ot,
        high=max(ht, ot, ct, lt),
        low=min(lt, ot, ct, ht),
        close=ct,
        volume=size_int(volume),
    )


def bar_from_realtime(bar: Any, tick: Decimal) -> Bar:
    return bar_from(bar.time, bar.open_, bar.high, bar.low, bar.close, bar.volume, tick)


def bar_from_history(bar: Any, tick: Decimal) -> Bar:
    return bar_from(bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume, tick)


# ---- contracts ------------------------------------------------------------------------------


def parse_ib_date(text: str) -> dt.date | None:
    """IB's ``lastTradeDateOrContractMonth`` / ``realExpirationDate`` (``20261218``, maybe with
    a time after a space) as a date; None when it is only a month or empty."""
    head = text.strip().split(" ")[0].split("-")[0]
    if len(head) != 8 or not head.isdigit():
        return None
    return dt.date(int(head[:4]), int(head[4:6]), int(head[6:]))


def expiry_of(details: ContractDetails) -> dt.date | None:
    contract = details.contract
    last = parse_ib_date(contract.lastTradeDateOrContractMonth if contract else "")
    return last or parse_ib_date(details.realExpirationDate)


def contract_month_of(details: ContractDetails) -> ContractMonth | None:
    for text in (details.contractMonth, _contract_text(details)):
        digits = text.strip()[:6]
        if len(digits) == 6 and digits.isdigit():
            return ContractMonth(int(digits[:4]), int(digits[4:]))
    return None


def _contract_text(details: ContractDetails) -> str:
    return details.contract.lastTradeDateOrContractMonth if details.contract else ""


def pick_front_month(
    details: Sequence[ContractDetails], today: dt.date, roll_days: int
) -> ContractDetails | None:
    """The earliest-expiring contract not yet rolled on ``today`` by its product's own rule
    (``domain.roll_date`` with IB's last trading day: GC is left before its first notice
    day, and its serial months are never the front)."""
    candidates = [
        (expiry, d)
        for d in details
        if (expiry := expiry_of(d)) is not None
        and (rolls := _roll_date(d, expiry, roll_days)) is not None
        and rolls > today
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda pair: pair[0])[1]


def _roll_date(details: ContractDetails, expiry: dt.date, roll_days: int) -> dt.date | None:
    """The day this contract stops being the front month (None: it never is one). A root
    without a built-in rule rolls ``roll_days`` before its expiry."""
    root = details.contract.symbol.upper() if details.contract else ""
    month = contract_month_of(details)
    if month is None or root not in CME_ROOTS:
        return expiry - dt.timedelta(days=roll_days)
    try:
        return roll_date(root, month, roll_days, expiry)
    except DomainError:  # outside the product's cycle of front months (GC's serial months)
        return None


def instrument_from_details(details: ContractDetails) -> Instrument:
    """The domain instrument of one contract: tick = minTick, multiplier from the contract.

    Prices stay in IB's units (the ladder, the orders: what IB quotes and accepts); a
    ``priceMagnifier`` above 1 says those units are a fraction of the currency (CBOT grains
    in cents: ZC minTick 0.25, multiplier 5000, magnifier 100), so the money a tick is worth
    is ``minTick * multiplier / priceMagnifier`` (12.50 dollars)."""
    contract = details.contract
    if contract is None:
        raise ValueError("contract details without a contract")
    tick = Decimal(repr(float(details.minTick)))
    multiplier = Decimal(contract.multiplier or "1")
    if details.priceMagnifier and details.priceMagnifier > 1:
        multiplier /= details.priceMagnifier
    return Instrument(
        root=contract.symbol,
        exchange=contract.exchange or contract.primaryExchange,
        tick=tick,
        multiplier=multiplier,
        expiry=contract_month_of(details),
        local_symbol=contract.localSymbol,
        con_id=contract.conId or None,
        currency=contract.currency or "USD",
    )


def differs_from_table(instrument: Instrument) -> str | None:
    """How IB's ``instrument`` differs from the built-in table's spec of its root (tick,
    multiplier, exchange), None when it agrees or the table does not know the root. IB wins:
    the table is a fallback, and an exchange can change a contract."""
    spec = CME_ROOTS.get(instrument.root.upper())
    if spec is None:
        return None
    ib = (instrument.tick, instrument.multiplier, instrument.exchange)
    table = (spec.tick, spec.multiplier, spec.exchange)
    if ib == table:
        return None
    return (f"{instrument}: IB says tick {ib[0]}, multiplier {ib[1]}, exchange {ib[2]}; the "
            f"built-in table says {table[0]}, {table[1]}, {table[2]}: trading on IB's")  # fmt: skip


# ---- orders ---------------------------------------------------------------------------------


def ib_order(order: Order, order_ref: str, *, account: str, transmit: bool,
             parent_broker_id: int | None) -> IbOrder:  # fmt: skip
    """The ib_async order for a domain order; prices via ``ticks_to_float`` (exactly on tick)."""
    tick = order.instrument.tick
    ib = IbOrder(
        action=order.side.value,
        totalQuantity=float(order.quantity),
        orderType=order.order_type.value,
        tif=order.tif.value,
        orderRef=order_ref,
        account=account,
        transmit=transmit,
    )
    if order.limit is not None:
        ib.lmtPrice = ticks_to_float(order.limit, tick)
    if order.order_type is OrderType.TRAIL:  # auxPrice: the trailing amount
        if order.trail is None:
            raise BrokerError(f"trailing stop {order.client_id} has no trailing amount")
        ib.auxPrice = ticks_to_float(order.trail, tick)
        if order.stop is not None:
            ib.trailStopPrice = ticks_to_float(order.stop, tick)
    elif order.stop is not None:
        ib.auxPrice = ticks_to_float(order.stop, tick)
    if parent_broker_id is not None:
        ib.parentId = parent_broker_id
    if order.oca_group:
        ib.ocaGroup = order.oca_group
        # 2: a fill reduces the others by its quantity; 1: cancels them (both with block)
        ib.ocaType = 2 if order.oca_reduce else 1
    return ib


def apply_change(ib: IbOrder, change: OrderChange, tick: Decimal) -> None:
    """Apply a modification to (a copy of) the working ib_async order."""
    if change.quantity is not None:
        ib.totalQuantity = float(change.quantity)
    if change.limit is not None:
        ib.lmtPrice = ticks_to_float(change.limit, tick)
    if change.stop is not None and ib.orderType == OrderType.TRAIL.value:
        ib.trailStopPrice = ticks_to_float(change.stop, tick)
    elif change.stop is not None:
        ib.auxPrice = ticks_to_float(change.stop, tick)
    ib.transmit = True


def status_of(trade: IbTrade) -> tuple[OrderStatus | None, str]:
    """The domain status of an ib_async trade and a reason, from its status and the last log
    entry. ib_async marks an order that got an error ``Cancelled``; the error code says whether
    it was really a rejection (201 & co). None for a status that is not an order state
    (ib_async's ``ValidationError`` warning: the order is still as it was)."""
    raw = trade.orderStatus.status
    entry = trade.log[-1] if trade.log else None
    code = entry.errorCode if entry is not None else 0
    reason = entry.message if entry is not None and code else ""
    if raw == "Cancelled" and (code in CANCEL_UNKNOWN or code == PACING_VIOLATION):
        # ib_async ends an order whose cancel IB refused or whose request IB dropped; IB said
        # nothing of its state (the engine acts on the error itself)
        return None, reason
    if raw == "Cancelled" and code in REJECT_CODES:
        return OrderStatus.REJECTED, reason
    if code == codes.ORDER_CANCELLED:  # IB's reason alone ("" for a cancel we asked for)
        reason = codes.cancel_reason(reason)
    try:
        return OrderStatus.from_ib(raw), reason
    except ValueError:
        return None, reason


def instrument_for(
    contract: Contract | None, lookup: Callable[[int], Instrument | None]
) -> Instrument | None:
    if contract is None or not contract.conId:
        return None
    return lookup(contract.conId)


def keep_trail_stop_price(wrapper: Any) -> None:
    """ib_async copies only some fields of an openOrder into an order it already knows, not
    ``trailStopPrice``: IB's word of where a trailing stop stands now. Make ``wrapper`` (the
    ``IB``'s) copy it too, before it tells of the order (``openOrderEvent``)."""
    open_order = wrapper.openOrder

    def copying(order_id: int, contract: Contract, order: IbOrder, state: Any) -> None:
        key = wrapper.orderKey(order.clientId, order.orderId, order.permId)
        trade = wrapper.trades.get(key)
        if trade is not None and order.orderType.startswith("TRAIL"):
            trade.order.trailStopPrice = order.trailStopPrice
        open_order(order_id, contract, order, state)

    wrapper.openOrder = copying


def order_report(trade: IbTrade, lookup: Callable[[int], Instrument | None],
                 ts_ns: int) -> OrderReport | None:  # fmt: skip
    """An ``OrderReport`` for an ib_async trade; None for a non-state (see ``status_of``)."""
    status, reason = status_of(trade)
    if status is None:
        return None
    order, st, contract = trade.order, trade.orderStatus, trade.contract
    instrument = instrument_for(contract, lookup)
    tick = instrument.tick if instrument else None
    uses_limit = order.orderType in ("LMT", "STP LMT")
    uses_stop = order.orderType in ("STP", "STP LMT")
    trailing = order.orderType in ("TRAIL", "TRAIL LIMIT")  # auxPrice: the trailing amount
    filled = size_int(st.filled)
    avg = money(st.avgFillPrice) if filled else None
    remaining = size_int(st.remaining)
    quantity = size_int(order.totalQuantity)
    if remaining == 0 and not status.is_terminal and filled == 0:
        remaining = quantity  # before the first orderStatus
    return OrderReport(
        broker_id=order.orderId,
        perm_id=order.permId,
        client_id=order.clientId,
        order_ref=order.orderRef or "",
        instrument=instrument,
        side=Side.parse(order.action),
        quantity=quantity,
        order_type=order.orderType,
        limit=opt_ticks(order.lmtPrice, tick) if tick is not None and uses_limit else None,
        stop=(
            opt_ticks(order.trailStopPrice if trailing else order.auxPrice, tick)
            if tick is not None and (uses_stop or trailing)
            else None
        ),
        trail=opt_ticks(order.auxPrice, tick) if tick is not None and trailing else None,
        tif=order.tif,
        status=status,
        filled=filled,
        remaining=remaining,
        avg_fill_price=avg,
        parent_id=order.parentId,
        oca_group=order.ocaGroup or "",
        ts_ns=ts_ns,
        reason=reason,
        con_id=contract.conId if contract is not None else 0,
        symbol=(contract.localSymbol or contract.symbol) if contract is not None else "",
    )


def execution_report(fill: Any, lookup: Callable[[int], Instrument | None],
                     *, historical: bool) -> ExecutionReport | None:  # fmt: skip
    """An ``ExecutionReport`` for an ib_async ``Fill``; None when the price cannot be put in
    ticks because the contract is not one of ours (the engine cannot book it anyway, a
    ``PositionReport`` still tells the position)."""
    execution = fill.execution
    instrument = instrument_for(fill.contract, lookup)
    if instrument is None:
        return None
    return ExecutionReport(
        exec_id=execution.execId,
        broker_id=execution.orderId,
        perm_id=execution.permId,
        client_id=execution.clientId,
        order_ref=execution.orderRef or "",
        instrument=instrument,
        side=Side.parse(execution.side),
        quantity=size_int(execution.shares),
        price=nearest_tick(float(execution.price), instrument.tick),
        ts_ns=ns_from_datetime(execution.time),
        historical=historical,
    )


def execution_filter_time(since_ns: int) -> str:
    """reqExecutions' time filter (UTC, ``yyyymmdd-hh:mm:ss``), floored to the second."""
    moment = dt.datetime.fromtimestamp(since_ns // NS, dt.UTC)
    return moment.strftime("%Y%m%d-%H:%M:%S")


# ---- the account ----------------------------------------------------------------------------

ACCOUNT_TAGS = {
    "NetLiquidation": "net_liquidation",
    "AvailableFunds": "available_funds",
    "InitMarginReq": "initial_margin",
    "MaintMarginReq": "maintenance_margin",
}
"""IB's account-value tags (account updates) kept in ``AccountValues``, by field. The
segment variants (``NetLiquidation-S``, ``-C``) and per-currency tags are other tags."""


def account_values(values: Iterable[Any], account: str, ts_ns: int) -> AccountValues | None:
    """``AccountValues`` of ``account`` from ib_async's ``AccountValue``-s (its cache of
    IB's account updates: tag, value text, currency); None when IB has sent none of the
    ``ACCOUNT_TAGS`` for it. A value that is not a number counts as not sent."""
    found: dict[str, Decimal] = {}
    currency = ""
    for value in values:
        field = ACCOUNT_TAGS.get(value.tag)
        if field is None or value.account != account or value.modelCode:
            continue
        try:
            amount = Decimal(value.value)
        except (InvalidOperation, TypeError):
            continue
        if amount.is_finite():
            found[field] = amount
            currency = currency or value.currency
    if not found:
        return None
    return AccountValues(
        account=account,
        currency=currency,
        net_liquidation=found.get("net_liquidation"),
        available_funds=found.get("available_funds"),
        initial_margin=found.get("initial_margin"),
        maintenance_margin=found.get("maintenance_margin"),
        ts_ns=ts_ns,
    )


def contract_margin(state: Any, currency: str, ts_ns: int) -> ContractMargin:
    """``ContractMargin`` from the ``OrderState`` of IB's answer to a what-if order of one
    contract: its initial and maintenance margin *change* (IB sends them as text or numbers;
    an unset or unreadable one is None), as a positive amount whichever way the order goes."""

    def change(value: object) -> Decimal | None:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None
        amount = money(value)
        return abs(amount) if amount is not None else None

    return ContractMargin(
        initial=change(state.initMarginChange),
        maintenance=change(state.maintMarginChange),
        currency=currency or getattr(state, "commissionCurrency", "") or "",
        ts_ns=ts_ns,
    )
